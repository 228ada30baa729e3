"""``cnnlab.cuda``: PyTorch's ``torch.cuda`` questions, answered truthfully from ``backend``.

Without CuPy or a GPU, ``is_available()`` is False and ``device_count()`` 0, so a program's
``device = "cuda" if torch.cuda.is_available() else "cpu"`` picks the CPU.
"""

from . import backend


def is_available():
    """True when CuPy is installed and sees a GPU (cnnlab's only GPU path)."""
    return backend.cuda_available()


def device_count():
    """How many GPUs CuPy sees (0 without CuPy or a GPU)."""
    if not backend.cuda_available():
        return 0
    import cupy

    return int(cupy.cuda.runtime.getDeviceCount())


def current_device():
    """The index of the current GPU; an error without one, as PyTorch."""
    _require("current_device")
    import cupy

    return int(cupy.cuda.runtime.getDevice())


def get_device_name(device=None):
    _require("get_device_name")
    import cupy

    index = 0 if device is None else getattr(device, "index", device) or 0
    return cupy.cuda.runtime.getDeviceProperties(int(index))["name"].decode()


def manual_seed(seed):
    """Accepted for PyTorch programs: cnnlab has one generator, seeded by ``cnnlab.manual_seed``;
    this call leaves it alone (the CPU seed already covers every draw)."""
    return None


manual_seed_all = manual_seed


def synchronize(device=None):
    """Wait for the GPU's queued work; nothing to wait for without one."""
    if backend.cuda_available():
        import cupy

        cupy.cuda.runtime.deviceSynchronize()


def empty_cache():
    """Give cached GPU memory back (CuPy's memory pool); nothing to do without a GPU."""
    if backend.cuda_available():
        import cupy

        cupy.get_default_memory_pool().free_all_blocks()


def _require(fn):
    if not backend.cuda_available():
        raise RuntimeError(f"cuda.{fn}: no GPU is available (cnnlab.cuda.is_available() is False)")
