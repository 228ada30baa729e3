"""The compiled kernels: one module per op family, all functions re-exported here under shared names.
Part of ``kernels``: may import ``kernels.reference``, backend and the bottom level only.
"""

from .conv import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403
from .norm import *  # noqa: F401,F403
from .elementwise import *  # noqa: F401,F403
