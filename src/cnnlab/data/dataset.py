"""Datasets: the map-style ``Dataset`` protocol, wrappers (``TensorDataset``, ``Subset``, ``ConcatDataset``),
``random_split``, and ``ArrayDataset``, the base of every image dataset held as one array in memory.

Batch fast path: a dataset whose ``batchable`` attribute is True also has ``get_batch(indices)``, which
returns the whole batch as a list of arrays with one fancy index. ``DataLoader`` uses it instead of
calling ``__getitem__`` once per sample and stacking.
"""

import bisect
import math

import numpy as np

from .. import backend
from ..tensor import Tensor
from ..validation import is_int, is_real


class Dataset:
    """A map-style dataset: ``len(ds)`` samples, ``ds[i]`` the i-th one. Subclasses define both."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __add__(self, other):
        return ConcatDataset([self, other])


def _check_index(name, index, length):
    """Turn ``index`` into a non-negative int below ``length`` or raise IndexError/TypeError."""
    if not is_int(index):
        raise TypeError(f"{name}: index must be an int. Received an object of type {type(index).__name__}")
    index = int(index)
    if not -length <= index < length:
        raise IndexError(f"{name}: index {index} is out of range for a dataset of {length} samples")
    return index + length if index < 0 else index


def _batch_indices(name, indices, length):
    indices = np.asarray(indices)
    if indices.dtype.kind not in "iu" or indices.ndim != 1:
        raise TypeError(f"{name}.get_batch: `indices` must be a 1-D integer array. "
                        f"Received dtype {indices.dtype}, shape {indices.shape}")
    if indices.size and (indices.min() < -length or indices.max() >= length):
        raise IndexError(f"{name}.get_batch: indices must lie in [{-length}, {length}). "
                         f"Received min {indices.min()}, max {indices.max()}")
    return indices


class TensorDataset(Dataset):
    """Samples are the rows of the given tensors (or arrays): ``ds[i] == (t0[i], t1[i], ...)``.

    Args:
        *tensors: Tensors or arrays with the same first dimension.
    """

    batchable = True

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor. Received none")
        arrays = []
        for i, t in enumerate(tensors):
            a = t._data if isinstance(t, Tensor) else np.asarray(t)
            if a.ndim == 0:
                raise ValueError(f"TensorDataset: tensor {i} is a scalar; expected at least 1 dimension")
            arrays.append(a)
        sizes = [a.shape[0] for a in arrays]
        if len(set(sizes)) != 1:
            raise ValueError(f"TensorDataset: all tensors must have the same first dimension. Received sizes {sizes}")
        self.tensors = tuple(Tensor(a) for a in arrays)
        self._arrays = arrays

    def __len__(self):
        return self._arrays[0].shape[0]

    def __getitem__(self, index):
        index = _check_index("TensorDataset", index, len(self))
        return tuple(Tensor(a[index]) for a in self._arrays)

    def get_batch(self, indices):
        """The rows ``indices`` of every tensor, as a list of arrays (one fancy index each)."""
        indices = _batch_indices("TensorDataset", indices, len(self))
        return [a[indices] for a in self._arrays]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if self.indices.size and (self.indices.min() < -n or self.indices.max() >= n):
            raise IndexError(f"Subset: indices must lie in [{-n}, {n}) for a dataset of {n} samples. "
                             f"Received min {self.indices.min()}, max {self.indices.max()}")

    def __len__(self):
        return int(self.indices.size)

    def __getitem__(self, index):
        index = _check_index("Subset", index, len(self))
        return self.dataset[int(self.indices[index])]

    @property
    def batchable(self):
        return bool(getattr(self.dataset, "batchable", False))

    def get_batch(self, indices):
        indices = _batch_indices("Subset", indices, len(self))
        return self.dataset.get_batch(self.indices[indices])

    @property
    def classes(self):
        """The class names of the underlying dataset (when it has them)."""
        return self.dataset.classes


class ConcatDataset(Dataset):
    """The datasets one after another: indices ``0..len(d0)-1`` are ``d0``, then ``d1``, ..."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: needs at least one dataset. Received an empty list")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        index = _check_index("ConcatDataset", index, len(self))
        d = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[d - 1] if d else 0
        return self.datasets[d][index - start]

    @property
    def batchable(self):
        return all(getattr(d, "batchable", False) for d in self.datasets)

    def get_batch(self, indices):
        """Gather from each member dataset (one call per dataset, not per sample) and interleave back."""
        indices = _batch_indices("ConcatDataset", indices, len(self)) % len(self)
        which = np.searchsorted(self.cumulative_sizes, indices, side="right")
        starts = np.concatenate([[0], self.cumulative_sizes[:-1]])
        out = None
        for d in np.unique(which):
            mask = which == d
            part = self.datasets[d].get_batch(indices[mask] - starts[d])
            if out is None:
                out = [np.empty((indices.size,) + p.shape[1:], dtype=p.dtype) for p in part]
            for o, p in zip(out, part):
                if o.shape[1:] != p.shape[1:]:
                    raise ValueError(f"ConcatDataset: dataset {d} gives samples of shape {p.shape[1:]} but an "
                                     f"earlier one gives {o.shape[1:]}; batches need equal shapes")
                o[mask] = p
        return out


