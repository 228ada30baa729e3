"""Scatter-add by flat position: the backward of gathers (indexing, max pooling) without ``np.add.at``."""

from .. import backend


def scatter_add(size, positions, values, dtype):
    """Return a flat array of ``size`` where ``out[p] = sum of values at positions == p``.

    ``bincount`` with weights does this in one vectorised pass; it is much faster than
    ``np.add.at`` and handles repeated positions (overlapping pooling windows, fancy indexing).
    """
    xp = backend.get_array_module(values)
    out = xp.bincount(positions.ravel(), weights=values.ravel(), minlength=size)
    return out.astype(dtype, copy=False)
