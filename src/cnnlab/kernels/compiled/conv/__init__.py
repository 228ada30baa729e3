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
- ``bias``: the bias gradient's sums, in either layout.
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
  input gradient a gather per phase plane, the weight gradient a dot product per tap and image; at
  stride 1 ``conv2d_backward`` computes both, and the bias's sums, from one copy of each gradient
  plane).
  Channels-last arrays (``depthwise_nhwc``), and the input gradient of strides > 1: loops whose
  inner loop runs over the channels.

Outputs are (N, O, oH, oW)-shaped: NCHW memory from ``direct`` and from ``depthwise`` on NCHW
input, a view of channels-last memory from the others; every kernel reads either layout. float64
runs the same loops, except that its products all go to the GEMM (the register tiles are float32).
"""

from .._numba import num_threads
from ..norm import evaluation_affine
from . import columns, depthwise, direct, pixels
from .bias import conv2d_bias_grad
from .plan import choose

__all__ = ["conv2d_forward", "conv2d_batch_norm_forward", "conv2d_input_grad", "conv2d_weight_grad",
           "conv2d_bias_grad", "conv2d_backward"]

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


def conv2d_backward(grad, x, weight, needs, pads, stride, dilation, groups):
    """(d input, d weight, d bias), each None where ``needs`` (three bools) says it is not wanted: the
    backward's gradients in one call, as ATen's ``convolution_backward``, so that a formulation can
    compute them in one pass over the gradient (``plan.choose("backward")``); else the three ops."""
    plan = choose("backward", x.shape, weight.shape, stride, groups, grad.dtype, num_threads())
    if plan is not None:
        formulation = FORMULATIONS[plan.formulation]
        if formulation.fuses(grad, x, needs, stride):
            return formulation.backward(grad, x, weight, needs, pads, stride, dilation, groups)
    need_x, need_w, need_b = needs
    args = (pads, stride, dilation, groups)
    return (conv2d_input_grad(grad, weight, x.shape, *args) if need_x else None,
            conv2d_weight_grad(x, grad, weight.shape, *args) if need_w else None,
            conv2d_bias_grad(grad) if need_b else None)
