"""Regenerate the bundled ``fashion-mnist-mini`` subset from the official Fashion-MNIST files.

The drawing: for each split and each class c in 0..9, the indices of class c in the official file
are permuted with ``numpy.random.default_rng(SEED + c)`` (``SEED`` = 0 for train, 1 for test) and
the first ``per_class`` are kept (600 train, 100 test per class); the chosen indices are then
sorted, so the subset keeps the official order. The files are written as gzip-compressed IDX (gzip
mtime 0, so the bytes depend only on the data) and their sha256 printed; they must equal
``cnnlab.data.mini.SHA256``.

    python tools/make_fashion_mini.py --source /path/to/fashion-mnist
    (--out DIR: elsewhere than src/cnnlab/data/fashion_mnist_mini)
"""

import argparse
import hashlib
import os
import sys

import numpy as np

from cnnlab.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx, write_idx

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "src", "cnnlab", "data", "fashion_mnist_mini")
SPLITS = {  # official stem -> (per-class count, seed)
    "train": (600, 0),
    "t10k": (100, 1),
}


def draw(labels, per_class, seed):
    """Sorted indices of a class-balanced draw: ``per_class`` of each label (seed + class)."""
    chosen = []
    for c in range(10):
        idx = np.flatnonzero(labels == c)
        chosen.append(idx[np.random.default_rng(seed + c).permutation(idx.size)[:per_class]])
    return np.sort(np.concatenate(chosen))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", required=True, help="directory holding the four official .gz files")
    p.add_argument("--out", default=DEFAULT_OUT, help="where the subset's four .gz files go")
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    for stem, (per_class, seed) in SPLITS.items():
        images = read_idx(os.path.join(args.source, f"{stem}-images-idx3-ubyte.gz"), IMAGES_MAGIC)
        labels = read_idx(os.path.join(args.source, f"{stem}-labels-idx1-ubyte.gz"), LABELS_MAGIC)
        keep = draw(labels, per_class, seed)
        for kind, array in (("images-idx3", images[keep]), ("labels-idx1", labels[keep])):
            path = write_idx(os.path.join(args.out, f"{stem}-{kind}-ubyte.gz"), array)
            with open(path, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            print(f'    "{os.path.basename(path)}": "{digest}",  # {os.path.getsize(path):,} bytes')
    return 0


if __name__ == "__main__":
    sys.exit(main())
