"""The one place that knows the array module (NumPy now, CuPy later), the default dtype and the RNG."""

import ctypes
import os
import sys

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


class device:
    """Where a tensor's data lives, in PyTorch's terms: ``device("cpu")``, ``device("cuda:0")``.

    Compares equal to another device or to its own string (``t.device == "cpu"``), a convenience
    PyTorch's ``torch.device`` does not offer.
    """

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        spec = type
        if isinstance(type, str) and ":" in type and index is None:
            type, _, number = type.partition(":")
            index = int(number) if number.isdigit() else number
        good_index = index is None or isinstance(index, int) and index >= 0
        cpu_index = type != "cpu" or index in (None, 0)
        if type not in ("cpu", "cuda") or not good_index or not cpu_index:
            raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:N'. "
                             f"Received: device={spec!r}")
        self.type, self.index = type, index

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type={self.type!r}{index})"

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except ValueError:
                return False
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))


def is_device_like(value):
    """True for a ``device`` or a string that names one (``"cpu"``, ``"cuda"``, ``"cuda:1"``)."""
    if isinstance(value, device):
        return True
    return isinstance(value, str) and (value in ("cpu", "cuda") or value.startswith("cuda:"))


def device_of(a):
    """The device of array ``a``: ``cuda:N`` for a CuPy array, else ``cpu``."""
    if _cupy is not None and isinstance(a, _cupy.ndarray):
        return device("cuda", a.device.id)
    return device("cpu")


def cuda_available():
    """True when CuPy is installed and sees at least one GPU."""
    if _cupy is None:
        return False
    try:
        return _cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # CuPy without a driver or a GPU
        return False


def require_device(fn, value):
    """Parse ``value`` as a device for ``fn``; CUDA without CuPy or a GPU is one clear error."""
    try:
        dev = device(value)
    except (ValueError, TypeError):
        raise ValueError(f"{fn}: `device` must be 'cpu', 'cuda' or 'cuda:N'. "
                         f"Received: device={value!r}") from None
    if dev.type == "cuda" and not cuda_available():
        why = "CuPy sees no GPU" if _cupy is not None else "CuPy is not installed " \
            "(pip install 'cnnlab[cuda]')"
        raise RuntimeError(f"{fn}: device {str(dev)!r} is not available: {why}. "
                           f"Use device='cpu'")
    return dev


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


def _blas_set_num_threads():
    """The ``set_num_threads`` of the OpenBLAS that NumPy loaded (found through /proc/self/maps and
    called through ctypes), or None when it cannot be found."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line}
        for path in sorted(paths):
            lib = ctypes.CDLL(path)
            for name in ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                         "openblas_set_num_threads64_", "openblas_set_num_threads"):
                setter = getattr(lib, name, None)
                if setter is not None:
                    setter.argtypes = [ctypes.c_int]
                    return setter
    except OSError:
        pass
    return None


def tune_process():
    """Opt-in process tuning for a training run (the ``cnnlab`` command calls it; importing cnnlab
    never does). Returns a dict saying what was applied.

    - ``blas_one_thread``: NumPy's OpenBLAS runs on one thread. The compiled kernels spread their
      own work over the cores; an idle OpenBLAS pool and the kernels' threads otherwise spin against
      each other on the same cores between calls (measured on 2 cores: a fashion_cnn training step
      185 -> 42 ms, resnet20 3.8 -> 1.1 s). Skipped with the reference kernels, which lean on BLAS,
      or when ``OPENBLAS_NUM_THREADS`` is set.
    - ``malloc``: glibc's malloc keeps freed memory for reuse instead of returning it at once.
      A training step frees and allocates the same activation-sized arrays again and again; with
      glibc's defaults the large ones are fresh ``mmap``s (or the heap is trimmed after each free),
      so every step faults its pages in again. Serving every block from the heap (no ``mmap``),
      keeping up to 1 GiB of free heap and growing it 64 MiB at a time avoids that. Skipped when
      any ``MALLOC_*`` variable or ``CNNLAB_MALLOC=system`` is set, and off glibc.
    """
    applied = {"blas_one_thread": False, "malloc": False}
    if get_kernels() == "compiled" and "OPENBLAS_NUM_THREADS" not in os.environ:
        setter = _blas_set_num_threads()
        if setter is not None:
            setter(1)
            applied["blas_one_thread"] = True
    if os.environ.get("CNNLAB_MALLOC", "").lower() == "system" or any(k.startswith("MALLOC_") for k in os.environ):
        return applied
    if not sys.platform.startswith("linux"):
        return applied
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_top_pad, m_mmap_max = -1, -2, -4
        applied["malloc"] = all(libc.mallopt(option, value) for option, value in
                                ((m_mmap_max, 0), (m_trim_threshold, 1 << 30), (m_top_pad, 64 << 20)))
    except (OSError, AttributeError):  # not glibc
        pass
    return applied
