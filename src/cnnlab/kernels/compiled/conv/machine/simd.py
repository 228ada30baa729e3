"""Register-tiled products for 16-64 output columns, written in LLVM's vector types.

Why: convolutions with 16-32 output channels are products (pixels, K) @ (K, 16 or 32); OpenBLAS spends
most of such a product packing the wide operand (86 and 125 GFLOP/s on 2 cores here), and Numba loops
over 16-32 channels do not vectorise at all (kernels/README.md, "What the machine wants": the vector
loop must be 64 long).

How: ``tile_product`` computes R rows x 16V columns of the product in R*V vector registers of 16
float32 lanes. For every k it loads V vectors of the kernel row once and, per output row, broadcasts
one value of that row and adds its product with each vector (one fused multiply-add per vector): the
textbook GEMM micro-kernel. R and V are compile-time constants (``plan.TILES``: 14 x 1 and 7 x 2
in ``product``: 14 accumulators, leaving registers for the kernel row and the broadcasts). Measured on 2 cores:
(131072, 144) @ (144, 16) 118 GFLOP/s, @ (144, 32) 176 GFLOP/s.

``tile_convolution`` and ``tile_weight_gradient`` are the same tile reading the padded channels-last
input directly (an offset per output pixel plus one per tap) instead of im2col columns: no columns
are written or read back, and a 3x3 16 -> 16 convolution at N128 32x32 runs at 169 GFLOP/s against
80 through columns.
"""

import llvmlite.ir as ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from ..plan import TILES
from .blas import gemm

__all__ = ["LANES", "product", "product_transposed", "stack_tile", "tile_convolution",
           "tile_product", "tile_weight_gradient"]

LANES = 16                    # float32 values per vector register (AVX-512)
R16, V16 = TILES[16]          # ``plan``'s register tiles (rows, vectors), compile-time constants
R32, V32 = TILES[32]


@intrinsic
def tile_product(typingctx, a, w, c, row, rows, vectors, transposed):
    """c[row:row+R, :16V] = a'[row:row+R, :] @ w[:, :16V] for float32 2-D arrays whose rows may be
    strided: a' is a (M, K), or a.T for a (K, M) when ``transposed``, which also adds to c instead of
    overwriting it (the weight gradient's sum over chunks); w (K, >= 16V), c (M, >= 16V).
    R = ``rows``, V = ``vectors`` and ``transposed`` must be literals."""
    literals = (rows, vectors, transposed)
    if not all(isinstance(v, (types.IntegerLiteral, types.BooleanLiteral)) for v in literals):
        return None
    if any(arr.dtype != types.float32 for arr in (a, w, c)):
        return None
    n_rows, n_vecs, flip = (v.literal_value for v in literals)

    def codegen(context, builder, signature, args):
        arrays = [context.make_array(ty)(context, builder, value)
                  for ty, value in zip(signature.args[:3], args[:3])]
        a_arr, w_arr, c_arr = arrays
        row0 = args[3]
        i32, i64 = ir.IntType(32), ir.IntType(64)
        vec = ir.VectorType(ir.FloatType(), LANES)
        itemsize = ir.Constant(i64, 4)
        a_ld, w_ld, c_ld = (builder.sdiv(cgutils.unpack_tuple(builder, arr.strides, 2)[0], itemsize)
                            for arr in arrays)
        depth = cgutils.unpack_tuple(builder, a_arr.shape, 2)[0 if flip else 1]
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec, vec, vec]),
                                             f"llvm.fma.v{LANES}f32")
        undef = ir.Constant(vec, ir.Undefined)
        broadcast = ir.Constant(ir.VectorType(i32, LANES), [0] * LANES)

        def row_start(data, r, ld):
            return builder.gep(data, [builder.mul(builder.add(row0, ir.Constant(i64, r)), ld)])

        def c_vector(r, v):
            return builder.bitcast(builder.gep(row_start(c_arr.data, r, c_ld), [ir.Constant(i64, v * LANES)]),
                                   vec.as_pointer())

        # Accumulators in stack slots of vector type: LLVM promotes them to registers (SROA).
        acc = [[cgutils.alloca_once_value(builder, builder.load(c_vector(r, v), align=4) if flip
                                          else ir.Constant(vec, [0.0] * LANES)) for v in range(n_vecs)]
               for r in range(n_rows)]
        if flip:     # a'[row + r, k] = a[k, row + r]: R consecutive values of a's row k
            a_first = builder.gep(a_arr.data, [row0])
        else:
            a_rows = [row_start(a_arr.data, r, a_ld) for r in range(n_rows)]
        with cgutils.for_range(builder, depth) as loop:
            k = loop.index
            w_row = builder.gep(w_arr.data, [builder.mul(k, w_ld)])
            w_vecs = [builder.load(builder.bitcast(builder.gep(w_row, [ir.Constant(i64, v * LANES)]),
                                                   vec.as_pointer()), align=4) for v in range(n_vecs)]
            if flip:
                a_row_k = builder.gep(a_first, [builder.mul(k, a_ld)])
            for r in range(n_rows):
                where = builder.gep(a_row_k, [ir.Constant(i64, r)]) if flip else builder.gep(a_rows[r], [k])
                value = builder.load(where)
                spread = builder.shuffle_vector(builder.insert_element(undef, value, ir.Constant(i32, 0)),
                                                undef, broadcast)
                for v in range(n_vecs):
                    builder.store(builder.call(fma, [spread, w_vecs[v], builder.load(acc[r][v])]), acc[r][v])
        for r in range(n_rows):
            for v in range(n_vecs):
                builder.store(builder.load(acc[r][v]), c_vector(r, v), align=4)
        return context.get_dummy_value()

    return types.void(a, w, c, row, rows, vectors, transposed), codegen


