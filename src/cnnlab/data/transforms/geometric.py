"""Geometric transforms: flips, crops, resizing, rotation, affine maps, elastic distortion, multi-crop testing.

Semantics follow torchvision (argument names, defaults, how random parameters are drawn), applied to
a whole batch at once with per-image parameters. Interpolation is bilinear by default, ``"nearest"`` for
label maps and masks.
"""

import numbers

import numpy as np

from ... import backend
from ...tensor import Tensor
from ...validation import is_int, is_real
from ._base import Transform, check_floating, check_probability, fill_array, size_pair, value_range
from ._resample import (apply_matrices, check_mode, gaussian_blur_matrix, resample_matrices, sample)

PADDING_MODES = ("constant", "edge", "reflect", "symmetric")


# ------------------------------------------------------------------------------------------------ flips
class RandomHorizontalFlip(Transform):
    """Mirror each image left-right with probability ``p`` (AlexNet's and the CIFAR recipe's flips).

    Shape: (N, C, H, W) -> (N, C, H, W), or (C, H, W) -> (C, H, W).
    """

    axis = -1

    def __init__(self, p=0.5, *, generator=None):
        self.p = check_probability(type(self).__name__, p)
        self.generator = generator

    def forward(self, x):
        xp = backend.get_array_module(x)
        flip = xp.asarray(self._rng().random(x.shape[0]) < self.p).reshape(-1, 1, 1, 1)
        return xp.where(flip, xp.flip(x, axis=self.axis), x)

    def extra_repr(self):
        return f"p={self.p}"


class RandomVerticalFlip(RandomHorizontalFlip):
    """Flip each image upside down with probability ``p``."""

    axis = -2


# ------------------------------------------------------------------------------------------------ crops
def _padding_ltrb(name, padding):
    """torchvision's padding: int (all sides), (left/right, top/bottom) or (left, top, right, bottom)."""
    if is_int(padding):
        padding = (padding,) * 4
    elif isinstance(padding, (tuple, list)) and len(padding) == 2:
        padding = (padding[0], padding[1], padding[0], padding[1])
    if not (isinstance(padding, (tuple, list)) and len(padding) == 4
            and all(is_int(v) and v >= 0 for v in padding)):
        raise ValueError(f"{name}: `padding` must be a non-negative int, a pair (left/right, top/bottom) or four "
                         f"values (left, top, right, bottom). Received: padding={padding!r}")
    return tuple(int(v) for v in padding)


def pad_batch(name, x, ltrb, fill=0, padding_mode="constant"):
    """Pad the last two axes of (N, C, H, W) by (left, top, right, bottom) in one of torchvision's modes."""
    xp = backend.get_array_module(x)
    left, top, right, bottom = ltrb
    if not any(ltrb):
        return x
    widths = ((0, 0), (0, 0), (top, bottom), (left, right))
    if padding_mode == "constant":
        fill = np.asarray(fill, dtype=np.float64).reshape(-1)
        if fill.size == 1:
            return xp.pad(x, widths, mode="constant", constant_values=float(fill[0]))
        out = xp.pad(x, widths, mode="constant")
        mask = xp.ones(x.shape[-2:], dtype=bool)
        mask = xp.pad(mask, widths[2:], mode="constant")                  # True inside the original image
        value = fill_array(name, fill, x.shape[1], x.dtype, xp)
        return xp.where(mask, out, value)
    if padding_mode in ("reflect", "symmetric"):
        h, w = x.shape[-2:]
        limit = 1 if padding_mode == "reflect" else 0
        if max(top, bottom) > h - limit or max(left, right) > w - limit:
            raise ValueError(f"{name}: padding {ltrb} is too large for {padding_mode!r} padding of a {h}x{w} image "
                             f"(at most {h - limit} rows and {w - limit} columns)")
    return xp.pad(x, widths, mode=padding_mode)


