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

``tile_convolution`` and ``tile_weight_gradient`` are the same tile reading the channels-last input
directly (padded for the first: an offset per output pixel plus one per tap; the second takes an
offset per pixel and tap, and the pixel's gradient row) instead of im2col columns: no columns
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


class _Registers:
    """What the register tiles share, emitted with one ``builder``: R x V accumulators of 16 float32
    lanes kept in registers, vector loads of a row, and the broadcast-and-FMA step of the micro-kernel."""

    def __init__(self, builder, n_rows, n_vecs):
        self.builder, self.n_rows, self.n_vecs = builder, n_rows, n_vecs
        self.i32, self.i64 = ir.IntType(32), ir.IntType(64)
        self.vec = ir.VectorType(ir.FloatType(), LANES)
        self.fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(self.vec, [self.vec] * 3),
                                                  f"llvm.fma.v{LANES}f32")
        self.undef = ir.Constant(self.vec, ir.Undefined)
        self.broadcast = ir.Constant(ir.VectorType(self.i32, LANES), [0] * LANES)
        self.acc = []

    def const(self, n):
        return ir.Constant(self.i64, n)

    def leading(self, arr):
        """A float32 2-D array's row stride, in elements."""
        stride = cgutils.unpack_tuple(self.builder, arr.strides, 2)[0]
        return self.builder.sdiv(stride, self.const(4))

    def row(self, data, index, ld):
        """A pointer to row ``index`` of a matrix at ``data`` with leading dimension ``ld``."""
        return self.builder.gep(data, [self.builder.mul(index, ld)])

    def vector(self, row, v):
        """A pointer to vector ``v`` (values 16v to 16v + 15) of the row at ``row``."""
        return self.builder.bitcast(self.builder.gep(row, [self.const(v * LANES)]), self.vec.as_pointer())

    def load_vectors(self, row):
        return [self.builder.load(self.vector(row, v), align=4) for v in range(self.n_vecs)]

    def start(self, initial=None):
        """The accumulators, each from ``*initial(r, v)`` (a vector pointer) or zero. In stack slots of
        vector type: LLVM promotes them to registers (SROA)."""
        zero = ir.Constant(self.vec, [0.0] * LANES)
        self.acc = [[cgutils.alloca_once_value(self.builder, zero if initial is None else
                                               self.builder.load(initial(r, v), align=4))
                     for v in range(self.n_vecs)] for r in range(self.n_rows)]

    def add_products(self, r, value, vectors):
        """Accumulator row r += value * vectors: one broadcast, then one fused multiply-add per vector."""
        b = self.builder
        spread = b.shuffle_vector(b.insert_element(self.undef, value, ir.Constant(self.i32, 0)), self.undef,
                                  self.broadcast)
        for v in range(self.n_vecs):
            b.store(b.call(self.fma, [spread, vectors[v], b.load(self.acc[r][v])]), self.acc[r][v])

    def store(self, where):
        """Write accumulator (r, v) to ``where(r, v)``, a vector pointer."""
        for r in range(self.n_rows):
            for v in range(self.n_vecs):
                self.builder.store(self.builder.load(self.acc[r][v]), where(r, v), align=4)


def _literals(*values):
    """The values of compile-time literal arguments, or None when one is not a literal."""
    if not all(isinstance(v, (types.IntegerLiteral, types.BooleanLiteral)) for v in values):
        return None
    return tuple(v.literal_value for v in values)


