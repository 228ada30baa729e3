"""Value transforms: conversion to [0, 1], standardisation, mean-image subtraction, colour jitter, AlexNet's
PCA lighting noise and random erasing."""

import numbers

import numpy as np

from ... import backend
from ...tensor import Tensor
from ...validation import is_real
from ._base import Transform, check_floating, check_probability, describe, value_range


# ------------------------------------------------------------------------------------------------ conversion
class ToTensor:
    """Convert a uint8 image (H, W), (H, W, C), a batch (N, H, W, C) or a Pillow image to a float Tensor in
    [0, 1], channels first: (C, H, W) or (N, C, H, W).

    Integer images are divided by 255 (uint8) or by their type's maximum; floating arrays are only
    transposed (as torchvision). Already channels-first Tensors pass through unchanged.
    """

    def __call__(self, pic):
        if isinstance(pic, Tensor):
            return pic
        if type(pic).__module__.startswith("PIL"):
            pic = np.asarray(pic)
        if not (isinstance(pic, np.ndarray) or hasattr(pic, "__cuda_array_interface__")):
            raise TypeError(f"ToTensor: expected a Pillow image or an array (H, W), (H, W, C) or (N, H, W, C). "
                            f"Received an object of type {type(pic).__name__}")
        xp = backend.get_array_module(pic)
        if pic.ndim == 2:
            x = pic[None]                                                    # (H, W) -> (1, H, W)
        elif pic.ndim == 3:
            x = pic.transpose(2, 0, 1)                                       # (H, W, C) -> (C, H, W)
        elif pic.ndim == 4:
            x = pic.transpose(0, 3, 1, 2)                                    # (N, H, W, C) -> (N, C, H, W)
        else:
            raise ValueError(f"ToTensor: expected an image (H, W) or (H, W, C) or a batch (N, H, W, C). "
                             f"Received {describe(pic)}")
        dtype = backend.get_default_dtype()
        if x.dtype.kind in "iu":
            top = 255 if x.dtype == np.uint8 else np.iinfo(x.dtype).max
            out = xp.ascontiguousarray(x, dtype=dtype) / dtype.type(top)
        elif x.dtype.kind == "b":
            out = xp.ascontiguousarray(x, dtype=dtype)
        else:
            out = xp.ascontiguousarray(x)
        return Tensor._wrap(out)

    def __repr__(self):
        return "ToTensor()"


def _channel_values(name, arg, value, channels):
    a = np.asarray(value, dtype=np.float64).reshape(-1)
    if a.size not in (1, channels):
        raise ValueError(f"{name}: `{arg}` must have 1 or {channels} values (one per channel). "
                         f"Received {arg}={value!r}")
    return np.broadcast_to(a, (channels,)).reshape(1, channels, 1, 1)


class Normalize(Transform):
    """Standardise each channel: ``(x - mean[c]) / std[c]``.

    Args:
        mean, std: one value per channel (or one for all).
        inplace: write into the input array.
    """

    def __init__(self, mean, std, inplace=False):
        self.mean = [float(v) for v in np.asarray(mean, dtype=np.float64).reshape(-1)]
        self.std = [float(v) for v in np.asarray(std, dtype=np.float64).reshape(-1)]
        if any(s == 0 for s in self.std):
            raise ValueError(f"Normalize: `std` evaluated to zero, leading to division by zero. Received std={std!r}")
        self.inplace = bool(inplace)

    def forward(self, x):
        check_floating("Normalize", x)
        xp = backend.get_array_module(x)
        c = x.shape[1]
        mean = xp.asarray(_channel_values("Normalize", "mean", self.mean, c), dtype=x.dtype)
        std = xp.asarray(_channel_values("Normalize", "std", self.std, c), dtype=x.dtype)
        if self.inplace:
            x -= mean
            x /= std
            return x
        return (x - mean) / std

    def extra_repr(self):
        return f"mean={self.mean}, std={self.std}"


def _dataset_images(name, dataset):
    """The integer image array (N, H, W[, C]) and its scale of an array-backed dataset, or a float array."""
    if hasattr(dataset, "indices") and hasattr(dataset, "dataset"):          # a Subset of an array dataset
        images, top, raw = _dataset_images(name, dataset.dataset)
        return images[np.asarray(dataset.indices)], top, raw
    if hasattr(dataset, "data") and hasattr(dataset, "max_value"):
        return np.asarray(dataset.data), float(dataset.max_value), True
    if isinstance(dataset, (np.ndarray, Tensor)):
        arr = dataset._data if isinstance(dataset, Tensor) else dataset
        if arr.ndim != 4:
            raise ValueError(f"{name}: expected images (N, C, H, W). Received {describe(dataset)}")
        return backend.asnumpy(arr), 1.0, False
    raise TypeError(f"{name}: expected an array-backed dataset (with .data and .max_value) or an array of images "
                    f"(N, C, H, W). Received an object of type {type(dataset).__name__}")


