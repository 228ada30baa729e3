"""elementwise kernels (compiled)."""

__all__ = []