def product(a, w, c):
    """c = a @ w on 2-D views with strided rows: register tiles for 16 or 32 float32 columns (the rows
    left over by whole tiles, and every other shape, through ``gemm``). Compiled code only."""
    raise TypeError("product is callable only from compiled kernels")


@overload(product)
def _product_compiled(a, w, c):
    if a.dtype == types.float32:
        def impl(a, w, c):
            m, n = c.shape
            done = 0
            if n == 16:
                done = m - m % R16
                for r in range(0, done, R16):
                    tile_product(a, w, c, r, R16, V16, False)
            elif n == 32:
                done = m - m % R32
                for r in range(0, done, R32):
                    tile_product(a, w, c, r, R32, V32, False)
            if done < m:
                gemm(False, False, a[done:], w, 0.0, c[done:])
        return impl

    def impl_blas(a, w, c):
        gemm(False, False, a, w, 0.0, c)
    return impl_blas


def product_transposed(a, w, c):
    """c += a.T @ w (a (K, M) -> c (M, n)), tiled as ``product``. Compiled code only."""
    raise TypeError("product_transposed is callable only from compiled kernels")


@overload(product_transposed)
def _product_transposed_compiled(a, w, c):
    if a.dtype == types.float32:
        def impl(a, w, c):
            m, n = c.shape
            done = 0
            if n == 16:
                done = m - m % R16
                for r in range(0, done, R16):
                    tile_product(a, w, c, r, R16, V16, True)
            elif n == 32:
                done = m - m % R32
                for r in range(0, done, R32):
                    tile_product(a, w, c, r, R32, V32, True)
            if done < m:
                gemm(True, False, a[:, done:], w, 1.0, c[done:])
        return impl

    def impl_blas(a, w, c):
        gemm(True, False, a, w, 1.0, c)
    return impl_blas


