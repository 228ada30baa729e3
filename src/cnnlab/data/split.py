"""A class-balanced validation split carved from a training set, drawn from a seed.

Model selection (best checkpoint, early stopping, a plateau schedule) must not look at the test
set; ``stratified_split`` holds out the same share of every class, so a 10% split of Fashion-MNIST's
60,000 training images is 600 images of each of its 10 classes.
"""

import hashlib

import numpy as np

from ..validation import real_arg


def stratified_split(targets, fraction, seed=0):
    """Split indices into ``(train, val)``: ``round(fraction * n_c)`` of each class c held out.

    Within each class the held-out samples are drawn from a generator seeded with ``seed``, so the
    same targets, fraction and seed give the same split. Both index arrays are sorted.

    Args:
        targets: the labels (N,), integers.
        fraction: share of each class to hold out, in [0, 1); 0 gives an empty ``val``.
        seed: seed of the draw.

    Example:
        >>> train_idx, val_idx = stratified_split(dataset.targets, 0.1, seed=0)
    """
    fraction = real_arg("stratified_split", "fraction", fraction, 0, 1, high_open=True)
    targets = np.asarray(targets).reshape(-1)
    if targets.dtype.kind not in "iu":
        raise TypeError(f"stratified_split: `targets` must be integer labels. "
                        f"Received dtype {targets.dtype}")
    n = targets.size
    if fraction == 0:
        return np.arange(n, dtype=np.int64), np.zeros(0, np.int64)
    rng = np.random.default_rng(seed)
    held = []
    for c in np.unique(targets):
        members = np.flatnonzero(targets == c)
        k = int(round(fraction * members.size))
        held.append(rng.permutation(members)[:k])
    val = np.sort(np.concatenate(held)).astype(np.int64)
    if val.size == 0 or val.size == n:
        raise ValueError(f"stratified_split: a {fraction:g} split of {n} samples leaves "
                         f"{'no validation' if val.size == 0 else 'no training'} samples; "
                         f"choose another fraction (or 0 for no validation set)")
    mask = np.ones(n, bool)
    mask[val] = False
    return np.flatnonzero(mask).astype(np.int64), val


def split_digest(indices):
    """A short fingerprint of an index array, recorded in checkpoints to recognise a split again."""
    return hashlib.sha256(np.asarray(indices, dtype=np.int64).tobytes()).hexdigest()[:16]