def _chunks(n, size=4096):
    return [(i, min(i + size, n)) for i in range(0, n, size)]


def _to_nchw(block, raw):
    """A block of dataset images as float64 (B, C, H, W)."""
    block = np.asarray(block, dtype=np.float64)
    if raw:
        block = block[:, None] if block.ndim == 3 else block.transpose(0, 3, 1, 2)   # (B, H, W[, C]) -> (B, C, H, W)
    return block


class SubtractMean(Transform):
    """Subtract the per-pixel mean image of the training set (AlexNet's only preprocessing).

    Args:
        mean: the mean image (C, H, W) (or anything broadcastable to the images), in the images' scale.

    Build it from a dataset with ``SubtractMean.from_dataset(train_set)``.
    """

    def __init__(self, mean):
        self.mean = np.asarray(mean._data if isinstance(mean, Tensor) else backend.asnumpy(mean), dtype=np.float64)

    @classmethod
    def from_dataset(cls, dataset):
        """The mean image (C, H, W) in [0, 1] of an array-backed dataset (or of an array (N, C, H, W))."""
        images, top, raw = _dataset_images("SubtractMean.from_dataset", dataset)
        total = None
        for a, b in _chunks(images.shape[0]):
            s = _to_nchw(images[a:b], raw).sum(axis=0)
            total = s if total is None else total + s
        return cls(total / (images.shape[0] * top))

    def forward(self, x):
        check_floating("SubtractMean", x)
        try:
            np.broadcast_shapes(self.mean.shape, x.shape[1:])
        except ValueError:
            raise ValueError(f"SubtractMean: the mean image has shape {self.mean.shape} but the images are "
                             f"{tuple(x.shape[1:])}") from None
        xp = backend.get_array_module(x)
        return x - xp.asarray(self.mean, dtype=x.dtype)

    def extra_repr(self):
        return f"mean shape={self.mean.shape}"


# ------------------------------------------------------------------------------------------------ colour
_GRAY = (0.2989, 0.587, 0.114)   # ITU-R 601-2 luma, as torchvision's rgb_to_grayscale


def grayscale(x):
    """Luma of RGB images (N, 3, H, W) -> (N, 1, H, W); single-channel images are returned as they are."""
    if x.shape[1] == 1:
        return x
    return (_GRAY[0] * x[:, 0:1] + _GRAY[1] * x[:, 1:2] + _GRAY[2] * x[:, 2:3]).astype(x.dtype, copy=False)


def _blend(a, b, factor):
    """``factor * a + (1 - factor) * b`` clipped to [0, 1]; ``factor`` (N,) per image."""
    xp = backend.get_array_module(a)
    f = xp.asarray(factor, dtype=a.dtype).reshape(-1, 1, 1, 1)
    return xp.clip(f * a + (1 - f) * b, 0, 1)


def adjust_brightness(x, factor):
    return _blend(x, 0.0, factor)


def adjust_contrast(x, factor):
    mean = grayscale(x).mean(axis=(1, 2, 3), keepdims=True)
    return _blend(x, mean, factor)


def adjust_saturation(x, factor):
    if x.shape[1] == 1:
        return x
    return _blend(x, grayscale(x), factor)


def _rgb_to_hsv(x):
    xp = backend.get_array_module(x)
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    maxc = x.max(axis=1)
    minc = x.min(axis=1)
    eqc = maxc == minc
    cr = maxc - minc
    ones = xp.ones_like(maxc)
    s = cr / xp.where(eqc, ones, maxc)
    cr_divisor = xp.where(eqc, ones, cr)
    rc = (maxc - r) / cr_divisor
    gc = (maxc - g) / cr_divisor
    bc = (maxc - b) / cr_divisor
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = xp.mod((hr + hg + hb) / 6.0 + 1.0, 1.0)
    return h, s, maxc


