"""norm kernels (compiled): the reference kernels until compiled ones replace them."""

from ..reference.norm import *  # noqa: F401,F403
from ..reference.norm import __all__  # noqa: F401
