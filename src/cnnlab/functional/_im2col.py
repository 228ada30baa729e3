"""What pooling, normalisation, activations and linear still share until they move to ``kernels/``:
memory layouts (``is_channels_last``, ``as_layout``, ``empty4d``) and a small thread pool
(``parallel_map``, ``batch_slices``) with NumPy's BLAS on one thread meanwhile. Convolution no
longer uses any of it (``kernels/``); nothing here acts at import.
"""

import ctypes
import os
import threading

import numpy as np

from .. import backend
from ..kernels.windows import sliding_windows  # noqa: F401  (pool.py imports it from here)
from .conv import output_size  # noqa: F401  (pool.py imports it from here)


_ones_cache = {}


def ones(xp, size, dtype):
    """A read-only vector of ``size`` ones, cached: sums as matrix-vector products need one per call.

    ``ones @ rows`` sums the rows of a matrix with BLAS (reading the data once, on every core), many
    times faster than ``rows.sum(axis=0)``, which NumPy reduces row by row.
    """
    key = (xp, dtype)
    buf = _ones_cache.get(key)
    if buf is None or buf.size < size:
        buf = xp.ones(max(size, 1024), dtype=dtype)
        _ones_cache[key] = buf
    return buf[:size]


# ------------------------------------------------------------------------------------ threads
#
# NumPy's element-wise loops and copies run on one core; only BLAS uses them all. Work that splits into
# independent blocks (a convolution's column blocks, batch slices) therefore runs on a small pool of
# threads -- NumPy releases the GIL inside its loops and BLAS calls -- with BLAS set to one thread
# meanwhile, so every core builds columns *and* multiplies instead of waiting for the copies.

def _blas_thread_controls():
    """(get, set) for the thread count of NumPy's BLAS, or None when it cannot be controlled.

    OpenBLAS (NumPy's wheels bundle it) is found among the loaded libraries and called directly through
    ctypes (about a microsecond a call); other BLAS libraries through threadpoolctl, when installed.
    """
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line}
        for path in sorted(paths):
            lib = ctypes.CDLL(path)
            for prefix in ("scipy_openblas", "openblas"):
                for suffix in ("64_", ""):
                    get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                    put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                    if get is not None and put is not None:
                        get.restype, put.argtypes = ctypes.c_int, [ctypes.c_int]
                        return get, put
    except OSError:
        pass
    try:
        from threadpoolctl import ThreadpoolController

        libs = [lc for lc in ThreadpoolController().lib_controllers if lc.user_api == "blas"]
        if libs:
            return libs[0].get_num_threads, libs[0].set_num_threads
    except Exception:  # threadpoolctl missing or unable to load the library
        pass
    return None


class _Threads:
    def __init__(self):
        self.count = None       # worker threads to use (the cores NumPy's BLAS uses), decided at first use
        self.controls = None
        self.executor = None
        self.pid = None         # the process the executor's threads belong to


_threads = _Threads()
_in_parallel = threading.local()


def num_threads():
    """Threads the kernels split their work over: ``CNNLAB_NUM_THREADS``, else NumPy's BLAS thread count
    (else the cores this process may use)."""
    if _threads.count is None:
        _threads.controls = _blas_thread_controls()
        count = os.environ.get("CNNLAB_NUM_THREADS", "")
        if count.isdigit() and int(count) > 0:
            _threads.count = int(count)
        elif _threads.controls is not None:
            _threads.count = max(1, int(_threads.controls[0]()))
        else:
            _threads.count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    return _threads.count


PARALLEL_MIN_BYTES = 1 << 20   # element-wise work on smaller arrays stays on one thread


