"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay."""

from .. import backend
from .optimizer import Optimizer, check_number, decayed_grad


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's algorithm step for step.

    With gradient ``g``, weight decay ``wd``, momentum ``mu`` and dampening ``tau``::

        g = g + wd * p                      (-g first when maximize)
        b = g                               on the first step
        b = mu * b + (1 - tau) * g          afterwards
        g = g + mu * b  if nesterov  else  b
        p = p - lr * g

    The first step's buffer is the gradient itself (not ``(1 - tau) * g``), as in PyTorch.

    Args:
        params: iterable of Tensors or of parameter-group dicts (see ``Optimizer``).
        lr: learning rate. Default: 1e-3.
        momentum: momentum factor ``mu``. Default: 0.
        dampening: dampening ``tau`` of the momentum. Default: 0.
        weight_decay: L2 penalty ``wd``. Default: 0.
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening = 0). Default: False.
        maximize: ascend the objective instead of descending. Default: False.

    State per parameter: ``momentum_buffer`` (when momentum is non-zero).

    Example:
        >>> opt = SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        >>> opt.zero_grad(); loss.backward(); opt.step()
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, maximize=False):
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                    "nesterov": nesterov, "maximize": maximize}
        super().__init__(params, defaults)

    def _check_options(self, options):
        check_number("SGD", "lr", options["lr"])
        check_number("SGD", "momentum", options["momentum"])
        check_number("SGD", "dampening", options["dampening"], minimum=-float("inf"))
        check_number("SGD", "weight_decay", options["weight_decay"])
        if options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
            raise ValueError(f"SGD: nesterov=True needs momentum > 0 and dampening = 0. "
                             f"Received: momentum={options['momentum']!r}, dampening={options['dampening']!r}")

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns ``closure()``'s loss if given."""
        loss = self._begin_step(closure)
        for gi, group in enumerate(self.param_groups):
            momentum = group["momentum"]
            for p, grad in self._params_with_grad(group, gi):
                state = self.state[p] if momentum != 0 else None
                buf = sgd_update(p._data, grad, state.get("momentum_buffer") if state is not None else None,
                                 lr=group["lr"], momentum=momentum, dampening=group["dampening"],
                                 weight_decay=group["weight_decay"], nesterov=group["nesterov"],
                                 maximize=group["maximize"])
                if state is not None:
                    state["momentum_buffer"] = buf
        return loss


def sgd_update(param, grad, buf, *, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """One SGD step on raw arrays: updates ``param`` in place and returns the momentum buffer.

    ``buf`` is None on the first step (the returned buffer is then a new array) and is updated in
    place afterwards. ``grad`` is only read.
    """
    xp = backend.get_array_module(param)
    d, own = decayed_grad(xp, param, grad, weight_decay, maximize)
    if momentum != 0:
        if buf is None:
            buf = d if own else d.copy()  # the buffer takes over d, which is no longer ours to scale
            own = False
        else:
            buf *= momentum
            if dampening == 0:
                buf += d
            elif own:
                d *= 1 - dampening  # nesterov excludes dampening, so d is not needed again
                buf += d
            else:
                buf += (1 - dampening) * d
        if nesterov:
            step = xp.multiply(buf, momentum)
            step += d
            d, own = step, True
        else:
            d, own = buf, False
    if own:
        d *= lr
        param -= d
    else:
        param -= lr * d
    return buf
