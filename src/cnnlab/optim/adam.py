"""Adam and AdamW: moment estimates with bias correction; AdamW decouples the weight decay."""

from .. import backend
from ..validation import is_real
from .optimizer import Optimizer, check_number, ema_square_, lerp_, zeros


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), PyTorch's algorithm step for step.

    At step ``t`` with gradient ``g``::

        g = g + wd * p                  (coupled weight decay; -g first when maximize)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g^2
        v_max = max(v_max, v)           (amsgrad; used in place of v below)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    With ``decoupled_weight_decay=True`` (AdamW) the decay is ``p = p * (1 - lr * wd)`` instead,
    applied before the update and kept out of the moments.

    Args:
        params: iterable of Tensors or of parameter-group dicts (see ``Optimizer``).
        lr: learning rate. Default: 1e-3.
        betas: decay rates ``(beta1, beta2)`` of the first and second moments, each in [0, 1).
            Default: (0.9, 0.999).
        eps: added to the denominator for numerical stability. Default: 1e-8.
        weight_decay: L2 penalty ``wd``. Default: 0.
        amsgrad: use the running maximum of ``v`` (AMSGrad). Default: False.
        maximize: ascend the objective instead of descending. Default: False.
        decoupled_weight_decay: decay the weights directly, as AdamW. Default: False.

    State per parameter: ``step`` (int), ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq`` (amsgrad),
    arrays in the parameter's dtype.
    """

    _option_buffers = {"max_exp_avg_sq": "amsgrad"}

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 maximize=False, decoupled_weight_decay=False):
        defaults = {"lr": lr, "betas": _pair(type(self).__name__, betas), "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize, "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def _check_options(self, options):
        name = type(self).__name__
        check_number(name, "lr", options["lr"])
        check_number(name, "eps", options["eps"])
        betas = options["betas"] = _pair(name, options["betas"])
        for i, beta in enumerate(betas):
            if not is_real(beta):
                raise TypeError(f"{name}: `betas[{i}]` must be a real number. Received: betas={betas!r}")
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{name}: `betas[{i}]` must be in [0, 1). Received: betas={betas!r}")
        check_number(name, "weight_decay", options["weight_decay"])

    def _new_state(self, param, group):
        return zeros(param, "exp_avg", "exp_avg_sq")

    def _update(self, param, d, fresh, state, group):
        xp = backend.get_array_module(param)
        (beta1, beta2), step = group["betas"], state["step"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        tmp = xp.empty_like(param)
        lerp_(exp_avg, d, 1 - beta1, tmp)
        ema_square_(exp_avg_sq, d, beta2, tmp)

        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        step_size = group["lr"] / bias_correction1
        if group["amsgrad"]:
            second = state["max_exp_avg_sq"]
            xp.maximum(second, exp_avg_sq, out=second)
        else:
            second = exp_avg_sq
        denom = xp.sqrt(second, out=tmp)
        denom /= bias_correction2 ** 0.5
        denom += group["eps"]
        update = xp.multiply(exp_avg, -step_size, out=d if fresh else None)
        update /= denom
        param += update


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2019): Adam with the weight decay applied to the weights directly.

    ``p = p * (1 - lr * wd)`` before each Adam update, so the decay neither enters the moment
    estimates nor is rescaled by them. Same arguments as ``Adam`` with ``weight_decay=1e-2``.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

    def _restore_options(self, groups):
        for group in groups:
            group["decoupled_weight_decay"] = True


def _pair(name, betas):
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{name}: `betas` must be a pair (beta1, beta2). Received: betas={betas!r}")
    return tuple(betas)
