"""Data augmentation and preprocessing, on single images (C, H, W) and on whole batches (N, C, H, W).
Part of ``data``: may import what ``data`` may (functional and below).

Every transform accepts a ``cnnlab.Tensor`` or an array and returns the same kind. On a batch, random
parameters are drawn per image and applied with array operations, so a ``Compose`` of transforms can be the
``DataLoader``'s ``batch_transform`` (the fast path) as well as a dataset's per-sample ``transform``.
Random draws come from each transform's ``generator`` (keyword argument; a NumPy ``Generator`` or a
``cnnlab.data.Generator``, e.g. ``loader.generator``) or else from ``cnnlab.backend.get_rng()``, so
``cnnlab.manual_seed`` makes runs repeat. Names, arguments and random rules follow torchvision.

Example (the standard CIFAR-10 recipe, on the loader's fast path):
    >>> from cnnlab.data import CIFAR10, DataLoader, transforms as T
    >>> train = CIFAR10(train=True)
    >>> augment = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(),
    ...                      T.Normalize((0.4914, 0.4822, 0.4465), (0.247, 0.243, 0.261))])
    >>> loader = DataLoader(train, batch_size=128, shuffle=True, seed=0, batch_transform=augment)

``parse_augment("flip,crop:4,pca", dataset)`` builds the pipeline that ``cnnlab train --augment`` names.
"""

from ._base import Compose, Lambda, RandomApply, Transform
from ._resample import InterpolationMode
from .color import (ColorJitter, Normalize, PCALighting, RandomErasing, SubtractMean, ToTensor, adjust_brightness,
                    adjust_contrast, adjust_hue, adjust_saturation, grayscale)
from .geometric import (CenterCrop, ElasticDistortion, ElasticTransform, FiveCrop, RandomAffine, RandomCrop,
                        RandomHorizontalFlip, RandomResizedCrop, RandomRotation, RandomVerticalFlip, Resize, TenCrop)
from .recipes import AUGMENTATIONS, describe_augmentations, parse_augment, training_pipeline

__all__ = [
    "Transform", "Compose", "Lambda", "RandomApply", "InterpolationMode",
    "ToTensor", "Normalize", "SubtractMean", "ColorJitter", "PCALighting", "RandomErasing",
    "RandomHorizontalFlip", "RandomVerticalFlip", "RandomCrop", "CenterCrop", "Resize", "RandomResizedCrop",
    "RandomRotation", "RandomAffine", "ElasticTransform", "ElasticDistortion", "FiveCrop", "TenCrop",
    "grayscale", "adjust_brightness", "adjust_contrast", "adjust_saturation",
    "adjust_hue", "AUGMENTATIONS", "describe_augmentations", "parse_augment", "training_pipeline",
]
