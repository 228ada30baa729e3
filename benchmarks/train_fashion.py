"""Train the lectures' Fashion-MNIST network in cnnlab and in PyTorch, side by side, on the real data.

Each framework runs in its own subprocess (so each one's peak memory is its own), from the same initial
weights and the same batch order, and reports test accuracy after every epoch, images per second and
wall time. A second mode runs the `cnnlab train` defaults. Results go to benchmarks/RESULTS.md.

    python benchmarks/train_fashion.py --epochs 5              # SGD recipe, cnnlab vs PyTorch
    python benchmarks/train_fashion.py --cli-defaults          # the `cnnlab train` default recipe
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections import OrderedDict

import numpy as np

from results_md import write_section

HERE = os.path.dirname(os.path.abspath(__file__))


def load_data():
    from cnnlab.data import get_dataset

    train, test = get_dataset("fashion-mnist", train=True), get_dataset("fashion-mnist", train=False)
    xtr = train.data.astype(np.float32) / 255.0
    mean, std = float(xtr.mean()), float(xtr.std())
    norm = lambda d: ((d.data.astype(np.float32) / 255.0 - mean) / std)[:, None]  # noqa: E731  (N, 1, 28, 28)
    return norm(train), train.targets, norm(test), test.targets


def initial_weights(seed):
    import cnnlab
    from cnnlab import models

    cnnlab.manual_seed(seed)
    return {k: v.numpy().copy() for k, v in models.fashion_cnn().state_dict().items()}   # arrays, for both


def run_cnnlab(args, data, weights, orders):
    import cnnlab
    from cnnlab import models, nn, optim

    xtr, ytr, xte, yte = data
    model = models.fashion_cnn()
    model.load_state_dict(weights)
    opt = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    loss_fn = nn.CrossEntropyLoss()
    epochs = []
    for order in orders:
        model.train()
        start = time.perf_counter()
        for i in range(0, len(order) - args.batch_size + 1, args.batch_size):
            idx = order[i:i + args.batch_size]
            opt.zero_grad()
            loss = loss_fn(model(cnnlab.tensor(xtr[idx])), cnnlab.tensor(ytr[idx]))
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - start
        model.eval()
        with cnnlab.no_grad():
            pred = np.concatenate([model(cnnlab.tensor(xte[i:i + 1000])).numpy().argmax(1)
                                   for i in range(0, len(xte), 1000)])
        epochs.append({"test_acc": float((pred == yte).mean()), "seconds": seconds,
                       "img_per_s": (len(order) // args.batch_size * args.batch_size) / seconds})
        print(json.dumps({"framework": "cnnlab", **epochs[-1]}), file=sys.stderr, flush=True)
    return epochs


def run_torch(args, data, weights, orders):
    import torch
    from torch import nn

    torch.set_num_threads(args.threads)
    xtr, ytr, xte, yte = data
    model = nn.Sequential(OrderedDict(
        features=nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                               nn.Conv2d(16, 32, 5, padding=2), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2)),
        classifier=nn.Sequential(nn.Flatten(), nn.Linear(32 * 7 * 7, 10))))
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in weights.items()})
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    loss_fn = nn.CrossEntropyLoss()
    xtr_t, ytr_t, xte_t = torch.from_numpy(xtr), torch.from_numpy(ytr), torch.from_numpy(xte)
    epochs = []
    for order in orders:
        model.train()
        start = time.perf_counter()
        for i in range(0, len(order) - args.batch_size + 1, args.batch_size):
            idx = torch.from_numpy(order[i:i + args.batch_size])
            opt.zero_grad()
            loss = loss_fn(model(xtr_t[idx]), ytr_t[idx])
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - start
        model.eval()
        with torch.no_grad():
            pred = torch.cat([model(xte_t[i:i + 1000]).argmax(1) for i in range(0, len(xte), 1000)]).numpy()
        epochs.append({"test_acc": float((pred == yte).mean()), "seconds": seconds,
                       "img_per_s": (len(order) // args.batch_size * args.batch_size) / seconds})
        print(json.dumps({"framework": "torch", **epochs[-1]}), file=sys.stderr, flush=True)
    return epochs


def worker(args):
    data = load_data()
    weights = initial_weights(args.seed)
    rng = np.random.default_rng(args.seed)
    orders = [rng.permutation(len(data[0])) for _ in range(args.epochs)]
    run = run_cnnlab if args.worker == "cnnlab" else run_torch
    epochs = run(args, data, weights, orders)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"epochs": epochs, "peak_rss_mb": peak_mb}))


def spawn(framework, args):
    cmd = [sys.executable, __file__, "--worker", framework, "--epochs", str(args.epochs), "--lr", str(args.lr),
           "--momentum", str(args.momentum), "--batch-size", str(args.batch_size), "--seed", str(args.seed),
           "--threads", str(args.threads)]
    busy_before, children_before = machine_busy_seconds(), children_cpu_seconds()
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    wall = time.perf_counter() - start
    others = machine_busy_seconds() - busy_before - (children_cpu_seconds() - children_before)
    result = json.loads(out.strip().splitlines()[-1])
    result["other_cpu_share"] = max(0.0, others / (wall * (os.cpu_count() or 1)))
    return result


def machine_busy_seconds():
    """CPU seconds all processes have used since boot (non-idle time in /proc/stat), 0 where unknown."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores"


