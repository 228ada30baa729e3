"""Adagrad: per-coordinate step sizes that shrink with the sum of past squared gradients."""

from .. import backend
from .optimizer import Optimizer, check_number, decayed_grad


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

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "maximize": maximize}
        super().__init__(params, defaults)

    def _check_options(self, options):
        for key in ("lr", "lr_decay", "eps", "weight_decay", "initial_accumulator_value"):
            check_number("Adagrad", key, options[key])

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns ``closure()``'s loss if given."""
        loss = self._begin_step(closure)
        for gi, group in enumerate(self.param_groups):
            for p, grad in self._params_with_grad(group, gi):
                state = self.state[p]
                xp = backend.get_array_module(p._data)
                if not state:
                    state["step"] = 0
                    state["sum"] = xp.full_like(p._data, group["initial_accumulator_value"])
                state["step"] += 1
                adagrad_update(p._data, grad, state["sum"], state["step"], lr=group["lr"],
                               lr_decay=group["lr_decay"], eps=group["eps"],
                               weight_decay=group["weight_decay"], maximize=group["maximize"])
        return loss


def adagrad_update(param, grad, state_sum, step, *, lr, lr_decay, eps, weight_decay, maximize):
    """One Adagrad step on raw arrays, ``step`` counting from 1; updates param and sum in place."""
    xp = backend.get_array_module(param)
    d, own = decayed_grad(xp, param, grad, weight_decay, maximize)
    clr = lr / (1 + (step - 1) * lr_decay)
    tmp = xp.multiply(d, d)
    state_sum += tmp
    std = xp.sqrt(state_sum, out=tmp)
    std += eps
    update = xp.multiply(d, -clr, out=d if own else None)
    update /= std
    param += update
