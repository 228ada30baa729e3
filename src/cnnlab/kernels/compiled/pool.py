"""pool kernels (compiled): the reference kernels until compiled ones replace them."""

from ..reference.pool import *  # noqa: F401,F403
from ..reference.pool import __all__  # noqa: F401
