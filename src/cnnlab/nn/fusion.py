"""Fused layers: BatchNorm followed by ReLU, and a residual sum followed by ReLU, each run as one op
(``F.batch_norm_relu``, ``F.add_relu``): one pass over the activations instead of two, and one array
less kept for backward. In inference (no gradient recorded, the BatchNorm in evaluation) a Conv2d,
its BatchNorm2d and ReLU run as one op (``F.conv2d_batch_norm``): the normalised values are written
with the convolution's output. The modules stay separate (same state-dict names, same ``repr``); the
fusion happens only when nothing watches the layers (no hooks), so ``inspect`` still sees every
layer's output. ``ENABLED = False`` turns it off (the results are the same either way).
"""

from .. import backend
from ..functional import activation as Fact
from ..functional import conv as Fconv
from .activation import ReLU
from .conv import Conv2d
from .normalization import BatchNorm2d, _BatchNorm

ENABLED = True


def _unwatched(module):
    return not (module._forward_hooks or module._forward_pre_hooks)


def fusable(bn, relu):
    """True when ``relu(bn(x))`` may run as one op: a BatchNorm then a ReLU, neither with hooks.

    A subclass with its own ``forward`` (e.g. ``distributed.SyncBatchNorm``, whose statistics are the
    global batch's) is never fused: the fused op would bypass that forward.
    """
    return (ENABLED and isinstance(bn, _BatchNorm) and type(bn).forward is _BatchNorm.forward
            and type(relu) is ReLU and _unwatched(bn) and _unwatched(relu))


def bn_relu(bn, relu, input):
    """``relu(bn(input))``, as one op when ``fusable``."""
    return bn.forward_relu(input) if fusable(bn, relu) else relu(bn(input))


def folds(conv, bn, relu=None):
    """True when ``relu(bn(conv(x)))`` (``bn(conv(x))`` when ``relu`` is None) may run as one op now:
    no gradient recorded, a plain zero-padded Conv2d, a BatchNorm2d in evaluation with running
    statistics and, if given, a ReLU; none with hooks, and one dtype."""
    return (ENABLED and not backend.recording() and type(conv) is Conv2d and conv.padding_mode == "zeros"
            and _unwatched(conv) and isinstance(bn, BatchNorm2d) and type(bn).forward is _BatchNorm.forward
            and _unwatched(bn) and not bn.training and bn.running_mean is not None
            and bn.running_var is not None and bn.running_mean.dtype == conv.weight.dtype
            and (bn.weight is None or bn.weight.dtype == conv.weight.dtype)
            and (relu is None or type(relu) is ReLU and _unwatched(relu)))


def conv_bn_relu(conv, bn, relu, input):
    """``relu(bn(conv(input)))``, or ``bn(conv(input))`` when ``relu`` is None: one op when ``folds``
    (and the input is a 4-D batch of the convolution's dtype), else as the layers run one by one."""
    if folds(conv, bn, relu) and input.ndim == 4 and input.dtype == conv.weight.dtype:
        return Fconv.conv2d_batch_norm(input, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation,
                                       conv.groups, bn.running_mean, bn.running_var, bn.weight, bn.bias, bn.eps,
                                       relu is not None)
    out = conv(input)
    return bn(out) if relu is None else bn_relu(bn, relu, out)


def add_relu(relu, input, other):
    """``relu(input + other)``, as one op when the ReLU has no hooks and the inputs have one shape
    and dtype."""
    if (ENABLED and type(relu) is ReLU and _unwatched(relu) and input.shape == other.shape
            and input.dtype == other.dtype):
        return Fact.add_relu(input, other)
    return relu(input + other)
