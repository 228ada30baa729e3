"""How the hot ops are computed, kept apart from what they compute (``functional/``).
On raw arrays: may import backend and the bottom level (validation, resources), never Tensor or functional.

Two namespaces offer the same functions with the same signatures, on raw arrays:

- ``kernels.reference``: the lectures' form (window views, im2col and one matrix product, col2im),
  written once over the array module ``xp`` so NumPy and CuPy run it unchanged. It is the oracle.
- ``kernels.compiled``: Numba-compiled CPU loops, fast; held equal to the reference by the tests.

``functional/`` calls ``kernels.for_arrays(*arrays)`` and uses what it returns. The choice is
``backend.set_kernels("compiled" | "reference")`` (or ``CNNLAB_KERNELS``): compiled by default when
Numba imports, else the reference with one warning; CuPy arrays always take the reference.

Layout convention between ops: arrays are NCHW-shaped. A compiled kernel may hand back an NCHW-shaped
view of channels-last (NHWC) memory; every kernel accepts either memory layout.
"""

import warnings

import numpy as np

from .. import backend
from . import reference

_compiled = None  # the compiled namespace once imported; False when Numba is unavailable


def _load_compiled():
    """Import the compiled kernels once; on failure warn one line and remember it."""
    global _compiled
    if _compiled is None:
        try:
            from . import compiled as _module
            _compiled = _module
        except ImportError as e:  # Numba missing or broken on this machine
            warnings.warn(f"cnnlab: compiled kernels unavailable ({e}); using the reference kernels",
                          RuntimeWarning, stacklevel=3)
            _compiled = False
    return _compiled


def for_arrays(*arrays):
    """The kernel namespace for these arrays: compiled for NumPy arrays when chosen and available."""
    if backend.get_kernels() == "reference" or backend.get_array_module(*arrays) is not np:
        return reference
    return _load_compiled() or reference


def active():
    """Name of the kernels NumPy arrays get now: ``"compiled"`` or ``"reference"``."""
    if backend.get_kernels() == "reference":
        return "reference"
    return "compiled" if _load_compiled() else "reference"
