"""The convolution's output write: out = (sum + bias) * scale + shift per output channel, then
max(., 0) when ``relu``. A plain convolution writes with scale 1 and shift 0 (exactly sum + bias); in
inference a batch norm with running statistics (and its ReLU) after the convolution comes in as
``affine`` = (scale, shift, relu) and is written with the output, sparing a pass over it (resnet18
at batch 1: 20 such passes). Formulations that write no epilogue apply it after, in place."""

import numpy as np

from ..norm import apply_affine


def output_write(o, dtype, bias, affine):
    """(bias, scale, shift, relu) for a kernel's output write of ``o`` channels."""
    b = np.zeros(o, dtype) if bias is None else np.ascontiguousarray(bias)
    if affine is None:
        return b, np.ones(o, dtype), np.zeros(o, dtype), False
    scale, shift, relu = affine
    return b, np.ascontiguousarray(scale), np.ascontiguousarray(shift), bool(relu)


def after(out, affine):
    """``out`` with ``affine`` applied in place (nothing when None): for writes without an epilogue."""
    return out if affine is None else apply_affine(out, *affine)