def _hsv_to_rgb(h, s, v):
    xp = backend.get_array_module(h)
    i = xp.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.astype(np.int64) % 6
    p = xp.clip(v * (1.0 - s), 0.0, 1.0)
    q = xp.clip(v * (1.0 - s * f), 0.0, 1.0)
    t = xp.clip(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    # Sector i of the hue circle picks which of (v, q, p, t) goes to r, g and b.
    table = xp.stack([v, q, p, t])                                           # (4, N, H, W)
    picks = np.array([[0, 1, 2, 2, 3, 0], [3, 0, 0, 1, 2, 2], [2, 2, 3, 0, 0, 1]])   # (rgb, sector)
    channels = [xp.take_along_axis(table, xp.asarray(picks[k])[i][None], axis=0)[0] for k in range(3)]
    return xp.stack(channels, axis=1)


def adjust_hue(x, hue_factor):
    """Rotate the hue of RGB images by ``hue_factor`` (N,) turns in [-0.5, 0.5]; grey images are unchanged."""
    if x.shape[1] == 1:
        return x
    xp = backend.get_array_module(x)
    h, s, v = _rgb_to_hsv(x)
    h = xp.mod(h + xp.asarray(hue_factor, dtype=x.dtype).reshape(-1, 1, 1), 1.0)
    return _hsv_to_rgb(h, s, v).astype(x.dtype, copy=False)


class ColorJitter(Transform):
    """Randomly change brightness, contrast, saturation and hue, in a random order per image (torchvision).

    Args:
        brightness, contrast, saturation: b for a factor drawn from [max(0, 1 - b), 1 + b], or (min, max).
        hue: h in [0, 0.5] for a hue shift drawn from [-h, h] (in turns), or (min, max) within [-0.5, 0.5].

    Images are expected in [0, 1] (before ``Normalize``); results are clipped to [0, 1].
    """

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0, *, generator=None):
        name = "ColorJitter"
        self.brightness = value_range(name, "brightness", brightness)
        self.contrast = value_range(name, "contrast", contrast)
        self.saturation = value_range(name, "saturation", saturation)
        self.hue = value_range(name, "hue", hue, center=0.0, bound=(-0.5, 0.5), clip_first=False)
        self.generator = generator

    def forward(self, x):
        check_floating("ColorJitter", x)
        xp = backend.get_array_module(x)
        rng = self._rng()
        n = x.shape[0]
        order = np.argsort(rng.random((n, 4)), axis=1)                       # a random permutation per image
        factors = [rng.uniform(lo, hi, size=n) for lo, hi in (self.brightness, self.contrast, self.saturation,
                                                               self.hue)]
        ops = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)
        identity = ((1.0, 1.0), (1.0, 1.0), (1.0, 1.0), (0.0, 0.0))
        out = x.copy()
        for step in range(4):
            for k, op in enumerate(ops):
                if (self.brightness, self.contrast, self.saturation, self.hue)[k] == identity[k]:
                    continue
                chosen = np.flatnonzero(order[:, step] == k)
                if chosen.size == 0:
                    continue
                index = xp.asarray(chosen)
                out[index] = op(out[index], factors[k][chosen])
        return out

    def extra_repr(self):
        return (f"brightness={self.brightness}, contrast={self.contrast}, saturation={self.saturation}, "
                f"hue={self.hue}")


class PCALighting(Transform):
    """AlexNet's colour augmentation: add multiples of the principal components of the dataset's RGB
    pixel values, ``eigvec @ (alpha * eigval)`` with ``alpha ~ N(0, alphastd^2)`` drawn per image.

    Krizhevsky et al. 2012, Section 4.1: the added amount follows the natural variation of colour and
    intensity, to which object identity is invariant. Build it from the training set with
    ``PCALighting.from_dataset(train_set)``.

    Args:
        alphastd: standard deviation of the random multiples. Default 0.1 (the paper).
        eigval: (C,) eigenvalues of the pixel covariance (in the images' scale).
        eigvec: (C, C) eigenvectors as columns.
    """

    def __init__(self, alphastd=0.1, eigval=None, eigvec=None, *, generator=None):
        name = "PCALighting"
        if not is_real(alphastd) or alphastd < 0:
            raise ValueError(f"{name}: `alphastd` must be a non-negative number. Received: alphastd={alphastd!r}")
        if eigval is None or eigvec is None:
            raise ValueError(f"{name}: needs `eigval` and `eigvec` (use PCALighting.from_dataset(train_set))")
        self.alphastd = float(alphastd)
        self.eigval = np.asarray(eigval, dtype=np.float64).reshape(-1)
        self.eigvec = np.asarray(eigvec, dtype=np.float64)
        c = self.eigval.size
        if self.eigvec.shape != (c, c):
            raise ValueError(f"{name}: `eigvec` must be ({c}, {c}) for {c} eigenvalues. "
                             f"Received shape {self.eigvec.shape}")
        self.generator = generator

    @staticmethod
    def pixel_pca(dataset, max_pixels=1_000_000, seed=0):
        """``(eigval, eigvec)`` of the covariance of the pixel colours in [0, 1] (a random subset of at most
        ``max_pixels`` pixels), eigenvalues in decreasing order."""
        images, top, raw = _dataset_images("PCALighting.from_dataset", dataset)
        n = images.shape[0]
        per_image = images.shape[1] * images.shape[2] if raw else images.shape[2] * images.shape[3]   # pixels
        take = min(n, max(1, max_pixels // max(per_image, 1)))
        pick = np.sort(np.random.default_rng(seed).choice(n, size=take, replace=False))
        x = _to_nchw(images[pick], raw) / top                                   # (B, C, H, W)
        pixels = x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])                # (B*H*W, C)
        cov = np.atleast_2d(np.cov(pixels, rowvar=False))
        eigval, eigvec = np.linalg.eigh(cov)
        order = np.argsort(eigval)[::-1]
        return eigval[order], eigvec[:, order]

    @classmethod
    def from_dataset(cls, dataset, alphastd=0.1, max_pixels=1_000_000, *, generator=None):
        eigval, eigvec = cls.pixel_pca(dataset, max_pixels)
        return cls(alphastd, eigval, eigvec, generator=generator)

    def forward(self, x):
        check_floating("PCALighting", x)
        c = self.eigval.size
        if x.shape[1] != c:
            raise ValueError(f"PCALighting: the components are for {c} channels but the images have {x.shape[1]} "
                             f"(shape {tuple(x.shape)})")
        xp = backend.get_array_module(x)
        alpha = self._rng().normal(0.0, self.alphastd, size=(x.shape[0], c))   # (N, C)
        shift = (alpha * self.eigval) @ self.eigvec.T                           # (N, C): eigvec @ (alpha * eigval)
        return x + xp.asarray(shift, dtype=x.dtype).reshape(x.shape[0], c, 1, 1)

    def extra_repr(self):
        return f"alphastd={self.alphastd}, eigval={np.round(self.eigval, 6).tolist()}"


