"""Fractional max pooling (Graham 2014): max over pseudo-randomly placed windows, PyTorch's placement."""

import numpy as np

from ... import backend
from ...autograd import Function
from ...validation import pair
from .._checks import fractional_output_size, fractional_samples, pool_input
from ._common import batch, route_back, select, unbatch


def _fractional_starts(samples, size, out, kernel):
    """Window starts along one axis per plane, PyTorch's pseudo-random sequence.

    alpha = (size - kernel) / (out - 1); start_i = int((i + u) * alpha) - int(u * alpha) for i < out - 1,
    and the last window ends at the input's end. Computed in the samples' dtype, as PyTorch does, so
    float32 rounding truncates the same way.
    """
    dtype = samples.dtype.type
    starts = np.empty(samples.shape + (out,), dtype=np.int64)
    if out > 1:
        alpha = dtype(size - kernel) / dtype(out - 1)
        i = np.arange(out - 1).astype(dtype)
        starts[..., :-1] = (((i + samples[..., None]) * alpha).astype(np.int64)
                            - (samples * alpha).astype(np.int64)[..., None])
    starts[..., -1] = size - kernel
    return starts


class FractionalMaxPool2d(Function):
    """Max over pseudo-random windows of fixed size; backward routes the gradient to each arg-max."""

    @staticmethod
    def forward(ctx, x, kernel_size=(1, 1), out_size=(1, 1), samples=None, return_indices=False):
        xp = backend.get_array_module(x)
        n, c, h, w = x.shape
        (kh, kw), (oh, ow) = kernel_size, out_size
        # PyTorch uses samples[..., 0] for the width and samples[..., 1] for the height.
        start_h = _fractional_starts(samples[..., 1], h, oh, kh)                 # (N, C, oH)
        start_w = _fractional_starts(samples[..., 0], w, ow, kw)                 # (N, C, oW)
        # One flat gather: element (n, c, oh, ow, k) is x's plane (n, c) at the window's corner plus tap k.
        corner = xp.asarray(start_h[:, :, :, None] * w + start_w[:, :, None, :])  # (N, C, oH, oW) in-plane
        offset = xp.asarray((np.arange(kh)[:, None] * w + np.arange(kw)[None, :]).ravel())      # (kH*kW,)
        planes = xp.arange(n * c, dtype=corner.dtype).reshape(n, c, 1, 1) * (h * w)
        flat = xp.take(x.reshape(-1), (corner + planes)[..., None] + offset)     # (N, C, oH, oW, kH*kW)
        arg, out = select(flat, True)                                           # (N, C, oH, oW)
        index = corner + offset[arg]
        ctx.index, ctx.input_shape = index, x.shape
        return (out, index) if return_indices else out

    @staticmethod
    def backward(ctx, g):
        return route_back(g, ctx.index, ctx.input_shape)


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """Fractional max pooling (Graham 2014): max over pseudo-randomly placed windows that shrink the
    input by a non-integer factor (as ``torch.nn.functional.fractional_max_pool2d``).

    With the same ``_random_samples`` the windows, outputs and indices are PyTorch's exactly.

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size: window size, int or (kH, kW).
        output_size: (oH, oW) or an int; give this or ``output_ratio``.
        output_ratio: oH / H and oW / W, in (0, 1); the size is int(H * ratio).
        return_indices: also return the flat index of each pick in its H*W plane.
        _random_samples: (N, C, 2) values in [0, 1) placing each plane's windows ([..., 0] for the width,
            [..., 1] for the height); drawn from cnnlab's generator when None.

    Shape:
        (N, C, H, W) -> (N, C, oH, oW), with oH + kH - 1 <= H and oW + kW - 1 <= W.
    """
    fn = "fractional_max_pool2d"
    input = pool_input(fn, input)
    kernel = pair(fn, "kernel_size", kernel_size)
    out = fractional_output_size(fn, input, kernel, output_size, output_ratio)
    x = batch(input)
    n, c = x.shape[:2]
    dtype = np.dtype(input.dtype)
    if _random_samples is None:
        samples = backend.get_rng().random((n, c, 2), dtype=dtype.type)
    else:
        samples = fractional_samples(fn, _random_samples, n, c, dtype)
    result = FractionalMaxPool2d.apply(x, kernel_size=kernel, out_size=out, samples=samples,
                                       return_indices=bool(return_indices))
    if return_indices:
        return unbatch(result[0], input), unbatch(result[1], input)
    return unbatch(result, input)
