"""Layers: ``Module``, ``Parameter``, containers, layers wrapping ``cnnlab.functional``, ``init``.
May import functional, tensor, autograd, kernels, backend, validation; not optim, data, models or above.

Names, arguments, attribute names and default initialisation follow ``torch.nn``, so a model reads
the same and its ``state_dict`` keys map one to one.
"""

import sys as _sys

from . import init, utils
from .. import functional

# ``import cnnlab.nn.functional as F`` gives ``cnnlab.functional`` itself, as torch.nn.functional.
_sys.modules[__name__ + ".functional"] = functional
from .activation import ELU, Hardtanh, LeakyReLU, LogSoftmax, ReLU, ReLU6, Sigmoid, Softmax, Tanh
from .container import Identity, ModuleDict, ModuleList, Sequential
from .conv import Conv2d
from .conv_transpose import ConvTranspose2d
from .dropout import Dropout, Dropout2d
from .flatten import Flatten
from .gelu import GELU
from .linear import Linear
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import IncompatibleKeys, LoadStateDictError, Module, RemovableHandle
from .normalization import BatchNorm1d, BatchNorm2d, LocalResponseNorm
from .parameter import Parameter
from .activation import Hardswish, SiLU
from .stochastic_depth import StochasticDepth
from .upsample import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d
from .pooling import (AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, FractionalMaxPool2d, LPPool2d, MaxPool2d,
                      MinPool2d, StochasticPool2d)

__all__ = [
    "init", "Parameter", "Module", "IncompatibleKeys", "LoadStateDictError", "RemovableHandle",
    "Sequential", "ModuleList", "ModuleDict", "Identity",
    "Conv2d", "Linear", "Flatten", "Dropout", "Dropout2d",
    "MaxPool2d", "MinPool2d", "AvgPool2d", "LPPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d",
    "StochasticPool2d", "FractionalMaxPool2d",
    "ReLU", "LeakyReLU", "ELU", "Hardtanh", "ReLU6", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
    "BatchNorm1d", "BatchNorm2d", "LocalResponseNorm",
    "CrossEntropyLoss", "NLLLoss", "MSELoss", "BCELoss", "BCEWithLogitsLoss",
    "utils", "GELU", "ConvTranspose2d", "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d",
]
__all__ += ["SiLU", "Hardswish", "StochasticDepth"]
from . import parallel  # noqa: E402  (nn.parallel.DistributedDataParallel, as torch.nn.parallel)

__all__ += ["parallel"]


def __getattr__(name):
    import importlib.util

    if importlib.util.find_spec(f"{__name__}.{name}") is not None:   # e.g. cnnlab.nn.parallel
        return importlib.import_module(f"{__name__}.{name}")
    from ..pytorch_names import missing

    raise missing("torch.nn", __name__, name)
