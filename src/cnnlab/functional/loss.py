"""Losses (cross_entropy, nll_loss, mse_loss, binary_cross_entropy, binary_cross_entropy_with_logits) with gradients.

Every loss follows PyTorch: reductions ``"mean"``, ``"sum"``, ``"none"`` (and the deprecated
``size_average``/``reduce`` pair), a weighted mean of class-index losses divides by the sum of the
targets' weights, and ``ignore_index`` targets contribute nothing. Class weights and ``pos_weight``
are constants (no gradient), as in PyTorch; a floating target that requires a gradient gets one.

A loss is the end of the graph, where a diverged model first becomes visible, so NaN or Inf in its
inputs raises a ValueError instead of quietly returning NaN.
"""

import warnings

import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from ..validation import floating, int_arg, is_real, reduction_arg, tensor_arg

# ---------------------------------------------------------------------------------------------- helpers
def _reduction(fn, size_average, reduce, reduction):
    """The reduction to apply; ``size_average``/``reduce`` override it with PyTorch's legacy rules."""
    if size_average is not None or reduce is not None:
        warnings.warn(f"{fn}: `size_average` and `reduce` are deprecated; use `reduction` instead",
                      DeprecationWarning, stacklevel=3)
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        return "mean" if size_average and reduce else "sum" if reduce else "none"
    return reduction_arg(fn, reduction)


def _check_finite(fn, name, a):
    """Raise if ``a`` holds NaN or +-Inf: one sum decides (cheap), the values are counted only on failure."""
    xp = backend.get_array_module(a)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf or an overflowing sum is itself the signal
        total = a.sum()
    if a.size == 0 or bool(xp.isfinite(total)):
        return
    nan = int(xp.isnan(a).sum())
    inf = int(xp.isinf(a).sum())
    if nan == 0 and inf == 0:  # the sum itself overflowed; every value is finite
        return
    what = " and ".join(w for w, n in (("NaN", nan), ("Inf", inf)) if n)
    raise ValueError(f"{fn}: {name} contains {what} ({nan + inf} of {a.size} values are not finite); expected "
                     f"finite values (did training diverge? try a lower learning rate, or check the data)")


def _check_log_probs(fn, name, a):
    """Raise on NaN or +Inf (the maximum shows either); -Inf is a legal log-probability (log 0)."""
    xp = backend.get_array_module(a)
    if a.size == 0:
        return
    top = a.max()
    if not bool(xp.isnan(top)) and not bool(xp.isposinf(top)):
        return
    nan = int(xp.isnan(a).sum())
    inf = int(xp.isposinf(a).sum())
    what = " and ".join(w for w, n in (("NaN", nan), ("+Inf", inf)) if n)
    raise ValueError(f"{fn}: {name} contains {what} ({nan + inf} of {a.size} values); expected log-probabilities "
                     f"(finite values or -Inf)")


def _constant(fn, name, value, dtype, shape=None, shape_text=None):
    """Unwrap an optional constant tensor (class weights, pos_weight) as an array of ``dtype``."""
    if value is None:
        return None
    value = tensor_arg(fn, name, value)
    if value.dtype.kind not in "fiu":
        raise TypeError(f"{fn}: `{name}` must be a numeric tensor. Received dtype {value.dtype}")
    if shape is not None and value.shape != shape:
        raise ValueError(f"{fn}: `{name}` must have shape {shape_text or shape}. Received {name} shape {value.shape}")
    data = value._data.astype(dtype, copy=False)
    _check_finite(fn, f"`{name}`", data)
    return data


def _reduce(loss, reduction, denom=None):
    """Apply the reduction to the per-element ``loss``; ``denom`` replaces the element count for 'mean'."""
    xp = backend.get_array_module(loss)
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return xp.asarray(total, dtype=loss.dtype)
    denom = loss.size if denom is None else denom
    return xp.asarray(total / denom if denom != 0 else np.nan, dtype=loss.dtype)


