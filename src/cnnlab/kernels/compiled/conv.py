"""Convolution compiled with Numba: the reference's sums, computed as loops made fast.

Three formulations, each in its own module (``_conv_direct``, ``_conv_columns``, ``_conv_depthwise``,
sharing the channels-last copies of ``_conv_layout``); ``_plan`` here, the one dispatch point, chooses
one per op and shape from measured training-step timings (benchmarks/RESULTS.md):

- ``direct`` (stride 1, any groups and dilation). The padded input's rows are laid end to end per
  channel, (N, C, Hp*Wp); output position l = i*Wp + j then reads input l + p*dH*Wp + q*dW for tap
  (p, q), so a tile of TILE = 64 consecutive positions is one contiguous slice for every tap. A
  register tile of BLOCK = 4 output channels x 64 positions (16 AVX-512 registers in float32) lives
  on the stack and accumulates over every (channel, tap); positions j >= oW of a row are computed and
  dropped. The inner loop is 64 long because LLVM vectorises 16 lanes x 4 and leaves shorter loops
  scalar. Bias is added in the output write. The input gradient for stride 1 is the same kernel on
  the gradient padded by the kernel's reach, with the rotated kernel (the lectures' derivation); the
  weight gradient of the first layers (1-4 input channels) sums gradient x shifted input tap by tap.
- ``columns`` (16+ outputs, any stride): the product of im2col columns and the kernel matrix. For
  float32 with 16, 32 or 64 outputs (and no groups) the columns are never built: register tiles
  (``_simd``) read the padded channels-last input through one offset per output pixel and one per
  tap, forward, stride-1 input gradient and weight gradient alike. Otherwise each thread builds a
  cache-sized chunk of columns from the channels-last input (the padding written as zeros) and calls
  the GEMM on it from inside the parallel region (``_blas``); the input gradient for strides > 1 is
  col2im (gradient @ kernels^T, added back tap by tap, one image per task).
- ``depthwise`` (groups = channels): no product is large enough for BLAS; channels-last loops whose
  inner loop runs over the channels, forward and both gradients.

Outputs are (N, O, oH, oW)-shaped: NCHW memory from ``direct``, a view of channels-last memory from
the others; every kernel reads either layout. float64 runs the same loops, except that its products
all go to the GEMM (the register tiles are float32).
"""

import numpy as np
from numba import prange

from ._conv_columns import _columns_forward, _columns_input_grad, _columns_weight_grad  # noqa: F401
from ._conv_depthwise import _depthwise_forward, _depthwise_input_grad, _depthwise_weight_grad
from ._conv_direct import _direct_forward, _direct_input_grad, _direct_weight_grad
from ._conv_layout import _padded_size
from ._numba import kernel, num_threads

__all__ = ["conv2d_forward", "conv2d_input_grad", "conv2d_weight_grad", "conv2d_bias_grad"]


DIRECT_WGRAD_MAX_CHANNELS = 4   # the direct weight gradient up to this many input channels per group
COLUMNS_MIN_WIDTH = 16          # the columns' formulation wants 16+ outputs (measured, RESULTS.md)


def _plan(op, x_shape, weight_shape, stride, groups):
    """The formulation of ``op`` ("forward", "input_grad", "weight_grad") for a shape: "depthwise",
    "direct" or "columns". Chosen from training-step timings of both (benchmarks/RESULTS.md): the
    columns' formulation (register tiles up to 64 outputs, threaded GEMM beyond) wins wherever the
    product has 16+ outputs, even from one input channel; the direct kernel keeps narrower outputs
    (LeNet's 6 channels, a first layer's input gradient) and the first layers' weight gradient."""
    c, o = x_shape[1], weight_shape[0]
    if groups == c and weight_shape[1] == 1 and groups > 1:
        return "depthwise"
    if stride != (1, 1):
        return "columns"
    if op == "weight_grad":
        return "direct" if c // groups <= DIRECT_WGRAD_MAX_CHANNELS else "columns"
    width = o // groups if op == "forward" else c // groups
    return "columns" if width >= COLUMNS_MIN_WIDTH else "direct"


