"""The datasets by name: ``get_dataset("fashion-mnist")``, ``list_datasets()``.

Above every dataset module, so none of them imports another to be listed.
"""

from .datasets import CIFAR10, MNIST, FashionMNIST
from .digits import Digits
from .mini import FashionMNISTMini
from .scenes import MNISTScenes

# name -> dataset class. Every one takes root/train/download/transform keywords.
DATASETS = {
    "mnist": MNIST,
    "fashion-mnist": FashionMNIST,
    "cifar10": CIFAR10,
    "digits": Digits,
    "fashion-mnist-mini": FashionMNISTMini,
    "mnist-scenes": MNISTScenes,
}
_ALIASES = {"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist", "cifar-10": "cifar10",
            "cifar_10": "cifar10", "fashion_mnist_mini": "fashion-mnist-mini",
            "mnist_scenes": "mnist-scenes"}


def list_datasets():
    """The names ``get_dataset`` knows."""
    return list(DATASETS)


def get_dataset(name, root=None, train=True, download=True, **kwargs):
    """Build a dataset by name: ``"mnist"``, ``"fashion-mnist"``, ``"cifar10"``, ``"digits"``,
    ``"fashion-mnist-mini"`` (bundled with the package) or ``"mnist-scenes"`` (built from MNIST).

    Args:
        name: the dataset's name (case-insensitive; ``fashion_mnist`` and ``cifar-10`` also work).
        root, train, download: as for the dataset classes (``Digits`` needs no files and ignores
            ``root`` and ``download``).
        **kwargs: passed on (``transform``, ``target_transform``, ``normalize``, ...).

    Example:
        >>> test = get_dataset("fashion-mnist", train=False)
    """
    if not isinstance(name, str):
        raise TypeError(f"get_dataset: `name` must be a string. Received {type(name).__name__}")
    key = name.lower()
    key = _ALIASES.get(key, key)
    if key not in DATASETS:
        raise ValueError(f"get_dataset: unknown dataset {name!r}. Expected one of: {', '.join(DATASETS)}")
    if key == "digits":
        return DATASETS[key](train=train, **kwargs)
    return DATASETS[key](root=root, train=train, download=download, **kwargs)
