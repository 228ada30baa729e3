"""Adadelta: step sizes from running averages of squared gradients and of squared updates."""

from .. import backend
from .optimizer import Optimizer, check_number, decayed_grad


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012), PyTorch's algorithm step for step.

    With gradient ``g``::

        g = g + wd * p                                  (-g first when maximize)
        v = rho * v + (1 - rho) * g^2
        delta = sqrt(u + eps) / sqrt(v + eps) * g       (units of p: the ratio of two RMS values)
        u = rho * u + (1 - rho) * delta^2
        p = p - lr * delta

    Args:
        params: iterable of Tensors or of parameter-group dicts (see ``Optimizer``).
        lr: scales ``delta`` before it is applied. Default: 1.0.
        rho: decay rate of both running averages, in [0, 1]. Default: 0.9.
        eps: added inside both square roots. Default: 1e-6.
        weight_decay: L2 penalty ``wd``. Default: 0.
        maximize: ascend the objective instead of descending. Default: False.

    State per parameter: ``step`` (int), ``square_avg`` (v), ``acc_delta`` (u), arrays in the
    parameter's dtype.
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize}
        super().__init__(params, defaults)

    def _check_options(self, options):
        for key in ("lr", "eps", "weight_decay"):
            check_number("Adadelta", key, options[key])
        check_number("Adadelta", "rho", options["rho"])
        if options["rho"] > 1:
            raise ValueError(f"Adadelta: `rho` must be in [0, 1]. Received: rho={options['rho']!r}")

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns ``closure()``'s loss if given."""
        loss = self._begin_step(closure)
        for gi, group in enumerate(self.param_groups):
            for p, grad in self._params_with_grad(group, gi):
                state = self.state[p]
                xp = backend.get_array_module(p._data)
                if not state:
                    state["step"] = 0
                    state["square_avg"] = xp.zeros_like(p._data)
                    state["acc_delta"] = xp.zeros_like(p._data)
                state["step"] += 1
                adadelta_update(p._data, grad, state["square_avg"], state["acc_delta"],
                                lr=group["lr"], rho=group["rho"], eps=group["eps"],
                                weight_decay=group["weight_decay"], maximize=group["maximize"])
        return loss


def adadelta_update(param, grad, square_avg, acc_delta, *, lr, rho, eps, weight_decay, maximize):
    """One Adadelta step on raw arrays; updates param and both averages in place, reads ``grad``."""
    xp = backend.get_array_module(param)
    d, _ = decayed_grad(xp, param, grad, weight_decay, maximize)
    tmp = xp.multiply(d, 1 - rho)
    tmp *= d
    square_avg *= rho
    square_avg += tmp
    std = xp.sqrt(square_avg + eps)
    delta = xp.sqrt(acc_delta + eps)
    delta /= std
    delta *= d
    xp.multiply(delta, 1 - rho, out=tmp)
    tmp *= delta
    acc_delta *= rho
    acc_delta += tmp
    delta *= -lr
    param += delta