def _coefficient(g, reduction, denom=None, size=None):
    """d(reduced loss) / d(per-element loss) times the upstream gradient; broadcasts against the loss."""
    if reduction == "mean":
        denom = size if denom is None else denom
        return g / denom if denom != 0 else g * 0
    return g


def _weighted_reduce(ctx, loss, weight, reduction):
    """Scale the per-element ``loss`` by the optional ``weight`` and reduce it; ctx keeps what backward needs."""
    if weight is not None:
        loss = loss * weight
    ctx.reduction, ctx.size = reduction, loss.size
    return _reduce(loss, reduction)


def _weighted_coefficient(ctx, g, weight):
    """The gradient of a ``_weighted_reduce`` loss with respect to each unweighted element."""
    coef = _coefficient(g, ctx.reduction, size=ctx.size)
    return coef if weight is None else coef * weight


def _add_at_index(a, index, values, axis=1):
    """``a[..., index, ...] += values`` along ``axis``, one index per slice (so plain assignment is safe)."""
    xp = backend.get_array_module(a)
    picked = xp.take_along_axis(a, index, axis=axis) + values
    if hasattr(xp, "put_along_axis"):
        xp.put_along_axis(a, index, picked, axis=axis)
    else:  # pragma: no cover - array modules without put_along_axis
        onehot = xp.arange(a.shape[axis]).reshape((1, -1) + (1,) * (a.ndim - 2)) == index
        a += onehot * values
    return a


def _log_softmax_parts(z):
    """Shifted logits z - max, softmax p and log-sum-exp of the shifted logits along axis 1."""
    xp = backend.get_array_module(z)
    shifted = z - z.max(axis=1, keepdims=True)   # (N, C, *), every entry <= 0: exp cannot overflow
    p = xp.exp(shifted)
    s = p.sum(axis=1, keepdims=True)             # (N, 1, *), >= 1
    p /= s
    return shifted, p, xp.log(s)


# ---------------------------------------------------------------------------------------------- Functions
class CrossEntropy(Function):
    """Fused log_softmax + nll for class-index targets, with class weights and label smoothing.

    Per sample, with log-probabilities l = log_softmax(z) and smoothing s over C classes, the loss is
    -sum_c q_c l_c with q_c = (1 - s) w_y [c == y] + (s / C) w_c, and its gradient is
    (sum_c q_c) softmax(z) - q, which needs only the softmax saved and a write at the target class.
    """

    @staticmethod
    def forward(ctx, z, target=None, weight=None, reduction="mean", ignore_index=-100, label_smoothing=0.0):
        xp = backend.get_array_module(z)
        classes = z.shape[1]
        valid = target != ignore_index                          # (N, *)
        index = xp.where(valid, target, 0)[:, None]             # (N, 1, *)
        shifted, p, lse = _log_softmax_parts(z)
        nll = (lse - xp.take_along_axis(shifted, index, axis=1))[:, 0]   # -log p of the target, (N, *)
        w_y = valid.astype(z.dtype) if weight is None else weight[index[:, 0]] * valid
        loss = w_y * nll
        ls = label_smoothing
        if ls > 0:
            # -sum_c w_c l_c = W lse - sum_c w_c shifted_c, with W = sum_c w_c
            if weight is None:
                smooth = classes * lse[:, 0] - shifted.sum(axis=1)
            else:
                wc = weight.reshape((1, -1) + (1,) * (z.ndim - 2))
                smooth = weight.sum() * lse[:, 0] - (shifted * wc).sum(axis=1)
            loss = (1 - ls) * loss + (ls / classes) * (smooth * valid)
        denom = w_y.sum() if reduction == "mean" else None
        ctx.save_for_backward(p, index, valid, w_y, weight)
        ctx.reduction, ctx.denom, ctx.ls = reduction, denom, ls
        return _reduce(loss, reduction, denom)

    @staticmethod
    def backward(ctx, g):
        p, index, valid, w_y, weight = ctx.saved_tensors
        classes, ls = p.shape[1], ctx.ls
        coef = _coefficient(g, ctx.reduction, ctx.denom) * valid      # (N, *)
        if ls > 0:
            total_w = classes if weight is None else weight.sum()
            sum_q = (1 - ls) * w_y + (ls / classes) * total_w
        else:
            sum_q = w_y
        grad = p * (coef * sum_q)[:, None]                            # (N, C, *)
        if ls > 0:
            wc = 1 if weight is None else weight.reshape((1, -1) + (1,) * (p.ndim - 2))
            grad -= (coef * (ls / classes))[:, None] * wc
        return _add_at_index(grad, index, -(coef * (1 - ls) * w_y)[:, None])


