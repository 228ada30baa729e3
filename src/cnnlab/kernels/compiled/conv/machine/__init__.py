"""What the convolution asks of the machine, in one place, used by no other kernel: register tiles
in LLVM's vector types and stack tiles (``simd``), and the GEMM called from inside a parallel region
(``blas``). The facts behind them: src/cnnlab/kernels/README.md, "What the machine wants"."""

from .blas import gemm, gemm_source, ready, threaded_matmul
from .simd import (LANES, product, product_transposed, stack_tile, tile_convolution, tile_product,
                   tile_weight_gradient)

__all__ = ["LANES", "gemm", "gemm_source", "product", "product_transposed", "ready", "stack_tile",
           "threaded_matmul", "tile_convolution", "tile_product", "tile_weight_gradient"]
