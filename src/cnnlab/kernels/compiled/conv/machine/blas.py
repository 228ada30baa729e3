"""A matrix product callable from inside a compiled kernel: NumPy's own OpenBLAS, one call per thread.

Why: a convolution with 128+ channels is fastest as im2col + GEMM, but a BLAS call from Python runs
in BLAS's own thread pool, which then spins against Numba's threads on the same cores. Calling the
GEMM from inside a kernel's parallel region instead gives every thread its own product on its own
block of rows (BLAS on one thread per call): one pool for the whole op, and each thread's columns
are still in its cache when they are multiplied.

How: ``cblas_?gemm`` of the OpenBLAS that NumPy loaded (ILP64, as NumPy 2's wheels ship it) is
registered with LLVM under a fixed name on first use, so compiled kernels link to it by name and stay
cacheable on disk. When no such library is loaded (NumPy built on another BLAS), a compiled loop of the
same signature takes its place: correct, slower. ``gemm_source()`` says which one is in use.
"""

import ctypes

import llvmlite.binding as llvm
import numpy as np
import numba
from numba import cfunc, carray, prange, types
from numba.extending import intrinsic, overload

from ..._numba import kernel, num_threads

__all__ = ["gemm", "gemm_source", "ready", "threaded_matmul"]

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
_SYMBOLS = {np.float32: "cnnlab_cblas_sgemm", np.float64: "cnnlab_cblas_dgemm"}
_BLAS_NAMES = {np.float32: ("scipy_cblas_sgemm64_", "cblas_sgemm64_"),
               np.float64: ("scipy_cblas_dgemm64_", "cblas_dgemm64_")}


def _signature(value):
    """cblas_?gemm's C signature with 64-bit integers: order, transA, transB, M, N, K, alpha, A,
    lda, B, ldb, beta, C, ldc."""
    i32, i64, ptr = types.int32, types.int64, types.CPointer(value)
    return types.void(i32, i32, i32, i64, i64, i64, value, ptr, i64, ptr, i64, value, ptr, i64)


def _fallback(dtype):
    """A compiled row-major GEMM with cblas's signature, for a NumPy without OpenBLAS."""
    value = types.float32 if dtype == np.float32 else types.float64

    def gemm_loops(order, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
        a_rows = m if trans_a == NO_TRANS else k
        b_rows = k if trans_b == NO_TRANS else n
        av, bv, cv = carray(a, (a_rows, lda)), carray(b, (b_rows, ldb)), carray(c, (m, ldc))
        for i in range(m):
            row = cv[i]
            for j in range(n):
                row[j] = row[j] * beta if beta != 0 else 0
            for p in range(k):
                aip = alpha * (av[i, p] if trans_a == NO_TRANS else av[p, i])
                if trans_b == NO_TRANS:
                    brow = bv[p]
                    for j in range(n):
                        row[j] += aip * brow[j]
                else:
                    for j in range(n):
                        row[j] += aip * bv[j, p]

    try:
        compiled = cfunc(_signature(value), nopython=True, fastmath=True, cache=True)(gemm_loops)
    except RuntimeError:     # nowhere writable to cache it: compile it for this process
        compiled = cfunc(_signature(value), nopython=True, fastmath=True)(gemm_loops)
    return compiled.address


def _find_openblas():
    """{dtype: address} of the ILP64 cblas GEMMs in the OpenBLAS this process loaded; {} when there
    is none."""
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line})
    except OSError:
        return {}
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        found = {}
        for dtype, names in _BLAS_NAMES.items():
            for name in names:
                fn = getattr(lib, name, None)
                if fn is not None:
                    found[dtype] = ctypes.cast(fn, ctypes.c_void_p).value
                    break
        if len(found) == len(_BLAS_NAMES):
            return found
    return {}


_SOURCE = None


def ready():
    """Point the fixed symbols at OpenBLAS, else at the compiled fallback, once; the Python side of
    every kernel that calls ``gemm`` calls this first (on first use, not at import: looking the
    library up is the only effect, and an import should not have even that)."""
    global _SOURCE
    if _SOURCE is None:
        found = _find_openblas()
        for dtype, symbol in _SYMBOLS.items():
            llvm.add_symbol(symbol, found[dtype] if found else _fallback(dtype))
        _SOURCE = "openblas" if found else "compiled loops"
    return _SOURCE


def gemm_source():
    """``"openblas"`` when kernels call NumPy's OpenBLAS, else ``"compiled loops"``."""
    return ready()


_EXTERNAL = {dtype: types.ExternalFunction(symbol, _signature(types.float32 if dtype == np.float32
                                                              else types.float64))
             for dtype, symbol in _SYMBOLS.items()}


@intrinsic
def _data(typingctx, array):
    """The address of an array view's first value, as a typed pointer."""
    def codegen(context, builder, signature, args):
        view = context.make_array(signature.args[0])(context, builder, args[0])
        return view.data

    return types.CPointer(array.dtype)(array), codegen


def gemm(trans_a, trans_b, a, b, beta, c):
    """c = a' @ b' + beta * c on 2-D row-major views whose rows may be strided (a' is a, or a.T when
    ``trans_a``). Callable only inside compiled code; runs on the calling thread."""
    raise TypeError("gemm is callable only from compiled kernels")


@overload(gemm, fastmath=True)
def _gemm_compiled(trans_a, trans_b, a, b, beta, c):
    dtype = a.dtype
    if dtype not in (types.float32, types.float64):
        return None
    external = _EXTERNAL[np.float32 if dtype == types.float32 else np.float64]
    np_dtype = np.float32 if dtype == types.float32 else np.float64

    def impl(trans_a, trans_b, a, b, beta, c):
        m, n = c.shape
        k = a.shape[0] if trans_a else a.shape[1]
        if m == 0 or n == 0:
            return
        if k == 0:                       # an empty sum: BLAS would reject the leading dimensions
            for i in range(m):
                for j in range(n):
                    c[i, j] = c[i, j] * beta if beta != 0 else 0
            return
        external(ROW_MAJOR, TRANS if trans_a else NO_TRANS, TRANS if trans_b else NO_TRANS,
                 m, n, k, np_dtype(1.0), _data(a), a.strides[0] // a.itemsize,
                 _data(b), b.strides[0] // b.itemsize, np_dtype(beta), _data(c),
                 c.strides[0] // c.itemsize)

    return impl



@kernel
def _rows_product(a, b, out, tasks):
    for t in prange(tasks):
        r0, r1 = a.shape[0] * t // tasks, a.shape[0] * (t + 1) // tasks
        gemm(False, False, a[r0:r1], b, 0.0, out[r0:r1])


def threaded_matmul(a, b, out):
    """out = a @ b for 2-D C-contiguous arrays, one block of rows per thread: the product the
    convolutions run (the benchmark's GEMM ceiling)."""
    ready()
    _rows_product(a, b, out, num_threads())
    return out