def crop_batch(x, top, left, height, width):
    """Per-image crops: ``top``, ``left`` arrays (N,) of the corners; one fancy index for the whole batch."""
    xp = backend.get_array_module(x)
    n = x.shape[0]
    rows = xp.asarray(np.asarray(top).reshape(-1, 1) + np.arange(height))         # (N, h)
    cols = xp.asarray(np.asarray(left).reshape(-1, 1) + np.arange(width))          # (N, w)
    batch = xp.arange(n).reshape(-1, 1, 1)
    out = x[batch, :, rows[:, :, None], cols[:, None, :]]                          # (N, h, w, C)
    return xp.ascontiguousarray(out.transpose(0, 3, 1, 2))                         # (N, C, h, w)


class RandomCrop(Transform):
    """Crop a random ``size`` window from each image, after optional padding (the CIFAR recipe: 32, padding 4).

    Args:
        size: output (h, w), or an int for a square.
        padding: padding added first: an int, (left/right, top/bottom) or (left, top, right, bottom).
        pad_if_needed: pad images smaller than ``size`` (both sides by the shortfall, as torchvision).
        fill: value of ``constant`` padding (a number or one per channel).
        padding_mode: ``"constant"``, ``"edge"``, ``"reflect"`` or ``"symmetric"``.

    Shape: (N, C, H, W) -> (N, C, h, w); each image gets its own offset.
    """

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant", *, generator=None):
        name = "RandomCrop"
        self.size = size_pair(name, size)
        self.padding = None if padding is None else _padding_ltrb(name, padding)
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"{name}: `padding_mode` must be one of {', '.join(map(repr, PADDING_MODES))}. "
                             f"Received: padding_mode={padding_mode!r}")
        self.pad_if_needed = bool(pad_if_needed)
        self.fill = fill
        self.padding_mode = padding_mode
        self.generator = generator

    def forward(self, x):
        name = "RandomCrop"
        if self.padding is not None:
            x = pad_batch(name, x, self.padding, self.fill, self.padding_mode)
        th, tw = self.size
        h, w = x.shape[-2:]
        if self.pad_if_needed and (w < tw or h < th):
            dw, dh = max(tw - w, 0), max(th - h, 0)
            x = pad_batch(name, x, (dw, dh, dw, dh), self.fill, self.padding_mode)
            h, w = x.shape[-2:]
        if h < th or w < tw:
            raise ValueError(f"{name}: the crop {th}x{tw} is larger than the (padded) image {h}x{w}; "
                             f"use pad_if_needed=True or a smaller size")
        rng = self._rng()
        n = x.shape[0]
        top = rng.integers(0, h - th + 1, size=n)
        left = rng.integers(0, w - tw + 1, size=n)
        return crop_batch(x, top, left, th, tw)

    def extra_repr(self):
        return f"size={self.size}, padding={self.padding}"


