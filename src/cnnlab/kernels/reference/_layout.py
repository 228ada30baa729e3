"""Memory layout of (N, C, H, W) arrays: NCHW or channels-last (N, H, W, C) memory seen as NCHW.

Kernels return their output in their input's layout, so a network that starts channels-last stays so:
an element-wise op mixing the two layouts runs an order of magnitude slower than one that does not.
"""

from ... import backend


def is_channels_last(a):
    """True when 4-D ``a`` is (N, H, W, C) memory (and not also plain C-contiguous, as when C = 1)."""
    return a.ndim == 4 and not a.flags.c_contiguous and a.transpose(0, 2, 3, 1).flags.c_contiguous


def empty(shape, dtype, like):
    """An uninitialised array of NCHW ``shape`` with ``like``'s memory layout."""
    xp = backend.get_array_module(like)
    if not is_channels_last(like):
        return xp.empty(shape, dtype=dtype)
    n, c, h, w = shape
    return xp.empty((n, h, w, c), dtype=dtype).transpose(0, 3, 1, 2)


def in_layout(a, like):
    """``a`` itself when it is dense in ``like``'s layout, else a copy in that layout."""
    last = is_channels_last(like)
    if (a.flags.c_contiguous and not last) or (last and is_channels_last(a)):
        return a
    out = empty(a.shape, a.dtype, like)
    out[...] = a
    return out
