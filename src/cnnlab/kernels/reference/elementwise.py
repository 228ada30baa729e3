"""elementwise kernels (reference)."""

__all__ = []
