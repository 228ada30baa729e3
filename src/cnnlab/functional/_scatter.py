"""Scatter-add by flat position: the backward of gathers (indexing, max pooling), in one vectorised pass."""

from .. import backend


def scatter_add(size, positions, values, dtype):
    """Return a flat array of ``size`` where ``out[p] = sum of values at positions == p``.

    ``bincount`` with weights does this in one vectorised pass and sums repeated positions (overlapping
    pooling windows, fancy indexing); an unbuffered ufunc scatter element by element is many times slower.
    """
    xp = backend.get_array_module(values)
    out = xp.bincount(positions.ravel(), weights=values.ravel(), minlength=size)
    return out.astype(dtype, copy=False)