@intrinsic
def tile_convolution(typingctx, x, offsets, taps, w, c, row, rows, vectors, accumulate):
    """A convolution's ``tile_product`` with the columns never built: c[row:row+R, :16V] = sum over
    taps t and channels ch of x[offsets[r] + taps[t] + ch] * w[t*C + ch, :16V], x the padded
    channels-last input flattened (float32), offsets (>= R,) and taps (T,) int64 element offsets,
    w (T*C, >= 16V), C = w.shape[0] // T; with ``accumulate`` the tile adds to c (a block of taps at a
    time). R = ``rows``, V = ``vectors`` and ``accumulate`` must be literals."""
    literals = (rows, vectors, accumulate)
    if not all(isinstance(v, (types.IntegerLiteral, types.BooleanLiteral)) for v in literals):
        return None
    if any(arr.dtype != types.float32 for arr in (x, w, c)):
        return None
    n_rows, n_vecs, adding = (v.literal_value for v in literals)

    def codegen(context, builder, signature, args):
        x_arr, off_arr, tap_arr, w_arr, c_arr = (context.make_array(ty)(context, builder, value)
                                                 for ty, value in zip(signature.args[:5], args[:5]))
        row0 = args[5]
        i32, i64 = ir.IntType(32), ir.IntType(64)
        vec = ir.VectorType(ir.FloatType(), LANES)
        itemsize = ir.Constant(i64, 4)
        w_ld = builder.sdiv(cgutils.unpack_tuple(builder, w_arr.strides, 2)[0], itemsize)
        c_ld = builder.sdiv(cgutils.unpack_tuple(builder, c_arr.strides, 2)[0], itemsize)
        n_taps = cgutils.unpack_tuple(builder, tap_arr.shape, 1)[0]
        channels = builder.sdiv(cgutils.unpack_tuple(builder, w_arr.shape, 2)[0], n_taps)
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec, vec, vec]),
                                             f"llvm.fma.v{LANES}f32")
        undef = ir.Constant(vec, ir.Undefined)
        broadcast = ir.Constant(ir.VectorType(i32, LANES), [0] * LANES)
        offsets_ = [builder.load(builder.gep(off_arr.data, [ir.Constant(i64, r)])) for r in range(n_rows)]

        def c_vector(r, v):
            c_row = builder.gep(c_arr.data, [builder.mul(builder.add(row0, ir.Constant(i64, r)), c_ld)])
            return builder.bitcast(builder.gep(c_row, [ir.Constant(i64, v * LANES)]), vec.as_pointer())

        acc = [[cgutils.alloca_once_value(builder, builder.load(c_vector(r, v), align=4) if adding
                                          else ir.Constant(vec, [0.0] * LANES)) for v in range(n_vecs)]
               for r in range(n_rows)]
        with cgutils.for_range(builder, n_taps) as tap_loop:
            t = tap_loop.index
            tap = builder.load(builder.gep(tap_arr.data, [t]))
            starts = [builder.gep(x_arr.data, [builder.add(offsets_[r], tap)]) for r in range(n_rows)]
            w_tap = builder.gep(w_arr.data, [builder.mul(builder.mul(t, channels), w_ld)])
            with cgutils.for_range(builder, channels) as loop:
                ch = loop.index
                w_row = builder.gep(w_tap, [builder.mul(ch, w_ld)])
                w_vecs = [builder.load(builder.bitcast(builder.gep(w_row, [ir.Constant(i64, v * LANES)]),
                                                       vec.as_pointer()), align=4) for v in range(n_vecs)]
                for r in range(n_rows):
                    value = builder.load(builder.gep(starts[r], [ch]))
                    spread = builder.shuffle_vector(builder.insert_element(undef, value, ir.Constant(i32, 0)),
                                                    undef, broadcast)
                    for v in range(n_vecs):
                        builder.store(builder.call(fma, [spread, w_vecs[v], builder.load(acc[r][v])]), acc[r][v])
        for r in range(n_rows):
            for v in range(n_vecs):
                builder.store(builder.load(acc[r][v]), c_vector(r, v), align=4)
        return context.get_dummy_value()

    return types.void(x, offsets, taps, w, c, row, rows, vectors, accumulate), codegen


