"""Data-parallel training throughput of resnet20 (CIFAR-10 sized inputs) on 1, 2 and 4 MPI ranks.

Each configuration is one ``mpiexec -n P`` run of this file in worker mode, one thread per rank.
The global batch is fixed (strong scaling: each rank takes ``batch / P``), so perfect scaling would
multiply images per second by P. Per step the workers time the gradient all-reduce
(``distributed.all_reduce_gradients``) and report it beside the bandwidth model of a ring
all-reduce: each rank sends and receives ``2 (P - 1) / P x gradient bytes`` per step.

    python benchmarks/distributed.py                        # 1, 2 and 4 ranks, 8 timed steps each
    python benchmarks/distributed.py --ranks 1 2 --steps 4  # a quick look
Results: printed as a Markdown table and written to benchmarks/distributed.json (see RESULTS.md).
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
    """One rank: resnet20 on random CIFAR-sized data; rank 0 prints one JSON line of the timings."""
    from cnnlab import backend, models, nn, optim
    from cnnlab import distributed as dist
    from cnnlab.tensor import Tensor

    size, rank = dist.init(), dist.rank()
    backend.manual_seed(0)
    net = dist.convert_sync_batchnorm(models.get(args.model, num_classes=10))
    dist.broadcast_parameters(net)
    opt = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    local = args.batch // size
    rng = np.random.default_rng(rank)
    x = Tensor(rng.standard_normal((local, 3, 32, 32)).astype(np.float32))
    y = Tensor(rng.integers(0, 10, local))
    grad_bytes = sum(p.data.nbytes for p in net.parameters())
    step_times, comm_times = [], []
    for step in range(args.warmup + args.steps):
        dist.barrier()
        start = time.perf_counter()
        opt.zero_grad()
        loss_fn(net(x), y).backward()
        comm_start = time.perf_counter()
        dist.all_reduce_gradients(net)
        comm = time.perf_counter() - comm_start
        opt.step()
        if step >= args.warmup:
            step_times.append(time.perf_counter() - start)
            comm_times.append(comm)
    # The all-reduce alone, every rank entering together: the transfer without waiting for others.
    alone = []
    for _ in range(args.steps):
        dist.barrier()
        start = time.perf_counter()
        dist.all_reduce_gradients(net)
        alone.append(time.perf_counter() - start)
    # The slowest rank sets the pace: take each step's maximum over the ranks.
    steps = dist.all_reduce(np.array(step_times), op="max")
    comms = dist.all_reduce(np.array(comm_times), op="max")
    alone = dist.all_reduce(np.array(alone), op="max")
    if dist.is_main():
        moved = 2 * (size - 1) / size * grad_bytes
        step, comm, pure = float(np.median(steps)), float(np.median(comms)), float(np.median(alone))
        print(json.dumps({
            "ranks": size, "model": args.model, "global_batch": args.batch, "per_rank_batch": local,
            "step_s": step, "allreduce_s": comm, "allreduce_share": comm / step,
            "images_per_s": args.batch / step, "gradient_bytes": grad_bytes,
            "bytes_moved_per_rank": moved,
            "allreduce_alone_s": pure,
            "bus_bandwidth_GBps": moved / pure / 1e9 if size > 1 and pure > 0 else None,
        }), flush=True)


def run_all(args):
    env = dict(os.environ, **ONE_THREAD)
    rows = []
    for p in args.ranks:
        cmd = ["mpiexec", "-n", str(p), sys.executable, os.path.abspath(__file__), "--worker",
               "--model", args.model, "--batch", str(args.batch), "--steps", str(args.steps),
               "--warmup", str(args.warmup)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
        if proc.returncode != 0:
            sys.exit(f"distributed benchmark: {p} ranks failed:\n{proc.stdout}\n{proc.stderr}")
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f"{p} rank(s) done", file=sys.stderr, flush=True)
    base = rows[0]["images_per_s"]
    print("| ranks | per-rank batch | step (s) | images/s | speed-up | all-reduce in step (ms) | "
          "share | all-reduce alone (ms) | MB moved/rank | bus GB/s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        bw = "-" if r["bus_bandwidth_GBps"] is None else f"{r['bus_bandwidth_GBps']:.2f}"
        cells = [r["ranks"], r["per_rank_batch"], f"{r['step_s']:.3f}", f"{r['images_per_s']:.1f}",
                 f"{r['images_per_s'] / base:.2f}x", f"{r['allreduce_s'] * 1e3:.1f}",
                 f"{r['allreduce_share'] * 100:.1f}%", f"{r['allreduce_alone_s'] * 1e3:.1f}",
                 f"{r['bytes_moved_per_rank'] / 1e6:.2f}", bw]
        print("| " + " | ".join(map(str, cells)) + " |")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    out = {"cpus": os.cpu_count(), "load_average_1min": load, "rows": rows}
    with open(args.json, "w") as f:
        json.dump(out, f, indent=1)
    print(f"\n{os.cpu_count()} CPUs, 1-minute load average {load}; written to {args.json}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--batch", type=int, default=64,
                        help="global batch (each rank: batch / ranks)")
    parser.add_argument("--steps", type=int, default=8, help="timed steps (median reported)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=1200)
    parser.add_argument("--json", default=os.path.join(HERE, "distributed.json"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
    else:
        run_all(args)


if __name__ == "__main__":
    main()
