"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from .. import backend
from .optimizer import Optimizer, check_number, decayed_grad, lerp_


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

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *,
                 maximize=False):
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps, "centered": centered,
                    "weight_decay": weight_decay, "maximize": maximize}
        super().__init__(params, defaults)

    def _check_options(self, options):
        for key in ("lr", "eps", "momentum", "weight_decay", "alpha"):
            check_number("RMSprop", key, options[key])

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
                    if group["momentum"] > 0:
                        state["momentum_buffer"] = xp.zeros_like(p._data)
                    if group["centered"]:
                        state["grad_avg"] = xp.zeros_like(p._data)
                if group["momentum"] > 0 and "momentum_buffer" not in state:
                    state["momentum_buffer"] = xp.zeros_like(p._data)
                if group["centered"] and "grad_avg" not in state:
                    state["grad_avg"] = xp.zeros_like(p._data)
                state["step"] += 1
                rmsprop_update(p._data, grad, state["square_avg"], state.get("grad_avg") if group["centered"] else None,
                               state.get("momentum_buffer") if group["momentum"] > 0 else None,
                               lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
                               weight_decay=group["weight_decay"], momentum=group["momentum"],
                               maximize=group["maximize"])
        return loss


def rmsprop_update(param, grad, square_avg, grad_avg, momentum_buffer, *, lr, alpha, eps, weight_decay, momentum,
                   maximize):
    """One RMSprop step on raw arrays; updates param and state in place. ``grad`` is only read.

    ``grad_avg`` is None unless centered; ``momentum_buffer`` is None unless momentum > 0.
    """
    xp = backend.get_array_module(param)
    d, own = decayed_grad(xp, param, grad, weight_decay, maximize)
    tmp = xp.empty_like(param)
    # v = alpha * v + (1 - alpha) * g * g
    square_avg *= alpha
    xp.multiply(d, 1 - alpha, out=tmp)
    tmp *= d
    square_avg += tmp
    if grad_avg is not None:
        lerp_(grad_avg, d, 1 - alpha, tmp)
        xp.multiply(grad_avg, -1, out=tmp)
        tmp *= grad_avg
        tmp += square_avg
        avg = xp.sqrt(tmp, out=tmp)
    else:
        avg = xp.sqrt(square_avg, out=tmp)
    avg += eps
    if momentum_buffer is not None:
        momentum_buffer *= momentum
        momentum_buffer += xp.divide(d, avg, out=d if own else None)
        xp.multiply(momentum_buffer, -lr, out=tmp)
        param += tmp
    else:
        update = xp.multiply(d, -lr, out=d if own else None)
        update /= avg
        param += update
