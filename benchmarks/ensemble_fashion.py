"""Do ensembles help? Train several fashion_cnn on Fashion-MNIST with different seeds (a few epochs
each) and compare each one's test accuracy with the ensemble's (mean of softmax outputs, and
majority vote).

Each member is `cnnlab train`'s recipe (Adam lr 1e-3, cosine schedule, batch 64, standardised
inputs) with its own seed, so members differ in initial weights, batch order and validation split
(hence in their standardisation statistics: each member applies its own). Writes its results into
``benchmarks/RESULTS.md`` between the ``ensemble_fashion`` markers.

Usage:
    python benchmarks/ensemble_fashion.py [--members 3] [--epochs 2] [--data-dir DIR] [--no-write]
    python benchmarks/ensemble_fashion.py --train-limit 2000 --epochs 1 --no-write   # a quick check
"""

import argparse
import datetime
import os
import tempfile
import time

from results_md import write_section

from cnnlab.runs.ensemble import evaluate_ensemble
from cnnlab.train.run import train_job



def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--data-dir", default=None, help="default: $CNNLAB_DATA")
    ap.add_argument(
        "--runs-dir", default=None, help="where the members' checkpoints go (default: a temp dir)"
    )
    ap.add_argument("--train-limit", type=int, default=None, metavar="N",
                    help="train each member on N training images only (a quick check)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = ap.parse_args()
    runs = args.runs_dir or tempfile.mkdtemp(prefix="ensemble_fashion-")
    paths, times = [], []
    for seed in range(args.members):
        out = os.path.join(runs, f"seed{seed}")
        t = time.perf_counter()
        train_job(
            model="fashion_cnn",
            dataset="fashion-mnist",
            epochs=args.epochs,
            seed=seed,
            out=out,
            data_dir=args.data_dir,
            progress=False,
            fallback=False,
            train_limit=args.train_limit,
        )
        times.append(time.perf_counter() - t)
        paths.append(os.path.join(out, "last.npz"))
    mean = evaluate_ensemble(paths, "mean", data_dir=args.data_dir)
    vote = evaluate_ensemble(paths, "vote", data_dir=args.data_dir)
    text = report(args, mean, vote, times)
    print(text)
    if not args.no_write:
        write_section("ensemble_fashion", text)


def report(args, mean, vote, times):
    rows = [
        f"| seed {i} | {m['accuracy'] * 100:.2f}% | {m['loss']:.4f} |"
        for i, m in enumerate(mean["members"])
    ]
    best = max(m["accuracy"] for m in mean["members"])
    average = sum(m["accuracy"] for m in mean["members"]) / len(mean["members"])
    day = datetime.date.today().isoformat()
    limit = f" --train-limit {args.train_limit}" if args.train_limit else ""
    images = f"{args.train_limit:,} of the" if args.train_limit else "the full"
    return "\n".join(
        [
            "## Ensembles on Fashion-MNIST (`benchmarks/ensemble_fashion.py`)",
            "",
            f"Command: `python benchmarks/ensemble_fashion.py --members {args.members} "
            f"--epochs {args.epochs}{limit}`, {day}, 2 shared CPU cores, {sum(times) / 60:.1f} min of "
            f"training in all. {args.members} fashion_cnn trained with `cnnlab train`'s recipe "
            f"(Adam lr 1e-3, cosine over {args.epochs} epochs, batch 64) on {images} 60,000 "
            f"training images, seeds 0-{args.members - 1}; tested on the 10,000 test images "
            "(`runs.ensemble.evaluate_ensemble`, what `cnnlab evaluate CKPT1 CKPT2 ...` prints).",
            "",
            "| model | test accuracy | test loss |",
            "|---|---|---|",
            *rows,
            f"| ensemble, mean of softmax | **{mean['ensemble']['accuracy'] * 100:.2f}%** | "
            f"{mean['ensemble']['loss']:.4f} |",
            f"| ensemble, majority vote | **{vote['ensemble']['accuracy'] * 100:.2f}%** | - |",
            "",
            f"Averaging the softmax outputs gains {mean['gain_over_best'] * 100:+.2f} points over "
            f"the best member ({best * 100:.2f}%) and {mean['gain_over_mean'] * 100:+.2f} over the "
            f"members' average "
            f"({average * 100:.2f}%); the majority vote {vote['gain_over_best'] * 100:+.2f} and "
            f"{vote['gain_over_mean'] * 100:+.2f}.",
        ]
    )


if __name__ == "__main__":
    main()
