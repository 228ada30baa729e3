"""The one place that knows the array module (NumPy now, CuPy later), the default dtype and the RNG."""

import os

import numpy as np

try:  # CuPy is optional; without it every array is a NumPy array.
    import cupy as _cupy
except Exception:  # pragma: no cover - depends on the machine
    _cupy = None

_default_dtype = np.dtype(np.float32)
_rng = np.random.default_rng()


def get_array_module(*arrays):
    """Return ``cupy`` if any of ``arrays`` lives on the GPU, else ``numpy``."""
    if _cupy is not None:
        return _cupy.get_array_module(*arrays)
    return np


array_module = get_array_module


def asnumpy(a):
    """Copy ``a`` to host memory as a NumPy array (no copy if it is already there)."""
    if _cupy is not None and isinstance(a, _cupy.ndarray):
        return _cupy.asnumpy(a)
    return np.asarray(a)


def to_device(a, device):
    """Move array ``a`` to ``"cpu"`` or ``"cuda"``."""
    if device in ("cpu", None):
        return asnumpy(a)
    if device.startswith("cuda"):
        if _cupy is None:
            raise ValueError(f"to_device: `device` {device!r} needs CuPy, which is not installed "
                             f"(pip install 'cnnlab[cuda]'). Expected 'cpu'.")
        return _cupy.asarray(a)
    raise ValueError(f"to_device: `device` must be 'cpu' or 'cuda'. Received: device={device!r}")


def get_default_dtype():
    """The floating dtype new tensors get when none is given (float32 unless changed)."""
    return _default_dtype


def set_default_dtype(dtype):
    """Set the floating dtype new tensors get; float32 or float64."""
    global _default_dtype
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"set_default_dtype: `dtype` must be float32 or float64. Received: dtype={dtype}")
    _default_dtype = dtype


def manual_seed(seed):
    """Seed cnnlab's random generator (initialisation, dropout, shuffling) so runs repeat."""
    global _rng
    _rng = np.random.default_rng(seed)
    return _rng


def get_rng():
    """The generator behind every random draw in cnnlab."""
    return _rng


def set_rng(generator):
    """Replace the global generator (used to restore a checkpointed state)."""
    global _rng
    _rng = generator


KERNEL_SETS = ("compiled", "reference")
_kernels = None  # chosen lazily from CNNLAB_KERNELS so a bad value is reported where it is used


def set_kernels(name):
    """Choose how NumPy arrays are computed: ``"compiled"`` (Numba, the default) or ``"reference"``."""
    global _kernels
    if name not in KERNEL_SETS:
        raise ValueError(f"set_kernels: `name` must be one of {', '.join(map(repr, KERNEL_SETS))}. "
                         f"Received: name={name!r}")
    _kernels = name


def get_kernels():
    """The chosen kernel set's name (``CNNLAB_KERNELS`` until ``set_kernels`` is called)."""
    if _kernels is None:
        env = os.environ.get("CNNLAB_KERNELS", "compiled")
        if env not in KERNEL_SETS:
            raise ValueError(f"CNNLAB_KERNELS must be one of {', '.join(KERNEL_SETS)}. Received: {env!r}")
        set_kernels(env)
    return _kernels
