"""Pictures as arrays: scaling to [0, 1], colour maps, grids, overlays, and PNG files.

Every picture in ``cnnlab.inspect`` is a float32 array (H, W, 3) with values in [0, 1], so it can be
shown by any library, compared in a test, or written here as a PNG. PNG writing needs nothing beyond
NumPy and zlib (the encoder is below), so pictures work without the optional extras; reading image
files (any format) uses Pillow.
"""

import base64
import os
import struct
import warnings
import zlib

import numpy as np

from .. import backend
from ..resources import check_regular_file

# Colour maps as 17 evenly spaced anchor colours (sampled from matplotlib's maps of the same names),
# linearly interpolated in between: perceptually ordered (viridis, inferno) and diverging (coolwarm).
_ANCHORS = {
    "viridis": [[0.267, 0.005, 0.329], [0.282, 0.095, 0.417], [0.279, 0.175, 0.483], [0.259, 0.252, 0.525],
                [0.23, 0.322, 0.546], [0.199, 0.388, 0.555], [0.173, 0.449, 0.558], [0.149, 0.508, 0.557],
                [0.128, 0.567, 0.551], [0.121, 0.626, 0.533], [0.158, 0.684, 0.502], [0.246, 0.739, 0.452],
                [0.369, 0.789, 0.383], [0.516, 0.831, 0.294], [0.678, 0.864, 0.19], [0.846, 0.887, 0.1],
                [0.993, 0.906, 0.144]],
    "inferno": [[0.001, 0.0, 0.014], [0.042, 0.028, 0.141], [0.129, 0.047, 0.291], [0.238, 0.037, 0.396],
                [0.342, 0.062, 0.429], [0.441, 0.099, 0.432], [0.541, 0.135, 0.415], [0.64, 0.171, 0.381],
                [0.736, 0.216, 0.33], [0.822, 0.275, 0.266], [0.894, 0.353, 0.194], [0.947, 0.449, 0.115],
                [0.978, 0.558, 0.035], [0.988, 0.675, 0.065], [0.975, 0.798, 0.206], [0.948, 0.917, 0.411],
                [0.988, 0.998, 0.645]],
    "coolwarm": [[0.23, 0.299, 0.754], [0.304, 0.407, 0.845], [0.384, 0.51, 0.918], [0.468, 0.606, 0.969],
                 [0.554, 0.69, 0.996], [0.641, 0.761, 0.998], [0.724, 0.815, 0.976], [0.801, 0.85, 0.93],
                 [0.867, 0.864, 0.863], [0.926, 0.826, 0.771], [0.96, 0.767, 0.674], [0.97, 0.69, 0.575],
                 [0.957, 0.598, 0.477], [0.921, 0.491, 0.383], [0.865, 0.371, 0.296], [0.791, 0.231, 0.216],
                 [0.706, 0.016, 0.15]],
    "gray": [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]],
}
COLORMAPS = tuple(_ANCHORS)


def as_numpy(x):
    """A host NumPy array from a Tensor, a NumPy/CuPy array or a nested list."""
    return np.asarray(backend.asnumpy(getattr(x, "data", x)))


def rescale(a, low=None, high=None):
    """Map ``a`` linearly so that ``low`` -> 0 and ``high`` -> 1 (default: its min and max), clipped.

    A constant array maps to 0.5 (grey) rather than dividing by zero.
    """
    a = as_numpy(a).astype(np.float32)
    low = float(a.min()) if low is None else float(low)
    high = float(a.max()) if high is None else float(high)
    if not high > low:
        return np.full(a.shape, 0.5, np.float32)
    return np.clip((a - low) / (high - low), 0.0, 1.0).astype(np.float32)


def rescale_symmetric(a, limit=None):
    """Map signed values so that 0 -> 0.5 and +-``limit`` (default: max |a|) -> 1 and 0 (for diverging maps)."""
    a = as_numpy(a).astype(np.float32)
    limit = float(np.abs(a).max()) if limit is None else float(limit)
    if not limit > 0:
        return np.full(a.shape, 0.5, np.float32)
    return np.clip(0.5 + a / (2 * limit), 0.0, 1.0).astype(np.float32)


