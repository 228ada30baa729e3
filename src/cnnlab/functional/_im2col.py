"""The machinery the kernels share: window views, im2col blocks, scratch memory, layouts and threads.

For an input ``x`` of shape (N, C, H, W) (already padded), ``sliding_windows`` returns a view of shape
(N, C, oH, oW, kH, kW) whose element [n, c, i, j, p, q] is ``x[n, c, i*sH + p*dH, j*sW + q*dW]``.
The array module's ``as_strided`` makes it by choosing strides; nothing is copied until an op reads it
(the reductions of pooling).

The rest serves speed (see benchmarks/NOTES.md for the measurements behind each choice):
``Columns`` builds a convolution's im2col matrix channels-last, block by block, in reused ``scratch``
memory; ``is_channels_last``/``as_layout``/``empty4d`` keep every op in its input's memory layout;
``parallel_map``/``batch_slices`` spread blocks and batch slices over a small thread pool while
NumPy's BLAS runs on one thread; ``_tune_malloc`` keeps glibc from handing freed memory back.
"""

import ctypes
import itertools
import math
import os
import sys
import threading

import numpy as np

from .. import backend
from ..autograd.function import set_kernel_context
from ..kernels.windows import sliding_windows  # noqa: F401  (pool.py imports it from here)
from .conv import output_size  # noqa: F401  (pool.py imports it from here)


# ------------------------------------------------------------------------------------ channels-last columns
#
# Convolution runs channels-last inside: the columns of an output pixel are its window flattened over
# (kernel row, kernel column, channel), i.e. one row of a (pixels, kH*kW*C) matrix, and the product with the
# kernels, (pixels, K) @ (K, out_channels), lands directly in an (N, oH, oW, O) array. BLAS is fastest on
# this orientation when the number of output channels is small (the common case in small networks), the
# batch is folded into the rows (one large product instead of one per image), and for stride 1 the
# window's kW*C values are contiguous in a channels-last padded input, so building the columns is a copy
# of long contiguous runs. The columns are built in blocks of about CHUNK_BYTES, each multiplied while
# it is still in cache, into a scratch buffer reused from call to call (no fresh pages to fault in).

CHUNK_BYTES = 4 << 20        # columns built and multiplied per block
MIN_SPLIT_BYTES = 256 << 10  # columns smaller than this per thread are not split between threads
_SCRATCH_LIMIT = 64 << 20    # larger temporaries are allocated normally instead of being kept


def _tune_malloc():
    """Let glibc's malloc keep freed memory for reuse instead of returning it to the system at once.

    A training step allocates and frees the same activation-sized arrays again and again. With glibc's
    defaults the large ones are fresh ``mmap``s (or the heap is trimmed after each free), so every step
    faults the pages in again and the kernel zeroes them: a third of a small network's step, a sixth of
    ResNet-18's inference. Serving every block from the heap (no ``mmap``), keeping up to 1 GiB of free
    heap and growing it 64 MiB at a time avoids that; the resident set then stays near its peak.
    Skipped when the user set any ``MALLOC_*`` variable or ``CNNLAB_MALLOC=system``, and off glibc.
    """
    if os.environ.get("CNNLAB_MALLOC", "").lower() == "system" or any(k.startswith("MALLOC_") for k in os.environ):
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_top_pad, m_mmap_max = -1, -2, -4
        return all(libc.mallopt(option, value) for option, value in
                   ((m_mmap_max, 0), (m_trim_threshold, 1 << 30), (m_top_pad, 64 << 20)))
    except (OSError, AttributeError):  # not glibc
        return False


MALLOC_TUNED = _tune_malloc()


class _Scratch(threading.local):
    def __init__(self):
        self.arrays = {}
        self.padded_for = None  # which images the "pad" slot holds (Columns.build)


_scratch = _Scratch()


def scratch(xp, slot, shape, dtype):
    """An uninitialised temporary array, reused from call to call (per thread and ``slot``).

    The contents are valid until the next request for the same slot, so a slot must not be held across
    a call that may use it again.
    """
    size = math.prod(shape)
    key = (slot, dtype, xp)
    if size * dtype.itemsize > _SCRATCH_LIMIT:
        return xp.empty(shape, dtype=dtype)
    buf = _scratch.arrays.get(key)
    if buf is None or buf.size < size:
        buf = xp.empty(size, dtype=dtype)
        _scratch.arrays[key] = buf
    return buf[:size].reshape(shape)


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


