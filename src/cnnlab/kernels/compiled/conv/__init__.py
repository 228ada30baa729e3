"""Convolution compiled with Numba: the reference's sums, computed as loops made fast.
Part of ``kernels.compiled``: may import its siblings, ``kernels.reference``, backend and the bottom level.

The package, one job per module:

- ``plan``: the one table of formulations, tile shapes and thresholds; ``plan.choose`` returns the
  plan of an op for a shape, the one dispatch point.
- ``direct``, ``columns``, ``depthwise``, ``pixels``: the formulations. Each offers ``forward(x,
  weight, bias, pads, stride, dilation, groups, affine=None)``, ``input_grad(grad, weight,
  input_shape, pads, stride, dilation, groups)`` and ``weight_grad(x, grad, weight_shape, pads,
  stride, dilation, groups)``: the public functions' signatures, so the plan's formulation is called
  as it is, with no adapter (``pixels`` has a forward of its own and the columns' gradients).
- ``epilogue``: the output write, sum + bias, or with ``affine`` (an inference-time batch norm folded
  in: ``conv2d_batch_norm_forward``) (sum + bias) * scale + shift, then an optional ReLU.
- ``layout``: the channels-last copies the formulations share; ``depthwise_nhwc``: the depthwise
  loops for channels-last memory, which ``depthwise`` calls.
- ``machine``: what the convolution asks of the machine (register and stack tiles, the in-kernel
  GEMM), used by no other kernel.

The formulations, from measured training-step timings (benchmarks/RESULTS.md):

- ``direct`` (stride 1, any groups and dilation). The padded input's rows are laid end to end per
  channel, (N, C, Hp*Wp); output position l = i*Wp + j then reads input l + p*dH*Wp + q*dW for tap
  (p, q), so a tile of TILE = 64 consecutive positions is one contiguous slice for every tap. A
  register tile of 6, 4 or 3 output channels (``plan.direct_block``) x 64 positions (24, 16 or 12
  AVX-512 registers in float32) lives on the stack and accumulates over every (channel, tap);
  positions j >= oW of a row are computed and dropped. The inner loop is 64 long because LLVM vectorises 16 lanes x 4 and leaves shorter
  loops scalar. Bias is added in the output write. The input gradient for stride 1 is the same kernel on
  the gradient padded by the kernel's reach, with the rotated kernel (the lectures' derivation); the
  weight gradient of the first layers (1-4 input channels) sums gradient x shifted input tap by tap.
- ``columns`` (16+ outputs, any stride): the product of im2col columns and the kernel matrix. For
  float32 without groups into 16, 32 or 64 outputs, or more in blocks of 64 where every thread gets a
  task (a run of rows, or a share of a run's blocks), the columns are never built: register tiles
  (``machine.simd``) read the padded channels-last input through one offset per output pixel and one
  per tap, forward, stride-1 input gradient and the weight gradient of narrow layers alike; from
  ``plan.WGRAD_UNPADDED_MIN`` input x output channels the weight gradient reads the unpadded input,
  each tap's pixels inside the image listed with their gradient rows (no padded copy, no products
  with the border's zeros). Otherwise each thread builds a cache-sized chunk of columns from the
  channels-last input (the padding written as zeros) and calls the GEMM on it from inside the
  parallel region (``machine.blas``), the threads sharing out the output channels too when there are
  fewer chunks than threads (batch 1, 49 pixels); the input
  gradient for strides > 1 is col2im (gradient @ kernels^T, added back tap by tap, one image per
  task).
- ``pixels`` (forward, float32, no groups, 4x fewer output pixels than output channels: a batch-1
  network's last stages): the weight is the large operand there, and the columns' panel copied all
  of it per call. outputs^T = kernels @ columns^T instead reads the weight as it lies, (O, C*kH*kW),
  as the left operand of register tiles (6 channels x 64 pixels), over transposed columns in
  64-pixel blocks (for stride 1 one contiguous run of ``direct``'s flat padded rows per tap, pixels
  numbered over the padded width); a task runs 8 tiles through each 32 KB chunk of columns.
- ``depthwise`` (groups = channels): no product is large enough for BLAS. NCHW arrays: one (image,
  channel) plane per task, copied into a thread's L1 buffer split by the stride into phase planes,
  so that every tap is one contiguous slice and the plane's sum a few long vector loops (the
  input gradient a gather per phase plane, the weight gradient a dot product per tap and image).
  Channels-last arrays (``depthwise_nhwc``), and the input gradient of strides > 1: loops whose
  inner loop runs over the channels.

Outputs are (N, O, oH, oW)-shaped: NCHW memory from ``direct`` and from ``depthwise`` on NCHW
input, a view of channels-last memory from the others; every kernel reads either layout. float64
runs the same loops, except that its products all go to the GEMM (the register tiles are float32).
"""