class CrossEntropyProbs(Function):
    """Cross entropy against class probabilities: -sum_c w_c t_c l_c per sample (t smoothed first)."""

    @staticmethod
    def forward(ctx, z, t, weight=None, reduction="mean", label_smoothing=0.0):
        classes = z.shape[1]
        t = t.astype(z.dtype, copy=False)
        shifted, p, lse = _log_softmax_parts(z)
        if label_smoothing > 0:
            t = t * (1 - label_smoothing) + label_smoothing / classes
        wc = None if weight is None else weight.reshape((1, -1) + (1,) * (z.ndim - 2))
        q = t if wc is None else t * wc                               # (N, C, *)
        sum_q = q.sum(axis=1)                                         # (N, *)
        loss = sum_q * lse[:, 0] - (q * shifted).sum(axis=1)          # -sum_c q_c (shifted_c - lse)
        logp = shifted - lse if ctx.needs_input_grad[1] else None
        ctx.save_for_backward(p, q, sum_q, logp, wc)
        ctx.reduction, ctx.size, ctx.ls = reduction, loss.size, label_smoothing
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, g):
        p, q, sum_q, logp, wc = ctx.saved_tensors
        coef = _coefficient(g, ctx.reduction, size=ctx.size)
        if ctx.reduction == "none":
            coef = coef[:, None]                                      # (N, 1, *)
        gz = gt = None
        if ctx.needs_input_grad[0]:
            gz = (p * sum_q[:, None] - q) * coef
        if ctx.needs_input_grad[1]:
            gt = -(1 - ctx.ls) * logp * coef
            if wc is not None:
                gt = gt * wc
        return gz, gt


class NLLLoss(Function):
    """-w_y * input[y] per sample: a gather of the target's log-probability; backward writes it back."""

    @staticmethod
    def forward(ctx, x, target=None, weight=None, reduction="mean", ignore_index=-100):
        xp = backend.get_array_module(x)
        valid = target != ignore_index                          # (N, *)
        index = xp.where(valid, target, 0)[:, None]             # (N, 1, *)
        w_y = valid.astype(x.dtype) if weight is None else weight[index[:, 0]] * valid
        # where(): an ignored sample's (arbitrary, maybe -inf) value must not turn 0 * value into NaN
        loss = xp.where(valid, -w_y * xp.take_along_axis(x, index, axis=1)[:, 0], 0)
        denom = w_y.sum() if reduction == "mean" else None
        ctx.save_for_backward(index, w_y)
        ctx.shape, ctx.dtype, ctx.reduction, ctx.denom = x.shape, x.dtype, reduction, denom
        return _reduce(loss.astype(x.dtype, copy=False), reduction, denom)

    @staticmethod
    def backward(ctx, g):
        index, w_y = ctx.saved_tensors
        xp = backend.get_array_module(g)
        grad = xp.zeros(ctx.shape, dtype=ctx.dtype)
        coef = _coefficient(g, ctx.reduction, ctx.denom)
        return _add_at_index(grad, index, (-coef * w_y)[:, None].astype(ctx.dtype, copy=False))


