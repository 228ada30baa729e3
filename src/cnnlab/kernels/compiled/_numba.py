"""The one path every compiled kernel takes: Numba's settings, threads, grain size, the disk cache.

- ``@kernel`` compiles a function twice, lazily: a parallel variant (``parallel=True``, one parallel
  region per call on Numba's threading layer) and a serial one (``prange`` run as ``range`` on the
  calling thread). A call whose largest array holds fewer than ``GRAIN`` values, or any call when
  cnnlab runs on one thread, takes the serial variant: opening a region costs microseconds when the
  machine is quiet and a scheduler slice (milliseconds) when another process holds a core, more than
  small work is worth (PyTorch keeps work under the same 32,768 elements on the calling thread).
- Threads: ``backend.set_num_threads`` or ``CNNLAB_NUM_THREADS`` (at most Numba's pool), set on the
  calling thread for the call and put back after; unset, Numba's own count (one per core, unless the
  caller lowered it with ``numba.set_num_threads``). ``num_threads()`` is the count Python code
  sizes its task lists by.
- cnnlab owns its threads lazily: the first compiled kernel call makes TBB Numba's threading layer
  when the ``tbb`` wheel is there (``load_tbb``) and puts NumPy's BLAS on ``backend.blas_threads()``
  threads (1 unless ``CNNLAB_BLAS_THREADS`` says otherwise), since the kernels spread their own work
  over the cores and call the GEMM from each of their threads; a BLAS pool spinning beside them on
  the same cores made a plain script's training steps 2-9x slower.
- ``@helper``: a serial function inlined into the kernels that call it.
- The machine code is cached on disk: beside the sources when their ``__pycache__`` is writable
  (Numba's default), else under ``~/.cache/cnnlab/numba`` (``$XDG_CACHE_HOME`` honoured);
  ``NUMBA_CACHE_DIR`` overrides both. Only cnnlab's own kernels are placed there. A corrupt or
  unreadable entry is dropped and compiled afresh; with nowhere writable, kernels compile in memory
  for the process and one line on stderr says why.
"""

import ctypes
import functools
import glob
import os
import sys
import threading
import types as pytypes

import numba
import numpy as np
from numba import njit
from numba.core import caching

from ... import backend

GRAIN = 32768   # values: below this, a kernel runs serially on the calling thread

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# ------------------------------------------------------------------------------------------- cache
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
_noted = False


def _note_uncached(why):
    """Say once per process, in one line, that kernels compile in memory, and why."""
    global _noted
    if not _noted:
        _noted = True
        where = os.environ.get("NUMBA_CACHE_DIR") or f"{_PACKAGE_DIR}/.../__pycache__, {cache_dir()}"
        print(f"cnnlab: note: compiled kernels are not cached on disk ({why}; tried {where}): "
              f"they compile in memory for this process. Set NUMBA_CACHE_DIR to a writable "
              f"directory to keep them", file=sys.stderr)


class _HealingCache(caching.FunctionCache):
    """Numba's cache of one function, that drops a corrupt or unreadable entry (a truncated write, a
    file from another build) and compiles afresh instead of failing on every run."""

    def load_overload(self, sig, target_context):
        try:
            return super().load_overload(sig, target_context)
        except Exception:   # unpickling errors of every kind, truncated files, stale machine code
            self._forget()
            return None

    def save_overload(self, sig, data):
        try:
            super().save_overload(sig, data)
        except OSError as e:   # read-only or full: this process keeps its in-memory compilation
            _note_uncached(f"{type(e).__name__}: {e.strerror or e}")
        except Exception:      # an index unreadable as it was about to be extended: start it afresh
            self._forget()
            try:
                super().save_overload(sig, data)
            except Exception as e:
                _note_uncached(f"{type(e).__name__}: {e}")

    def _forget(self):
        """Remove this function's index and data files (where that is allowed)."""
        base = os.path.join(self._cache_path, self._impl.filename_base)
        for path in [base + ".nbi"] + glob.glob(glob.escape(base) + ".*.nbc"):
            try:
                os.unlink(path)
            except OSError:
                pass


def _cache(dispatcher):
    """Give ``dispatcher`` a healing disk cache, or none (and a note) when nowhere is writable."""
    try:
        dispatcher._cache = _HealingCache(dispatcher.py_func)
    except RuntimeError as e:        # Numba found no writable place for this source file
        _note_uncached("no writable cache directory" if "no locator" in str(e) else str(e))
    return dispatcher


def renamed(fn, name, qualname=None):
    """A copy of ``fn`` called ``name``: Numba names cache files by function, not by compile options
    or closure values, so each variant of one function needs a name of its own."""
    copy = pytypes.FunctionType(fn.__code__, fn.__globals__, name, fn.__defaults__, fn.__closure__)
    copy.__qualname__ = qualname or name
    copy.__module__, copy.__doc__ = fn.__module__, fn.__doc__
    return copy


# ----------------------------------------------------------------------------------------- threads
def num_threads():
    """Threads a parallel kernel runs on: cnnlab's setting (at most Numba's pool), else the pool."""
    pool = numba.config.NUMBA_NUM_THREADS
    wanted = backend.thread_setting()
    return pool if wanted is None else min(wanted, pool)


