"""pool kernels (reference)."""

__all__ = []