def side_by_side(args):
    results = {fw: spawn(fw, args) for fw in ("cnnlab", "torch")}
    ours, theirs = results["cnnlab"]["epochs"], results["torch"]["epochs"]
    gap = max(abs(a["test_acc"] - b["test_acc"]) * 100 for a, b in zip(ours, theirs))
    lines = [f"## Fashion-MNIST training, cnnlab vs PyTorch ({args.epochs} epochs)", "",
             f"Command: `python benchmarks/train_fashion.py --epochs {args.epochs}` on {machine()}, "
             f"{time.strftime('%Y-%m-%d')}. Recipe: fashion_cnn, SGD lr {args.lr} momentum {args.momentum}, batch "
             f"{args.batch_size}, inputs standardised by the training mean/std, same initial weights and batch "
             f"order in both; PyTorch {args.threads} threads. Share of the machine's CPU used by other processes "
             f"while each ran: cnnlab {results['cnnlab']['other_cpu_share']:.0%}, PyTorch "
             f"{results['torch']['other_cpu_share']:.0%} (timings above ~10% are not clean; "
             "`benchmarks/bench_vs_torch.py` measures interleaved ratios). Target (a), accuracy within 0.5 points "
             f"of PyTorch's after every epoch: {'met' if gap <= 0.5 else 'missed'} (largest gap {gap:.2f} points).", "",
             "| epoch | cnnlab test acc | PyTorch test acc | difference (points) | cnnlab s/epoch | PyTorch s/epoch |"
             " cnnlab img/s | PyTorch img/s |", "|---|---|---|---|---|---|---|---|"]
    for i, (a, b) in enumerate(zip(ours, theirs), 1):
        lines.append(f"| {i} | {a['test_acc'] * 100:.2f}% | {b['test_acc'] * 100:.2f}% | "
                     f"{(a['test_acc'] - b['test_acc']) * 100:+.2f} | {a['seconds']:.1f} | {b['seconds']:.1f} | "
                     f"{a['img_per_s']:,.0f} | {b['img_per_s']:,.0f} |")
    lines += ["", f"Peak resident memory of the whole process: cnnlab {results['cnnlab']['peak_rss_mb']:.0f} MB, "
              f"PyTorch {results['torch']['peak_rss_mb']:.0f} MB (each includes the dataset arrays)."]
    write_section("train_fashion", "\n".join(lines))
    print("\n".join(lines))


def cli_defaults(args):
    from cnnlab.train.run import train_job

    start = time.perf_counter()
    result = train_job(progress=False, out=args.out)
    wall = time.perf_counter() - start
    h = result.history
    rows = [f"| {i} | {acc * 100:.2f}% | {t:.1f} |" for i, (acc, t) in enumerate(zip(h["val_acc"], h["time"]), 1)]
    text = "\n".join([
        "## `cnnlab train` defaults on Fashion-MNIST", "",
        f"Command: `python benchmarks/train_fashion.py --cli-defaults` (the same run as `cnnlab train`) on "
        f"{machine()}, {time.strftime('%Y-%m-%d')}. Recipe: fashion_cnn, Adam lr 1e-3, cosine annealing over "
        f"{len(rows)} epochs, batch 64, standardised inputs, 10% of the training images held out for "
        f"validation. Final test accuracy (evaluated once, after training, on the checkpoint chosen on the "
        f"validation split) **{result.test_accuracy * 100:.2f}%**; wall time {wall / 60:.1f} min; peak resident memory "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB.", "",
        "| epoch | validation accuracy | training s/epoch |", "|---|---|---|", *rows])
    write_section("cli_defaults", text)
    print(text)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--cli-defaults", action="store_true", help="run the `cnnlab train` defaults instead")
    p.add_argument("--out", default=os.path.join("runs", "bench-cli-defaults"))
    p.add_argument("--worker", choices=["cnnlab", "torch"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if not os.environ.get("CNNLAB_DATA"):
        shared = os.path.join(HERE, "..", "..", "shared", "datasets")
        if os.path.isdir(shared):
            os.environ["CNNLAB_DATA"] = os.path.abspath(shared)
    if args.worker:
        worker(args)
    elif args.cli_defaults:
        cli_defaults(args)
    else:
        side_by_side(args)


if __name__ == "__main__":
    main()
