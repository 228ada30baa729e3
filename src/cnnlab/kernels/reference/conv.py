"""Convolution as the lectures derive it, over the array module ``xp`` (NumPy or CuPy alike).

Forward: im2col (a strided view of every window, copied into rows) and one matrix product per group.
Input gradient: the "full" correlation of the output gradient, spread out by the stride and
zero-padded by the kernel's reach, with the kernel rotated 180 degrees (in/out channels swapped).
Weight gradient: the output gradient times the same columns. ``pads`` is zero padding
((top, bottom), (left, right)); other padding modes are applied by the caller.
"""

from ... import backend
from ..windows import sliding_windows
from .norm import batch_norm_forward

__all__ = ["conv2d_forward", "conv2d_batch_norm_forward", "conv2d_input_grad", "conv2d_weight_grad",
           "conv2d_bias_grad", "conv2d_backward"]


def _im2col(x, kernel_size, pads, stride, dilation, groups):
    """Columns of the zero-padded input: (N, C, H, W) -> (G, N*oH*oW, C/G*kH*kW), and (oH, oW)."""
    xp = backend.get_array_module(x)
    xpad = xp.pad(x, ((0, 0), (0, 0), *pads))
    win = sliding_windows(xpad, kernel_size, stride, dilation)       # (N, C, oH, oW, kH, kW) view
    n, c, oh, ow, kh, kw = win.shape
    win = win.reshape(n, groups, c // groups, oh, ow, kh, kw)         # channels split into groups
    cols = win.transpose(1, 0, 3, 4, 2, 5, 6)                         # (G, N, oH, oW, C/G, kH, kW)
    return cols.reshape(groups, n * oh * ow, -1), (oh, ow)               # the copy: im2col


def conv2d_forward(x, weight, bias, pads, stride, dilation, groups):
    """x (N, C, H, W), weight (O, C/G, kH, kW), bias (O,) or None -> (N, O, oH, oW)."""
    xp = backend.get_array_module(x)
    n, o = x.shape[0], weight.shape[0]
    cols, (oh, ow) = _im2col(x, weight.shape[2:], pads, stride, dilation, groups)
    kernels = weight.reshape(groups, o // groups, -1)                    # (G, O/G, C/G*kH*kW)
    out = xp.matmul(cols, kernels.transpose(0, 2, 1))                 # (G, N*oH*oW, O/G)
    out = out.reshape(groups, n, oh, ow, o // groups).transpose(1, 0, 4, 2, 3).reshape(n, o, oh, ow)
    return out if bias is None else out + bias.reshape(1, o, 1, 1)


def conv2d_batch_norm_forward(x, weight, bias, pads, stride, dilation, groups, bn_weight, bn_bias, running_mean,
                              running_var, eps, relu):
    """Inference: batch norm with running statistics (then max(., 0) when ``relu``) of the convolution,
    exactly as the two ops one after the other."""
    out = conv2d_forward(x, weight, bias, pads, stride, dilation, groups)
    return batch_norm_forward(out, bn_weight, bn_bias, running_mean, running_var, False, 0.0, eps, relu)[0]


def conv2d_input_grad(grad, weight, input_shape, pads, stride, dilation, groups):
    """grad (N, O, oH, oW) -> d input (N, C, H, W): full correlation with the rotated kernel."""
    xp = backend.get_array_module(grad)
    n, o, oh, ow = grad.shape
    _, cg, kh, kw = weight.shape
    (top, bottom), (left, right) = pads
    h, w = input_shape[-2:]
    hp, wp = h + top + bottom, w + left + right                          # the padded input's size
    spread = xp.zeros((n, o, (oh - 1) * stride[0] + 1, (ow - 1) * stride[1] + 1), grad.dtype)
    spread[:, :, ::stride[0], ::stride[1]] = grad                     # stride-1 zeros in between
    reach = (dilation[0] * (kh - 1), dilation[1] * (kw - 1))
    # Padded by the kernel's reach in front and up to the padded input's size behind (rows that no
    # window reached only meet zeros), the full correlation has exactly the padded input's size.
    full_pads = ((reach[0], hp - spread.shape[2]), (reach[1], wp - spread.shape[3]))
    rotated = weight.reshape(groups, o // groups, cg, kh, kw)[..., ::-1, ::-1]
    rotated = rotated.transpose(0, 2, 1, 3, 4).reshape(groups * cg, o // groups, kh, kw)  # in <-> out
    gx = conv2d_forward(spread, rotated, None, full_pads, (1, 1), dilation, groups)   # (N, C, Hp, Wp)
    return gx[:, :, top:top + h, left:left + w]                       # the padding gets none


def conv2d_weight_grad(x, grad, weight_shape, pads, stride, dilation, groups):
    """x (N, C, H, W), grad (N, O, oH, oW) -> d weight (O, C/G, kH, kW): gradient^T @ columns."""
    xp = backend.get_array_module(x)
    o = weight_shape[0]
    cols, _ = _im2col(x, weight_shape[2:], pads, stride, dilation, groups)   # (G, N*oH*oW, K)
    n, _, oh, ow = grad.shape
    rows = grad.reshape(n, groups, o // groups, oh * ow).transpose(1, 2, 0, 3)  # (G, O/G, N, oH*oW)
    gw = xp.matmul(rows.reshape(groups, o // groups, -1), cols)          # (G, O/G, K)
    return gw.reshape(weight_shape)


def conv2d_bias_grad(grad):
    """grad (N, O, oH, oW) -> d bias (O,): the sum over batch and pixels."""
    return grad.sum(axis=(0, 2, 3))


def conv2d_backward(grad, x, weight, needs, pads, stride, dilation, groups):
    """(d input, d weight, d bias), each None where ``needs`` (three bools) says it is not wanted."""
    need_x, need_w, need_b = needs
    args = (pads, stride, dilation, groups)
    return (conv2d_input_grad(grad, weight, x.shape, *args) if need_x else None,
            conv2d_weight_grad(x, grad, weight.shape, *args) if need_w else None,
            conv2d_bias_grad(grad) if need_b else None)
