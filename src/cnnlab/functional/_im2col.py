"""Strided window views shared by convolution and pooling: every window of the input, with no copy.

For an input ``x`` of shape (N, C, H, W) (already padded), ``sliding_windows`` returns a view of shape
(N, C, oH, oW, kH, kW) whose element [n, c, i, j, p, q] is ``x[n, c, i*sH + p*dH, j*sW + q*dW]``.
The array module's ``as_strided`` makes it by choosing strides; nothing is copied until an op reads it
into a contiguous buffer (the matrix product of convolution, the reduction of pooling).
"""

from .. import backend


def output_size(size, kernel, stride, dilation, padding_total, ceil_mode=False):
    """Output length along one axis: floor((W + P_total - D(F-1) - 1) / S) + 1 (ceil with ceil_mode).

    With ``ceil_mode`` the last window may start past the input only if it starts inside input or
    left padding (PyTorch's rule), so the count can drop by one.
    """
    span = dilation * (kernel - 1) + 1
    room = size + padding_total - span
    if room < 0:
        return 0
    if ceil_mode:
        out = -(-room // stride) + 1
        left = padding_total // 2
        if (out - 1) * stride >= size + left:
            out -= 1
        return out
    return room // stride + 1


def sliding_windows(x, kernel_size, stride=(1, 1), dilation=(1, 1), out_size=None):
    """View of every (kH, kW) window of a 4-D array: shape (N, C, oH, oW, kH, kW), no copy."""
    xp = backend.get_array_module(x)
    n, c, h, w = x.shape
    kh, kw = kernel_size
    sh, sw = stride
    dh, dw = dilation
    if out_size is None:
        oh = (h - dh * (kh - 1) - 1) // sh + 1
        ow = (w - dw * (kw - 1) - 1) // sw + 1
    else:
        oh, ow = out_size
    s_n, s_c, s_h, s_w = x.strides
    return xp.lib.stride_tricks.as_strided(
        x, shape=(n, c, oh, ow, kh, kw),
        strides=(s_n, s_c, s_h * sh, s_w * sw, s_h * dh, s_w * dw),
        writeable=False)


def im2col(x, kernel_size, stride=(1, 1), dilation=(1, 1), groups=1):
    """Every window of a padded 4-D array as matrix columns, split by group: one contiguous copy.

    Column ``l = i*oW + j`` of group ``g`` holds the window at output (i, j), flattened over
    (channel in group, kernel row, kernel column), so a convolution is ``weight @ columns``.

    Shape:
        (N, C, H, W) -> (N, G, C/G * kH * kW, oH * oW)
    """
    windows = sliding_windows(x, kernel_size, stride, dilation)              # (N, C, oH, oW, kH, kW)
    n, c, oh, ow, kh, kw = windows.shape
    windows = windows.reshape(n, groups, c // groups, oh, ow, kh, kw)       # (N, G, C/G, oH, oW, kH, kW), a view
    # The copy reads each window row along oW, contiguous in memory for stride 1.
    return windows.transpose(0, 1, 2, 5, 6, 3, 4).reshape(n, groups, (c // groups) * kh * kw, oh * ow)


def col2im(cols, padded_size, stride=(1, 1), dilation=(1, 1)):
    """Fold window columns back onto the padded input, adding where windows overlap (the adjoint of im2col).

    The loop runs over the kH*kW kernel offsets only; each step adds one whole strided slice.

    Shape:
        cols (N, C, kH, kW, oH, oW) -> (N, C, Hp, Wp)
    """
    xp = backend.get_array_module(cols)
    n, c, kh, kw, oh, ow = cols.shape
    sh, sw = stride
    dh, dw = dilation
    out = xp.zeros((n, c) + tuple(padded_size), dtype=cols.dtype)
    for p in range(kh):
        for q in range(kw):
            out[:, :, p * dh:p * dh + sh * (oh - 1) + 1:sh, q * dw:q * dw + sw * (ow - 1) + 1:sw] += cols[:, :, p, q]
    return out
