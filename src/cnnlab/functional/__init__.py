"""Pure differentiable ops, used as ``import cnnlab.functional as F``."""

from .elementwise import abs, add, clamp, div, exp, log, matmul, mul, neg, pow, sqrt, sub
from .reduce import max, mean, min, sum, var
from .shape import cat, concat, flatten, getitem, permute, reshape, stack, transpose, view