@intrinsic
def tile_weight_gradient(typingctx, x, offsets, base, g, panel, row, rows, vectors):
    """The weight gradient's tile, columns never built: panel[row + r, :16V] += sum over pixels p of
    x[offsets[p] + base + r] * g[p, :16V], for R = ``rows`` consecutive input channels of one tap
    (x the padded channels-last input flattened, float32; g (P, >= 16V) the output gradient's rows;
    panel (K, >= 16V)). R and V = ``vectors`` must be literals."""
    if not (isinstance(rows, types.IntegerLiteral) and isinstance(vectors, types.IntegerLiteral)):
        return None
    if any(arr.dtype != types.float32 for arr in (x, g, panel)):
        return None
    n_rows, n_vecs = rows.literal_value, vectors.literal_value

    def codegen(context, builder, signature, args):
        x_arr, off_arr = (context.make_array(ty)(context, builder, value)
                          for ty, value in zip(signature.args[:2], args[:2]))
        g_arr, p_arr = (context.make_array(ty)(context, builder, value)
                        for ty, value in zip(signature.args[3:5], args[3:5]))
        base, row0 = args[2], args[5]
        i32, i64 = ir.IntType(32), ir.IntType(64)
        vec = ir.VectorType(ir.FloatType(), LANES)
        itemsize = ir.Constant(i64, 4)
        g_ld = builder.sdiv(cgutils.unpack_tuple(builder, g_arr.strides, 2)[0], itemsize)
        p_ld = builder.sdiv(cgutils.unpack_tuple(builder, p_arr.strides, 2)[0], itemsize)
        pixels = cgutils.unpack_tuple(builder, off_arr.shape, 1)[0]
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec, vec, vec]),
                                             f"llvm.fma.v{LANES}f32")
        undef = ir.Constant(vec, ir.Undefined)
        broadcast = ir.Constant(ir.VectorType(i32, LANES), [0] * LANES)

        def panel_vector(r, v):
            start = builder.gep(p_arr.data, [builder.mul(builder.add(row0, ir.Constant(i64, r)), p_ld)])
            return builder.bitcast(builder.gep(start, [ir.Constant(i64, v * LANES)]), vec.as_pointer())

        acc = [[cgutils.alloca_once_value(builder, builder.load(panel_vector(r, v), align=4))
                for v in range(n_vecs)] for r in range(n_rows)]
        with cgutils.for_range(builder, pixels) as loop:
            p = loop.index
            where = builder.add(builder.load(builder.gep(off_arr.data, [p])), base)
            x_at = builder.gep(x_arr.data, [where])
            g_row = builder.gep(g_arr.data, [builder.mul(p, g_ld)])
            g_vecs = [builder.load(builder.bitcast(builder.gep(g_row, [ir.Constant(i64, v * LANES)]),
                                                   vec.as_pointer()), align=4) for v in range(n_vecs)]
            for r in range(n_rows):
                value = builder.load(builder.gep(x_at, [ir.Constant(i64, r)]))
                spread = builder.shuffle_vector(builder.insert_element(undef, value, ir.Constant(i32, 0)),
                                                undef, broadcast)
                for v in range(n_vecs):
                    builder.store(builder.call(fma, [spread, g_vecs[v], builder.load(acc[r][v])]), acc[r][v])
        for r in range(n_rows):
            for v in range(n_vecs):
                builder.store(builder.load(acc[r][v]), panel_vector(r, v), align=4)
        return context.get_dummy_value()

    return types.void(x, offsets, base, g, panel, row, rows, vectors), codegen


@intrinsic
def stack_tile(typingctx, size, dtype):
    """A pointer to ``size`` (a compile-time constant) uninitialised values of ``dtype`` on the stack;
    wrap it with ``numba.carray(ptr, shape)``. LLVM keeps a fixed-size stack array whose every index
    is known after unrolling in registers; a heap array (``np.empty``) it cannot, as it cannot prove
    the array is not also the input (measured: 80 vs 12 GFLOP/s)."""
    if not isinstance(size, types.IntegerLiteral):
        return None
    n, value_type = size.literal_value, dtype.dtype

    def codegen(context, builder, signature, args):
        return cgutils.alloca_once(builder, context.get_data_type(value_type), size=n)

    return types.CPointer(value_type)(size, dtype), codegen
