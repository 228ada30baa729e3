"""``fashion-mnist-mini``: a class-balanced Fashion-MNIST subset shipped in the package (2.9 MB).

6,000 training images (600 per class) and 1,000 test images (100 per class) drawn from the official
Fashion-MNIST files, so ``cnnlab train`` has real clothing images to learn from on a machine with
no network and no data directory. The drawing (``tools/make_fashion_mini.py``): per split and
class c, the class's indices permuted by ``numpy.random.default_rng(seed + c)`` (seed 0 train,
1 test), the first 600 (train) or 100 (test) kept, in the official order. The files' sha256 are
in :data:`SHA256`.
"""

import os

from .datasets import FashionMNIST, _read_idx_pair
from .dataset import ArrayDataset

DIRECTORY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fashion_mnist_mini")

# sha256 of the four bundled files, as printed by tools/make_fashion_mini.py.
SHA256 = {
    "train-images-idx3-ubyte.gz":
        "a77f37afb21b30320948e8726d9924e230ce0c6f2bebf8cabc0e8c8ff6643b96",
    "train-labels-idx1-ubyte.gz":
        "1a8594e7c79a95615df5ee757be7b68f8dafebf127f07338dd1aff24d1c89b5a",
    "t10k-images-idx3-ubyte.gz":
        "22afba54e58855cb7a458d77d339d537c7ecf9982db94c3eb9a40fec1c875cc0",
    "t10k-labels-idx1-ubyte.gz":
        "6e5e0692bed9f33c9425b805373b8b3cec330c5ea3ad9635b77efd0e88cdc7ee",
}


class FashionMNISTMini(ArrayDataset):
    """The bundled Fashion-MNIST subset: 6,000 train / 1,000 test 28x28 grayscale images.

    Needs no download and no data directory (``root`` and ``download`` are accepted and ignored,
    so ``get_dataset`` treats it like the other datasets). Classes and ``normalize=True``
    statistics are Fashion-MNIST's.

    Shape:
        ``data`` (N, 28, 28) uint8, ``targets`` (N,) int64; a sample is ((1, 28, 28) float32, int).
    """

    classes = FashionMNIST.classes
    MEAN, STD = FashionMNIST.MEAN, FashionMNIST.STD

    def __init__(self, root=None, train=True, download=True, transform=None, target_transform=None,
                 normalize=None, progress=True):
        self.train = bool(train)
        stem = "train" if self.train else "t10k"
        self.paths = [os.path.join(DIRECTORY, f"{stem}-{kind}-ubyte.gz")
                      for kind in ("images-idx3", "labels-idx1")]
        data, targets = _read_idx_pair(type(self).__name__, *self.paths,
                                       num_classes=len(self.classes))
        super().__init__(data, targets, type(self).classes, transform, target_transform, normalize)

    def extra_repr(self):
        return f"Split: {'Train' if self.train else 'Test'}\nFiles: {', '.join(self.paths)}"