import numpy as np
from numba import prange

from .._numba import kernel, num_threads
from .._rows import folded, wide
from ..norm import evaluation_affine
from . import columns, depthwise, direct, pixels
from .plan import choose

__all__ = ["conv2d_forward", "conv2d_batch_norm_forward", "conv2d_input_grad", "conv2d_weight_grad",
           "conv2d_bias_grad"]

FORMULATIONS = {"direct": direct, "columns": columns, "depthwise": depthwise, "pixels": pixels}


def conv2d_forward(x, weight, bias, pads, stride, dilation, groups):
    """x (N, C, H, W), weight (O, C/G, kH, kW), bias (O,) or None -> (N, O, oH, oW)."""
    plan = choose("forward", x.shape, weight.shape, stride, groups, x.dtype, num_threads())
    return FORMULATIONS[plan.formulation].forward(x, weight, bias, pads, stride, dilation, groups)


def conv2d_batch_norm_forward(x, weight, bias, pads, stride, dilation, groups, bn_weight, bn_bias, running_mean,
                              running_var, eps, relu):
    """Inference: batch norm with running statistics (then max(., 0) when ``relu``) of the convolution,
    folded into its output write (``epilogue``): the values of the two ops one after the other."""
    affine = (*evaluation_affine(bn_weight, bn_bias, running_mean, running_var, eps, x.dtype), relu)
    plan = choose("forward", x.shape, weight.shape, stride, groups, x.dtype, num_threads())
    return FORMULATIONS[plan.formulation].forward(x, weight, bias, pads, stride, dilation, groups, affine)


def conv2d_input_grad(grad, weight, input_shape, pads, stride, dilation, groups):
    """grad (N, O, oH, oW) -> d input (N, C, H, W)."""
    plan = choose("input_grad", input_shape, weight.shape, stride, groups, grad.dtype, num_threads())
    formulation = FORMULATIONS[plan.formulation]
    return formulation.input_grad(grad, weight, input_shape, pads, stride, dilation, groups)


def conv2d_weight_grad(x, grad, weight_shape, pads, stride, dilation, groups):
    """x (N, C, H, W), grad (N, O, oH, oW) -> d weight (O, C/G, kH, kW)."""
    plan = choose("weight_grad", x.shape, weight_shape, stride, groups, x.dtype, num_threads())
    formulation = FORMULATIONS[plan.formulation]
    return formulation.weight_grad(x, grad, weight_shape, pads, stride, dilation, groups)


@kernel
def _channel_sums(a, out):
    """out[c] = sum of a[:, c, :] for NCHW memory as (N, C, H*W), one task per channel: a plane is one
    vector loop (looping over its rows of 8-24 values ran 3x slower)."""
    n, c, m = a.shape
    for ch in prange(c):
        s = 0.0
        for b in range(n):
            plane = a[b, ch]
            for j in range(m):
                s += plane[j]
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
        (rows,), reps = wide(nhwc.reshape(n * h * w, c))
        parts = np.empty((min(num_threads(), rows.shape[0]), rows.shape[1]))    # float64 sums
        _row_sums(rows, parts)
        return folded(parts.sum(axis=0), reps).astype(grad.dtype)
    out = np.empty(c, grad.dtype)
    _channel_sums(np.ascontiguousarray(grad).reshape(n, c, h * w), out)
    return out