@intrinsic
def tile_product(typingctx, a, w, c, row, rows, vectors, transposed):
    """c[row:row+R, :16V] = a'[row:row+R, :] @ w[:, :16V] for float32 2-D arrays whose rows may be
    strided: a' is a (M, K), or a.T for a (K, M) when ``transposed``, which also adds to c instead of
    overwriting it (the weight gradient's sum over chunks); w (K, >= 16V), c (M, >= 16V).
    R = ``rows``, V = ``vectors`` and ``transposed`` must be literals."""
    literals = _literals(rows, vectors, transposed)
    if literals is None or any(arr.dtype != types.float32 for arr in (a, w, c)):
        return None
    n_rows, n_vecs, flip = literals

    def codegen(context, builder, signature, args):
        a_arr, w_arr, c_arr = (context.make_array(ty)(context, builder, value)
                               for ty, value in zip(signature.args[:3], args[:3]))
        row0 = args[3]
        t = _Registers(builder, n_rows, n_vecs)
        a_ld, w_ld, c_ld = t.leading(a_arr), t.leading(w_arr), t.leading(c_arr)
        depth = cgutils.unpack_tuple(builder, a_arr.shape, 2)[0 if flip else 1]

        def c_vector(r, v):
            return t.vector(t.row(c_arr.data, builder.add(row0, t.const(r)), c_ld), v)

        t.start(c_vector if flip else None)
        if flip:     # a'[row + r, k] = a[k, row + r]: R consecutive values of a's row k
            a_first = builder.gep(a_arr.data, [row0])
        else:
            a_rows = [t.row(a_arr.data, builder.add(row0, t.const(r)), a_ld) for r in range(n_rows)]
        with cgutils.for_range(builder, depth) as loop:
            k = loop.index
            w_vecs = t.load_vectors(t.row(w_arr.data, k, w_ld))
            if flip:
                a_row_k = t.row(a_first, k, a_ld)
            for r in range(n_rows):
                where = builder.gep(a_row_k, [t.const(r)]) if flip else builder.gep(a_rows[r], [k])
                t.add_products(r, builder.load(where), w_vecs)
        t.store(c_vector)
        return context.get_dummy_value()

    return types.void(a, w, c, row, rows, vectors, transposed), codegen


def product(a, w, c):
    """c = a @ w on 2-D views with strided rows: register tiles for 16 or 32 float32 columns (the rows
    left over by whole tiles, and every other shape, through ``gemm``). Compiled code only."""
    raise TypeError("product is callable only from compiled kernels")


def product_transposed(a, w, c):
    """c += a.T @ w (a (K, M) -> c (M, n)), tiled as ``product``. Compiled code only."""
    raise TypeError("product_transposed is callable only from compiled kernels")


def _tiled(transposed):
    """The compiled ``product`` (c = a @ w), or ``product_transposed`` (c += a.T @ w) when ``transposed``:
    whole tiles of R rows for 16 or 32 float32 columns, the rest through ``gemm``."""
    beta = 1.0 if transposed else 0.0

    def overload_product(a, w, c):
        if a.dtype == types.float32:
            def impl(a, w, c):
                m, n = c.shape
                done = 0
                if n == 16:
                    done = m - m % R16
                    for r in range(0, done, R16):
                        tile_product(a, w, c, r, R16, V16, transposed)
                elif n == 32:
                    done = m - m % R32
                    for r in range(0, done, R32):
                        tile_product(a, w, c, r, R32, V32, transposed)
                if done < m:
                    gemm(transposed, False, a[:, done:] if transposed else a[done:], w, beta, c[done:])
            return impl

        def impl_blas(a, w, c):
            gemm(transposed, False, a, w, beta, c)
        return impl_blas

    return overload_product


overload(product)(_tiled(False))
overload(product_transposed)(_tiled(True))


