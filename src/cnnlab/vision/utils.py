"""torchvision.utils' ``make_grid`` and ``save_image``: a batch of images laid out as one."""

import math
import os

import numpy as np

from .. import backend
from ..tensor import Tensor

__all__ = ["make_grid", "save_image"]


def _array(tensor):
    if isinstance(tensor, (list, tuple)):
        return np.stack([_array(t) for t in tensor])
    if isinstance(tensor, Tensor):
        return backend.asnumpy(tensor._data)
    if isinstance(tensor, np.ndarray):
        return tensor
    raise TypeError(f"make_grid: `tensor` must be a Tensor (N, C, H, W) or (C, H, W), or a list "
                    f"of Tensors. Received an object of type {type(tensor).__name__}")


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False,
              pad_value=0.0):
    """Tile a batch of images into one image (C, H', W'), ``nrow`` per row (torchvision's rules).

    Args:
        tensor: a batch (N, C, H, W), one image (C, H, W) or (H, W), or a list of equal images.
            One-channel images are repeated into three channels.
        nrow: images per row; the grid has ``ceil(N / nrow)`` rows.
        padding: pixels between images and around the border.
        normalize: shift and scale to [0, 1] by ``value_range`` (clamped first) or min and max.
        value_range: ``(low, high)`` for ``normalize``.
        scale_each: with ``normalize``, use each image's own min and max.
        pad_value: the value of the padding.

    Shape:
        (N, C, H, W) -> (C, rows * (H + padding) + padding, cols * (W + padding) + padding),
        cols = min(nrow, N), rows = ceil(N / cols); a single image comes back unpadded.
    """
    x = _array(tensor)
    if x.ndim == 2:
        x = x[None]                                                       # (H, W) -> (1, H, W)
    if x.ndim == 3:
        if x.shape[0] == 1:
            x = np.concatenate([x, x, x], axis=0)                         # (1, H, W) -> (3, H, W)
        x = x[None]                                             # (C, H, W) -> (1, C, H, W)
    if x.ndim != 4:
        raise ValueError(f"make_grid: expected images (N, C, H, W), (C, H, W) or (H, W). "
                         f"Received shape {x.shape}")
    if x.shape[1] == 1:
        x = np.concatenate([x, x, x], axis=1)                   # (N, 1, H, W) -> (N, 3, H, W)
    if normalize:
        pair = isinstance(value_range, tuple) and len(value_range) == 2
        if value_range is not None and not pair:
            raise TypeError(f"make_grid: `value_range` must be a tuple (min, max). Received: "
                            f"value_range={value_range!r}")
        x = x.astype(x.dtype if x.dtype.kind == "f" else backend.get_default_dtype(), copy=True)

        def norm(img):
            low, high = value_range or (float(img.min()), float(img.max()))
            np.clip(img, low, high, out=img)
            img -= low
            img /= max(high - low, 1e-5)

        if scale_each:
            for img in x:
                norm(img)
        else:
            norm(x)
    if x.shape[0] == 1:
        return Tensor(x[0])
    n, c, h, w = x.shape
    cols = min(nrow, n)
    rows = int(math.ceil(n / cols))
    cell_h, cell_w = h + padding, w + padding
    grid = np.full((c, cell_h * rows + padding, cell_w * cols + padding), pad_value, dtype=x.dtype)
    for k in range(n):
        y, xx = divmod(k, cols)
        top, left = y * cell_h + padding, xx * cell_w + padding
        grid[:, top:top + h, left:left + w] = x[k]
    return Tensor(grid)


def save_image(tensor, fp, format=None, **kwargs):
    """Write ``make_grid(tensor, **kwargs)`` as an 8-bit image ([0, 1] to 0..255, rounded)."""
    from PIL import Image

    grid = make_grid(tensor, **kwargs)._data
    # torchvision: mul(255).add_(0.5).clamp_(0, 255) then a truncating cast, i.e. round half up
    pixels = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8)
    pixels = pixels.transpose(1, 2, 0)                                  # (C, H, W) -> (H, W, C)
    if pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    target = os.fspath(fp) if isinstance(fp, os.PathLike) else fp
    Image.fromarray(pixels).save(target, format=format)
