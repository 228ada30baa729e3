"""The one place that knows the array module (NumPy now, CuPy later), the default dtype and the RNG."""

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


class ConfigError(ValueError):
    """A bad cnnlab setting in the environment (``CNNLAB_*``): the user's to fix, in one line (the
    ``cnnlab`` command exits with status 2)."""


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
            raise ConfigError(f"CNNLAB_KERNELS must be one of {', '.join(KERNEL_SETS)} (the kernels "
                              f"NumPy arrays get). Received: CNNLAB_KERNELS={env!r}")
        set_kernels(env)
    return _kernels


def _positive_int_env(name, meaning, also=()):
    """The positive integer in environment variable ``name``, None when unset, or one of ``also``."""
    raw = os.environ.get(name)
    if raw is None:
        return None
    value = raw.strip()
    if value in also:
        return value
    if value.isascii() and value.isdigit() and 0 < int(value) < 1 << 16:
        return int(value)
    accepted = " or ".join(("a positive integer",) + tuple(repr(a) for a in also))
    raise ConfigError(f"{name} must be {accepted} ({meaning}). Received: {name}={raw!r}")


_threads = None   # (setting,) once read from CNNLAB_NUM_THREADS or given to set_num_threads


def set_num_threads(n):
    """Run the compiled kernels on ``n`` threads (at most one per core), as ``torch.set_num_threads``."""
    global _threads
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"set_num_threads: `n` must be a positive int. Received: n={n!r}")
    _threads = (int(n),)


def _read_thread_setting():
    return _positive_int_env("CNNLAB_NUM_THREADS", "the compiled kernels' thread count")


def thread_setting():
    """The compiled kernels' thread count asked for (``set_num_threads``, else ``CNNLAB_NUM_THREADS``,
    read once), or None for one per core."""
    global _threads
    if _threads is None:
        _threads = (_read_thread_setting(),)
    return _threads[0]


def get_num_threads():
    """Threads the compiled kernels run on (the setting, at most Numba's pool of one per core)."""
    numba = sys.modules.get("numba")
    if numba is not None:
        pool = numba.config.NUMBA_NUM_THREADS
    else:
        pool = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    setting = thread_setting()
    return pool if setting is None else min(setting, pool)


BLAS_ENV = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


def blas_threads():
    """Threads NumPy's BLAS gets when the first compiled kernel runs: ``CNNLAB_BLAS_THREADS``
    (a count, or ``keep`` to leave it alone), else 1; None (left alone) when the user set the BLAS's
    own variable (``OPENBLAS_NUM_THREADS``, ...)."""
    setting = _positive_int_env("CNNLAB_BLAS_THREADS", "NumPy's BLAS threads beside the compiled "
                                "kernels", also=("keep",))
    if setting == "keep" or setting is None and any(name in os.environ for name in BLAS_ENV):
        return None
    return 1 if setting is None else setting


MALLOC_SETTINGS = ("system", "keep")


# Whether autograd records a graph (``cnnlab.no_grad`` turns it off): grad mode sets this mirror, here
# below both autograd and the kernels, for the kernels' output pool, which serves training steps (they
# free their activations all at once, at the step's end) and leaves inference to the allocator.
_recording = True


def recording():
    """Whether autograd is recording (grad mode on), as the kernels may read it."""
    return _recording


def malloc_setting():
    """``CNNLAB_MALLOC``: ``"system"`` (the default: glibc's malloc as it is) or ``"keep"`` (the first
    compiled kernel calls ``keep_freed_memory()``)."""
    value = os.environ.get("CNNLAB_MALLOC", "system")
    if value not in MALLOC_SETTINGS:
        raise ConfigError(f"CNNLAB_MALLOC must be one of {', '.join(MALLOC_SETTINGS)} (whether glibc's "
                          f"malloc keeps freed memory). Received: CNNLAB_MALLOC={value!r}")
    return value


def keep_freed_memory():
    """Opt-in: glibc's malloc keeps freed memory for reuse instead of returning it at once. A training
    step frees and allocates the same activation-sized arrays again and again; with glibc's defaults
    the large ones are fresh ``mmap``s (or the heap is trimmed after each free), so every step faults
    its pages in again. Serving every block from the heap (no ``mmap``), keeping up to 1 GiB of free
    heap and growing it 64 MiB at a time avoids that, at the price of a resident set that does not
    shrink. Process-wide, so never done unasked: call it, or set ``CNNLAB_MALLOC=keep``. Returns
    True when applied (False off glibc, or when a ``MALLOC_*`` variable says the user tuned it)."""
    if not sys.platform.startswith("linux") or any(k.startswith("MALLOC_") for k in os.environ):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_top_pad, m_mmap_max = -1, -2, -4
        return all(libc.mallopt(option, value) for option, value in
                   ((m_mmap_max, 0), (m_trim_threshold, 1 << 30), (m_top_pad, 64 << 20)))
    except (OSError, AttributeError):  # not glibc
        return False


def check_settings():
    """Read every ``CNNLAB_*`` setting now, so that a bad one is reported before any work starts
    (the ``cnnlab`` command calls it first); raises ``ConfigError``."""
    get_kernels()
    _read_thread_setting()   # validated now, taken at the first kernel (MPI ranks set it before)
    blas_threads()
    malloc_setting()
