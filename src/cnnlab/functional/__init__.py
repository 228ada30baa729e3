"""Pure differentiable ops (validation, shapes, forward and backward), as ``import cnnlab.functional as F``.
May import tensor, autograd, kernels, backend, validation; nothing of nn or above.
"""

from .activation import add_relu, elu, hardtanh, leaky_relu, log_softmax, relu, relu6, sigmoid, softmax, tanh
from .basic import dropout, dropout2d, identity, linear
from .conv import FitReport, conv2d, conv_output_size, explain_fit, pool_output_size
from .conv_transpose import conv_transpose2d
from .upsample import interpolate, upsample
from .encoding import one_hot
from .gelu import gelu
from .elementwise import abs, add, clamp, div, exp, log, matmul, mul, neg, pow, sqrt, sub
from .loss import binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, mse_loss, nll_loss
from .norm import batch_norm, batch_norm_relu, local_response_norm
from .padding import pad
from .pooling.adaptive import adaptive_avg_pool2d, adaptive_max_pool2d, global_avg_pool2d, global_max_pool2d
from .pooling.avg import avg_pool2d
from .pooling.fractional import fractional_max_pool2d
from .pooling.lp import lp_pool2d
from .pooling.max import max_pool2d, min_pool2d
from .pooling.stochastic import stochastic_pool2d
from .pooling.subsample import subsample2d
from .reduce import max, mean, min, sum, var
from .shape import cat, concat, flatten, getitem, permute, reshape, stack, transpose, view
from .activation import hardswish, silu
from .stochastic_depth import stochastic_depth
# max/min with PyTorch's meaning (``_, pred = F.max(out, 1)``); amax/amin reduce over several dims.
from .extreme import max, min


def __getattr__(name):
    import os

    if os.path.isfile(os.path.join(os.path.dirname(__file__), name + ".py")):
        raise AttributeError(name)   # a submodule being imported (``from . import inplace``)
    from ..pytorch_names import missing

    raise missing("torch.nn.functional", __name__, name)
