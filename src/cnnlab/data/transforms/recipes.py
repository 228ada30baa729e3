"""Augmentation pipelines named in a short text, as ``cnnlab train --augment flip,crop:4,pca`` takes them."""

import math

import numpy as np

from ...validation import interval
from ._base import Compose
from .color import ColorJitter, Normalize, PCALighting, RandomErasing
from .geometric import (ElasticTransform, RandomAffine, RandomCrop, RandomHorizontalFlip, RandomResizedCrop,
                        RandomRotation, RandomVerticalFlip)

# name -> (what it does, default argument)
AUGMENTATIONS = {
    "flip": ("mirror left-right with probability 0.5", None),
    "vflip": ("flip upside down with probability 0.5", None),
    "crop": ("pad by P pixels (default 4), crop back to the image size at a random offset", 4),
    "resized-crop": ("random area (from S, default 0.08, to 1) and aspect, resized to the image size", 0.08),
    "rotate": ("rotate by up to D degrees (default 10)", 10.0),
    "affine": ("rotate up to D degrees (default 10), shift up to a tenth of the size, scale 0.9-1.1", 10.0),
    "elastic": ("elastic distortion of strength A (default 50, sigma 5)", 50.0),
    "jitter": ("brightness, contrast and saturation jitter of S (default 0.4)", 0.4),
    "pca": ("AlexNet's PCA colour noise, alpha std S (default 0.1), from the training set", 0.1),
    "erase": ("erase a random rectangle with probability P (default 0.5)", 0.5),
}


# name -> (low, high, low_open) of its value: every value is finite and in range (rotate:nan and
# crop:-1 are one line, not an OverflowError inside a transform).
VALUE_RANGES = {
    "crop": (0, None, False), "resized-crop": (0, 1, True), "rotate": (0, 360, False),
    "affine": (0, 360, False), "elastic": (0, None, False), "jitter": (0, None, False),
    "pca": (0, None, False), "erase": (0, 1, False),
}


def _value(name, arg, item, size):
    """The checked value of ``name:arg`` (the default when no value is given)."""
    default = AUGMENTATIONS[name][1]
    if not arg:
        return default
    low, high, low_open = VALUE_RANGES[name]
    if name == "crop" and size is not None:
        high = max(size)   # padding beyond the image side crops mostly padding
    kind = "an int" if isinstance(default, int) else "a finite number"
    try:
        value = type(default)(arg)
    except ValueError:
        value = None
    if value is not None and math.isfinite(value):
        too_low = value <= low if low_open else value < low
        if not too_low and (high is None or value <= high):
            return value
    where = interval(low, high, low_open)
    raise ValueError(f"parse_augment: the value of {name!r} must be {kind} {where}. "
                     f"Received {item!r}")


def describe_augmentations():
    """One line per name, for ``--help``."""
    letters = {"crop": "P", "resized-crop": "S", "rotate": "D", "affine": "D", "elastic": "A", "jitter": "S",
               "pca": "S", "erase": "P"}
    return "; ".join(f"{name}{':' + letters[name] if name in letters else ''} {text}"
                     for name, (text, default) in AUGMENTATIONS.items())


def parse_augment(spec, dataset=None, generator=None):
    """Build the augmentation named by ``spec``: comma-separated names with an optional ``:value`` each.

    The transforms work on images in [0, 1] (apply them before standardising). ``dataset`` (the training
    set) gives the image size for crops and the colour statistics for ``pca``.

    Example:
        >>> parse_augment("flip,crop:4", train_set)
        Compose(
            RandomHorizontalFlip(p=0.5)
            RandomCrop(size=(32, 32), padding=(4, 4, 4, 4))
        )

    Raises:
        ValueError naming an unknown augmentation or a bad value, with the known names.
    """
    if spec is None or spec in ("", "none"):
        return None
    if not isinstance(spec, str):
        raise TypeError(f"parse_augment: `spec` must be a string such as 'flip,crop:4'. Received {type(spec).__name__}")
    base = getattr(dataset, "dataset", dataset)                        # a Subset's underlying dataset
    size = tuple(base.image_shape[1:]) if base is not None and hasattr(base, "image_shape") else None
    out = []
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        name, _, arg = item.partition(":")
        name = name.strip().lower()
        if name not in AUGMENTATIONS:
            raise ValueError(f"parse_augment: unknown augmentation {name!r} in {spec!r}. "
                             f"Known augmentations: {', '.join(AUGMENTATIONS)}")
        if arg and AUGMENTATIONS[name][1] is None:
            raise ValueError(f"parse_augment: {name!r} takes no value. Received {item!r}")
        value = _value(name, arg.strip(), item, size)
        if name in ("crop", "resized-crop", "pca") and (size is None and name != "pca" or
                                                        name == "pca" and dataset is None):
            raise ValueError(f"parse_augment: {name!r} needs the training dataset (for the image size or the "
                             f"colour statistics)")
        kw = {"generator": generator}
        if name == "flip":
            out.append(RandomHorizontalFlip(**kw))
        elif name == "vflip":
            out.append(RandomVerticalFlip(**kw))
        elif name == "crop":
            out.append(RandomCrop(size, padding=value, **kw))
        elif name == "resized-crop":
            out.append(RandomResizedCrop(size, scale=(value, 1.0), **kw))
        elif name == "rotate":
            out.append(RandomRotation(value, **kw))
        elif name == "affine":
            out.append(RandomAffine(value, translate=(0.1, 0.1), scale=(0.9, 1.1), **kw))
        elif name == "elastic":
            out.append(ElasticTransform(alpha=value, sigma=5.0, **kw))
        elif name == "jitter":
            out.append(ColorJitter(value, value, value, **kw))
        elif name == "pca":
            out.append(PCALighting.from_dataset(dataset, alphastd=value, **kw))
        elif name == "erase":
            out.append(RandomErasing(p=value, **kw))
    return Compose(out) if out else None


def training_pipeline(spec, dataset, mean, std):
    """The loader's ``batch_transform`` for training with augmentation: augment in [0, 1], then standardise.

    The dataset's own standardisation (``dataset.normalize``) is switched off, since augmentations such as
    colour noise and padding work on the [0, 1] images; the returned pipeline standardises with
    ``mean``/``std`` after augmenting. Given to a ``DataLoader`` as its ``batch_transform``, the random
    draws come from the loader, seeded per batch (so a resumed run augments exactly as an uninterrupted
    one); elsewhere from ``cnnlab``'s global generator (``cnnlab.manual_seed``).

    Example:
        >>> t = training_pipeline("flip,crop:4", train_set, mean, std)
        >>> loader = DataLoader(train_set, batch_size=128, shuffle=True, seed=0, batch_transform=t)
    """
    base = getattr(dataset, "dataset", dataset)
    augment = parse_augment(spec, dataset)
    if hasattr(base, "normalize"):
        base.normalize = None
    steps = ([augment] if augment is not None else []) + [Normalize(mean, std)]
    return Compose(steps)