def pad_into(x, pads, out, channels_last=True):
    """Copy (N, C, H, W) ``x`` (any memory layout) into ``out`` with a zero border of ``pads``.

    ``out`` is (N, Hp, Wp, C) when ``channels_last``, else (N, C, Hp, Wp); only the border is zeroed.
    """
    n, c, h, w = x.shape
    (top, bottom), (left, right) = pads
    if not channels_last:
        out = out.transpose(0, 2, 3, 1)                                  # (N, Hp, Wp, C) view
    if top:
        out[:, :top] = 0
    if bottom:
        out[:, top + h:] = 0
    if left:
        out[:, top:top + h, :left] = 0
    if right:
        out[:, top:top + h, left + w:] = 0
    out[:, top:top + h, left:left + w] = x.transpose(0, 2, 3, 1)         # (N, H, W, C) view of x
    return out if channels_last else out.transpose(0, 3, 1, 2)


def even_ranges(n, step, threads=None):
    """``range(n)`` cut into (start, stop) ranges of at most ``step`` items, of sizes that differ by at
    most one, and, when there are several, as many as a multiple of the thread count (where there are
    enough items): with ``range(0, n, step)`` a short last block, or one block more for one thread,
    leaves a core idle. Work that fits in one block stays one block (too small to repay a hand-off)."""
    count = -(-n // step)
    threads = num_threads() if threads is None else threads
    if 1 < count < n and count % threads:
        count = min(n, count + threads - count % threads)
    return [(n * i // count, n * (i + 1) // count) for i in range(count)]


def padded_nhwc(x, pads):
    """A new channels-last (N, Hp, Wp, C) zero-padded copy of (N, C, H, W) ``x``."""
    xp = backend.get_array_module(x)
    n, c, h, w = x.shape
    (top, bottom), (left, right) = pads
    return pad_into(x, pads, xp.empty((n, h + top + bottom, w + left + right, c), dtype=x.dtype))


class Columns:
    """im2col of (N, C, H, W) ``x`` (any memory layout, zero-padded by ``pads`` on the fly), block by block.

    ``blocks`` lists the blocks of output pixels, about CHUNK_BYTES of columns each: several whole images,
    or, when one image is larger, a range of its output rows. ``build(block)`` returns ``(cols, r0, r1)``:
    ``cols`` is the (r1 - r0, G*K) matrix of output pixels r0:r1 (pixels in (n, i, j) order), each row a
    window flattened per group over (kernel row, kernel column, channel in group), K = kH*kW*C/G.
    ``cols`` lives in the calling thread's scratch memory: use it before building the next block.
    """

    _tokens = itertools.count()

    def __init__(self, x, pads, kernel_size, stride, dilation, groups, out_size):
        self.token = next(Columns._tokens)  # tells a thread's scratch which input its padded images are from
        self.x, self.pads, self.kernel_size, self.stride, self.dilation = x, pads, kernel_size, stride, dilation
        self.groups, self.out_size = groups, out_size
        n, c, h, w = x.shape
        oh, ow = out_size
        self.k = kernel_size[0] * kernel_size[1] * c
        # Small channel counts (the first layer): windows run along the image rows instead, so build the
        # columns transposed, (K, pixels), from an NCHW padded copy; BLAS reads the transpose directly.
        self.tap_major = groups == 1 and kernel_size[1] * c < ow
        item = x.dtype.itemsize
        per_image = oh * ow * self.k * item
        # Blocks of about CHUNK_BYTES, but small enough that every thread gets one when the whole is
        # worth splitting (a single image's convolutions at inference).
        chunk = max(min(CHUNK_BYTES, n * per_image // num_threads()), MIN_SPLIT_BYTES)
        if per_image <= chunk:
            self.blocks = [(n0, n1, 0, oh) for n0, n1 in even_ranges(n, max(1, chunk // per_image))]
        else:  # one image is already large: split its output rows
            # Whole images go to the threads in turn; a remainder image's rows are split between them too.
            rows = even_ranges(oh, max(1, chunk // (ow * self.k * item)), threads=None if n % num_threads() else 1)
            self.blocks = [(s, s + 1, i0, i1) for s in range(n) for i0, i1 in rows]

    def build(self, block):
        x = self.x
        xp = backend.get_array_module(x)
        n0, n1, i0, i1 = block
        n, c, h, w = x.shape
        (top, bottom), (left, right) = self.pads
        hp, wp = h + top + bottom, w + left + right
        (kh, kw), (sh, sw), (dh, dw), (oh, ow) = self.kernel_size, self.stride, self.dilation, self.out_size
        groups, k = self.groups, self.k
        b, rows = n1 - n0, (n1 - n0) * (i1 - i0) * ow
        r0 = n0 * oh * ow + i0 * ow
        # The padded images stay in scratch while their rows are built block after block.
        key = (self.token, n0, n1)
        if _scratch.padded_for != key:
            shape = (b, c, hp, wp) if self.tap_major else (b, hp, wp, c)
            pad_into(x[n0:n1], self.pads, scratch(xp, "pad", shape, x.dtype), channels_last=not self.tap_major)
            _scratch.padded_for = key
        if self.tap_major:
            xpad = scratch(xp, "pad", (b, c, hp, wp), x.dtype)
            s_n, s_c, s_h, s_w = xpad.strides
            view = xp.lib.stride_tricks.as_strided(
                xpad[:, :, i0 * sh:], shape=(kh, kw, c, b, i1 - i0, ow),
                strides=(s_h * dh, s_w * dw, s_c, s_n, s_h * sh, s_w * sw), writeable=False)
            cols = scratch(xp, "cols", view.shape, x.dtype)              # (kH, kW, C, b, rows, oW)
            xp.copyto(cols, view)
            return cols.reshape(k, rows).T, r0, r0 + rows
        xpad = scratch(xp, "pad", (b, hp, wp, c), x.dtype)
        s_n, s_h, s_w, s_c = xpad.strides
        base = xpad[:, i0 * sh:]
        if groups == 1 and dw == 1:
            # Kernel row p of a window is kW*C consecutive values of the channels-last padded input.
            view = xp.lib.stride_tricks.as_strided(
                base, shape=(b, i1 - i0, ow, kh, kw * c), strides=(s_n, s_h * sh, s_w * sw, s_h * dh, s_c),
                writeable=False)                                          # (b, rows, oW, kH, kW*C)
        else:
            cg = c // groups
            view = xp.lib.stride_tricks.as_strided(
                base, shape=(b, i1 - i0, ow, groups, kh, kw, cg),
                strides=(s_n, s_h * sh, s_w * sw, cg * s_c, s_h * dh, s_w * dw, s_c),
                writeable=False)                                          # (b, rows, oW, G, kH, kW, C/G)
        cols = scratch(xp, "cols", view.shape, x.dtype)
        xp.copyto(cols, view)
        return cols.reshape(rows, k), r0, r0 + rows


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


_threads = _Threads()
_in_parallel = threading.local()


def _after_fork_in_child():
    """A forked child has only the forking thread: start a fresh pool there when one is needed."""
    _threads.executor = None
    _in_parallel.active = False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


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
set_kernel_context(blas_one_thread)


class blas_threads_on:
    """Context: NumPy's BLAS on all ``num_threads()`` threads for one product that is better split by BLAS
    itself than by blocks (a single block: few output pixels, many kernels), inside a kernel's one-thread
    context."""

    def __enter__(self):
        controls = _threads.controls if num_threads() > 1 else None
        self.saved = controls[0]() if controls is not None and not getattr(_in_parallel, "active", False) else None
        if self.saved is not None:
            controls[1](_threads.count)
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            _threads.controls[1](self.saved)
        return False


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
    if _threads.executor is None:
        from concurrent.futures import ThreadPoolExecutor

        _threads.executor = ThreadPoolExecutor(max_workers=_threads.count - 1, thread_name_prefix="cnnlab")
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
