"""The transform protocol: one image (C, H, W) or a batch (N, C, H, W), a Tensor or an array, in and out.

Every transform works on the batch: random parameters are drawn for all N images at once and applied with
array operations (fancy indexing, one matrix product, one gather), so a transform can be the loader's
``batch_transform`` (the fast path) as well as a dataset's per-sample ``transform``. A single image is
treated as a batch of one. Random draws come from the transform's ``generator`` (a NumPy ``Generator`` or
a ``cnnlab.data.Generator``) or, without one, from ``cnnlab.backend.get_rng()``, so
``cnnlab.manual_seed`` makes runs repeat.
"""


import numpy as np

from ... import backend
from ...tensor import Tensor
from ...validation import is_int, is_real


def as_rng(generator):
    """The NumPy ``Generator`` behind ``generator`` (None: cnnlab's global generator at call time)."""
    if generator is None:
        return backend.get_rng()
    rng = getattr(generator, "rng", generator)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"transforms: `generator` must be a numpy.random.Generator, a cnnlab.data.Generator or "
                        f"None. Received an object of type {type(generator).__name__}")
    return rng


def describe(x):
    kind = "Tensor" if isinstance(x, Tensor) else "array"
    return f"a {np.ndim(x) if not hasattr(x, 'ndim') else x.ndim}-D {kind} of shape {tuple(x.shape)}"


def unpack(name, img):
    """``(batch array (N, C, H, W), restore)``: ``restore(out)`` gives back the caller's form (Tensor or array,
    image or batch)."""
    is_tensor = isinstance(img, Tensor)
    if is_tensor:
        x = img._data
    elif isinstance(img, np.ndarray) or hasattr(img, "__cuda_array_interface__"):
        x = img
    else:
        raise TypeError(f"{name}: expected an image (C, H, W) or a batch (N, C, H, W) as a cnnlab.Tensor or an "
                        f"array. Received an object of type {type(img).__name__}"
                        + (" (use ToTensor() first)" if type(img).__module__.startswith("PIL") else ""))
    if x.ndim not in (3, 4):
        raise ValueError(f"{name}: expected an image (C, H, W) or a batch of images (N, C, H, W). "
                         f"Received {describe(img)}")
    single = x.ndim == 3
    if single:
        x = x[None]                                                    # (C, H, W) -> (1, C, H, W)

    def restore(out):
        if single:
            out = out[0]
        return Tensor._wrap(out) if is_tensor else out

    return x, restore


def check_floating(name, x):
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating image (values in [0, 1]); apply ToTensor() first. "
                        f"Received dtype {x.dtype}")


def check_probability(name, p):
    if not is_real(p) or not 0 <= p <= 1:
        raise ValueError(f"{name}: `p` must be a probability in [0, 1]. Received: p={p!r}")
    return float(p)


def size_pair(name, size, arg="size"):
    """An int or an (h, w) pair of positive ints -> (h, w); torchvision's ``size`` convention."""
    if is_int(size):
        size = (int(size), int(size))
    elif isinstance(size, (tuple, list)) and len(size) == 1:
        size = (size[0], size[0])
    if not (isinstance(size, (tuple, list)) and len(size) == 2
            and all(is_int(v) and v > 0 for v in size)):
        raise ValueError(f"{name}: `{arg}` must be a positive int or a pair (h, w) of positive ints. "
                         f"Received: {arg}={size!r}")
    return int(size[0]), int(size[1])


def value_range(name, arg, value, center=1.0, bound=(0.0, float("inf")), clip_first=True):
    """``value`` -> [center - value, center + value] (clipped at ``bound``), or a given (min, max) pair."""
    if is_real(value):
        if value < 0:
            raise ValueError(f"{name}: `{arg}` must be non-negative when it is a single number. "
                             f"Received: {arg}={value!r}")
        lo, hi = center - value, center + value
        if clip_first:
            lo = max(lo, 0.0)
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(
            is_real(v) for v in value):
        lo, hi = float(value[0]), float(value[1])
    else:
        raise ValueError(f"{name}: `{arg}` must be a number or a (min, max) pair. Received: {arg}={value!r}")
    if not bound[0] <= lo <= hi <= bound[1]:
        raise ValueError(f"{name}: `{arg}` values must satisfy {bound[0]} <= min <= max <= {bound[1]}. "
                         f"Received: {arg}={value!r}")
    return lo, hi


def fill_array(name, fill, channels, dtype, xp):
    """``fill`` (a number or one number per channel) as a (1, C, 1, 1) array."""
    a = np.asarray(fill, dtype=np.float64).reshape(-1)
    if a.size not in (1, channels) or not np.isfinite(a).all():
        raise ValueError(f"{name}: `fill` must be a number or one number per channel ({channels}). "
                         f"Received: fill={fill!r}")
    return xp.asarray(np.broadcast_to(a, (channels,)).reshape(1, channels, 1, 1).astype(dtype))


class Transform:
    """Base class: ``__call__`` takes an image (C, H, W) or a batch (N, C, H, W) and ``forward`` works on the
    batch array; subclasses define ``forward(x) -> array``."""

    generator = None

    def __call__(self, img):
        x, restore = unpack(type(self).__name__, img)
        return restore(self.forward(x))

    def forward(self, x):
        raise NotImplementedError

    def _rng(self):
        return as_rng(self.generator)

    def extra_repr(self):
        return ""

    def __repr__(self):
        return f"{type(self).__name__}({self.extra_repr()})"


class Compose(Transform):
    """Apply ``transforms`` one after another (on an image or a whole batch).

    Example:
        >>> t = Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(), Normalize(mean, std)])
        >>> loader = DataLoader(train, batch_size=128, shuffle=True, batch_transform=t)
    """

    def __init__(self, transforms):
        transforms = list(transforms)
        for i, t in enumerate(transforms):
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable. Received transforms[{i}] of type "
                                f"{type(t).__name__}")
        self.transforms = transforms

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def forward(self, x):
        return self(x)

    def set_generator(self, generator):
        """Draw every random transform's parameters from ``generator`` (e.g. a loader's ``generator``)."""
        as_rng(generator)
        for t in self.transforms:
            if isinstance(t, Compose) or hasattr(t, "set_generator"):
                t.set_generator(generator)
            elif isinstance(t, Transform):
                t.generator = generator
                inner = getattr(t, "transforms", None)      # RandomApply's transforms draw too
                if isinstance(inner, Transform) and hasattr(inner, "set_generator"):
                    inner.set_generator(generator)
        return self

    def __repr__(self):
        body = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"Compose({body}\n)"


class Lambda(Transform):
    """Apply a user function to the image or batch (it receives what the transform received)."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Lambda: `lambd` must be callable. Received an object of type {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)


class RandomApply(Transform):
    """Apply ``transforms`` (in order) to each image with probability ``p``, decided per image.

    NOTE: torchvision decides once per call; deciding per image keeps a batch equal to its images one by one.
    """

    def __init__(self, transforms, p=0.5, *, generator=None):
        self.transforms = Compose(transforms) if isinstance(transforms, (list, tuple)) else transforms
        self.p = check_probability("RandomApply", p)
        self.generator = generator

    def forward(self, x):
        chosen = np.flatnonzero(self._rng().random(x.shape[0]) < self.p)
        if chosen.size == 0:
            return x
        xp = backend.get_array_module(x)
        out = x.copy()
        index = xp.asarray(chosen)
        part = self.transforms(x[index])
        out[index] = part._data if isinstance(part, Tensor) else part
        return out

    def extra_repr(self):
        return f"p={self.p}, transforms={self.transforms!r}"
