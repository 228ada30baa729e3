"""scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes): a dataset that needs no download."""


import numpy as np

from ..validation import is_int, is_real
from .dataset import ArrayDataset


def _load_digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError("Digits needs scikit-learn, which ships the 8x8 digits data: "
                          "pip install scikit-learn (or pip install 'cnnlab[digits]')") from None
    bunch = load_digits()
    return bunch.images, bunch.target


class Digits(ArrayDataset):
    """The 8x8 digits bundled with scikit-learn, split deterministically into train and test.

    Pixel values 0..16 are scaled to [0, 1]. The split is a permutation drawn from ``seed``: the first
    ``round(test_fraction * 1797)`` samples of it are the test set, the rest the train set (each kept in
    the original order), so the two are disjoint and cover the data.

    Args:
        train: the training part (True) or the test part.
        test_fraction: share of the samples in the test part, in (0, 1).
        seed: seed of the split.
        transform, target_transform, normalize: as for every :class:`ArrayDataset`.

    Shape:
        ``data`` (N, 8, 8) uint8 in 0..16, ``targets`` (N,) int64; a sample is ((1, 8, 8) float32, int).
    """

    classes = [str(i) for i in range(10)]

    def __init__(self, train=True, test_fraction=0.2, seed=0, transform=None, target_transform=None,
                 normalize=None):
        if not is_real(test_fraction) \
                or not 0 < test_fraction < 1:
            raise ValueError(f"Digits: `test_fraction` must be a number in (0, 1). Received: "
                             f"test_fraction={test_fraction!r}")
        if not is_int(seed):
            raise TypeError(f"Digits: `seed` must be an int. Received: seed={seed!r}")
        images, target = _load_digits()
        n = images.shape[0]
        perm = np.random.default_rng(seed).permutation(n)
        n_test = int(round(test_fraction * n))
        chosen = np.sort(perm[n_test:] if train else perm[:n_test])
        self.train = bool(train)
        self.test_fraction = float(test_fraction)
        self.seed = int(seed)
        data = np.rint(images[chosen]).astype(np.uint8)   # values are the integers 0..16
        super().__init__(data, target[chosen].astype(np.int64), type(self).classes, transform, target_transform,
                         normalize, max_value=16)

    def extra_repr(self):
        return f"Split: {'Train' if self.train else 'Test'} (test_fraction={self.test_fraction}, seed={self.seed})"