@intrinsic
def tile_convolution(typingctx, x, offsets, taps, w, c, row, rows, vectors, accumulate, start):
    """A convolution's ``tile_product`` with the columns never built: c[row:row+R, :16V] = start[:16V]
    + sum over taps t and channels ch of x[offsets[r] + taps[t] + ch] * w[t*C + ch, :16V], x the
    padded channels-last input flattened (float32), offsets (>= R,) and taps (T,) int64 element
    offsets, w (T*C, >= 16V), C = w.shape[0] // T, start (>= 16V,) the accumulators' first value
    (the bias: a pass over the output to add it afterwards cost a 16 -> 16 layer a fifth of its
    time); with ``accumulate`` the tile adds to c instead (a block of taps at a time). R = ``rows``,
    V = ``vectors`` and ``accumulate`` must be literals."""
    literals = _literals(rows, vectors, accumulate)
    if literals is None or any(arr.dtype != types.float32 for arr in (x, w, c, start)):
        return None
    n_rows, n_vecs, adding = literals

    def codegen(context, builder, signature, args):
        x_arr, off_arr, tap_arr, w_arr, c_arr = (context.make_array(ty)(context, builder, value)
                                                 for ty, value in zip(signature.args[:5], args[:5]))
        start_arr = context.make_array(signature.args[9])(context, builder, args[9])
        row0 = args[5]
        t = _Registers(builder, n_rows, n_vecs)
        w_ld, c_ld = t.leading(w_arr), t.leading(c_arr)
        n_taps = cgutils.unpack_tuple(builder, tap_arr.shape, 1)[0]
        channels = builder.sdiv(cgutils.unpack_tuple(builder, w_arr.shape, 2)[0], n_taps)
        offsets_ = [builder.load(builder.gep(off_arr.data, [t.const(r)])) for r in range(n_rows)]

        def c_vector(r, v):
            return t.vector(t.row(c_arr.data, builder.add(row0, t.const(r)), c_ld), v)

        t.start(c_vector if adding else lambda r, v: t.vector(start_arr.data, v))
        with cgutils.for_range(builder, n_taps) as tap_loop:
            tap_index = tap_loop.index
            tap = builder.load(builder.gep(tap_arr.data, [tap_index]))
            starts = [builder.gep(x_arr.data, [builder.add(offsets_[r], tap)]) for r in range(n_rows)]
            w_tap = t.row(w_arr.data, builder.mul(tap_index, channels), w_ld)
            with cgutils.for_range(builder, channels) as loop:
                ch = loop.index
                w_vecs = t.load_vectors(t.row(w_tap, ch, w_ld))
                for r in range(n_rows):
                    t.add_products(r, builder.load(builder.gep(starts[r], [ch])), w_vecs)
        t.store(c_vector)
        return context.get_dummy_value()

    return types.void(x, offsets, taps, w, c, row, rows, vectors, accumulate, start), codegen


@intrinsic
def tile_weight_gradient(typingctx, x, offsets, picks, base, g, panel, row, rows, vectors):
    """The weight gradient's tile, columns never built: panel[row + r, :16V] += sum over k of
    x[offsets[k] + base + r] * g[picks[k], :16V], for R = ``rows`` consecutive input channels of one
    tap (x the channels-last input flattened, float32; offsets and picks (P,) int64: each pixel's
    input offset and its row of g, the output gradient's rows (>= 16V wide), or g[k] when ``picks``
    is None; panel (K, >= 16V)). R and V = ``vectors`` must be literals."""
    literals = _literals(rows, vectors)
    if literals is None or any(arr.dtype != types.float32 for arr in (x, g, panel)):
        return None
    n_rows, n_vecs = literals

    def codegen(context, builder, signature, args):
        x_arr, off_arr = (context.make_array(ty)(context, builder, value)
                          for ty, value in zip(signature.args[:2], args[:2]))
        picked = not isinstance(signature.args[2], types.NoneType)
        pick_arr = context.make_array(signature.args[2])(context, builder, args[2]) if picked else None
        g_arr, p_arr = (context.make_array(ty)(context, builder, value)
                        for ty, value in zip(signature.args[4:6], args[4:6]))
        base, row0 = args[3], args[6]
        t = _Registers(builder, n_rows, n_vecs)
        g_ld, p_ld = t.leading(g_arr), t.leading(p_arr)
        pixels = cgutils.unpack_tuple(builder, off_arr.shape, 1)[0]

        def panel_vector(r, v):
            return t.vector(t.row(p_arr.data, builder.add(row0, t.const(r)), p_ld), v)

        t.start(panel_vector)
        with cgutils.for_range(builder, pixels) as loop:
            k = loop.index
            where = builder.add(builder.load(builder.gep(off_arr.data, [k])), base)
            x_at = builder.gep(x_arr.data, [where])
            g_row = builder.load(builder.gep(pick_arr.data, [k])) if picked else k
            g_vecs = t.load_vectors(t.row(g_arr.data, g_row, g_ld))
            for r in range(n_rows):
                t.add_products(r, builder.load(builder.gep(x_at, [t.const(r)])), g_vecs)
        t.store(panel_vector)
        return context.get_dummy_value()

    return types.void(x, offsets, picks, base, g, panel, row, rows, vectors), codegen


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