def _out_size(shape, kernel_size, pads, stride, dilation):
    hp, wp = _padded_size(shape, pads)
    return ((hp - dilation[0] * (kernel_size[0] - 1) - 1) // stride[0] + 1,
            (wp - dilation[1] * (kernel_size[1] - 1) - 1) // stride[1] + 1)


def _direct_fwd(x, w, b, pads, stride, dilation, groups):
    return _direct_forward(x, w, b, pads, dilation, groups)


def _direct_igrad(g, w, shape, pads, stride, dilation, groups):
    return _direct_input_grad(g, w, shape, pads, dilation, groups)


def _direct_wgrad_public(x, g, shape, pads, stride, dilation, groups):
    return _direct_weight_grad(x, g, shape, pads, dilation, groups)


def _columns_fwd(x, w, b, pads, stride, dilation, groups):
    out_size = _out_size(x.shape, w.shape[2:], pads, stride, dilation)
    return _columns_forward(x, w, b, pads, stride, dilation, groups, out_size)


def _depthwise_fwd(x, w, b, pads, stride, dilation, groups):
    out_size = _out_size(x.shape, w.shape[2:], pads, stride, dilation)
    return _depthwise_forward(x, w, b, pads, stride, dilation, out_size)


def _depthwise_igrad(g, w, shape, pads, stride, dilation, groups):
    return _depthwise_input_grad(g, w, shape, pads, stride, dilation)


def _depthwise_wgrad(x, g, shape, pads, stride, dilation, groups):
    return _depthwise_weight_grad(x, g, shape, pads, stride, dilation)


# Every formulation's (forward, input gradient, weight gradient) with the public signatures; the
# direct kernels need stride 1 and the depthwise ones groups = channels (``_plan`` sees to it).
FORMULATIONS = {
    "direct": (_direct_fwd, _direct_igrad, _direct_wgrad_public),
    "columns": (_columns_fwd, _columns_input_grad, _columns_weight_grad),
    "depthwise": (_depthwise_fwd, _depthwise_igrad, _depthwise_wgrad),
}


def conv2d_forward(x, weight, bias, pads, stride, dilation, groups):
    """x (N, C, H, W), weight (O, C/G, kH, kW), bias (O,) or None -> (N, O, oH, oW)."""
    forward = FORMULATIONS[_plan("forward", x.shape, weight.shape, stride, groups)][0]
    return forward(x, weight, bias, pads, stride, dilation, groups)


def conv2d_input_grad(grad, weight, input_shape, pads, stride, dilation, groups):
    """grad (N, O, oH, oW) -> d input (N, C, H, W)."""
    input_grad = FORMULATIONS[_plan("input_grad", input_shape, weight.shape, stride, groups)][1]
    return input_grad(grad, weight, input_shape, pads, stride, dilation, groups)


def conv2d_weight_grad(x, grad, weight_shape, pads, stride, dilation, groups):
    """x (N, C, H, W), grad (N, O, oH, oW) -> d weight (O, C/G, kH, kW)."""
    weight_grad = FORMULATIONS[_plan("weight_grad", x.shape, weight_shape, stride, groups)][2]
    return weight_grad(x, grad, weight_shape, pads, stride, dilation, groups)


@kernel
def _channel_sums(a, out):
    """out[c] = sum of a[:, c, :, :] for NCHW memory, one task per channel."""
    n, c, h, w = a.shape
    for ch in prange(c):
        s = 0.0
        for b in range(n):
            for i in range(h):
                for j in range(w):
                    s += a[b, ch, i, j]
        out[ch] = s


@kernel
def _row_sums(rows, parts):
    """parts[t] = the column sums of task t's run of rows (P, C): channels-last memory, whose inner
    loop runs over the channels (a vector loop) instead of striding through them."""
    tasks = parts.shape[0]
    p = rows.shape[0]
    for t in prange(tasks):
        acc = parts[t]
        acc[:] = 0
        for r in range(p * t // tasks, p * (t + 1) // tasks):
            row = rows[r]
            for ch in range(acc.size):
                acc[ch] += row[ch]


def conv2d_bias_grad(grad):
    """grad (N, O, oH, oW) -> d bias (O,): the sum over batch and pixels."""
    n, c, h, w = grad.shape
    nhwc = grad.transpose(0, 2, 3, 1)
    if nhwc.flags.c_contiguous and grad.size:
        parts = np.empty((min(num_threads(), n * h * w), c))    # float64 sums
        _row_sums(nhwc.reshape(n * h * w, c), parts)
        return parts.sum(axis=0).astype(grad.dtype)
    out = np.empty(c, grad.dtype)
    _channel_sums(grad, out)
    return out
