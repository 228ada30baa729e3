"""norm kernels (compiled)."""

__all__ = []
