"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from .. import backend
from .optimizer import Optimizer, ema_square_, lerp_, zeros


class RMSprop(Optimizer):
    """RMSprop (Hinton, lecture 6e), PyTorch's algorithm step for step.

    With gradient ``g``::

        g = g + wd * p                          (-g first when maximize)
        v = alpha * v + (1 - alpha) * g^2
        a = alpha * a + (1 - alpha) * g         (centered)
        s = sqrt(v - a^2) + eps  if centered  else  sqrt(v) + eps
        b = mu * b + g / s;  p = p - lr * b     (momentum mu > 0)
        p = p - lr * g / s                      (otherwise)

    Args:
        params: iterable of Tensors or of parameter-group dicts (see ``Optimizer``).
        lr: learning rate. Default: 1e-2.
        alpha: smoothing constant of the running averages. Default: 0.99.
        eps: added to the denominator for numerical stability. Default: 1e-8.
        weight_decay: L2 penalty ``wd``. Default: 0.
        momentum: momentum factor ``mu``. Default: 0.
        centered: normalise by the estimated variance (subtract the squared mean gradient). Default: False.
        maximize: ascend the objective instead of descending. Default: False.

    State per parameter: ``step`` (int), ``square_avg``, ``momentum_buffer`` (momentum > 0),
    ``grad_avg`` (centered), arrays in the parameter's dtype.
    """

    _option_buffers = {"momentum_buffer": "momentum", "grad_avg": "centered"}
    _nonnegative_options = ("lr", "eps", "momentum", "weight_decay", "alpha")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *,
                 maximize=False):
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps, "centered": centered,
                    "weight_decay": weight_decay, "maximize": maximize}
        super().__init__(params, defaults)

    def _new_state(self, param, group):
        return zeros(param, "square_avg")

    def _update(self, param, d, fresh, state, group):
        xp = backend.get_array_module(param)
        alpha, lr, momentum = group["alpha"], group["lr"], group["momentum"]
        square_avg = state["square_avg"]
        tmp = xp.empty_like(param)
        ema_square_(square_avg, d, alpha, tmp)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            lerp_(grad_avg, d, 1 - alpha, tmp)
            xp.multiply(grad_avg, -1, out=tmp)
            tmp *= grad_avg
            tmp += square_avg
            avg = xp.sqrt(tmp, out=tmp)
        else:
            avg = xp.sqrt(square_avg, out=tmp)
        avg += group["eps"]
        if momentum > 0:
            momentum_buffer = state["momentum_buffer"]
            momentum_buffer *= momentum
            momentum_buffer += xp.divide(d, avg, out=d if fresh else None)
            xp.multiply(momentum_buffer, -lr, out=tmp)
            param += tmp
        else:
            update = xp.multiply(d, -lr, out=d if fresh else None)
            update /= avg
            param += update
