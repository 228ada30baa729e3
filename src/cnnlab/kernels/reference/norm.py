"""norm kernels (reference)."""

__all__ = []