_owned = False
_owning = threading.Lock()


def own_threads():
    """At the first compiled kernel, once per process: TBB as Numba's threading layer when the
    ``tbb`` wheel is installed (``load_tbb``), NumPy's BLAS on ``backend.blas_threads()`` threads
    (left alone when that is None, the user's choice), and glibc's malloc keeping freed memory when
    the user asked for it (``CNNLAB_MALLOC=keep``). Returns what was done."""
    global _owned
    with _owning:        # a second thread's first kernel waits until the layer is chosen
        if _owned:
            return None
        done = {"tbb": load_tbb(), "blas_threads": backend.blas_threads(),
                "malloc": backend.malloc_setting() == "keep" and backend.keep_freed_memory()}
        if done["blas_threads"] is not None:
            try:
                from threadpoolctl import threadpool_limits
            except ImportError:   # pragma: no cover - threadpoolctl is a dependency
                done["blas_threads"] = None
            else:
                threadpool_limits(limits=done["blas_threads"], user_api="blas")
        _owned = True
        return done


def load_tbb():
    """Make TBB Numba's threading layer: load the ``tbb`` wheel's ``libtbb.so.12`` by path, which
    the loader does not search (it sits in the environment's ``lib/``), so that Numba's default
    order (TBB, OpenMP, workqueue) finds it. TBB shares busy cores best: on a loaded machine,
    training kept several times the throughput it keeps on GNU OpenMP, whose threads spin and wait
    for each other at every region (benchmarks/RESULTS.md, issue 21); Numba's own workqueue keeps
    as much but ends the process when two threads launch kernels at once. Skipped when the user chose
    a layer (``NUMBA_THREADING_LAYER``), when Numba already started one, without the wheel, and under
    an address-space limit (``ulimit -v``): TBB ends the whole process (``std::terminate``) when it
    cannot start a worker thread, which such a limit causes, where OpenMP carries on.
    Returns the library's path, or None."""
    from numba.np.ufunc import parallel

    if os.environ.get("NUMBA_THREADING_LAYER") or numba.config.THREADING_LAYER != "default" \
            or parallel._is_initialized:
        return None
    if _address_space_limited():   # Numba would find TBB by itself where the loader sees the wheel
        numba.config.THREADING_LAYER_PRIORITY = ["omp", "workqueue", "tbb"]
        return None
    try:
        from importlib import metadata

        files = metadata.files("tbb") or ()
    except Exception:      # no tbb distribution (PackageNotFoundError), or unreadable metadata
        return None
    for entry in files:
        if entry.name == "libtbb.so.12":
            path = str(entry.locate())
            try:
                ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            except OSError:
                return None
            return path
    return None


def _address_space_limited():
    """Whether this process runs under an address-space limit (``RLIMIT_AS``, set by ``ulimit -v``)."""
    try:
        import resource

        return resource.getrlimit(resource.RLIMIT_AS)[0] != resource.RLIM_INFINITY
    except (ImportError, AttributeError, ValueError, OSError):   # not POSIX
        return False


# ----------------------------------------------------------------------------------------- kernels
def _largest(args):
    work = 0
    for a in args:
        if isinstance(a, np.ndarray) and a.size > work:
            work = a.size
    return work


class Kernel:
    """A compiled kernel: ``parallel`` and ``serial`` Numba dispatchers of one function, and the
    choice between them per call (``GRAIN``, ``num_threads()``)."""

    def __init__(self, fn, fastmath=True, cache=True):
        options = dict(fastmath=fastmath, nogil=True)
        self.parallel = njit(parallel=True, **options)(fn)
        self.serial = njit(**options)(renamed(fn, fn.__name__ + "__serial", fn.__qualname__ + "__serial"))
        if cache:
            _cache(self.parallel)
            _cache(self.serial)
        functools.update_wrapper(self, fn)

    def __call__(self, *args):
        if not _owned:
            own_threads()
        setting = backend.thread_setting()
        if setting == 1 or _largest(args) < GRAIN or numba.config.NUMBA_NUM_THREADS == 1:
            return self.serial(*args)
        if setting is None:            # one thread per core, or what the caller gave Numba itself
            return self.parallel(*args)
        threads, saved = min(setting, numba.config.NUMBA_NUM_THREADS), numba.get_num_threads()
        if threads == saved:
            return self.parallel(*args)
        numba.set_num_threads(threads)
        try:
            return self.parallel(*args)
        finally:
            numba.set_num_threads(saved)


def kernel(fn=None, *, fastmath=True, cache=True):
    """Decorator: a compiled kernel (``Kernel``); ``fastmath`` as Numba's (True, False or a set of
    LLVM flags: kernels that must keep NaN and infinity semantics pass a set without them)."""
    if fn is None:
        return lambda f: Kernel(f, fastmath=fastmath, cache=cache)
    return Kernel(fn, fastmath=fastmath, cache=cache)


def helper(fn=None, *, fastmath=True):
    """Decorator: a compiled serial helper, inlined into the kernels that call it."""
    if fn is None:
        return lambda f: helper(f, fastmath=fastmath)
    return _cache(njit(fastmath=fastmath, nogil=True, inline="always")(fn))