def center_crop(x, size):
    """The central ``size`` window of every image (zero-padded first where the image is smaller, as torchvision)."""
    th, tw = size
    h, w = x.shape[-2:]
    if th > h or tw > w:
        pad = ((tw - w) // 2 if tw > w else 0, (th - h) // 2 if th > h else 0,
               (tw - w + 1) // 2 if tw > w else 0, (th - h + 1) // 2 if th > h else 0)
        x = pad_batch("CenterCrop", x, pad)
        h, w = x.shape[-2:]
    top = int(round((h - th) / 2.0))
    left = int(round((w - tw) / 2.0))
    return x[..., top:top + th, left:left + tw]


class _FixedCrop(Transform):
    """A crop with no randomness: ``crop(x, size)``, a function of the batch and ``size`` alone."""

    crop = None  # staticmethod: (x, (h, w)) -> array

    def __init__(self, size):
        self.size = size_pair(type(self).__name__, size)

    def forward(self, x):
        return self.crop(x, self.size)

    def extra_repr(self):
        return f"size={self.size}"


class CenterCrop(_FixedCrop):
    """Crop the central ``size`` window (images smaller than ``size`` are zero-padded first).

    The corner is at ``round((H - h) / 2)``, ``round((W - w) / 2)`` (Python's rounding, as torchvision).
    """

    crop = staticmethod(center_crop)


# ------------------------------------------------------------------------------------------------ resizing
def resized_size(name, size, h, w, max_size=None):
    """torchvision's Resize size rule: an int sets the shorter side (the longer keeps the aspect ratio)."""
    if is_int(size) or (
            isinstance(size, (tuple, list)) and len(size) == 1):
        short_target = int(size if isinstance(size, numbers.Integral) else size[0])
        if short_target <= 0:
            raise ValueError(f"{name}: `size` must be positive. Received: size={size!r}")
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = short_target, int(short_target * long / short)
        if max_size is not None and new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
        return (new_long, new_short) if w <= h else (new_short, new_long)
    return size_pair(name, size)


class Resize(Transform):
    """Resize every image: an int ``size`` rescales the shorter side to it ("rescale to 256, then crop").

    Args:
        size: an int (shorter side; the longer keeps the aspect ratio, rounded down) or (h, w).
        interpolation: ``"bilinear"`` (default) or ``"nearest"``.
        max_size: with an int ``size``, the longer side is capped at this.
        antialias: when shrinking, widen the bilinear filter so every input pixel counts (torchvision's and
            Pillow's default); False gives plain two-tap bilinear (``F.interpolate(mode="bilinear")``).

    Shape: (N, C, H, W) -> (N, C, h, w).
    """

    def __init__(self, size, interpolation="bilinear", max_size=None, antialias=True):
        name = "Resize"
        resized_size(name, size, 1, 1)   # validates
        if max_size is not None and not isinstance(size, numbers.Integral):
            raise ValueError(f"{name}: `max_size` needs an int `size` (the shorter side). Received: size={size!r}")
        self.size = size
        self.interpolation = check_mode(name, interpolation)
        self.max_size = max_size
        self.antialias = bool(antialias)

    def forward(self, x):
        check_floating("Resize", x)
        h, w = x.shape[-2:]
        oh, ow = resized_size("Resize", self.size, h, w, self.max_size)
        if (oh, ow) == (h, w):
            return x
        a_h = resample_matrices([0], [h], h, oh, self.interpolation, self.antialias)
        a_w = resample_matrices([0], [w], w, ow, self.interpolation, self.antialias)
        return apply_matrices(x, a_h, a_w)

    def extra_repr(self):
        return f"size={self.size}, interpolation={self.interpolation}, antialias={self.antialias}"


def resized_crop(x, top, left, height, width, size, interpolation="bilinear", antialias=True):
    """Crop each image's window (arrays (N,) of corners and sizes) and resize it to ``size`` (h, w)."""
    h, w = x.shape[-2:]
    a_h = resample_matrices(top, height, h, size[0], interpolation, antialias)
    a_w = resample_matrices(left, width, w, size[1], interpolation, antialias)
    return apply_matrices(x, a_h, a_w)


class RandomResizedCrop(Transform):
    """Crop a random area and aspect ratio from each image and resize it to ``size`` (Inception-style).

    For each image: up to 10 tries of an area fraction ``U(scale)`` and a log-uniform aspect ratio in
    ``ratio``; the first window that fits is used, else the largest central window within ``ratio``
    (torchvision's rule).

    Shape: (N, C, H, W) -> (N, C, h, w).
    """

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0), interpolation="bilinear",
                 antialias=True, *, generator=None):
        name = "RandomResizedCrop"
        self.size = size_pair(name, size)
        self.scale = value_range(name, "scale", scale, bound=(0.0, float("inf")))
        self.ratio = value_range(name, "ratio", ratio, bound=(1e-12, float("inf")))
        self.interpolation = check_mode(name, interpolation)
        self.antialias = bool(antialias)
        self.generator = generator

    @staticmethod
    def get_params(rng, n, height, width, scale, ratio, attempts=10):
        """Corners and sizes (top, left, h, w), arrays (N,), drawn as torchvision draws them per image."""
        area = height * width
        log_ratio = np.log(ratio)
        target = area * rng.uniform(scale[0], scale[1], size=(n, attempts))
        aspect = np.exp(rng.uniform(log_ratio[0], log_ratio[1], size=(n, attempts)))
        ws = np.round(np.sqrt(target * aspect)).astype(np.int64)
        hs = np.round(np.sqrt(target / aspect)).astype(np.int64)
        ok = (ws > 0) & (ws <= width) & (hs > 0) & (hs <= height)
        first = ok.argmax(axis=1)
        found = ok[np.arange(n), first]
        # Fallback: the whole image, cut to the nearest allowed aspect ratio, centred.
        in_ratio = width / height
        if in_ratio < min(ratio):
            fw, fh = width, int(round(width / min(ratio)))
        elif in_ratio > max(ratio):
            fh, fw = height, int(round(height * max(ratio)))
        else:
            fw, fh = width, height
        hh = np.where(found, hs[np.arange(n), first], fh)
        ww = np.where(found, ws[np.arange(n), first], fw)
        top = np.where(found, 0, (height - fh) // 2)
        left = np.where(found, 0, (width - fw) // 2)
        top = top + np.where(found, rng.integers(0, height - hh + 1), 0)
        left = left + np.where(found, rng.integers(0, width - ww + 1), 0)
        return top, left, hh, ww

    def forward(self, x):
        check_floating("RandomResizedCrop", x)
        h, w = x.shape[-2:]
        top, left, hh, ww = self.get_params(self._rng(), x.shape[0], h, w, self.scale, self.ratio)
        return resized_crop(x, top, left, hh, ww, self.size, self.interpolation, self.antialias)

    def extra_repr(self):
        return f"size={self.size}, scale={self.scale}, ratio={tuple(round(r, 4) for r in self.ratio)}"


# ------------------------------------------------------------------------------------------------ affine maps
def inverse_affine_matrices(angle, translate, scale, shear, center=(0.0, 0.0)):
    """Per image, the 2x3 map from output to input coordinates (both relative to the image centre).

    The forward map is M = T C R S Sh C^-1 (torchvision's ``_get_inverse_affine_matrix``): rotation by
    ``angle`` degrees, uniform ``scale``, shear (x, y) in degrees, then translation by ``translate``
    pixels; this returns M^-1, since each output pixel looks up where it came from.

    Args:
        angle, scale: arrays (N,); translate, shear: arrays (N, 2); center: (cx, cy) relative to the centre.

    Returns:
        NumPy array (N, 2, 3).
    """
    rot = np.radians(np.asarray(angle, dtype=np.float64))
    shear = np.radians(np.asarray(shear, dtype=np.float64)).reshape(-1, 2)
    sx, sy = shear[:, 0], shear[:, 1]
    translate = np.asarray(translate, dtype=np.float64).reshape(-1, 2)
    scale = np.asarray(scale, dtype=np.float64)
    cx, cy = center
    a = np.cos(rot - sy) / np.cos(sy)
    b = -(a * np.tan(sx) + np.sin(rot))
    c = np.sin(rot - sy) / np.cos(sy)
    d = np.cos(rot) - c * np.tan(sx)
    # [[a, b], [c, d]] has determinant 1, so its inverse is [[d, -b], [-c, a]].
    m = np.stack([np.stack([d, -b, np.zeros_like(d)], -1), np.stack([-c, a, np.zeros_like(d)], -1)], 1)
    m = m / scale.reshape(-1, 1, 1)                                               # (N, 2, 3)
    px, py = cx + translate[:, 0], cy + translate[:, 1]
    m[:, 0, 2] = cx - m[:, 0, 0] * px - m[:, 0, 1] * py
    m[:, 1, 2] = cy - m[:, 1, 0] * px - m[:, 1, 1] * py
    return m


def warp_affine(x, matrices, interpolation="bilinear", fill=0, center=None):
    """Warp each image with its inverse map ``matrices`` (N, 2, 3) in centre-relative pixel coordinates.

    ``center`` is the pivot in pixel indices (x, y); default the image centre ((W - 1) / 2, (H - 1) / 2).
    """
    xp = backend.get_array_module(x)
    n, c, h, w = x.shape
    pivot_x, pivot_y = ((w - 1) / 2.0, (h - 1) / 2.0) if center is None else center
    gy, gx = np.meshgrid(np.arange(h, dtype=np.float64) - pivot_y, np.arange(w, dtype=np.float64) - pivot_x,
                         indexing="ij")                                           # (H, W) each
    m = xp.asarray(matrices)
    gx, gy = xp.asarray(gx)[None], xp.asarray(gy)[None]
    src_x = m[:, 0, 0, None, None] * gx + m[:, 0, 1, None, None] * gy + m[:, 0, 2, None, None] + pivot_x
    src_y = m[:, 1, 0, None, None] * gx + m[:, 1, 1, None, None] * gy + m[:, 1, 2, None, None] + pivot_y
    return sample(x, src_y, src_x, interpolation, _fill(x, fill))


def _fill(x, fill):
    if fill is None or (np.ndim(fill) == 0 and float(fill) == 0.0):
        return None
    return fill_array("affine", fill, x.shape[1], x.dtype, backend.get_array_module(x))


def _degrees(name, arg, value):
    if is_real(value):
        if value < 0:
            raise ValueError(f"{name}: `{arg}` must be non-negative when it is a single number. "
                             f"Received: {arg}={value!r}")
        return (-float(value), float(value))
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
            is_real(v) for v in value) and value[0] <= value[1]:
        return (float(value[0]), float(value[1]))
    raise ValueError(f"{name}: `{arg}` must be a non-negative number or a (min, max) pair. Received: {arg}={value!r}")


def _center(name, center, shape):
    """torchvision's ``center`` (x, y) in continuous coordinates -> pixel indices; None is the image centre."""
    if center is None:
        return None
    if not (isinstance(center, (tuple, list)) and len(center) == 2):
        raise ValueError(f"{name}: `center` must be a pair (x, y). Received: center={center!r}")
    return float(center[0]) - 0.5, float(center[1]) - 0.5


class RandomRotation(Transform):
    """Rotate each image by an angle drawn from ``degrees`` (counter-clockwise for positive angles).

    Args:
        degrees: a number d for (-d, d), or (min, max).
        interpolation: ``"bilinear"`` (default) or ``"nearest"``.
            NOTE: torchvision's default is nearest; bilinear is the better default for images.
        expand: not supported (the output keeps the input size, so a batch stays one array).
        center: pivot (x, y) in continuous pixel coordinates (torchvision's); default the image centre.
        fill: value outside the rotated image, a number or one per channel.
    """

    def __init__(self, degrees, interpolation="bilinear", expand=False, center=None, fill=0, *, generator=None):
        name = "RandomRotation"
        self.degrees = _degrees(name, "degrees", degrees)
        self.interpolation = check_mode(name, interpolation)
        if expand:
            raise ValueError(f"{name}: `expand=True` is not supported (each angle would give another size). "
                             f"Received: expand={expand!r}")
        self.expand = False
        self.center = center
        _center(name, center, None)
        self.fill = fill
        self.generator = generator

    def forward(self, x):
        check_floating("RandomRotation", x)
        n = x.shape[0]
        angle = self._rng().uniform(self.degrees[0], self.degrees[1], size=n)
        # torchvision's rotate passes -angle to the affine map (the map's angle is clockwise).
        m = inverse_affine_matrices(-angle, np.zeros((n, 2)), np.ones(n), np.zeros((n, 2)))
        return warp_affine(x, m, self.interpolation, self.fill, _center("RandomRotation", self.center, x.shape))

    def extra_repr(self):
        return f"degrees={self.degrees}, interpolation={self.interpolation}"


class RandomAffine(Transform):
    """Random rotation, translation, scaling and shear of each image, keeping the centre fixed.

    Args:
        degrees: rotation range: d for (-d, d), or (min, max); 0 for none (clockwise for positive angles,
            as torchvision's ``affine``).
        translate: (a, b): horizontal shift drawn from (-a W, a W), vertical from (-b H, b H), rounded to
            whole pixels.
        scale: (min, max) of the scale factor.
        shear: x shear in degrees: s for (-s, s), (min, max), or four values for x and y ranges.
        interpolation: ``"bilinear"`` (default; torchvision's is nearest) or ``"nearest"``.
        fill: value outside the image.
        center: pivot (x, y), default the image centre.
    """

    def __init__(self, degrees, translate=None, scale=None, shear=None, interpolation="bilinear", fill=0,
                 center=None, *, generator=None):
        name = "RandomAffine"
        self.degrees = _degrees(name, "degrees", degrees)
        if translate is not None:
            if not (isinstance(translate, (tuple, list)) and len(translate) == 2
                    and all(isinstance(t, numbers.Real) and 0 <= t <= 1 for t in translate)):
                raise ValueError(f"{name}: `translate` must be a pair of fractions in [0, 1]. "
                                 f"Received: translate={translate!r}")
        self.translate = translate
        if scale is not None:
            if not (isinstance(scale, (tuple, list)) and len(scale) == 2 and 0 < scale[0] <= scale[1]):
                raise ValueError(f"{name}: `scale` must be a pair (min, max) of positive numbers. "
                                 f"Received: scale={scale!r}")
        self.scale = scale
        if shear is None:
            self.shear = None
        elif isinstance(shear, (tuple, list)) and len(shear) == 4:
            self.shear = _degrees(name, "shear", tuple(shear[:2])) + _degrees(name, "shear", tuple(shear[2:]))
        else:
            self.shear = _degrees(name, "shear", shear)
        self.interpolation = check_mode(name, interpolation)
        self.fill = fill
        self.center = center
        _center(name, center, None)
        self.generator = generator

    def get_params(self, rng, n, height, width):
        """Per image: angle, translation (pixels), scale and (shear x, shear y), as torchvision draws them."""
        angle = rng.uniform(self.degrees[0], self.degrees[1], size=n)
        if self.translate is not None:
            max_dx, max_dy = self.translate[0] * width, self.translate[1] * height
            translate = np.stack([np.round(rng.uniform(-max_dx, max_dx, size=n)),
                                  np.round(rng.uniform(-max_dy, max_dy, size=n))], 1)
        else:
            translate = np.zeros((n, 2))
        scale = rng.uniform(self.scale[0], self.scale[1], size=n) if self.scale is not None else np.ones(n)
        shear = np.zeros((n, 2))
        if self.shear is not None:
            shear[:, 0] = rng.uniform(self.shear[0], self.shear[1], size=n)
            if len(self.shear) == 4:
                shear[:, 1] = rng.uniform(self.shear[2], self.shear[3], size=n)
        return angle, translate, scale, shear

    def forward(self, x):
        check_floating("RandomAffine", x)
        n, _, h, w = x.shape
        angle, translate, scale, shear = self.get_params(self._rng(), n, h, w)
        m = inverse_affine_matrices(angle, translate, scale, shear)
        return warp_affine(x, m, self.interpolation, self.fill, _center("RandomAffine", self.center, x.shape))

    def extra_repr(self):
        return (f"degrees={self.degrees}, translate={self.translate}, scale={self.scale}, shear={self.shear}, "
                f"interpolation={self.interpolation}")


class ElasticTransform(Transform):
    """Small random elastic deformations (Simard et al. 2003, for handwritten digits): every pixel is moved
    by a random displacement field, uniform noise smoothed by a Gaussian of ``sigma`` pixels and scaled
    by ``alpha``.

    Displacements follow torchvision's ``ElasticTransform``: the smoothed field is scaled by
    ``alpha / H`` (x) and ``alpha / W`` (y) in the [-1, 1] grid units of ``grid_sample``, i.e. roughly
    ``alpha / 2`` pixels times the smoothed noise on a square image.

    Args:
        alpha: strength of the displacement. Default: 50.
        sigma: smoothness (Gaussian standard deviation in pixels). Default: 5.
        interpolation: ``"bilinear"`` or ``"nearest"``.
        fill: value for pixels pulled in from outside the image.
    """

    def __init__(self, alpha=50.0, sigma=5.0, interpolation="bilinear", fill=0, *, generator=None):
        name = "ElasticTransform"
        for arg, v in (("alpha", alpha), ("sigma", sigma)):
            if not is_real(v) or v < 0:
                raise ValueError(f"{name}: `{arg}` must be a non-negative number. Received: {arg}={v!r}")
        self.alpha = float(alpha)
        self.sigma = float(sigma)
        self.interpolation = check_mode(name, interpolation)
        self.fill = fill
        self.generator = generator

    def displacement(self, rng, n, h, w):
        """(dy, dx) in pixels, each (N, H, W)."""
        noise = rng.uniform(-1.0, 1.0, size=(2, n, h, w))
        if self.sigma > 0:
            bh, bw = gaussian_blur_matrix(h, self.sigma), gaussian_blur_matrix(w, self.sigma)
            noise = bh @ noise @ bw.T                                     # separable blur of every field
        dx = noise[0] * self.alpha / h * (w / 2.0)
        dy = noise[1] * self.alpha / w * (h / 2.0)
        return dy, dx

    def forward(self, x):
        check_floating("ElasticTransform", x)
        xp = backend.get_array_module(x)
        n, _, h, w = x.shape
        dy, dx = self.displacement(self._rng(), n, h, w)
        gy, gx = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
        return sample(x, xp.asarray(gy + dy), xp.asarray(gx + dx), self.interpolation, _fill(x, self.fill))

    def extra_repr(self):
        return f"alpha={self.alpha}, sigma={self.sigma}, interpolation={self.interpolation}"


ElasticDistortion = ElasticTransform


# ------------------------------------------------------------------------------------------------ test-time crops
def five_crop(x, size):
    """The four corner crops and the central crop, (N, 5, C, h, w) (torchvision's order: tl, tr, bl, br, centre)."""
    th, tw = size
    h, w = x.shape[-2:]
    if th > h or tw > w:
        raise ValueError(f"FiveCrop: the crop {th}x{tw} is larger than the image {h}x{w}")
    xp = backend.get_array_module(x)
    crops = [x[..., :th, :tw], x[..., :th, w - tw:], x[..., h - th:, :tw], x[..., h - th:, w - tw:],
             center_crop(x, size)]
    return xp.stack(crops, axis=1)


class FiveCrop(_FixedCrop):
    """Test-time augmentation: the four corners and the centre.

    Shape: (C, H, W) -> (5, C, h, w); (N, C, H, W) -> (N, 5, C, h, w). Average the predictions with
    :func:`cnnlab.train.evaluation.average_crop_predictions`.
    """

    crop = staticmethod(five_crop)


class TenCrop(Transform):
    """Test-time augmentation as AlexNet: the five crops of the image and of its mirror image.

    Shape: (C, H, W) -> (10, C, h, w); (N, C, H, W) -> (N, 10, C, h, w).
    """

    def __init__(self, size, vertical_flip=False):
        self.size = size_pair("TenCrop", size)
        self.vertical_flip = bool(vertical_flip)

    def forward(self, x):
        xp = backend.get_array_module(x)
        flipped = xp.flip(x, axis=-2 if self.vertical_flip else -1)
        return xp.concatenate([five_crop(x, self.size), five_crop(flipped, self.size)], axis=1)

    def extra_repr(self):
        return f"size={self.size}, vertical_flip={self.vertical_flip}"


__all__ = ["RandomHorizontalFlip", "RandomVerticalFlip", "RandomCrop", "CenterCrop", "Resize",
           "RandomResizedCrop", "RandomRotation", "RandomAffine", "ElasticTransform", "ElasticDistortion",
           "FiveCrop", "TenCrop", "PADDING_MODES", "crop_batch", "pad_batch",
           "resized_crop", "inverse_affine_matrices", "warp_affine"]