class MSELoss(Function):
    """(x - t)^2 per element (times an optional weight); weighted mean divides by the sum of the weights."""

    @staticmethod
    def forward(ctx, x, t, weight=None, reduction="mean"):
        diff = x - t.astype(x.dtype, copy=False)
        loss = diff * diff if weight is None else diff * diff * weight
        denom = None if weight is None or reduction != "mean" else weight.sum()
        ctx.save_for_backward(diff, weight)
        ctx.reduction, ctx.denom, ctx.size = reduction, denom, loss.size
        return _reduce(loss, reduction, denom)

    @staticmethod
    def backward(ctx, g):
        diff, weight = ctx.saved_tensors
        d = 2 * diff * _coefficient(g, ctx.reduction, ctx.denom, ctx.size)
        if weight is not None:
            d = d * weight
        return (d if ctx.needs_input_grad[0] else None), (-d if ctx.needs_input_grad[1] else None)


class BinaryCrossEntropy(Function):
    """-w (t log x + (1 - t) log(1 - x)) with both logs clamped at -100, as PyTorch."""

    @staticmethod
    def forward(ctx, x, t, weight=None, reduction="mean"):
        xp = backend.get_array_module(x)
        t = t.astype(x.dtype, copy=False)
        with np.errstate(divide="ignore"):  # log 0 = -inf is clamped just below
            log_x = xp.maximum(xp.log(x), -100)
            log_1mx = xp.maximum(xp.log1p(-x), -100)
        loss = -(t * log_x + (1 - t) * log_1mx)
        ctx.save_for_backward(x, t, weight)
        return _weighted_reduce(ctx, loss, weight, reduction)

    @staticmethod
    def backward(ctx, g):
        x, t, weight = ctx.saved_tensors
        xp = backend.get_array_module(g)
        coef = _weighted_coefficient(ctx, g, weight)
        gx = gt = None
        if ctx.needs_input_grad[0]:
            # PyTorch bounds the denominator x (1 - x) below by 1e-12 so x = 0 or 1 gives a finite slope.
            gx = coef * (x - t) / xp.maximum((1 - x) * x, 1e-12)
        if ctx.needs_input_grad[1]:
            # d/dt = -logit(x), unclamped as in PyTorch
            with np.errstate(divide="ignore"):
                gt = coef * (xp.log1p(-x) - xp.log(x))
        return gx, gt


class BinaryCrossEntropyWithLogits(Function):
    """(1 - t) x + (1 + (pw - 1) t) softplus(-x), softplus(-x) = log1p(exp(-|x|)) + max(-x, 0): no overflow."""

    @staticmethod
    def forward(ctx, x, t, weight=None, pos_weight=None, reduction="mean"):
        xp = backend.get_array_module(x)
        t = t.astype(x.dtype, copy=False)
        sp = xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(-x, 0)        # softplus(-x) = -log sigmoid(x)
        lw = 1 if pos_weight is None else 1 + (pos_weight - 1) * t
        loss = (1 - t) * x + lw * sp
        ctx.save_for_backward(x, t, sp, weight, pos_weight)
        return _weighted_reduce(ctx, loss, weight, reduction)

    @staticmethod
    def backward(ctx, g):
        x, t, sp, weight, pos_weight = ctx.saved_tensors
        xp = backend.get_array_module(g)
        coef = _weighted_coefficient(ctx, g, weight)
        gx = gt = None
        if ctx.needs_input_grad[0]:
            lw = 1 if pos_weight is None else 1 + (pos_weight - 1) * t
            sig_neg = xp.exp(-(sp + x))                               # sigmoid(-x) = exp(-softplus(x))
            gx = coef * ((1 - t) - lw * sig_neg)
        if ctx.needs_input_grad[1]:
            gt = coef * (-x if pos_weight is None else (pos_weight - 1) * sp - x)
        return gx, gt


# ---------------------------------------------------------------------------------------------- argument checks
def _input(fn, input):
    return floating(fn, "input", tensor_arg(fn, "input", input))


