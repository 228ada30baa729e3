"""pool kernels (compiled)."""

__all__ = []
