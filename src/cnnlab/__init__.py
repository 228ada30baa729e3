"""cnnlab: convolutional neural networks from first principles on NumPy, checked against PyTorch.
The public API (``torch``'s names) at the top of the layers: it may import every part of the package.
"""

__version__ = "0.1.0"

import numpy as _np

from .backend import get_default_dtype, get_num_threads, manual_seed, set_default_dtype, set_num_threads
from .tensor import Tensor, arange, ones, rand, randn, tensor, zeros
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from . import functional, nn, optim
from .autograd import inference_mode
from .backend import device
from .functional.shape import cat, stack
from .tensor import Size, from_numpy
from .serialization import load, save

# PyTorch's dtype names (cnnlab.float32 is numpy's float32 dtype); left out of __all__ so that
# ``from cnnlab import *`` does not shadow the builtins float and bool.
float32, float64, float16 = _np.dtype("float32"), _np.dtype("float64"), _np.dtype("float16")
int64, int32, uint8 = _np.dtype("int64"), _np.dtype("int32"), _np.dtype("uint8")
bool = _np.dtype("bool")
float, double, long = float32, float64, int64

__all__ = ["Tensor", "tensor", "zeros", "ones", "randn", "rand", "arange", "no_grad", "enable_grad",
           "is_grad_enabled", "set_grad_enabled", "manual_seed", "get_default_dtype", "set_default_dtype",
           "functional", "nn", "optim",
           "inference_mode", "device", "cat", "stack", "Size", "from_numpy"]

# Subpackages, PyTorch's top-level functions (cnnlab.ops), factories (cnnlab.creation) and
# torch.cuda's questions load on first use, so ``import cnnlab`` stays as quick as it was; a
# PyTorch name cnnlab lacks answers with the alternative (cnnlab.pytorch_names).
_SUBMODULES = ("autograd", "backend", "data", "distributed", "inspect", "interop", "kernels",
               "metrics", "models", "runs", "train", "utils", "vision", "serialization",
               "validation", "cli", "cuda", "accelerator", "ops", "creation")
_LAZY = dict.fromkeys("empty empty_like eye full full_like linspace ones_like rand_like randint "
                      "randn_like randperm zeros_like".split(), "creation")
_LAZY.update(dict.fromkeys("abs argmax argmin argsort clamp cumsum eq equal exp flatten ge gt "
                           "is_tensor le log lt matmul max maximum mean min minimum ne norm numel "
                           "sort sqrt std sum topk var where softmax log_softmax relu sigmoid tanh "
                           "reshape transpose permute squeeze unsqueeze concat concatenate clip mm "
                           "bmm".split(), "ops"))
_LAZY["Generator"] = "data"  # torch.Generator().manual_seed(0): a seeded, saveable generator


def __getattr__(name):
    import importlib

    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value      # later look-ups find it directly
        return value
    from .pytorch_names import missing

    raise missing("torch", __name__, name)


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES) | set(_LAZY))
