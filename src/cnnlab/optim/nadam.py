"""NAdam: Adam whose first moment looks one step ahead (Nesterov momentum)."""

from .. import backend
from .adam import _pair
from .optimizer import Optimizer, check_number, ema_square_, lerp_, zeros


class NAdam(Optimizer):
    """NAdam (Dozat, 2016), PyTorch's algorithm step for step.

    At step ``t`` with gradient ``g``, the momentum coefficient warms up as
    ``mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))``, and ``P_t = mu_1 ... mu_t``::

        g = g + wd * p                  (coupled; decoupled: p = p * (1 - lr * wd) instead)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g^2
        d = sqrt(v / (1 - beta2^t)) + eps
        p = p - lr * (1 - mu_t) / (1 - P_t) * g / d - lr * mu_{t+1} / (1 - P_t * mu_{t+1}) * m / d

    Args:
        params: iterable of Tensors or of parameter-group dicts (see ``Optimizer``).
        lr: learning rate. Default: 2e-3.
        betas: decay rates ``(beta1, beta2)`` of the first and second moments.
            Default: (0.9, 0.999).
        eps: added to the denominator for numerical stability. Default: 1e-8.
        weight_decay: L2 penalty ``wd``. Default: 0.
        momentum_decay: how fast ``mu_t`` warms up. Default: 4e-3.
        decoupled_weight_decay: decay the weights directly, as AdamW (NAdamW). Default: False.
        maximize: ascend the objective instead of descending. Default: False.

    State per parameter: ``step`` (int), ``mu_product`` (``P_t``, a float), ``exp_avg``,
    ``exp_avg_sq``, arrays in the parameter's dtype.

    NOTE: PyTorch keeps ``mu_product`` as a float32 tensor unless its default dtype is float64;
    here it is a Python float, so float64 runs match PyTorch's float64 mode.
    """

    _nonnegative_options = ("lr", "eps", "weight_decay", "momentum_decay")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        defaults = {"lr": lr, "betas": _pair("NAdam", betas), "eps": eps,
                    "weight_decay": weight_decay, "momentum_decay": momentum_decay,
                    "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize}
        super().__init__(params, defaults)

    def _check_options(self, options):
        super()._check_options(options)
        betas = options["betas"] = _pair("NAdam", options["betas"])
        for i, beta in enumerate(betas):
            check_number("NAdam", f"betas[{i}]", beta)
            if beta >= 1:
                raise ValueError(f"NAdam: `betas[{i}]` must be in [0, 1). "
                                 f"Received: betas={betas!r}")

    def _new_state(self, param, group):
        return {"mu_product": 1.0, **zeros(param, "exp_avg", "exp_avg_sq")}

    def _update(self, param, d, fresh, state, group):
        xp = backend.get_array_module(param)
        (beta1, beta2), lr, step = group["betas"], group["lr"], state["step"]
        momentum_decay = group["momentum_decay"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
        mu_product = state["mu_product"] = state["mu_product"] * mu
        mu_product_next = mu_product * mu_next
        tmp = xp.empty_like(param)
        lerp_(exp_avg, d, 1 - beta1, tmp)
        ema_square_(exp_avg_sq, d, beta2, tmp)
        denom = xp.divide(exp_avg_sq, 1 - beta2 ** step)
        xp.sqrt(denom, out=denom)
        denom += group["eps"]
        xp.multiply(d, -lr * (1.0 - mu) / (1.0 - mu_product), out=tmp)
        tmp /= denom
        param += tmp
        xp.multiply(exp_avg, -lr * mu_next / (1.0 - mu_product_next), out=tmp)
        tmp /= denom
        param += tmp