class RandomErasing(Transform):
    """Erase a random rectangle of each image with probability ``p`` (Zhong et al. 2017; torchvision's rule).

    Args:
        p: probability that an image is erased.
        scale: range of the erased area as a fraction of the image.
        ratio: range of the rectangle's aspect ratio (log-uniform).
        value: the fill: a number, one number per channel, or ``"random"`` (standard normal noise).
        inplace: write into the input array.
    """

    def __init__(self, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0, inplace=False, *, generator=None):
        name = "RandomErasing"
        self.p = check_probability(name, p)
        self.scale = value_range(name, "scale", scale, bound=(0.0, 1.0))
        self.ratio = value_range(name, "ratio", ratio, bound=(1e-12, float("inf")))
        if not (value == "random" or isinstance(value, (numbers.Real, tuple, list))):
            raise ValueError(f"RandomErasing: `value` must be a number, a sequence of numbers or 'random'. "
                             f"Received: value={value!r}")
        self.value = value
        self.inplace = bool(inplace)
        self.generator = generator

    def forward(self, x):
        check_floating("RandomErasing", x)
        xp = backend.get_array_module(x)
        rng = self._rng()
        n, c, h, w = x.shape
        attempts = 10
        erase = rng.random(n) < self.p
        log_ratio = np.log(self.ratio)
        area = rng.uniform(self.scale[0], self.scale[1], size=(n, attempts)) * h * w
        aspect = np.exp(rng.uniform(log_ratio[0], log_ratio[1], size=(n, attempts)))
        eh = np.round(np.sqrt(area * aspect)).astype(np.int64)
        ew = np.round(np.sqrt(area / aspect)).astype(np.int64)
        ok = (eh < h) & (ew < w)
        first = ok.argmax(axis=1)
        erase &= ok[np.arange(n), first]
        eh, ew = eh[np.arange(n), first] * erase, ew[np.arange(n), first] * erase
        top = rng.integers(0, h - eh + 1)
        left = rng.integers(0, w - ew + 1)
        rows, cols = np.arange(h), np.arange(w)
        mask = (((rows >= top[:, None]) & (rows < (top + eh)[:, None]))[:, :, None]
                & ((cols >= left[:, None]) & (cols < (left + ew)[:, None]))[:, None, :])   # (N, H, W)
        mask = xp.asarray(mask[:, None])                                                   # (N, 1, H, W)
        if isinstance(self.value, str):
            fill = xp.asarray(rng.standard_normal(size=x.shape), dtype=x.dtype)
        else:
            v = np.asarray(self.value, dtype=np.float64).reshape(-1)
            if v.size not in (1, c):
                raise ValueError(f"RandomErasing: `value` must have 1 or {c} values (one per channel). "
                                 f"Received value={self.value!r}")
            fill = xp.asarray(np.broadcast_to(v, (c,)).reshape(1, c, 1, 1), dtype=x.dtype)
        if self.inplace:
            x[...] = xp.where(mask, fill, x)
            return x
        return xp.where(mask, fill, x).astype(x.dtype, copy=False)

    def extra_repr(self):
        return f"p={self.p}, scale={self.scale}, ratio={self.ratio}, value={self.value!r}"


__all__ = ["ToTensor", "Normalize", "SubtractMean", "ColorJitter", "PCALighting", "RandomErasing", "grayscale",
           "adjust_brightness", "adjust_contrast", "adjust_saturation", "adjust_hue"]