def _loss_args(fn, input, target, size_average, reduce, reduction):
    """``(input, target, reduction)`` checked as every loss takes them."""
    return _input(fn, input), _target(fn, target), _reduction(fn, size_average, reduce, reduction)


def _target(fn, target):
    return tensor_arg(fn, "target", target)


def _class_input(fn, input, ignore_index, holds):
    """Check ``ignore_index`` and that ``input`` has a class axis (it ``holds`` one value per class)."""
    int_arg(fn, "ignore_index", ignore_index)
    if input.ndim == 0:
        raise ValueError(f"{fn}: `input` must hold {holds}: (C,), (N, C) or (N, C, d1, ...). Received a 0-D tensor")


def _class_targets(fn, input, target, ignore_index):
    """Check class-index targets against ``input`` (N, C, *): integer dtype, matching shape, labels in range."""
    if target.dtype.kind not in "iu":
        hint = (" (class probabilities need a floating target of the input's shape "
                f"{input.shape})" if target.dtype.kind == "f" else "")
        raise TypeError(f"{fn}: class-index `target` must be an integer tensor (int64). Received dtype "
                        f"{target.dtype}{hint}")
    expected = (input.shape[0],) + input.shape[2:]
    if target.shape != expected:
        if target.ndim >= 1 and target.shape[0] != input.shape[0]:
            raise ValueError(f"{fn}: input batch size {input.shape[0]} does not match target batch size "
                             f"{target.shape[0]} (input shape {input.shape}, target shape {target.shape})")
        raise ValueError(f"{fn}: `target` must have shape {expected} for input shape {input.shape}. "
                         f"Received target shape {target.shape}")
    y = target._data
    classes = input.shape[1]
    if y.size and (int(y.min()) < 0 or int(y.max()) >= classes):
        bad = y[((y < 0) | (y >= classes)) & (y != ignore_index)]
        if bad.size:
            label = int(bad.max()) if int(bad.max()) >= classes else int(bad.min())
            raise ValueError(f"{fn}: target contains label {label} but input has {classes} classes "
                             f"(valid labels are 0..{classes - 1}, or ignore_index={ignore_index})")
    return y


def _class_weight(fn, weight, input):
    classes = input.shape[1]
    return _constant(fn, "weight", weight, input.dtype, (classes,), f"({classes},), one weight per class")


def _as_batched(input):
    """Unbatched (C,) input and () target become (1, C) and (1,); returns whether to drop the axis after."""
    if input.ndim == 1:
        return input.reshape(1, input.shape[0]), True
    return input, False