def colormap(values, name="viridis"):
    """Colour values in [0, 1] with colour map ``name`` ('viridis', 'inferno', 'coolwarm', 'gray').

    Shape:
        values (...) -> (..., 3) float32 in [0, 1].
    """
    if name not in _ANCHORS:
        raise ValueError(f"colormap: unknown colour map {name!r}. Known maps: {', '.join(COLORMAPS)}")
    anchors = np.asarray(_ANCHORS[name], np.float32)                 # (K, 3)
    v = np.clip(as_numpy(values).astype(np.float32), 0.0, 1.0) * (len(anchors) - 1)
    lo = np.minimum(np.floor(v).astype(np.int64), len(anchors) - 2)
    t = (v - lo)[..., None]                                          # (..., 1) position between anchors
    return ((1 - t) * anchors[lo] + t * anchors[lo + 1]).astype(np.float32)


def to_rgb(image):
    """A picture (H, W), (H, W, 1), (H, W, 3), (1, H, W) or (3, H, W) in [0, 1] as (H, W, 3) float32.

    Channel-first arrays (the network's layout) are recognised by a first axis of 1 or 3 when the last
    axis is not.
    """
    a = as_numpy(image).astype(np.float32)
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = a.transpose(1, 2, 0)                                     # (C, H, W) -> (H, W, C)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=-1)                      # (H, W) -> (H, W, 3)
    if a.ndim != 3 or a.shape[-1] != 3:
        raise ValueError(f"to_rgb: expected a picture (H, W), (H, W, 1|3) or (1|3, H, W). Received shape {a.shape}")
    return np.clip(a, 0.0, 1.0)


def upscale(image, factor):
    """Enlarge by an integer ``factor`` with nearest-neighbour (every pixel becomes a factor x factor block)."""
    if not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError(f"upscale: `factor` must be a positive int. Received: factor={factor!r}")
    a = as_numpy(image)
    return a.repeat(factor, axis=0).repeat(factor, axis=1) if factor > 1 else a


def fit_scale(size, target=64):
    """The integer factor that brings a side of ``size`` pixels closest to at least ``target`` pixels."""
    return max(1, int(np.ceil(target / max(int(size), 1))))


def grid(tiles, ncols=None, pad=2, background=1.0):
    """Arrange equally sized pictures in rows of ``ncols`` (default: about square), ``pad`` pixels apart.

    Args:
        tiles: sequence or array of pictures, each (h, w) or (h, w, 3) in [0, 1].
        ncols: pictures per row.
        pad: gap in pixels between pictures and around the grid.
        background: grey level of the gaps.

    Shape:
        N tiles (h, w[, 3]) -> (rows*(h+pad)+pad, ncols*(w+pad)+pad, 3), rows = ceil(N / ncols).
    """
    tiles = [to_rgb(t) for t in tiles]
    if not tiles:
        raise ValueError("grid: needs at least one picture. Received none")
    h, w = tiles[0].shape[:2]
    if any(t.shape[:2] != (h, w) for t in tiles):
        raise ValueError(f"grid: all pictures must have the same size. Received sizes "
                         f"{sorted({t.shape[:2] for t in tiles})}")
    n = len(tiles)
    ncols = int(ncols) if ncols else int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    stack = np.full((nrows * ncols, h, w, 3), background, np.float32)
    stack[:n] = np.stack(tiles)
    stack = stack.reshape(nrows, ncols, h, w, 3)
    padded = np.full((nrows, ncols, h + pad, w + pad, 3), background, np.float32)
    padded[:, :, pad:, pad:] = stack
    out = padded.transpose(0, 2, 1, 3, 4).reshape(nrows * (h + pad), ncols * (w + pad), 3)  # rows of tiles
    return np.pad(out, ((0, pad), (0, pad), (0, 0)), constant_values=background)


def side_by_side(*images, pad=4, background=1.0):
    """Pictures next to each other, left to right, bottom-padded to the tallest one."""
    rgb = [to_rgb(i) for i in images]
    h = max(i.shape[0] for i in rgb)
    rgb = [np.pad(i, ((0, h - i.shape[0]), (0, 0), (0, 0)), constant_values=background) for i in rgb]
    gap = np.full((h, pad, 3), background, np.float32)
    parts = [gap]
    for i in rgb:
        parts += [i, gap]
    out = np.concatenate(parts, axis=1)
    band = np.full((pad, out.shape[1], 3), background, np.float32)
    return np.concatenate([band, out, band], axis=0)


