"""Adadelta: step sizes from running averages of squared gradients and of squared updates."""

from .. import backend
from .optimizer import Optimizer, ema_square_, zeros


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

    _nonnegative_options = ("lr", "eps", "weight_decay", "rho")

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize}
        super().__init__(params, defaults)

    def _check_options(self, options):
        super()._check_options(options)
        if options["rho"] > 1:
            raise ValueError(f"Adadelta: `rho` must be in [0, 1]. Received: rho={options['rho']!r}")

    def _new_state(self, param, group):
        return zeros(param, "square_avg", "acc_delta")

    def _update(self, param, d, fresh, state, group):
        xp = backend.get_array_module(param)
        rho, eps = group["rho"], group["eps"]
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        tmp = xp.empty_like(param)
        ema_square_(square_avg, d, rho, tmp)
        std = xp.sqrt(square_avg + eps)
        delta = xp.sqrt(acc_delta + eps)
        delta /= std
        delta *= d
        ema_square_(acc_delta, delta, rho, tmp)
        delta *= -group["lr"]
        param += delta