def random_split(dataset, lengths, generator=None, *, seed=None):
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given lengths.

    Args:
        dataset: any dataset with ``len``.
        lengths: ints summing to ``len(dataset)``, or fractions summing to 1 (each part gets
            ``floor(f * n)``, and the remainder is given one by one to the parts in order, as PyTorch does).
        generator: a NumPy ``Generator`` (or a ``cnnlab.data.Generator``) to draw the permutation from.
        seed: instead of ``generator``, seed a fresh one. With neither, the permutation comes from
            ``cnnlab.backend.get_rng()``, so ``cnnlab.manual_seed`` makes it repeat.

    Example:
        >>> train, val = random_split(ds, [0.9, 0.1], seed=0)
    """
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: `lengths` must not be empty")
    if all(is_int(x) for x in lengths):
        lengths = [int(x) for x in lengths]
        if any(x < 0 for x in lengths) or sum(lengths) != n:
            raise ValueError(f"random_split: `lengths` must be non-negative and sum to the dataset size {n}. "
                             f"Received lengths={lengths} (sum {sum(lengths)})")
    elif all(is_real(x) for x in lengths):
        fracs = [float(x) for x in lengths]
        if any(not 0 <= f <= 1 for f in fracs) or not math.isclose(sum(fracs), 1.0, abs_tol=1e-6):
            raise ValueError(f"random_split: fractional `lengths` must lie in [0, 1] and sum to 1. "
                             f"Received lengths={lengths} (sum {sum(fracs)})")
        lengths = [int(math.floor(n * f)) for f in fracs]
        for i in range(n - sum(lengths)):
            lengths[i % len(lengths)] += 1
    else:
        raise TypeError(f"random_split: `lengths` must be ints or fractions. Received lengths={lengths}")
    if generator is not None and seed is not None:
        raise ValueError("random_split: give `generator` or `seed`, not both")
    if seed is not None:
        rng = np.random.default_rng(seed)
    elif generator is not None:
        rng = getattr(generator, "rng", generator)
    else:
        rng = backend.get_rng()
    perm = rng.permutation(n)
    bounds = np.cumsum([0] + lengths)
    return [Subset(dataset, perm[bounds[i]:bounds[i + 1]]) for i in range(len(lengths))]


def _normalize_args(name, normalize, channels, default=None):
    """Check ``normalize`` = ``(mean, std)`` (scalars or one value per channel) and shape it to (C, 1, 1)."""
    if normalize is None or normalize is False:
        return None
    if normalize is True:
        if default is None:
            raise ValueError(f"{name}: `normalize=True` needs published statistics, which this dataset lacks. "
                             f"Pass normalize=(mean, std)")
        normalize = default
    if not isinstance(normalize, (tuple, list)) or len(normalize) != 2:
        raise ValueError(f"{name}: `normalize` must be (mean, std) with a value or one value per channel each. "
                         f"Received normalize={normalize!r}")
    dtype = backend.get_default_dtype()
    out = []
    for what, v in zip(("mean", "std"), normalize):
        a = np.asarray(v, dtype=np.float64).reshape(-1)
        if a.size not in (1, channels):
            raise ValueError(f"{name}: `normalize` {what} must have 1 or {channels} values (one per channel). "
                             f"Received {what}={v!r}")
        out.append(np.broadcast_to(a, (channels,)).reshape(channels, 1, 1).astype(dtype))
    if np.any(out[1] <= 0):
        raise ValueError(f"{name}: `normalize` std must be positive. Received std={normalize[1]!r}")
    return tuple(out)


class ArrayDataset(Dataset):
    """Images held as one integer array, labels as one int64 array; samples come out as float tensors.

    ``ds[i]`` is ``(image, label)``: the image a ``Tensor`` (C, H, W) in the default float dtype
    (float32), scaled to [0, 1] by dividing by ``max_value`` (255 for 8-bit images, like ``ToTensor``), then
    passed to ``transform`` (if any) and standardised by ``normalize`` (if given); the label a Python int
    passed to ``target_transform``. With neither transform, ``get_batch`` gives the same values for a whole
    batch with one fancy index (``batchable`` is True).

    Args:
        data: uint8 array (N, H, W) for single-channel or (N, H, W, C) for multi-channel images.
        targets: int labels (N,).
        classes: class names, index = label.
        transform: callable applied to each image Tensor (C, H, W).
        target_transform: callable applied to each int label.
        normalize: ``(mean, std)``, scalars or one per channel, in the [0, 1] scale: the image becomes
            ``(x - mean) / std`` per channel. ``True`` uses the dataset's published statistics (``MEAN``, ``STD``).
        max_value: the value that maps to 1.0 (255 for 8-bit data).

    Shape:
        ``data`` (N, H, W) or (N, H, W, C); samples (C, H, W) with C = 1 for 3-D ``data``.
    """

    MEAN = None
    STD = None

    def __init__(self, data, targets, classes=None, transform=None, target_transform=None, normalize=None,
                 max_value=255):
        name = type(self).__name__
        data = np.asarray(data)
        targets = np.asarray(targets)
        if data.ndim not in (3, 4):
            raise ValueError(f"{name}: `data` must be (N, H, W) or (N, H, W, C). Received shape {data.shape}")
        if targets.shape != (data.shape[0],):
            raise ValueError(f"{name}: `targets` must have one label per image, shape ({data.shape[0]},). "
                             f"Received shape {targets.shape}")
        if targets.dtype.kind not in "iu":
            raise TypeError(f"{name}: `targets` must be integers. Received dtype {targets.dtype}")
        for what, fn in (("transform", transform), ("target_transform", target_transform)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name}: `{what}` must be callable or None. Received {type(fn).__name__}")
        self.data = data
        self.targets = targets.astype(np.int64, copy=False)
        if classes is None:   # unnamed classes: "0", "1", ... up to the largest label
            classes = [str(c) for c in range(int(targets.max(initial=-1)) + 1)]
        self.classes = list(classes)
        self.transform = transform
        self.target_transform = target_transform
        self.max_value = max_value
        default = (self.MEAN, self.STD) if self.MEAN is not None else None
        self.normalize = _normalize_args(name, normalize, self.image_shape[0], default)

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    @property
    def num_classes(self):
        return len(self.classes)

    @property
    def image_shape(self):
        """(C, H, W) of one sample."""
        if self.data.ndim == 3:
            return (1,) + self.data.shape[1:]
        return (self.data.shape[3],) + self.data.shape[1:3]

    @property
    def batchable(self):
        return self.transform is None and self.target_transform is None

    def __len__(self):
        return int(self.data.shape[0])

    def _to_float(self, images):
        """Integer images (B, H, W[, C]) -> float (B, C, H, W) in [0, 1]."""
        if images.ndim == 3:
            images = images[:, None]                      # (B, H, W) -> (B, 1, H, W)
        else:
            images = images.transpose(0, 3, 1, 2)         # (B, H, W, C) -> (B, C, H, W)
        dtype = backend.get_default_dtype()
        out = np.ascontiguousarray(images, dtype=dtype)
        out /= dtype.type(self.max_value)
        return out

    def _standardise(self, x):
        mean, std = self.normalize
        return (x - mean) / std

    def __getitem__(self, index):
        index = _check_index(type(self).__name__, index, len(self))
        image = self._to_float(self.data[index:index + 1])[0]   # (C, H, W)
        label = int(self.targets[index])
        if self.transform is not None:
            image = self.transform(Tensor(image))
        if self.normalize is not None:
            x = image._data if isinstance(image, Tensor) else np.asarray(image)
            image = self._standardise(x)
        if not isinstance(image, Tensor) and isinstance(image, np.ndarray):
            image = Tensor(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def get_batch(self, indices):
        """``[images (B, C, H, W) float, labels (B,) int64]`` for ``indices`` (ignores the per-sample transforms)."""
        indices = _batch_indices(type(self).__name__, indices, len(self))
        images = self._to_float(self.data[indices])
        if self.normalize is not None:
            images = self._standardise(images)
        return [images, self.targets[indices]]

    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}"]
        extra = self.extra_repr()
        if extra:
            lines += [f"    {line}" for line in extra.splitlines()]
        if self.normalize is not None:
            mean, std = (a.ravel().tolist() for a in self.normalize)
            lines.append(f"    Normalize: mean={mean}, std={std}")
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}")
        if self.target_transform is not None:
            lines.append(f"    Target transform: {self.target_transform!r}")
        return "\n".join(lines)
