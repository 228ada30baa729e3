"""Does data augmentation help? The standard CIFAR-10 recipe (random crop with 4-pixel padding + horizontal
flip) against no augmentation, same network, same seed, same number of updates.

The network is a small VGG-style CNN (three CONV-BN-ReLU-POOL stages, 32-64-128 filters, then FC), trained
with SGD + momentum and a cosine learning rate, on 5,000 images of the CIFAR-10 training subset in
``$CNNLAB_DATA/cifar-10`` (a small training set overfits sooner, which is what augmentation counters) and tested
on the 10,000 test images. It is sized to run on two CPU cores in about a quarter of an hour, far from the
accuracy of the full 50,000 images and a longer schedule. Appends its results to ``benchmarks/RESULTS.md``.

Usage:
    python benchmarks/augment_cifar.py [--epochs 20] [--train-limit 5000] [--no-write]
"""

import argparse
import json
import os
import sys
import time

import numpy as np

import cnnlab
from cnnlab import nn, optim
from cnnlab.data import DataLoader, Subset, get_dataset
from cnnlab.data.transforms import training_pipeline
from cnnlab.train import Trainer
from cnnlab.runs.evaluation import evaluate
from cnnlab.runs.saved import set_normalize
from cnnlab.train.run import channel_stats

HERE = os.path.dirname(os.path.abspath(__file__))
# (out_channels per stage); each stage is CONV3x3-BN-ReLU then 2x2 max pooling: 32 -> 16 -> 8 -> 4.
STAGES = (32, 64, 128)


def small_vgg(num_classes=10, in_channels=3):
    layers, c = [], in_channels
    for out in STAGES:
        layers += [nn.Conv2d(c, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(), nn.MaxPool2d(2)]
        c = out
    return nn.Sequential(*layers, nn.Flatten(), nn.Dropout(0.2), nn.Linear(c * 4 * 4, num_classes))


def run(augment, epochs, train_limit, batch_size, lr, seed, data_dir, log):
    cnnlab.manual_seed(seed)
    train = get_dataset("cifar10", root=data_dir, train=True)
    test = get_dataset("cifar10", root=data_dir, train=False)
    mean, std = channel_stats(train)
    for ds in (train, test):
        set_normalize(ds, mean, std)
    if train_limit and train_limit < len(train):
        train = Subset(train, np.random.default_rng(seed).permutation(len(train))[:train_limit])
    batch_transform = training_pipeline(augment, train, mean, std) if augment else None
    model = small_vgg()
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4, nesterov=True)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    loader = DataLoader(train, batch_size=batch_size, shuffle=True, seed=seed, batch_transform=batch_transform)
    test_loader = DataLoader(test, batch_size=500)
    # Per-epoch validation on 2,000 random test images (the files are sorted by class); the final number uses all.
    pick = np.random.default_rng(seed + 1).permutation(len(test))[:2000]
    val_loader = DataLoader(Subset(test, pick), batch_size=500)
    trainer = Trainer(model, opt, nn.CrossEntropyLoss(), sched, progress=False, log=log)
    start = time.perf_counter()
    history = trainer.fit(loader, val_loader, epochs=epochs)
    seconds = time.perf_counter() - start
    final = evaluate(model, test_loader)
    return {"augment": augment or "none", "test_accuracy": final["accuracy"],
            "train_accuracy": history["train_acc"][-1], "val_acc_per_epoch": history["val_acc"],
            "seconds": seconds, "train_images": len(train), "test_images": len(test)}


def write_results(results, args):
    path = os.path.join(HERE, "RESULTS.md")
    base, aug = results
    lines = [
        "",
        "## Data augmentation on CIFAR-10 (`benchmarks/augment_cifar.py`)",
        "",
        f"Small VGG-style CNN (CONV-BN-ReLU-POOL x3 with {'-'.join(map(str, STAGES))} filters, dropout 0.2, FC; "
        f"{sum(p.numel() for p in small_vgg().parameters()):,} parameters), SGD (Nesterov momentum 0.9, lr "
        f"{args.lr}, weight decay 5e-4, cosine schedule), batch {args.batch_size}, {args.epochs} epochs, seed "
        f"{args.seed}. Trained on {base['train_images']:,} images of the CIFAR-10 training subset in "
        f"`shared/datasets/cifar-10` (JPEG-decoded, not the full 50,000), tested on the {base['test_images']:,} "
        f"test images. A short run on two CPU cores: both numbers are far below what the full set and a longer "
        f"schedule reach; the comparison is the point.",
        "",
        "| augmentation | train accuracy (last epoch) | test accuracy | accuracy per epoch (2,000 random test images) | time |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in (base, aug):
        per_epoch = " ".join(f"{a * 100:.1f}" for a in r["val_acc_per_epoch"])
        lines.append(f"| {r['augment']} | {r['train_accuracy'] * 100:.2f}% | **{r['test_accuracy'] * 100:.2f}%** | "
                     f"{per_epoch} | {r['seconds']:.0f} s |")
    gap = (aug["test_accuracy"] - base["test_accuracy"]) * 100
    lines += ["", f"Random crop (padding 4) + horizontal flip changes test accuracy by {gap:+.2f} points and takes "
              f"the train-test gap from {(base['train_accuracy'] - base['test_accuracy']) * 100:.1f} to "
              f"{(aug['train_accuracy'] - aug['test_accuracy']) * 100:.1f} points. Reproduce: "
              f"`python benchmarks/augment_cifar.py --epochs {args.epochs} --train-limit {args.train_limit}`.", ""]
    with open(path, "a", encoding="utf-8") as f:
        if f.tell() == 0:
            f.write("# Benchmarks\n")
        f.write("\n".join(lines))
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--train-limit", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None, help="default: $CNNLAB_DATA")
    parser.add_argument("--augment", default="flip,crop:4", help="the augmented run's recipe")
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args(argv)
    results = []
    for augment in (None, args.augment):
        print(f"--- augmentation: {augment or 'none'}", flush=True)
        results.append(run(augment, args.epochs, args.train_limit, args.batch_size, args.lr, args.seed,
                           args.data_dir, log=lambda m: print(m, flush=True)))
        print(json.dumps({k: v for k, v in results[-1].items() if k != "val_acc_per_epoch"}), flush=True)
    if not args.no_write:
        print("appended to", write_results(results, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
