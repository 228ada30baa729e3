"""The GEMM the convolution calls from inside its parallel regions: NumPy's OpenBLAS, or the compiled
fallback of the same C signature, against NumPy's matmul."""

import ctypes

import numpy as np
import pytest
from numba import njit

from cnnlab.kernels.compiled.conv.machine import blas as _blas
from cnnlab.kernels.compiled.conv.machine.simd import product, product_transposed
from helpers import assert_close


_blas.ready()


@njit(cache=False)
def _call(trans_a, trans_b, a, b, beta, c):
    _blas.gemm(trans_a, trans_b, a, b, beta, c)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_gemm_on_strided_row_views(dtype, trans_a, trans_b, rng):
    """c' = op(a) @ op(b) + beta c on views whose rows are strided (a column block of a wider array)."""
    a = rng.standard_normal((7, 5) if trans_a else (5, 7)).astype(dtype)
    b = rng.standard_normal((3, 7) if trans_b else (7, 3)).astype(dtype)
    wide = rng.standard_normal((5, 8)).astype(dtype)
    before = wide.copy()
    _call(trans_a, trans_b, a, b, 0.5, wide[:, 2:5])
    expected = (a.T if trans_a else a) @ (b.T if trans_b else b) + 0.5 * before[:, 2:5]
    assert_close(wide[:, 2:5], expected, dtype)
    np.testing.assert_array_equal(np.delete(wide, [2, 3, 4], axis=1), np.delete(before, [2, 3, 4], axis=1))


def test_gemm_of_an_empty_sum_scales_by_beta(rng):
    c = rng.standard_normal((3, 4))
    expected = 2 * c
    _call(False, False, np.zeros((3, 0)), np.zeros((0, 4)), 2.0, c)
    np.testing.assert_array_equal(c, expected)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_threaded_matmul_matches_numpy(dtype, rng):
    a = rng.standard_normal((37, 19)).astype(dtype)
    b = rng.standard_normal((19, 23)).astype(dtype)
    out = np.empty((37, 23), dtype)
    assert_close(_blas.threaded_matmul(a, b, out), a @ b, dtype)


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_compiled_fallback_has_cblas_semantics(trans_a, trans_b, rng):
    """The loops that stand in for BLAS when NumPy brings none, called through their C address."""
    p = ctypes.POINTER(ctypes.c_double)
    i64 = ctypes.c_int64
    proto = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_int, ctypes.c_int, i64, i64, i64, ctypes.c_double,
                             p, i64, p, i64, ctypes.c_double, p, i64)
    fallback = proto(_blas._fallback(np.float64))
    a = rng.standard_normal((6, 4) if trans_a else (4, 6))
    b = rng.standard_normal((5, 6) if trans_b else (6, 5))
    c = rng.standard_normal((4, 5))
    expected = (a.T if trans_a else a) @ (b.T if trans_b else b) + 0.25 * c
    t = {False: _blas.NO_TRANS, True: _blas.TRANS}
    fallback(_blas.ROW_MAJOR, t[trans_a], t[trans_b], 4, 5, 6, 1.0, a.ctypes.data_as(p), a.shape[1],
             b.ctypes.data_as(p), b.shape[1], 0.25, c.ctypes.data_as(p), 5)
    assert_close(c, expected, "float64")


def test_the_gemm_source_is_named():
    assert _blas.gemm_source() in ("openblas", "compiled loops")


@njit(cache=False)
def _product(a, w, c):
    product(a, w, c)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("columns", [16, 32, 48])
@pytest.mark.parametrize("rows", [1, 7, 13, 14, 29, 100])
def test_register_tiled_product(dtype, columns, rows, rng):
    """16 and 32 float32 columns take the vector-register tiles (rows past whole tiles through BLAS);
    other widths and float64 take BLAS; the output may be a column block of a wider array."""
    a = rng.standard_normal((rows, 37)).astype(dtype)
    w = rng.standard_normal((37, columns)).astype(dtype)
    wide = np.full((rows, columns + 5), 7.0, dtype)
    _product(a, w, wide[:, 2:2 + columns])
    assert_close(wide[:, 2:2 + columns], a @ w, dtype)
    assert (wide[:, :2] == 7).all() and (wide[:, 2 + columns:] == 7).all()


@njit(cache=False)
def _product_transposed(a, w, c):
    product_transposed(a, w, c)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("columns", [16, 32, 48])
@pytest.mark.parametrize("rows", [1, 7, 13, 14, 29, 100])
def test_register_tiled_transposed_product_adds(dtype, columns, rows, rng):
    """c += a.T @ w, the weight gradient's form, on a column block of a wider c."""
    a = rng.standard_normal((37, rows)).astype(dtype)
    w = rng.standard_normal((37, columns)).astype(dtype)
    wide = rng.standard_normal((rows, columns + 5)).astype(dtype)
    before = wide.copy()
    _product_transposed(a, w, wide[:, 2:2 + columns])
    assert_close(wide[:, 2:2 + columns], before[:, 2:2 + columns] + a.T @ w, dtype)
    np.testing.assert_array_equal(wide[:, :2], before[:, :2])
    np.testing.assert_array_equal(wide[:, 2 + columns:], before[:, 2 + columns:])
