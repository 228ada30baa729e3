"""Sliding-window views: every (kH, kW) window of an array as extra axes, without copying."""

from .. import backend


def sliding_windows(x, kernel_size, stride=(1, 1), dilation=(1, 1), out_size=None):
    """View of every window of a 4-D array: (N, C, H, W) -> (N, C, oH, oW, kH, kW), no copy.

    Element [n, c, i, j, p, q] is ``x[n, c, i*sH + p*dH, j*sW + q*dW]``: the array module's
    ``as_strided`` only chooses strides. ``out_size`` limits (oH, oW) (default: every full window).
    """
    xp = backend.get_array_module(x)
    n, c, h, w = x.shape
    kh, kw = kernel_size
    sh, sw = stride
    dh, dw = dilation
    if out_size is None:
        out_size = ((h - dh * (kh - 1) - 1) // sh + 1, (w - dw * (kw - 1) - 1) // sw + 1)
    s_n, s_c, s_h, s_w = x.strides
    return xp.lib.stride_tricks.as_strided(
        x, shape=(n, c, *out_size, kh, kw),
        strides=(s_n, s_c, s_h * sh, s_w * sw, s_h * dh, s_w * dw), writeable=False)
