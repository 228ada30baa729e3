"""``cnnlab.utils.data``: PyTorch's ``torch.utils.data`` names over cnnlab's datasets and loaders.
Part of ``utils``: may import distributed, data and below.

``from torch.utils.data import DataLoader`` becomes ``from cnnlab.utils.data import DataLoader``.
Datasets and ``random_split`` are cnnlab's own (``cnnlab.data``); the DataLoader here takes
PyTorch's arguments (samplers, ``num_workers`` worker processes, ``persistent_workers``, ...).
"""

from ...data.dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from ...data.loader import default_collate
from . import distributed
from ._worker import WorkerInfo, get_worker_info
from .dataloader import DataLoader, IterableDataset, default_convert
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
                      WeightedRandomSampler)

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "random_split",
           "DataLoader", "default_collate", "default_convert", "get_worker_info", "WorkerInfo",
           "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler",
           "BatchSampler", "distributed"]
