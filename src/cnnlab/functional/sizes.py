"""The output size of a sliding window along one axis: the formulas every conv and pool shares.

Kept apart from the ops so their argument checks (``_checks``) and the ops themselves read the same
arithmetic without importing each other.
"""


def output_size(size, kernel, stride, dilation, padding_total, ceil_mode=False):
    """Output length along one axis: floor((W + P_total - D(F-1) - 1) / S) + 1 (ceil with ceil_mode).

    With ``ceil_mode`` the last window may start past the input only if it starts inside input or
    left padding (PyTorch's rule), so the count can drop by one.
    """
    span = dilation * (kernel - 1) + 1
    room = size + padding_total - span
    if ceil_mode:   # a window may overhang the right end, even when the kernel exceeds the input
        out = -(-room // stride) + 1
        left = padding_total // 2
        if (out - 1) * stride >= size + left:
            out -= 1
        return max(out, 0)
    if room < 0:
        return 0
    return room // stride + 1


def conv_transpose_output_size(size, kernel, stride, padding, output_padding, dilation):
    """``(size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1``."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
