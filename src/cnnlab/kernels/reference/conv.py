"""conv kernels (reference)."""

__all__ = []