def overlay(image, heat, alpha=0.5, cmap="inferno"):
    """Draw ``heat`` (h, w) in [0, 1], colour-mapped, over ``image`` (grey or RGB in [0, 1]).

    The heat map is stretched (nearest-neighbour) to the image size when it is a divisor of it.
    """
    base = to_rgb(image)
    heat = as_numpy(heat).astype(np.float32)
    if heat.shape != base.shape[:2]:
        fy, fx = base.shape[0] // max(heat.shape[0], 1), base.shape[1] // max(heat.shape[1], 1)
        if fy < 1 or fy != fx or heat.shape[0] * fy != base.shape[0] or heat.shape[1] * fx != base.shape[1]:
            raise ValueError(f"overlay: heat map {heat.shape} does not tile the image {base.shape[:2]}")
        heat = upscale(heat, fy)
    return np.clip((1 - alpha) * base + alpha * colormap(heat, cmap), 0.0, 1.0)


def to_uint8(image):
    """A picture in [0, 1] as uint8 in [0, 255] (rounded), keeping its shape."""
    a = as_numpy(image)
    if a.dtype == np.uint8:
        return a
    return np.round(np.clip(a.astype(np.float64), 0.0, 1.0) * 255).astype(np.uint8)


def _chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def encode_png(image):
    """PNG file bytes of a picture: (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA, in [0, 1] or uint8.

    8 bits per channel, no interlacing. Each image is tried with the PNG row filters None, Sub and Up
    (one filter for all rows) and the smallest result is kept.
    """
    a = to_uint8(image)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 2:
        color_type, channels = 0, 1
    elif a.ndim == 3 and a.shape[-1] in (3, 4):
        color_type, channels = (2, 3) if a.shape[-1] == 3 else (6, 4)
    else:
        raise ValueError(f"encode_png: expected (H, W), (H, W, 3) or (H, W, 4). Received shape {a.shape}")
    h, w = a.shape[:2]
    if h == 0 or w == 0:
        raise ValueError(f"encode_png: the picture is empty. Received shape {a.shape}")
    rows = a.reshape(h, w * channels)                                # (H, W*C) bytes per scanline
    sub = rows.copy()
    sub[:, channels:] = rows[:, channels:] - rows[:, :-channels]     # uint8 arithmetic wraps mod 256
    up = rows.copy()
    up[1:] = rows[1:] - rows[:-1]
    best = None
    for kind, data in ((0, rows), (1, sub), (2, up)):
        raw = np.concatenate([np.full((h, 1), kind, np.uint8), data], axis=1).tobytes()
        packed = zlib.compress(raw, 9)
        if best is None or len(packed) < len(best):
            best = packed
    header = struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", best) + _chunk(b"IEND", b"")


def write_png(path, image):
    """Write a picture to ``path`` as PNG (folders are created); returns the path."""
    path = os.fspath(path)
    data = encode_png(image)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


def png_data_uri(image):
    """A ``data:image/png;base64,...`` URI of the picture, to embed in HTML without a separate file."""
    return "data:image/png;base64," + base64.b64encode(encode_png(image)).decode("ascii")


def read_image(path, channels=None, size=None, fn="read_image"):
    """Read an image file (PNG, JPEG, ...) as float32 (H, W) for grey or (H, W, 3) for colour, in [0, 1].

    Args:
        channels: 1 converts to grey, 3 to RGB, None keeps grey images grey and makes the rest RGB.
        size: optional (H, W) to resize to (bilinear).
        fn: the function name for error messages.
    """
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise ImportError(f"{fn}: reading image files needs Pillow: pip install Pillow") from None
    if channels not in (None, 1, 3):
        raise ValueError(f"{fn}: `channels` must be 1, 3 or None. Received: channels={channels!r}")
    path = os.fspath(path)
    check_regular_file(path, fn)  # a FIFO would block the open, a device never end
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{fn}: no such image file: {path!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            if channels is None:
                channels = 1 if im.mode in ("1", "L", "LA", "I", "I;16", "F") else 3
            im = im.convert("L" if channels == 1 else "RGB")
            if size is not None and im.size != (size[1], size[0]):
                im = im.resize((size[1], size[0]), Image.BILINEAR)
            return np.asarray(im, dtype=np.float32) / 255.0
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ValueError(f"{fn}: image {path!r} is too large to decode safely ({e})") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise ValueError(f"{fn}: cannot read {path!r} as an image ({e})") from None
