"""What overlapping the gradient all-reduce with the backward pass gains:
``nn.parallel.DistributedDataParallel`` with ``overlap`` on (each bucket's ``MPI_Iallreduce`` starts
as soon as its gradients are final) and off (every bucket starts after backward), on P MPI ranks.

The two settings alternate step by step in one run, so a busy machine slows both alike; each step's
time is the slowest rank's, and the medians are reported with the time each step waited for the
all-reduces at the end of backward (the communication left exposed).

    python benchmarks/ddp_overlap.py                        # resnet20, global batch 64, 2 ranks
    python benchmarks/ddp_overlap.py --bucket-cap-mb 0.25 --steps 20
    python benchmarks/ddp_overlap.py --model mlp                   # 62 MB of gradients a step
Results: printed, and with --write a section of benchmarks/RESULTS.md.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                     "CNNLAB_NUM_THREADS", "NUMBA_NUM_THREADS")}


def worker(args):
    """One rank; rank 0 prints one JSON line of per-step timings for both settings."""
    from cnnlab import backend, models, nn, optim
    from cnnlab import distributed as dist
    from cnnlab.nn.parallel import DistributedDataParallel
    from cnnlab.tensor import Tensor

    dist.init_process_group("mpi")
    size, rank = dist.get_world_size(), dist.get_rank()
    backend.manual_seed(0)
    if args.model == "mlp":   # communication-heavy: 4 layers of 2048 units, 62 MB of gradients
        net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 2048), nn.ReLU(),
                            *[m for _ in range(2) for m in (nn.Linear(2048, 2048), nn.ReLU())],
                            nn.Linear(2048, 10))
    else:
        net = dist.convert_sync_batchnorm(models.get(args.model, num_classes=10))
    model = DistributedDataParallel(net, bucket_cap_mb=args.bucket_cap_mb)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    local = args.batch // size
    rng = np.random.default_rng(rank)
    x = Tensor(rng.standard_normal((local, 3, 32, 32)).astype(np.float32))
    y = Tensor(rng.integers(0, 10, local))
    times = {True: [], False: []}
    waits = {True: [], False: []}
    for step in range(args.warmup + 2 * args.steps):
        overlap = step % 2 == 0
        model.overlap = overlap
        dist.barrier()
        waited = model.comm_wait_seconds
        start = time.perf_counter()
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
        elapsed = time.perf_counter() - start
        if step >= args.warmup:
            times[overlap].append(elapsed)
            waits[overlap].append(model.comm_wait_seconds - waited)
    result = {"ranks": size, "model": args.model, "global_batch": args.batch,
              "bucket_cap_mb": args.bucket_cap_mb, "buckets": len(model._buckets),
              "gradient_bytes": sum(p.data.nbytes for p in net.parameters())}
    for overlap, name in ((True, "overlap"), (False, "after_backward")):
        slowest = dist.all_reduce(np.array(times[overlap]), op="max")
        wait = dist.all_reduce(np.array(waits[overlap]), op="max")
        result[name] = {"step_s": float(np.median(slowest)), "wait_s": float(np.median(wait)),
                        "steps": slowest.tolist()}
    if rank == 0:
        print(json.dumps(result), flush=True)


def run(args):
    env = dict(os.environ, **ONE_THREAD)
    cmd = ["mpiexec", "-n", str(args.ranks), sys.executable, os.path.abspath(__file__), "--worker",
           "--model", args.model, "--batch", str(args.batch), "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--bucket-cap-mb", str(args.bucket_cap_mb)]
    load_before = os.getloadavg()[0]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
    if proc.returncode != 0:
        sys.exit(f"ddp_overlap: the run failed:\n{proc.stdout}\n{proc.stderr}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    load_after = os.getloadavg()[0]
    on, off = r["overlap"], r["after_backward"]
    gain = off["step_s"] - on["step_s"]
    lines = [
        f"`python benchmarks/ddp_overlap.py --ranks {args.ranks} --model {args.model} --batch "
        f"{args.batch} --steps {args.steps} --bucket-cap-mb {args.bucket_cap_mb}` "
        f"({os.cpu_count()} CPUs, one thread per rank, 1-minute load average {load_before:.1f} "
        f"before and {load_after:.1f} after): {r['model']}, {r['gradient_bytes'] / 1e6:.2f} MB of "
        f"gradients in {r['buckets']} bucket(s), global batch {r['global_batch']} on "
        f"{r['ranks']} ranks; medians of {args.steps} steps each, the settings alternating.",
        "",
        "| all-reduce | step (ms) | waiting for it after backward (ms) |",
        "|---|---:|---:|",
        f"| overlapped with backward | {on['step_s'] * 1e3:.1f} | {on['wait_s'] * 1e3:.2f} |",
        f"| after backward | {off['step_s'] * 1e3:.1f} | {off['wait_s'] * 1e3:.2f} |",
        "",
        f"Gain: {gain * 1e3:.1f} ms per step ({gain / off['step_s'] * 100:.1f}%); exposed "
        f"communication {off['wait_s'] * 1e3:.2f} -> {on['wait_s'] * 1e3:.2f} ms.",
    ]
    text = "\n".join(lines)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(r, load_before=load_before, load_after=load_after), f, indent=1)
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--model", default="resnet20", help="a zoo name, or mlp")
    parser.add_argument("--batch", type=int, default=64, help="global batch")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per setting")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--bucket-cap-mb", type=float, default=25.0)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--json", default=None, help="also write the raw timings here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
