"""Stochastic depth (Huang et al. 2016), with ``torchvision.ops.stochastic_depth``'s semantics.

A residual block computes ``x + f(x)``; stochastic depth drops ``f(x)`` for a whole sample with
probability ``p`` during training (and scales the kept ones by 1 / (1 - p)), so the network trains
as an ensemble of shallower ones and is used at full depth, unscaled, in evaluation.
"""

from ..validation import choice, floating, tensor_arg
from .basic import Dropout, Identity, _check_p, _mask

MODES = ("row", "batch")


def stochastic_depth(input, p, mode, training=True, *, generator=None):
    """Zero each sample of ``input`` (``mode="row"``) or the whole batch (``"batch"``) with
    probability ``p``.

    Kept values are scaled by 1 / (1 - p), so the expectation is unchanged and evaluation
    (``training=False``) is the identity. Apply it to the residual branch, before adding the skip.

    Args:
        input: floating tensor ``(N, ...)``.
        p: probability of dropping, in [0, 1].
        mode: ``"row"`` draws one keep/drop per sample, ``"batch"`` one for the whole batch.
        training: apply only when True.
        generator: a ``numpy.random.Generator`` for the draws; default ``cnnlab.backend.get_rng()``.

    Shape: output has the input's shape; the mask is ``(N, 1, ..., 1)`` (row) or ``(1, ..., 1)``
        (batch).
    """
    fn = "stochastic_depth"
    input = floating(fn, "input", tensor_arg(fn, "input", input))
    p = _check_p(fn, p, training)
    choice(fn, "mode", mode, MODES)
    if not training or p == 0:
        return Identity.apply(input)
    if input.ndim == 0:
        raise ValueError(
            f"{fn}: `input` must have a batch dimension (N, ...). Received a 0-D tensor"
        )
    shape = ((input.shape[0],) if mode == "row" else (1,)) + (1,) * (input.ndim - 1)
    return Dropout.apply(input, mask=_mask(input._data, shape, p, generator))
