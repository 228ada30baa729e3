"""Adagrad: per-coordinate step sizes that shrink with the sum of past squared gradients."""

from .. import backend
from .optimizer import Optimizer


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), PyTorch's algorithm step for step.

    At step ``t`` with gradient ``g``::

        g = g + wd * p                          (-g first when maximize)
        s = s + g^2                             (s starts at initial_accumulator_value)
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    Args:
        params: iterable of Tensors or of parameter-group dicts (see ``Optimizer``).
        lr: learning rate. Default: 1e-2.
        lr_decay: the rate divides by ``1 + (t - 1) * lr_decay``. Default: 0.
        weight_decay: L2 penalty ``wd``. Default: 0.
        initial_accumulator_value: the starting value of ``s``. Default: 0.
        eps: added to the denominator for numerical stability. Default: 1e-10.
        maximize: ascend the objective instead of descending. Default: False.

    State per parameter: ``step`` (int), ``sum`` (s), an array in the parameter's dtype.
    """

    _nonnegative_options = ("lr", "lr_decay", "eps", "weight_decay", "initial_accumulator_value")

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "maximize": maximize}
        super().__init__(params, defaults)

    def _new_state(self, param, group):
        xp = backend.get_array_module(param)
        return {"sum": xp.full_like(param, group["initial_accumulator_value"])}

    def _update(self, param, d, fresh, state, group):
        xp = backend.get_array_module(param)
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state_sum = state["sum"]
        tmp = xp.multiply(d, d)
        state_sum += tmp
        std = xp.sqrt(state_sum, out=tmp)
        std += group["eps"]
        update = xp.multiply(d, -clr, out=d if fresh else None)
        update /= std
        param += update
