"""elementwise kernels (compiled): the reference kernels until compiled ones replace them."""

from ..reference.elementwise import *  # noqa: F401,F403
from ..reference.elementwise import __all__  # noqa: F401
