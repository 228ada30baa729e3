"""Data: datasets (MNIST, Fashion-MNIST and its bundled subset, CIFAR-10, Digits, image folders),
DataLoader, file readers, downloads. May import functional, tensor, autograd, kernels, backend and below.

Example:
    >>> from cnnlab.data import FashionMNIST, DataLoader
    >>> train = FashionMNIST(train=True)                      # $CNNLAB_DATA, else ~/.cache/cnnlab
    >>> for images, labels in DataLoader(train, batch_size=128, shuffle=True, seed=0):
    ...     pass                                              # (128, 1, 28, 28) float32, (128,) int64
"""

from .cifar import parse_cifar_records, read_cifar_bin, read_cifar_tar, write_cifar_bin
from .dataset import ArrayDataset, ConcatDataset, Dataset, Subset, TensorDataset, random_split
from .datasets import CIFAR10, MNIST, FashionMNIST
from .digits import Digits
from .download import (ChecksumError, DatasetNotFoundError, DownloadError, default_data_dir, download_url,
                       resolve_data_dir, search_dirs)
from .idx import read_idx, write_idx
from .image_folder import ImageFolder
from .loader import DataLoader, Generator, default_collate
from .mini import FashionMNISTMini
from .registry import DATASETS, get_dataset, list_datasets
from .scenes import MNISTScenes
from .split import stratified_split

__all__ = [
    "Dataset", "TensorDataset", "Subset", "ConcatDataset", "ArrayDataset", "random_split",
    "DataLoader", "Generator", "default_collate",
    "MNIST", "MNISTScenes", "FashionMNIST", "FashionMNISTMini", "CIFAR10", "Digits", "ImageFolder", "get_dataset", "list_datasets", "DATASETS",
    "read_idx", "write_idx", "read_cifar_bin", "read_cifar_tar", "write_cifar_bin", "parse_cifar_records",
    "DatasetNotFoundError", "DownloadError", "ChecksumError", "default_data_dir", "resolve_data_dir",
    "search_dirs", "download_url", "stratified_split",
]
