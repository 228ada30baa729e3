"""Interpolation kernels shared by the geometric transforms.

Two tools cover every geometric transform:

* ``resample_matrices`` builds, per image, the (out, in) matrix that maps one axis of a window of the input
  onto ``out`` samples (bilinear, antialiased bilinear or nearest). Crop-then-resize is then two batched
  matrix products, ``A_h @ x @ A_w^T``, for any mix of window sizes in the batch.
* ``sample`` reads an image at arbitrary (y, x) positions per output pixel (affine maps, elastic fields),
  with bilinear or nearest interpolation; positions outside the image read ``fill``.

Coordinates: pixel ``i`` covers [i, i + 1) and its centre is i + 0.5 ("align_corners=False", as PyTorch,
torchvision and Pillow); the sampling positions given to ``sample`` are pixel indices (centre = i).
"""

import numpy as np

from ... import backend

MODES = ("bilinear", "nearest")


class InterpolationMode:
    """Names of the interpolation methods (torchvision's enum names; plain strings work too)."""

    NEAREST = "nearest"
    BILINEAR = "bilinear"


def check_mode(name, mode):
    value = getattr(mode, "value", mode)
    if isinstance(value, str):
        value = value.lower()
    if value not in MODES:
        raise ValueError(f"{name}: `interpolation` must be 'bilinear' or 'nearest'. Received: interpolation={mode!r}")
    return value


def resample_matrices(start, length, in_size, out_size, mode="bilinear", antialias=True):
    """Per-image (out_size, in_size) matrices resampling the window [start, start + length) of an axis.

    Bilinear weights are the triangle filter at the output pixel centres mapped into the window; with
    ``antialias`` and a window longer than ``out_size`` the triangle is widened by the scale (Pillow's and
    torchvision's antialiasing), so every input pixel contributes. Samples never read outside the window
    (crop-then-resize semantics). Nearest picks ``start + floor(i * length / out_size)`` (PyTorch's
    ``nearest``).

    Args:
        start, length: integer arrays (N,): the window of each image along the axis.

    Returns:
        float64 NumPy array (N, out_size, in_size).
    """
    start = np.asarray(start, dtype=np.float64).reshape(-1, 1, 1)        # (N, 1, 1)
    length = np.asarray(length, dtype=np.float64).reshape(-1, 1, 1)
    scale = length / out_size                                            # input pixels per output pixel
    i = np.arange(out_size, dtype=np.float64).reshape(1, -1, 1)         # (1, out, 1)
    j = np.arange(in_size, dtype=np.float64).reshape(1, 1, -1)          # (1, 1, in)
    inside = (j >= start) & (j < start + length)                         # (N, 1, in)
    if mode == "nearest":
        src = start + np.minimum(np.floor(i * scale), length - 1)        # (N, out, 1)
        return (j == src).astype(np.float64)
    centre = start + (i + 0.5) * scale                                   # (N, out, 1) continuous coordinate
    support = np.maximum(scale, 1.0) if antialias else np.ones_like(scale)
    if antialias:
        w = np.clip(1.0 - np.abs(j + 0.5 - centre) / support, 0.0, None) * inside
        return w / w.sum(axis=2, keepdims=True)
    # Plain bilinear: the source position is clamped into the window, then two taps.
    src = np.clip(centre - 0.5, start, start + length - 1)
    return np.clip(1.0 - np.abs(j - src), 0.0, None)


def apply_matrices(x, a_h, a_w):
    """``a_h @ x @ a_w^T`` per image: x (N, C, H, W), a_h (N or 1, oH, H), a_w (N or 1, oW, W) -> (N, C, oH, oW)."""
    xp = backend.get_array_module(x)
    a_h = xp.asarray(a_h, dtype=x.dtype)[:, None]                         # (N, 1, oH, H)
    a_w = xp.asarray(a_w, dtype=x.dtype)[:, None].swapaxes(-1, -2)        # (N, 1, W, oW)
    return xp.matmul(xp.matmul(a_h, x), a_w)


def sample(x, sy, sx, mode="bilinear", fill=None):
    """Read each image at positions (sy, sx) (pixel indices, per output pixel), outside the image ``fill``.

    Bilinear: each of the four neighbours that lies outside the image contributes ``fill`` (a zero-padded
    image for fill 0, as ``grid_sample(padding_mode="zeros")``); nearest rounds half to even (as PyTorch).

    Args:
        x: (N, C, H, W) floating array.
        sy, sx: (N, oH, oW) source rows and columns.
        fill: None (zeros) or an array broadcastable to (1, C, 1, 1).

    Returns:
        (N, C, oH, oW) array.
    """
    xp = backend.get_array_module(x)
    n, c, h, w = x.shape
    oh, ow = sy.shape[1:]
    flat = x.reshape(n, c, h * w)                                         # (N, C, H*W)
    sy = xp.asarray(sy, dtype=np.float64)
    sx = xp.asarray(sx, dtype=np.float64)

    def tap(rows, cols):
        valid = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)       # (N, oH, oW)
        index = xp.clip(rows, 0, h - 1) * w + xp.clip(cols, 0, w - 1)
        values = xp.take_along_axis(flat, index.reshape(n, 1, oh * ow).astype(np.int64), axis=2)
        return values.reshape(n, c, oh, ow), valid[:, None].astype(x.dtype)   # (N, C, oH, oW), (N, 1, oH, oW)

    if mode == "nearest":
        values, valid = tap(xp.rint(sy).astype(np.int64), xp.rint(sx).astype(np.int64))
        out = values * valid
        if fill is not None:
            out += (1 - valid) * fill
        return out.astype(x.dtype, copy=False)
    y0 = xp.floor(sy)
    x0 = xp.floor(sx)
    fy = (sy - y0).astype(x.dtype)[:, None]                               # (N, 1, oH, oW) weight of row y0 + 1
    fx = (sx - x0).astype(x.dtype)[:, None]
    y0 = y0.astype(np.int64)
    x0 = x0.astype(np.int64)
    out = xp.zeros((n, c, oh, ow), dtype=x.dtype)
    outside = xp.zeros((n, 1, oh, ow), dtype=x.dtype)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            values, valid = tap(y0 + dy, x0 + dx)
            weight = wy * wx
            out += values * (weight * valid)
            outside += weight * (1 - valid)
    if fill is not None:
        out += outside * fill
    return out


def gaussian_blur_matrix(size, sigma):
    """(size, size) matrix of a 1-D Gaussian blur with reflect padding (torchvision's ``gaussian_blur`` kernel:
    ``int(8 * sigma + 1)`` taps, made odd, weights ``exp(-t^2 / (2 sigma^2))`` normalised).

    Reflection repeats for kernels wider than the axis, so any size works.
    """
    k = int(8 * sigma + 1)
    k += (k % 2 == 0)
    half = (k - 1) // 2
    t = np.linspace(-half, half, k)
    kernel = np.exp(-0.5 * (t / sigma) ** 2)
    kernel /= kernel.sum()
    rows = np.repeat(np.arange(size), k)                                 # (size * k,)
    src = (np.arange(size)[:, None] + np.arange(-half, half + 1)[None, :]).ravel()
    if size > 1:
        period = 2 * (size - 1)                                          # reflect without repeating the edge
        src = np.mod(src, period)
        src = np.where(src >= size, period - src, src)
    else:
        src = np.zeros_like(src)
    weights = np.tile(kernel, size)
    return np.bincount(rows * size + src, weights=weights, minlength=size * size).reshape(size, size)
