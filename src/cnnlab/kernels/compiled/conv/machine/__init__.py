"""What the convolution asks of the machine: register and stack tiles (``simd``), the GEMM called
inside a parallel region (``blas``). Imports only ``conv.plan`` and Numba; used by no other kernel.

The facts behind them: src/cnnlab/kernels/README.md, "What the machine wants".
"""

from .blas import gemm, gemm_source, ready, threaded_matmul
from .simd import (LANES, product, product_transposed, stack_tile, tile_convolution, tile_product,
                   tile_weight_gradient)

__all__ = ["LANES", "gemm", "gemm_source", "product", "product_transposed", "ready", "stack_tile",
           "threaded_matmul", "tile_convolution", "tile_product", "tile_weight_gradient"]