# ---------------------------------------------------------------------------------------------- public API
def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    """Cross entropy between logits and targets: log_softmax and negative log-likelihood fused in one op.

    Fusing them is faster (one pass over the logits each way) and stable for logits of any size.

    Args:
        input: logits ``(N, C)``, ``(N, C, d1, ...)`` (e.g. per pixel) or unbatched ``(C,)``.
        target: class indices ``(N,)`` / ``(N, d1, ...)`` / ``()`` (integer), or class probabilities
            of the input's shape (floating). A cnnlab Tensor or an array.
        weight: optional ``(C,)`` rescaling weight per class.
        ignore_index: class-index targets equal to it add nothing to the loss or to the mean's count.
        reduction: ``"mean"`` (by the sum of the targets' weights for class indices; by the number of
            samples for probabilities), ``"sum"`` or ``"none"``.
        label_smoothing: in [0, 1]; the target becomes (1 - s) * one-hot + s / C.
        size_average, reduce: deprecated, override ``reduction`` as in PyTorch.

    Shape: ``(N, C, *)`` and ``(N, *)`` give ``()`` reduced, or ``(N, *)`` with ``reduction="none"``.
    """
    fn = "cross_entropy"
    input, target, reduction = _loss_args(fn, input, target, size_average, reduce, reduction)
    if not is_real(label_smoothing) \
            or not 0 <= label_smoothing <= 1:
        raise ValueError(f"{fn}: `label_smoothing` must be a number in [0, 1]. "
                         f"Received: label_smoothing={label_smoothing!r}")
    _class_input(fn, input, ignore_index, "class scores")
    _check_finite(fn, "input", input._data)
    batched_input, unbatched = _as_batched(input)
    weight = _class_weight(fn, weight, batched_input)
    if target.dtype.kind == "f" and target.shape == input.shape:
        if ignore_index != -100:
            raise ValueError(f"{fn}: `ignore_index` is not supported for class-probability targets. "
                             f"Received: ignore_index={ignore_index}")
        _check_finite(fn, "target", target._data)
        batched_target = target.reshape(1, *target.shape) if unbatched else target
        out = CrossEntropyProbs.apply(batched_input, batched_target, weight=weight, reduction=reduction,
                                      label_smoothing=float(label_smoothing))
    else:
        if unbatched and target.ndim == 0:
            target = Tensor._wrap(target._data.reshape(1))
        elif unbatched:
            raise ValueError(f"{fn}: an unbatched input of shape {input.shape} needs a 0-D class-index target "
                             f"or a probability target of shape {input.shape}. Received target shape "
                             f"{target.shape}")
        y = _class_targets(fn, batched_input, target, ignore_index)
        out = CrossEntropy.apply(batched_input, target=y, weight=weight, reduction=reduction,
                                 ignore_index=int(ignore_index), label_smoothing=float(label_smoothing))
    if unbatched and reduction == "none":
        out = out.reshape(())
    return out


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood: ``-weight[y] * input[y]`` per sample, for log-probabilities ``input``.

    Args:
        input: log-probabilities ``(N, C)``, ``(N, C, d1, ...)`` or unbatched ``(C,)`` (e.g. ``log_softmax``'s output).
        target: integer class indices ``(N,)`` / ``(N, d1, ...)`` / ``()``.
        weight: optional ``(C,)`` rescaling weight per class.
        ignore_index: targets equal to it add nothing to the loss or to the mean's count.
        reduction: ``"mean"`` (by the sum of the targets' weights), ``"sum"`` or ``"none"``.
        size_average, reduce: deprecated, override ``reduction`` as in PyTorch.

    Shape: ``(N, C, *)`` and ``(N, *)`` give ``()`` reduced, or ``(N, *)`` with ``reduction="none"``.
    """
    fn = "nll_loss"
    input, target, reduction = _loss_args(fn, input, target, size_average, reduce, reduction)
    _class_input(fn, input, ignore_index, "class log-probabilities")
    _check_log_probs(fn, "input", input._data)
    batched_input, unbatched = _as_batched(input)
    if unbatched:
        if target.ndim != 0:
            raise ValueError(f"{fn}: an unbatched input of shape {input.shape} needs a 0-D target. "
                             f"Received target shape {target.shape}")
        target = Tensor._wrap(target._data.reshape(1))
    weight = _class_weight(fn, weight, batched_input)
    y = _class_targets(fn, batched_input, target, ignore_index)
    out = NLLLoss.apply(batched_input, target=y, weight=weight, reduction=reduction, ignore_index=int(ignore_index))
    if unbatched and reduction == "none":
        out = out.reshape(())
    return out


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error ``(input - target)^2``, optionally weighted per element.

    Args:
        input: floating tensor of any shape.
        target: same shape (a different but broadcastable shape warns, as in PyTorch).
        reduction: ``"mean"`` (by the element count, or by the sum of ``weight``), ``"sum"`` or ``"none"``.
        weight: optional per-element weights of the input's shape.
        size_average, reduce: deprecated, override ``reduction`` as in PyTorch.

    Shape: broadcast shape of input and target with ``reduction="none"``, else ``()``.
    """
    fn = "mse_loss"
    input, target, reduction = _loss_args(fn, input, target, size_average, reduce, reduction)
    if target.shape != input.shape:
        try:
            np.broadcast_shapes(input.shape, target.shape)
        except ValueError:
            raise ValueError(f"{fn}: `target` shape {target.shape} does not broadcast against input shape "
                             f"{input.shape}; expected the input's shape") from None
        warnings.warn(f"{fn}: target shape {target.shape} differs from input shape {input.shape}; they are "
                      f"broadcast, which is rarely what is meant", UserWarning, stacklevel=2)
    _check_finite(fn, "input", input._data)
    _check_finite(fn, "target", target._data)
    weight = _constant(fn, "weight", weight, input.dtype, input.shape, f"{input.shape}, the input's shape")
    return MSELoss.apply(input, target, weight=weight, reduction=reduction)


def _binary_args(fn, input, target, weight, size_average, reduce, reduction):
    """The binary cross entropies' arguments: a finite target of the input's shape, a weight that broadcasts."""
    input, target, reduction = _loss_args(fn, input, target, size_average, reduce, reduction)
    _same_shape_target(fn, input, target)
    _check_finite(fn, "target", target._data)
    return input, target, _broadcast_constant(fn, "weight", weight, input), reduction


def _same_shape_target(fn, input, target):
    if target.shape != input.shape:
        raise ValueError(f"{fn}: `target` must have the input's shape {input.shape}. Received target shape "
                         f"{target.shape}")


def _broadcast_constant(fn, name, value, input):
    if value is None:
        return None
    data = _constant(fn, name, value, input.dtype)
    try:
        if np.broadcast_shapes(data.shape, input.shape) != input.shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"{fn}: `{name}` shape {data.shape} does not broadcast to the input's shape "
                         f"{input.shape}") from None
    return data


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Binary cross entropy ``-w (t log x + (1 - t) log(1 - x))`` for probabilities ``x`` in [0, 1].

    Logs are clamped at -100 (as PyTorch) so x = 0 or 1 gives a finite loss. For logits prefer
    ``binary_cross_entropy_with_logits``, which is stable without clamping.

    Args:
        input: probabilities in [0, 1], any shape.
        target: same shape, usually in [0, 1].
        weight: optional rescaling weight broadcastable to the input's shape.
        reduction: ``"mean"`` (over elements), ``"sum"`` or ``"none"``.
        size_average, reduce: deprecated, override ``reduction`` as in PyTorch.

    Shape: input's shape with ``reduction="none"``, else ``()``.
    """
    fn = "binary_cross_entropy"
    input, target, weight, reduction = _binary_args(fn, input, target, weight, size_average, reduce, reduction)
    x = input._data
    if x.size:
        lo, hi = float(x.min()), float(x.max())
        if not (0 <= lo and hi <= 1):  # also catches NaN
            raise ValueError(f"{fn}: `input` values must be probabilities in [0, 1]. Received values in "
                             f"[{lo:g}, {hi:g}] (for logits use binary_cross_entropy_with_logits)")
    return BinaryCrossEntropy.apply(input, target, weight=weight, reduction=reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    """Sigmoid and binary cross entropy fused: stable for logits of any size.

    loss = -w [pw t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))]
         = w [(1 - t) x + (1 + (pw - 1) t) softplus(-x)].

    Args:
        input: logits, any shape.
        pos_weight: optional weight of positive examples, broadcast along the last (class) axis, e.g. ``(C,)``.
        target, weight, reduction, size_average, reduce, and the shape: as ``binary_cross_entropy``.
    """
    fn = "binary_cross_entropy_with_logits"
    input, target, weight, reduction = _binary_args(fn, input, target, weight, size_average, reduce, reduction)
    _check_finite(fn, "input", input._data)
    pos_weight = _broadcast_constant(fn, "pos_weight", pos_weight, input)
    return BinaryCrossEntropyWithLogits.apply(input, target, weight=weight, pos_weight=pos_weight,
                                              reduction=reduction)
