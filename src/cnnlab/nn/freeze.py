"""Freezing: stop (or resume) training the parameters chosen by name glob or submodule.

The choosing (``select_parameters``) lives with ``Module`` in ``nn.module``, whose ``freeze`` /
``unfreeze`` methods use it too; ``cnnlab.train.transfer`` builds the transfer-learning recipes on top.
"""

from .module import set_requires_grad


def freeze(model, pattern=None):
    """Stop training the parameters selected by ``pattern`` (all when None): ``requires_grad = False``.

    Frozen parameters get no gradient, so optimizers leave them exactly as they are, and the summary
    counts them as frozen. BatchNorm running statistics are buffers, not parameters: put the frozen
    layers in ``eval()`` mode too if they should not follow the new data.

    Args:
        model: a Module.
        pattern: see :func:`select_parameters`.

    Returns:
        the names of the parameters frozen.
    """
    return set_requires_grad(model, pattern, False, "freeze")


def unfreeze(model, pattern=None):
    """Train the parameters selected by ``pattern`` again (all when None); returns their names."""
    return set_requires_grad(model, pattern, True, "unfreeze")
