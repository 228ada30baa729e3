"""What the compiled kernels share: Numba's settings, the disk cache's place, threads, stack tiles.

- Every kernel is ``@njit(parallel=True, fastmath=True, cache=True)`` (``kernel``): one parallel
  region per call, run by Numba's threading layer. cnnlab leaves the layer to Numba (TBB, else
  OpenMP, else its own workqueue; ``NUMBA_THREADING_LAYER`` picks one): OpenMP, the one installed
  here, keeps its workers spinning briefly between regions, so back-to-back kernels start at once.
- ``threads()`` runs a kernel on ``CNNLAB_NUM_THREADS`` threads (default: Numba's, one per core)
  and puts the calling thread's Numba setting back afterwards.
- The compiled machine code is cached on disk: beside the sources when their ``__pycache__`` is
  writable (Numba's default), else under ``~/.cache/cnnlab/numba`` (``$XDG_CACHE_HOME`` honoured);
  ``NUMBA_CACHE_DIR`` overrides both. Only cnnlab's own kernels are placed there.
- ``stack_tile(n, dtype)``: scratch of n values on the stack. LLVM keeps a fixed-size stack array
  whose every index is known after unrolling in registers; a heap array (``np.empty``) it cannot,
  as it cannot prove the array is not also the input (measured: 80 vs 12 GFLOP/s).
"""

import os

import numba
from numba import njit, types
from numba.core import caching, cgutils
from numba.extending import intrinsic

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cache_dir():
    """Where cnnlab's compiled kernels are cached when the package's own directory is read-only."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "cnnlab", "numba")


class _CnnlabCacheLocator(caching.UserWideCacheLocator):
    """Numba's user-wide cache locator, moved to ``cache_dir()`` and limited to cnnlab's sources."""

    def __init__(self, py_func, py_file):
        super().__init__(py_func, py_file)
        self._cache_path = os.path.join(cache_dir(), self.get_suitable_cache_subpath(py_file))

    @classmethod
    def from_function(cls, py_func, py_file):
        if not os.path.abspath(py_file).startswith(_PACKAGE_DIR + os.sep):
            return None
        return super().from_function(py_func, py_file)


def _install_cache_locator():
    """Put cnnlab's locator right after Numba's in-tree one (which wins when it can write)."""
    classes = caching.CacheImpl._locator_classes
    if _CnnlabCacheLocator not in classes:
        classes.insert(classes.index(caching.InTreeCacheLocator) + 1, _CnnlabCacheLocator)


_install_cache_locator()


def kernel(fn):
    """A compiled kernel: one parallel region, fast maths, cached on disk."""
    return njit(parallel=True, fastmath=True, cache=True, nogil=True)(fn)


def helper(fn):
    """A compiled serial helper, inlined into the kernels that call it."""
    return njit(fastmath=True, cache=True, nogil=True, inline="always")(fn)


def num_threads():
    """Threads a kernel runs on: ``CNNLAB_NUM_THREADS`` (at most Numba's pool), else Numba's pool."""
    pool = numba.config.NUMBA_NUM_THREADS
    value = os.environ.get("CNNLAB_NUM_THREADS", "")
    if value.isdigit() and int(value) > 0:
        return min(int(value), pool)
    return pool


class threads:
    """Context: the calling thread's Numba kernels run on ``num_threads()`` threads inside it."""

    def __enter__(self):
        self.saved = numba.get_num_threads()
        wanted = num_threads()
        if wanted != self.saved:
            numba.set_num_threads(wanted)
        return self

    def __exit__(self, *exc):
        if numba.get_num_threads() != self.saved:
            numba.set_num_threads(self.saved)
        return False


@intrinsic
def stack_tile(typingctx, size, dtype):
    """A pointer to ``size`` (a compile-time constant) uninitialised values of ``dtype`` on the stack;
    wrap it with ``numba.carray(ptr, shape)``."""
    if not isinstance(size, types.IntegerLiteral):
        return None
    n, value_type = size.literal_value, dtype.dtype

    def codegen(context, builder, signature, args):
        return cgutils.alloca_once(builder, context.get_data_type(value_type), size=n)

    return types.CPointer(value_type)(size, dtype), codegen
