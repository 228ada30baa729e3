"""What every pooling family shares: batching a (C, H, W) input, the kernel taps, picking a window's
extreme element with PyTorch's tie and NaN rules, and routing a pick's gradient back."""

from ... import backend
from .._scatter import scatter_add


def batch(input):
    """View a (C, H, W) input as one sample (1, C, H, W); a 4-D input is returned as is."""
    return input if input.ndim == 4 else input.reshape(1, *input.shape)


def unbatch(t, input):
    """Drop the batch axis added by ``batch`` again."""
    return t if input.ndim == 4 else t.reshape(t.shape[1:])


def taps(kernel_size):
    """Every kernel tap (i, j) in window order (row by row)."""
    return [(i, j) for i in range(kernel_size[0]) for j in range(kernel_size[1])]


def tile_view(x, kernel, out):
    """(N, C, H, W) -> (N, C, oH, oW, kH, kW) when windows tile the input: a reshape, no strides."""
    n, c = x.shape[:2]
    (kh, kw), (oh, ow) = kernel, out
    t = x.reshape(n, c, oh, kh, ow, kw)   # (N, C, oH, kH, oW, kW)
    return t.transpose(0, 1, 2, 4, 3, 5)  # (N, C, oH, oW, kH, kW)


def select(flat, largest, out=None):
    """Arg-max (or arg-min) over the last axis, with PyTorch's choice on ties and NaN.

    PyTorch scans a window in order and replaces its pick when ``val > best or isnan(val)``: ties keep
    the first element, and a NaN anywhere wins, the last NaN of the window being the one reported.
    ``argmax`` already keeps the first of equal values; the NaN rule is applied only if a NaN is present.
    Returns (arg, out); ``out``, the extreme values, is gathered unless given.
    """
    xp = backend.get_array_module(flat)
    arg = flat.argmax(axis=-1) if largest else flat.argmin(axis=-1)
    if out is None:
        out = xp.take_along_axis(flat, arg[..., None], axis=-1)[..., 0]
    nan_out = xp.isnan(out)
    if bool(nan_out.any()):
        last_nan = flat.shape[-1] - 1 - xp.isnan(flat[..., ::-1]).argmax(axis=-1)
        arg = xp.where(nan_out, last_nan, arg)
    return arg, out


def route_back(g, index, input_shape, valid=None):
    """Backward of a pick: add ``g`` (N, C, oH, oW) at flat plane positions ``index`` of each input plane."""
    xp = backend.get_array_module(g)
    n, c, h, w = input_shape
    planes = xp.arange(n * c, dtype=index.dtype).reshape(n, c, 1, 1) * (h * w)
    positions = index + planes
    if valid is not None:  # windows that hold no input element send their gradient nowhere
        g = xp.where(valid, g, 0)
        positions = xp.where(valid, positions, 0)
    return scatter_add(n * c * h * w, positions, g, g.dtype).reshape(input_shape)