def batch_slices(a, min_bytes=None):
    """Slices of ``a``'s leading (batch) axis for ``parallel_map``: one per thread when ``a`` is large
    enough to repay the hand-off (tens of microseconds), else ``[...]``, the whole array."""
    threads = min(num_threads(), a.shape[0] if a.ndim else 1)
    if threads < 2 or a.nbytes < (PARALLEL_MIN_BYTES if min_bytes is None else min_bytes) or backend.get_array_module(a) is not np:
        return [...]
    n = a.shape[0]
    return [slice(n * t // threads, n * (t + 1) // threads) for t in range(threads)]


class _BlasOneThread:
    """Context: NumPy's BLAS on one thread while cnnlab's ops run (re-entrant; restores the count after).

    cnnlab spreads its own work over the cores, so a multi-threaded BLAS call in between (a small
    product, a matrix-vector sum) would only wake BLAS's worker threads, which then spin for a while
    waiting for more work -- on the very cores the kernels' threads need.
    """

    def __init__(self):
        self.depth = 0
        self.saved = None

    def __enter__(self):
        if self.depth == 0:
            num_threads()
            controls = _threads.controls
            self.saved = controls[0]() if controls is not None and _threads.count > 1 else None
            if self.saved is not None and self.saved != 1:
                controls[1](1)
        self.depth += 1
        return self

    def __exit__(self, *exc):
        self.depth -= 1
        if self.depth == 0 and self.saved is not None and self.saved != 1:
            _threads.controls[1](self.saved)
            self.saved = None
        return False


blas_one_thread = _BlasOneThread()


def parallel_map(fn, items, blas=True):
    """``[fn(item) for item in items]``, spread over ``num_threads()`` threads (in order of items).

    Items go to the threads in contiguous runs; the calling thread takes the first. BLAS runs on one
    thread per caller meanwhile (``blas=True``: ``fn`` calls BLAS; it then runs serially when BLAS's
    thread count cannot be controlled). Nested calls and single items run serially.
    """
    threads = min(num_threads(), len(items))
    if threads < 2 or getattr(_in_parallel, "active", False) or (blas and _threads.controls is None):
        if blas and not getattr(_in_parallel, "active", False):
            with blas_one_thread:
                return [fn(item) for item in items]
        return [fn(item) for item in items]
    if _threads.executor is None or _threads.pid != os.getpid():   # none yet, or the parent's (forked)
        from concurrent.futures import ThreadPoolExecutor

        _threads.executor = ThreadPoolExecutor(max_workers=_threads.count - 1, thread_name_prefix="cnnlab")
        _threads.pid = os.getpid()
    bounds = [len(items) * t // threads for t in range(threads + 1)]

    def run(t):
        _in_parallel.active = True
        try:
            return [fn(item) for item in items[bounds[t]:bounds[t + 1]]]
        finally:
            _in_parallel.active = False

    controls = _threads.controls if blas else None
    if controls is not None:
        blas_threads = controls[0]()
        controls[1](1)
    try:
        futures = [_threads.executor.submit(run, t) for t in range(1, threads)]
        results = run(0)
        for f in futures:
            results.extend(f.result())
    finally:
        if controls is not None:
            controls[1](blas_threads)
    return results


# ------------------------------------------------------------------------------------ memory layout
#
# Convolutions return channels-last memory in (N, C, H, W) shape. Element-wise NumPy ops keep the layout
# of their operands, but an op between a channels-last and an NCHW-contiguous array walks one of them
# with large strides and runs an order of magnitude slower, so ops that create arrays (pooling
# backward, padding, ...) create them in the layout of the array they come from.

def is_channels_last(a):
    """True when 4-D ``a`` is laid out as (N, H, W, C) in memory (and is not also plain C-contiguous)."""
    return a.ndim == 4 and not a.flags.c_contiguous and a.transpose(0, 2, 3, 1).flags.c_contiguous


def empty4d(xp, shape, dtype, channels_last):
    """An uninitialised (N, C, H, W) array, with channels-last memory when asked."""
    if not channels_last:
        return xp.empty(shape, dtype=dtype)
    n, c, h, w = shape
    return xp.empty((n, h, w, c), dtype=dtype).transpose(0, 3, 1, 2)


def zeros4d(xp, shape, dtype, channels_last):
    """Zeros of (N, C, H, W) shape, with channels-last memory when asked."""
    if not channels_last:
        return xp.zeros(shape, dtype=dtype)
    n, c, h, w = shape
    return xp.zeros((n, h, w, c), dtype=dtype).transpose(0, 3, 1, 2)


def as_layout(a, channels_last):
    """``a`` itself if it already has the layout (channels-last or not), else a copy that has it."""
    if a.ndim != 4 or is_channels_last(a) == channels_last:
        return a
    xp = backend.get_array_module(a)
    out = empty4d(xp, a.shape, a.dtype, channels_last)
    out[...] = a
    return out
