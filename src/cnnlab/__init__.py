"""cnnlab: convolutional neural networks from first principles on NumPy, checked against PyTorch."""

__version__ = "0.1.0"

from .backend import get_default_dtype, manual_seed, set_default_dtype
from .tensor import Tensor, arange, ones, rand, randn, tensor, zeros
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from . import functional, nn, optim

__all__ = ["Tensor", "tensor", "zeros", "ones", "randn", "rand", "arange", "no_grad", "enable_grad",
           "is_grad_enabled", "set_grad_enabled", "manual_seed", "get_default_dtype", "set_default_dtype",
           "functional", "nn", "optim"]
