"""conv kernels, compiled with Numba."""

import numba  # noqa: F401  (an ImportError here makes kernels/__init__ fall back to the reference)

__all__ = []
