"""conv kernels, compiled with Numba (for now the reference kernels, until the compiled ones land)."""

import numba  # noqa: F401  (an ImportError here makes kernels/__init__ fall back to the reference)

from ..reference.conv import conv2d_bias_grad, conv2d_forward, conv2d_input_grad, conv2d_weight_grad

__all__ = ["conv2d_forward", "conv2d_input_grad", "conv2d_weight_grad", "conv2d_bias_grad"]
