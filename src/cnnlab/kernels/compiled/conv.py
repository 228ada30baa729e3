"""Convolution compiled with Numba: the reference's sums, computed as loops made fast.

Three formulations; ``_plan`` (the one dispatch point) chooses one per op and shape from measured
training-step timings (benchmarks/RESULTS.md):

- ``direct`` (stride 1, any groups and dilation). The padded input's rows are laid end to end per
  channel, (N, C, Hp*Wp); output position l = i*Wp + j then reads input l + p*dH*Wp + q*dW for tap
  (p, q), so a tile of TILE = 64 consecutive positions is one contiguous slice for every tap. A
  register tile of BLOCK = 4 output channels x 64 positions (16 AVX-512 registers in float32) lives
  on the stack and accumulates over every (channel, tap); positions j >= oW of a row are computed and
  dropped. The inner loop is 64 long because LLVM vectorises 16 lanes x 4 and leaves shorter loops
  scalar. Bias is added in the output write. The input gradient for stride 1 is the same kernel on
  the gradient padded by the kernel's reach, with the rotated kernel (the lectures' derivation); the
  weight gradient of the first layers (1-4 input channels) sums gradient x shifted input tap by tap.
- ``columns`` (16+ outputs, any stride): the product of im2col columns and the kernel matrix. For
  float32 with 16, 32 or 64 outputs (and no groups) the columns are never built: register tiles
  (``_simd``) read the padded channels-last input through one offset per output pixel and one per
  tap, forward, stride-1 input gradient and weight gradient alike. Otherwise each thread builds a
  cache-sized chunk of columns from the channels-last input (the padding written as zeros) and calls
  the GEMM on it from inside the parallel region (``_blas``); the input gradient for strides > 1 is
  col2im (gradient @ kernels^T, added back tap by tap, one image per task).
- ``depthwise`` (groups = channels): no product is large enough for BLAS; channels-last loops whose
  inner loop runs over the channels, forward and both gradients.

Outputs are (N, O, oH, oW)-shaped: NCHW memory from ``direct``, a view of channels-last memory from
the others; every kernel reads either layout. float64 runs the same loops, except that its products
all go to the GEMM (the register tiles are float32).
"""

import numba
import numpy as np
from numba import prange

from ._blas import gemm, ready
from ._numba import helper, kernel, stack_tile, threads
from ._simd import product, product_transposed, tile_convolution, tile_weight_gradient

__all__ = ["conv2d_forward", "conv2d_input_grad", "conv2d_weight_grad", "conv2d_bias_grad"]

TILE = 64          # output positions per register tile: the vector loop's length
BLOCK = 4          # output channels per register tile
TILE_VALUES = TILE * BLOCK
TILED_PANEL_BYTES = 256 << 10   # a block of the kernel panel (taps x C x 64 float32) stays in L2
COLUMN_BYTES = 1 << 20   # im2col columns a thread builds and multiplies at a time (in its cache)
MIN_ROWS = 128


def _tap_offsets(kh, kw, dilation, wp, channels):
    """Element offsets of each tap (p, q) from tap (0, 0) in a padded channels-last image of width wp."""
    return np.array([(p * dilation[0] * wp + q * dilation[1]) * channels for p in range(kh) for q in range(kw)],
                    np.int64)


def _tiled(width):
    """True when a float32 product into ``width`` outputs runs in register tiles straight from the
    input: 16, 32 or 64 outputs. Wider products go to the threaded BLAS, as fast or faster there
    (measured at 128 and 256 channels: forward 193-211 vs 211-225 GFLOP/s, weight gradient 168-212
    vs 221-251)."""
    return width in (16, 32, 64)


# ------------------------------------------------------------------------------- direct (stride 1)

@kernel
def _flat_pad(x, top, left, hp, wp, slack):
    """x (N, C, H, W) any layout -> (N, C, Hp*Wp + slack) zero-padded rows laid end to end.
    ``top``/``left`` may be negative (crop)."""
    n, c, h, w = x.shape
    out = np.empty((n, c, hp * wp + slack), x.dtype)
    for r in prange(n * c):
        b, ch = r // c, r % c
        row = out[b, ch]
        row[:] = 0
        for i in range(hp):
            y = i - top
            if 0 <= y < h:
                for j in range(max(0, left), min(wp, w + left)):
                    row[i * wp + j] = x[b, ch, y, j - left]
    return out


@kernel
def _direct(xf, w, bias, out, wp, dh, dw, groups):
    """Stride-1 correlation on flattened padded rows xf (N, C, Hp*Wp + TILE), w (O, C/G, kH, kW),
    bias (O,) -> out (N, O, oH, oW). A tile is BLOCK output channels x TILE positions."""
    n, o, oh, ow = out.shape
    _, cg, kh, kw = w.shape
    og = o // groups
    length = (oh - 1) * wp + ow
    tiles = (length + TILE - 1) // TILE
    blocks = (og + BLOCK - 1) // BLOCK
    for r in prange(n * groups * blocks * tiles):
        l0 = (r % tiles) * TILE
        rest = r // tiles
        b0 = min((rest % blocks) * BLOCK, max(og - BLOCK, 0))
        rest //= blocks
        g, img = rest % groups, rest // groups
        acc = numba.carray(stack_tile(TILE_VALUES, xf.dtype), (BLOCK, TILE))
        chans = numba.carray(stack_tile(BLOCK, np.int64), (BLOCK,))
        for k in range(BLOCK):
            chans[k] = g * og + min(b0 + k, og - 1)   # fewer than BLOCK channels: repeat the last
            for t in range(TILE):
                acc[k, t] = bias[chans[k]]
        for c in range(cg):
            xc = xf[img, g * cg + c]
            for p in range(kh):
                for q in range(kw):
                    off = l0 + p * dh * wp + q * dw
                    xs = xc[off:off + TILE]
                    for k in range(BLOCK):
                        wv = w[chans[k], c, p, q]
                        for t in range(TILE):
                            acc[k, t] += wv * xs[t]
        for t in range(TILE):
            pos = l0 + t
            i = pos // wp
            j = pos - i * wp
            if pos < length and j < ow:
                for k in range(BLOCK):
                    out[img, chans[k], i, j] = acc[k, t]


def _direct_forward(x, weight, bias, pads, dilation, groups):
    """Stride-1 correlation through ``_direct``; ``pads`` may be negative (crop)."""
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    (top, bottom), (left, right) = pads
    hp, wp = h + top + bottom, w + left + right
    oh, ow = hp - dilation[0] * (kh - 1), wp - dilation[1] * (kw - 1)
    xf = _flat_pad(x, top, left, hp, wp, TILE)
    out = np.empty((n, o, oh, ow), x.dtype)
    b = np.zeros(o, x.dtype) if bias is None else np.ascontiguousarray(bias)
    _direct(xf, np.ascontiguousarray(weight), b, out, wp, dilation[0], dilation[1], groups)
    return out


def _rotated(weight, groups):
    """The input gradient's kernel: rotated 180 degrees, in/out channels swapped per group,
    (O, C/G, kH, kW) -> (C, O/G, kH, kW)."""
    o, cg, kh, kw = weight.shape
    w = weight.reshape(groups, o // groups, cg, kh, kw)[..., ::-1, ::-1]
    return np.ascontiguousarray(w.transpose(0, 2, 1, 3, 4)).reshape(groups * cg, o // groups, kh, kw)


def _direct_input_grad(grad, weight, input_shape, pads, dilation, groups):
    """Stride 1: the full correlation of the gradient with the rotated kernel, computed only over
    the unpadded input: padded by the reach minus the forward padding in front (a crop if negative)."""
    _, _, kh, kw = weight.shape
    (top, _), (left, _) = pads
    h, w = input_shape[-2:]
    reach = (dilation[0] * (kh - 1), dilation[1] * (kw - 1))
    oh, ow = grad.shape[2:]
    gpads = ((reach[0] - top, h + top - oh), (reach[1] - left, w + left - ow))
    return _direct_forward(grad, _rotated(weight, groups), None, gpads, dilation, groups)


@kernel
def _direct_wgrad(xf, gf, wp, dh, dw, groups, gw):
    """Stride-1 weight gradient on flattened rows: xf (N, C, Hp*Wp + slack) the padded input, gf
    (N, O, oH*Wp + TILE) the gradient on the same row width (zero beyond oW) -> gw (O, C/G, kH, kW).
    One task per (group, input channel, block of BLOCK output channels) sums over every image and
    position, a tap at a time, in a BLOCK x TILE register tile: no two tasks write the same value."""
    n = xf.shape[0]
    o, cg, kh, kw = gw.shape
    og = o // groups
    blocks = (og + BLOCK - 1) // BLOCK
    tiles = (gf.shape[2] - TILE) // TILE + 1
    for r in prange(groups * cg * blocks):
        b0 = min((r % blocks) * BLOCK, max(og - BLOCK, 0))
        c = (r // blocks) % cg
        g = r // (blocks * cg)
        acc = numba.carray(stack_tile(TILE_VALUES, xf.dtype), (BLOCK, TILE))
        chans = numba.carray(stack_tile(BLOCK, np.int64), (BLOCK,))
        for k in range(BLOCK):
            chans[k] = g * og + min(b0 + k, og - 1)
        for p in range(kh):
            for q in range(kw):
                for k in range(BLOCK):
                    for t in range(TILE):
                        acc[k, t] = 0
                for img in range(n):
                    xc = xf[img, g * cg + c]
                    for tile in range(tiles):
                        l0 = tile * TILE
                        off = l0 + p * dh * wp + q * dw
                        xs = xc[off:off + TILE]
                        for k in range(BLOCK):
                            gs = gf[img, chans[k], l0:l0 + TILE]
                            for t in range(TILE):
                                acc[k, t] += gs[t] * xs[t]
                for k in range(BLOCK):
                    s = acc[k, 0]
                    for t in range(1, TILE):
                        s += acc[k, t]
                    gw[chans[k], c, p, q] = s


def _direct_weight_grad(x, grad, weight_shape, pads, dilation, groups):
    """Stride 1: gradient^T @ columns without building the columns (``_direct_wgrad``)."""
    n, c, h, w = x.shape
    (top, bottom), (left, right) = pads
    hp, wp = h + top + bottom, w + left + right
    oh = grad.shape[2]
    xf = _flat_pad(x, top, left, hp, wp, TILE + wp)
    gf = _flat_pad(grad, 0, 0, oh, wp, TILE)                # rows widened to Wp with zeros
    gw = np.empty(weight_shape, x.dtype)
    _direct_wgrad(xf, gf, wp, dilation[0], dilation[1], groups, gw)
    return gw


# ------------------------------------------------------------------------------- columns (im2col + GEMM)

@helper
def _zero_borders(out, b, i, top_rows, h_rows, left, w_cols):
    """Zero row i of image b of out (N, Hp, Wp, C) outside the copied block [left, left + w_cols)
    of rows [top_rows, top_rows + h_rows); the whole row when i is outside."""
    row = out[b, i]
    if i < top_rows or i >= top_rows + h_rows:
        row[:] = 0
    else:
        row[:max(0, left)] = 0
        row[max(0, left + w_cols):] = 0


@kernel
def _pad_nhwc_rows(xt, top, left, out):
    """xt (N, H, W, C) C-contiguous -> out (N, Hp, Wp, C): each row one contiguous copy."""
    n, h, w, c = xt.shape
    hp, wp = out.shape[1:3]
    j0, j1 = max(0, left), min(wp, w + left)
    for r in prange(n * hp):
        b, i = r // hp, r % hp
        _zero_borders(out, b, i, max(0, top), min(hp, h + top) - max(0, top), left, w)
        y = i - top
        if 0 <= y < h and j1 > j0:
            dst = out[b, i, j0:j1].reshape((j1 - j0) * c)
            src = xt[b, y, j0 - left:j1 - left].reshape((j1 - j0) * c)
            for v in range(src.size):
                dst[v] = src[v]


@kernel
def _pad_transpose(x, top, left, out):
    """x (N, C, H, W) C-contiguous -> out (N, Hp, Wp, C): a transposing copy per row."""
    n, c, h, w = x.shape
    hp, wp = out.shape[1:3]
    j0, j1 = max(0, left), min(wp, w + left)
    for r in prange(n * hp):
        b, i = r // hp, r % hp
        _zero_borders(out, b, i, max(0, top), min(hp, h + top) - max(0, top), left, w)
        y = i - top
        if 0 <= y < h:
            dst = out[b, i]
            for ch in range(c):
                src = x[b, ch, y]
                for j in range(j0, j1):
                    dst[j, ch] = src[j - left]


def _nhwc_pad(x, top, left, hp, wp):
    """x (N, C, H, W) in either layout -> (N, Hp, Wp, C) zero-padded, channels-last; ``top``/``left``
    may be negative (crop)."""
    out = np.empty((x.shape[0], hp, wp, x.shape[1]), x.dtype)
    nhwc = x.transpose(0, 2, 3, 1)
    if nhwc.flags.c_contiguous:
        _pad_nhwc_rows(nhwc, top, left, out)
    else:
        _pad_transpose(np.ascontiguousarray(x), top, left, out)
    return out


@helper
def _fill_columns(xt, top, left, r0, r1, sh, sw, dh, dw, kh, kw, oh, ow, cols):
    """Columns of output rows r0..r1 (flat over N, oH, oW) of the unpadded channels-last xt
    (N, H, W, C), zero where a tap falls in the padding: cols (G, >= r1-r0, kH*kW*C/G), a row's
    values ordered (p, q, c). Reading the padding as zeros here saves a padded copy per op."""
    groups = cols.shape[0]
    h, w, c = xt.shape[1:]
    cg = c // groups
    for row in range(r0, r1):
        b = row // (oh * ow)
        i = (row // ow) % oh
        j = row % ow
        dst_row = cols[:, row - r0]
        for p in range(kh):
            y = i * sh + p * dh - top
            if y < 0 or y >= h:
                for g in range(groups):
                    dst = dst_row[g, p * kw * cg:(p + 1) * kw * cg]
                    for v in range(kw * cg):
                        dst[v] = 0
                continue
            src_row = xt[b, y]
            for q in range(kw):
                x = j * sw + q * dw - left
                col = (p * kw + q) * cg
                if 0 <= x < w:
                    src = src_row[x]
                    for g in range(groups):
                        dst = dst_row[g, col:col + cg]
                        part = src[g * cg:(g + 1) * cg]
                        for ch in range(cg):
                            dst[ch] = part[ch]
                else:
                    for g in range(groups):
                        dst = dst_row[g, col:col + cg]
                        for ch in range(cg):
                            dst[ch] = 0


@kernel
def _columns_product(xt, top, left, wm, bias, sh, sw, dh, dw, kh, kw, oh, ow, tasks, chunk, out):
    """out (N*oH*oW, O) = columns @ kernels (+ bias): each task takes a run of output rows and
    builds and multiplies ``chunk`` rows of columns at a time, in its own cache."""
    groups, k, og = wm.shape
    rows = out.shape[0]
    for t in prange(tasks):
        cols = np.empty((groups, chunk, k), xt.dtype)
        for r0 in range(rows * t // tasks, rows * (t + 1) // tasks, chunk):
            r1 = min(r0 + chunk, rows * (t + 1) // tasks)
            _fill_columns(xt, top, left, r0, r1, sh, sw, dh, dw, kh, kw, oh, ow, cols)
            for g in range(groups):
                product(cols[g, :r1 - r0], wm[g], out[r0:r1, g * og:(g + 1) * og])
            for r in range(r0, r1):
                dst = out[r]
                for o in range(og * groups):
                    dst[o] += bias[o]


@helper
def _tile_offsets(r0, count, hp, wp, cin, sh, sw, oh, ow, offsets):
    """Element offsets in the flattened padded input of the first tap of output rows r0.. (the last
    row repeated past ``count``, so a ragged tile reads valid memory)."""
    for r in range(offsets.size):
        flat = r0 + min(r, count - 1)
        b = flat // (oh * ow)
        i = (flat // ow) % oh
        j = flat % ow
        offsets[r] = ((b * hp + i * sh) * wp + j * sw) * cin


TILE_GROUP = 168   # output rows that share one block of the kernel panel (12-28 register tiles)


@helper
def _convolution_tiles(xflat, offsets, taps, w, target, at, accumulate):
    """One register tile of ``_tiled_convolution`` for w's width (16, 32 or 64 columns)."""
    width = w.shape[1]
    if width == 16:
        if accumulate:
            tile_convolution(xflat, offsets, taps, w, target, at, 14, 1, True)
        else:
            tile_convolution(xflat, offsets, taps, w, target, at, 14, 1, False)
    elif width == 32:
        if accumulate:
            tile_convolution(xflat, offsets, taps, w, target, at, 7, 2, True)
        else:
            tile_convolution(xflat, offsets, taps, w, target, at, 7, 2, False)
    else:
        if accumulate:
            tile_convolution(xflat, offsets, taps, w, target, at, 6, 4, True)
        else:
            tile_convolution(xflat, offsets, taps, w, target, at, 6, 4, False)


@kernel
def _tiled_convolution(xflat, hp, wp, cin, taps, wm, bias, sh, sw, oh, ow, tasks, taps_per_block, out):
    """out (N*oH*oW, O) = the convolution of the padded channels-last input (flattened) with the
    kernel matrix wm (taps*C, O), register tile by register tile, no columns built: 14 rows x 16
    channels, 7 x 32, or 6 x 64 per block of 64 channels (O a multiple of 64). A task takes a run of
    output rows, TILE_GROUP at a time; each group runs over the kernel panel a block (64 columns x
    ``taps_per_block`` taps, sized to stay in L2) at a time, adding block after block into its rows.
    A ragged last tile is computed in scratch and its valid rows copied."""
    rows, o = out.shape
    tile = 14 if o == 16 else (7 if o == 32 else 6)
    block = o if o <= 32 else 64
    n_taps = taps.size
    for t in prange(tasks):
        offsets = np.empty(tile, np.int64)
        scratch = np.empty((tile, o), out.dtype)
        end = rows * (t + 1) // tasks
        for g0 in range(rows * t // tasks, end, TILE_GROUP - TILE_GROUP % tile):
            g1 = min(g0 + TILE_GROUP - TILE_GROUP % tile, end)
            for k0 in range(0, o, block):
                for t0 in range(0, n_taps, taps_per_block):
                    t1 = min(t0 + taps_per_block, n_taps)
                    w = wm[t0 * cin:t1 * cin, k0:k0 + block]
                    for r0 in range(g0, g1, tile):
                        count = min(tile, g1 - r0)
                        _tile_offsets(r0, count, hp, wp, cin, sh, sw, oh, ow, offsets)
                        target = out[:, k0:k0 + block] if count == tile else scratch[:, k0:k0 + block]
                        at = r0 if count == tile else 0
                        _convolution_tiles(xflat, offsets, taps[t0:t1], w, target, at, t0 > 0)
            for r in range(g0, g1):
                src = out[r] if r - g0 < (g1 - g0) - (g1 - g0) % tile else scratch[(r - g0) % tile]
                dst = out[r]
                for k in range(o):
                    dst[k] = src[k] + bias[k]


WGRAD_PIXELS = 256   # output pixels whose gradient rows a weight-gradient tile streams (in L1/L2)


def _wgrad_tile(width):
    """(rows R, vectors V) of the weight gradient's register tile for ``width`` output channels."""
    return (16, 1) if width == 16 else ((8, 2) if width == 32 else (4, 4))


@kernel
def _tiled_weight_gradient(xflat, hp, wp, cin, taps, g_rows, sh, sw, oh, ow, parts):
    """parts[t] (taps*C, O) = task t's sum over its run of output pixels of input value x gradient,
    register tile by register tile (R input channels of one tap x 16V outputs), no columns built."""
    tasks, _, o = parts.shape
    rows = g_rows.shape[0]
    for t in prange(tasks):
        part = parts[t]
        part[:] = 0
        offsets = np.empty(WGRAD_PIXELS, np.int64)
        end = rows * (t + 1) // tasks
        for p0 in range(rows * t // tasks, end, WGRAD_PIXELS):
            count = min(WGRAD_PIXELS, end - p0)
            offs = offsets[:count]
            _tile_offsets(p0, count, hp, wp, cin, sh, sw, oh, ow, offs)
            grads = g_rows[p0:p0 + count]
            for tap in range(taps.size):
                if o == 16:
                    for c0 in range(0, cin, 16):
                        tile_weight_gradient(xflat, offs, taps[tap] + c0, grads, part, tap * cin + c0, 16, 1)
                elif o == 32:
                    for c0 in range(0, cin, 8):
                        tile_weight_gradient(xflat, offs, taps[tap] + c0, grads, part, tap * cin + c0, 8, 2)
                else:
                    for k0 in range(0, o, 64):
                        for c0 in range(0, cin, 4):
                            tile_weight_gradient(xflat, offs, taps[tap] + c0, grads[:, k0:k0 + 64],
                                                 part[:, k0:k0 + 64], tap * cin + c0, 4, 4)


@kernel
def _columns_weight_product(xt, top, left, g_rows, sh, sw, dh, dw, kh, kw, oh, ow, chunk, parts):
    """parts[t] (G, K, O/G) = task t's columns^T @ gradient rows, summed over its run of rows."""
    tasks, groups, k, og = parts.shape
    rows = g_rows.shape[0]
    for t in prange(tasks):
        cols = np.empty((groups, chunk, k), xt.dtype)
        part = parts[t]
        part[:] = 0
        for r0 in range(rows * t // tasks, rows * (t + 1) // tasks, chunk):
            r1 = min(r0 + chunk, rows * (t + 1) // tasks)
            _fill_columns(xt, top, left, r0, r1, sh, sw, dh, dw, kh, kw, oh, ow, cols)
            for g in range(groups):
                product_transposed(cols[g, :r1 - r0], g_rows[r0:r1, g * og:(g + 1) * og], part[g])


@kernel
def _col2im_product(g_rows, wm, top, left, sh, sw, dh, dw, kh, kw, oh, ow, chunk, gx):
    """col2im: each task takes whole images (no two tasks add to one pixel); a chunk of its output
    rows' column gradients, gradient rows @ kernels^T, is added back onto gx (N, H, W, C)."""
    groups, k, og = wm.shape
    n, h, w, c = gx.shape
    cg = c // groups
    for b in prange(n):
        dcols = np.empty((groups, chunk, k), gx.dtype)
        for r0 in range(b * oh * ow, (b + 1) * oh * ow, chunk):
            r1 = min(r0 + chunk, (b + 1) * oh * ow)
            for g in range(groups):
                gemm(False, True, g_rows[r0:r1, g * og:(g + 1) * og], wm[g], 0.0, dcols[g, :r1 - r0])
            for row in range(r0, r1):
                i = (row // ow) % oh
                j = row % ow
                for p in range(kh):
                    y = i * sh + p * dh - top
                    if 0 <= y < h:
                        for q in range(kw):
                            xx = j * sw + q * dw - left
                            if 0 <= xx < w:
                                col = (p * kw + q) * cg
                                dst = gx[b, y, xx]
                                for gr in range(groups):
                                    src = dcols[gr, row - r0, col:col + cg]
                                    for ch in range(cg):
                                        dst[gr * cg + ch] += src[ch]


@kernel
def _rows(a, out):
    """(N, C, H, W) any layout -> out (N*H*W, C), channels-last rows."""
    n, c, h, w = a.shape
    for r in prange(n * h):
        b, i = r // h, r % h
        for j in range(w):
            dst = out[(b * h + i) * w + j]
            for ch in range(c):
                dst[ch] = a[b, ch, i, j]


def _as_rows(a):
    """(N, C, H, W) -> (N*H*W, C): a view of channels-last memory, else a compiled transpose."""
    n, c, h, w = a.shape
    nhwc = a.transpose(0, 2, 3, 1)
    if nhwc.flags.c_contiguous:
        return nhwc.reshape(n * h * w, c)
    out = np.empty((n * h * w, c), a.dtype)
    _rows(a, out)
    return out


def _chunk_rows(row_values, itemsize):
    """Rows of columns built and multiplied at a time: about COLUMN_BYTES, at least MIN_ROWS (a
    product of fewer rows spends its time packing the kernel matrix), a multiple of 14 (whole
    register tiles of ``_simd.product``)."""
    rows = max(MIN_ROWS, COLUMN_BYTES // max(1, row_values * itemsize))
    return -(-rows // 14) * 14


def _tasks(rows, chunk):
    """One run of rows per thread, unless there are fewer chunks than threads."""
    return max(1, min(numba.get_num_threads(), -(-rows // chunk)))


PANEL_BLOCK = 16   # output channels moved together: one cache line of the panel per (tap, channel)


@kernel
def _panel_copy(weight, panel, to_panel):
    """weight (O, C/G, kH, kW) <-> panel (G, kH*kW*C/G, O/G), rows in the columns' (p, q, c) order:
    panel[g, (p*kW + q)*C/G + c, o] = weight[g*O/G + o, c, p, q], copied in the direction asked. A
    task takes PANEL_BLOCK output channels: their weights (a few hundred KB at most) stay in cache
    while each panel row's run of them is written whole; NumPy's strided transpose is one thread."""
    o, cg, kh, kw = weight.shape
    groups, _, og = panel.shape
    blocks = (og + PANEL_BLOCK - 1) // PANEL_BLOCK
    for task in prange(groups * blocks):
        g, o0 = task // blocks, (task % blocks) * PANEL_BLOCK
        o1 = min(o0 + PANEL_BLOCK, og)
        for c in range(cg):
            for p in range(kh):
                for q in range(kw):
                    row = panel[g, (p * kw + q) * cg + c]
                    for k in range(o0, o1):
                        if to_panel:
                            row[k] = weight[g * og + k, c, p, q]
                        else:
                            weight[g * og + k, c, p, q] = row[k]


@kernel
def _rotated_panel(weight, groups, panel):
    """The input gradient's kernel matrix straight from weight (O, C/G, kH, kW): the kernel rotated
    180 degrees with in/out channels swapped, panel (G, kH*kW*O/G, C/G) with
    panel[g, (p*kW + q)*O/G + o, c] = weight[g*O/G + o, c, kH-1-p, kW-1-q]. One task per output
    channel: it reads its own weights (contiguous) and writes whole panel rows."""
    o, cg, kh, kw = weight.shape
    og = o // groups
    for k in prange(o):
        g, oo = k // og, k % og
        src = weight[k]
        for p in range(kh):
            for q in range(kw):
                row = panel[g, (p * kw + q) * og + oo]
                for c in range(cg):
                    row[c] = src[c, kh - 1 - p, kw - 1 - q]


def _kernel_matrix(weight, groups):
    """(O, C/G, kH, kW) -> (G, kH*kW*C/G, O/G), rows in the columns' (p, q, c) order."""
    o, cg, kh, kw = weight.shape
    panel = np.empty((groups, kh * kw * cg, o // groups), weight.dtype)
    _panel_copy(weight, panel, True)
    return panel


def _rotated_kernel_matrix(weight, groups):
    """(O, C/G, kH, kW) -> (G, kH*kW*O/G, C/G): ``_kernel_matrix`` of ``_rotated(weight, groups)``."""
    o, cg, kh, kw = weight.shape
    panel = np.empty((groups, kh * kw * (o // groups), cg), weight.dtype)
    _rotated_panel(weight, groups, panel)
    return panel


def _nhwc(x):
    """(N, C, H, W) in either layout -> (N, H, W, C) C-contiguous: a view of channels-last memory."""
    n, c, h, w = x.shape
    return _as_rows(x).reshape(n, h, w, c)


def _padded_nhwc(x, pads):
    return _nhwc_pad(x, pads[0][0], pads[1][0], *_padded_size(x.shape, pads))


def _columns_forward(x, weight, bias, pads, stride, dilation, groups, out_size):
    """Columns (pixels, K) @ kernels (K, O) -> rows of (N, oH, oW, O), one product per chunk."""
    return _columns_with_panel(x, _kernel_matrix(weight, groups), weight.shape[2:], bias, pads, stride,
                               dilation, out_size)


def _columns_with_panel(x, wm, kernel_size, bias, pads, stride, dilation, out_size):
    """``_columns_forward`` with its kernel matrix wm (G, kH*kW*C/G, O/G) given."""
    ready()
    n = x.shape[0]
    groups, _, og = wm.shape
    o, cg = groups * og, x.shape[1] // groups
    kh, kw = kernel_size
    oh, ow = out_size
    out = np.empty((n, oh, ow, o), x.dtype)
    rows = out.reshape(n * oh * ow, o)
    chunk = _chunk_rows(kh * kw * cg * groups, x.dtype.itemsize)
    b = np.zeros(o, x.dtype) if bias is None else np.ascontiguousarray(bias)
    if groups == 1 and x.dtype == np.float32 and _tiled(o):
        # register tiles read the padded input directly (no columns at all)
        xp = _padded_nhwc(x, pads)
        hp, wp = xp.shape[1:3]
        block = o if o <= 32 else 64
        taps_per_block = max(1, TILED_PANEL_BYTES // (cg * block * 4))
        _tiled_convolution(xp.reshape(-1), hp, wp, cg, _tap_offsets(kh, kw, dilation, wp, cg), wm[0], b,
                           *stride, oh, ow, _tasks(rows.shape[0], 14 * 64), taps_per_block, rows)
        return out.transpose(0, 3, 1, 2)
    _columns_product(_nhwc(x), pads[0][0], pads[1][0], wm, b, *stride, *dilation, kh, kw, oh, ow,
                     _tasks(rows.shape[0], chunk), chunk, rows)
    return out.transpose(0, 3, 1, 2)


def _columns_input_grad(grad, weight, input_shape, pads, stride, dilation, groups):
    """Stride 1: the full correlation of the gradient with the rotated kernel through the same
    product as the forward (``_direct_input_grad``'s padding). Strides > 1: col2im."""
    ready()
    if stride == (1, 1):
        (top, _), (left, _) = pads
        h, w = input_shape[-2:]
        _, _, kh, kw = weight.shape
        reach = (dilation[0] * (kh - 1), dilation[1] * (kw - 1))
        oh, ow = grad.shape[2:]
        gpads = ((reach[0] - top, h + top - oh), (reach[1] - left, w + left - ow))
        return _columns_with_panel(grad, _rotated_kernel_matrix(weight, groups), (kh, kw), None, gpads,
                                   (1, 1), dilation, (h, w))
    n, o, oh, ow = grad.shape
    _, cg, kh, kw = weight.shape
    h, w = input_shape[-2:]
    gx = np.zeros((n, h, w, cg * groups), grad.dtype)
    chunk = _chunk_rows(kh * kw * cg * groups, grad.dtype.itemsize)
    _col2im_product(_as_rows(grad), _kernel_matrix(weight, groups), pads[0][0], pads[1][0],
                    *stride, *dilation, kh, kw, oh, ow, chunk, gx)
    return gx.transpose(0, 3, 1, 2)


def _columns_weight_grad(x, grad, weight_shape, pads, stride, dilation, groups):
    """Sum over every thread's rows of columns^T @ gradient rows, (G, K, O/G) -> (O, C/G, kH, kW)."""
    ready()
    o, cg, kh, kw = weight_shape
    og = o // groups
    oh, ow = grad.shape[2:]
    g_rows = _as_rows(grad)
    if groups == 1 and x.dtype == np.float32 and _tiled(o) and cg % _wgrad_tile(o)[0] == 0:
        xp = _padded_nhwc(x, pads)
        hp, wp = xp.shape[1:3]
        parts = np.empty((_tasks(g_rows.shape[0], WGRAD_PIXELS), kh * kw * cg, o), x.dtype)
        _tiled_weight_gradient(xp.reshape(-1), hp, wp, cg, _tap_offsets(kh, kw, dilation, wp, cg), g_rows,
                               *stride, oh, ow, parts)
        gw = np.empty(weight_shape, x.dtype)
        _panel_copy(gw, parts.sum(axis=0)[None] if parts.shape[0] > 1 else parts[:1], False)
        return gw
    chunk = _chunk_rows(kh * kw * cg * groups, x.dtype.itemsize)
    parts = np.empty((_tasks(g_rows.shape[0], chunk), groups, kh * kw * cg, og), x.dtype)
    _columns_weight_product(_nhwc(x), pads[0][0], pads[1][0], g_rows, *stride, *dilation, kh, kw, oh, ow,
                            chunk, parts)
    gw = np.empty(weight_shape, x.dtype)
    _panel_copy(gw, parts.sum(axis=0) if parts.shape[0] > 1 else parts[0], False)
    return gw


# ------------------------------------------------------------------------------- depthwise

@kernel
def _dw_forward(xp, w, bias, sh, sw, dh, dw, out):
    """Depthwise: xp (N, Hp, Wp, C) padded, w (kH, kW, C, M), bias (C, M) -> out (N, oH, oW, C, M)."""
    n, oh, ow, c, m = out.shape
    kh, kw = w.shape[:2]
    for r in prange(n * oh):
        b, i = r // oh, r % oh
        for j in range(ow):
            dst = out[b, i, j]
            dst[:] = bias
            for p in range(kh):
                for q in range(kw):
                    src = xp[b, i * sh + p * dh, j * sw + q * dw]
                    wpq = w[p, q]
                    for ch in range(c):
                        for k in range(m):
                            dst[ch, k] += src[ch] * wpq[ch, k]


@kernel
def _dw_input_grad(g, w, sh, sw, dh, dw, gxp):
    """Depthwise input gradient, scattered onto the padded input gxp (N, Hp, Wp, C), one image per
    task: g (N, oH, oW, C, M), w (kH, kW, C, M)."""
    n, oh, ow, c, m = g.shape
    kh, kw = w.shape[:2]
    for b in prange(n):
        for i in range(oh):
            for j in range(ow):
                src = g[b, i, j]
                for p in range(kh):
                    for q in range(kw):
                        dst = gxp[b, i * sh + p * dh, j * sw + q * dw]
                        wpq = w[p, q]
                        for ch in range(c):
                            s = 0.0
                            for k in range(m):
                                s += src[ch, k] * wpq[ch, k]
                            dst[ch] += s


@kernel
def _dw_weight_grad(xp, g, sh, sw, dh, dw, kh, kw, parts):
    """Depthwise weight gradient: parts[t] (kH, kW, C, M) sums over task t's images."""
    n, oh, ow, c, m = g.shape
    tasks = parts.shape[0]
    for t in prange(tasks):
        acc = parts[t]
        acc[:] = 0
        for b in range(n * t // tasks, n * (t + 1) // tasks):
            for i in range(oh):
                for j in range(ow):
                    gv = g[b, i, j]
                    for p in range(kh):
                        for q in range(kw):
                            src = xp[b, i * sh + p * dh, j * sw + q * dw]
                            dst = acc[p, q]
                            for ch in range(c):
                                for k in range(m):
                                    dst[ch, k] += src[ch] * gv[ch, k]


@kernel
def _dw1_forward(xp, w, bias, sh, sw, dh, dw, out):
    """Depthwise with one filter per channel, the common case: the inner loop runs over the
    channels (a vector loop). xp (N, Hp, Wp, C), w (kH, kW, C), bias (C,) -> out (N, oH, oW, C)."""
    n, oh, ow, c = out.shape
    kh, kw = w.shape[:2]
    for r in prange(n * oh):
        b, i = r // oh, r % oh
        for j in range(ow):
            dst = out[b, i, j]
            for ch in range(c):
                dst[ch] = bias[ch]
            for p in range(kh):
                for q in range(kw):
                    src = xp[b, i * sh + p * dh, j * sw + q * dw]
                    wpq = w[p, q]
                    for ch in range(c):
                        dst[ch] += src[ch] * wpq[ch]


@kernel
def _dw1_input_grad(g, w, sh, sw, dh, dw, gxp):
    """One filter per channel: g (N, oH, oW, C) scattered onto gxp (N, Hp, Wp, C), one image per task."""
    n, oh, ow, c = g.shape
    kh, kw = w.shape[:2]
    for b in prange(n):
        for i in range(oh):
            for j in range(ow):
                src = g[b, i, j]
                for p in range(kh):
                    for q in range(kw):
                        dst = gxp[b, i * sh + p * dh, j * sw + q * dw]
                        wpq = w[p, q]
                        for ch in range(c):
                            dst[ch] += src[ch] * wpq[ch]


@kernel
def _dw1_weight_grad(xp, g, sh, sw, dh, dw, parts):
    """One filter per channel: parts[t] (kH, kW, C) sums over task t's images."""
    n, oh, ow, c = g.shape
    tasks, kh, kw = parts.shape[:3]
    for t in prange(tasks):
        acc = parts[t]
        acc[:] = 0
        for b in range(n * t // tasks, n * (t + 1) // tasks):
            for i in range(oh):
                for j in range(ow):
                    gv = g[b, i, j]
                    for p in range(kh):
                        for q in range(kw):
                            src = xp[b, i * sh + p * dh, j * sw + q * dw]
                            dst = acc[p, q]
                            for ch in range(c):
                                dst[ch] += src[ch] * gv[ch]


def _dw_taps(weight, c):
    """(C*M, 1, kH, kW) -> (kH, kW, C, M)."""
    o, _, kh, kw = weight.shape
    return np.ascontiguousarray(weight.reshape(c, o // c, kh, kw).transpose(2, 3, 0, 1))


def _padded_size(shape, pads):
    return shape[-2] + sum(pads[0]), shape[-1] + sum(pads[1])


def _depthwise_forward(x, weight, bias, pads, stride, dilation, out_size):
    n, c = x.shape[:2]
    o = weight.shape[0]
    xp = _padded_nhwc(x, pads)
    b = np.zeros((c, o // c), x.dtype) if bias is None else bias.reshape(c, o // c)
    out = np.empty((n, *out_size, c, o // c), x.dtype)
    if o == c:
        _dw1_forward(xp, _dw_taps(weight, c)[..., 0], b[:, 0].copy(), *stride, *dilation, out[..., 0])
    else:
        _dw_forward(xp, _dw_taps(weight, c), b, *stride, *dilation, out)
    return out.reshape(n, *out_size, o).transpose(0, 3, 1, 2)


def _depthwise_grad_rows(grad, c):
    """(N, C*M, oH, oW) -> (N, oH, oW, C, M) channels-last."""
    n, o, oh, ow = grad.shape
    return _as_rows(grad).reshape(n, oh, ow, c, o // c)


def _depthwise_input_grad(grad, weight, input_shape, pads, stride, dilation):
    n, c, h, w = input_shape
    hp, wp = _padded_size(input_shape, pads)
    gxp = np.zeros((n, hp, wp, c), grad.dtype)
    g, taps = _depthwise_grad_rows(grad, c), _dw_taps(weight, c)
    if weight.shape[0] == c:
        _dw1_input_grad(g[..., 0], taps[..., 0], *stride, *dilation, gxp)
    else:
        _dw_input_grad(g, taps, *stride, *dilation, gxp)
    (top, _), (left, _) = pads
    return gxp[:, top:top + h, left:left + w].transpose(0, 3, 1, 2)


def _depthwise_weight_grad(x, grad, weight_shape, pads, stride, dilation):
    n, c = x.shape[:2]
    o, _, kh, kw = weight_shape
    xp = _padded_nhwc(x, pads)
    tasks = max(1, min(n, numba.get_num_threads()))
    parts = np.empty((tasks, kh, kw, c, o // c), x.dtype)
    g = _depthwise_grad_rows(grad, c)
    if o == c:
        _dw1_weight_grad(xp, g[..., 0], *stride, *dilation, parts[..., 0])
    else:
        _dw_weight_grad(xp, g, *stride, *dilation, kh, kw, parts)
    gw = parts.sum(axis=0)                                                 # (kH, kW, C, M)
    return np.ascontiguousarray(gw.transpose(2, 3, 0, 1)).reshape(weight_shape)


# ------------------------------------------------------------------------------- dispatch

DIRECT_WGRAD_MAX_CHANNELS = 4   # the direct weight gradient up to this many input channels per group
COLUMNS_MIN_WIDTH = 16          # the columns' formulation wants 16+ outputs (measured, RESULTS.md)


def _plan(op, x_shape, weight_shape, stride, groups):
    """The formulation of ``op`` ("forward", "input_grad", "weight_grad") for a shape: "depthwise",
    "direct" or "columns". Chosen from training-step timings of both (benchmarks/RESULTS.md): the
    columns' formulation (register tiles up to 64 outputs, threaded GEMM beyond) wins wherever the
    product has 16+ outputs, even from one input channel; the direct kernel keeps narrower outputs
    (LeNet's 6 channels, a first layer's input gradient) and the first layers' weight gradient."""
    c, o = x_shape[1], weight_shape[0]
    if groups == c and weight_shape[1] == 1 and groups > 1:
        return "depthwise"
    if stride != (1, 1):
        return "columns"
    if op == "weight_grad":
        return "direct" if c // groups <= DIRECT_WGRAD_MAX_CHANNELS else "columns"
    width = o // groups if op == "forward" else c // groups
    return "columns" if width >= COLUMNS_MIN_WIDTH else "direct"


def _out_size(shape, kernel_size, pads, stride, dilation):
    hp, wp = _padded_size(shape, pads)
    return ((hp - dilation[0] * (kernel_size[0] - 1) - 1) // stride[0] + 1,
            (wp - dilation[1] * (kernel_size[1] - 1) - 1) // stride[1] + 1)


def _direct_fwd(x, w, b, pads, stride, dilation, groups):
    return _direct_forward(x, w, b, pads, dilation, groups)


def _direct_igrad(g, w, shape, pads, stride, dilation, groups):
    return _direct_input_grad(g, w, shape, pads, dilation, groups)


def _direct_wgrad_public(x, g, shape, pads, stride, dilation, groups):
    return _direct_weight_grad(x, g, shape, pads, dilation, groups)


def _columns_fwd(x, w, b, pads, stride, dilation, groups):
    out_size = _out_size(x.shape, w.shape[2:], pads, stride, dilation)
    return _columns_forward(x, w, b, pads, stride, dilation, groups, out_size)


def _depthwise_fwd(x, w, b, pads, stride, dilation, groups):
    out_size = _out_size(x.shape, w.shape[2:], pads, stride, dilation)
    return _depthwise_forward(x, w, b, pads, stride, dilation, out_size)


def _depthwise_igrad(g, w, shape, pads, stride, dilation, groups):
    return _depthwise_input_grad(g, w, shape, pads, stride, dilation)


def _depthwise_wgrad(x, g, shape, pads, stride, dilation, groups):
    return _depthwise_weight_grad(x, g, shape, pads, stride, dilation)


# Every formulation's (forward, input gradient, weight gradient) with the public signatures; the
# direct kernels need stride 1 and the depthwise ones groups = channels (``_plan`` sees to it).
FORMULATIONS = {
    "direct": (_direct_fwd, _direct_igrad, _direct_wgrad_public),
    "columns": (_columns_fwd, _columns_input_grad, _columns_weight_grad),
    "depthwise": (_depthwise_fwd, _depthwise_igrad, _depthwise_wgrad),
}


def conv2d_forward(x, weight, bias, pads, stride, dilation, groups):
    """x (N, C, H, W), weight (O, C/G, kH, kW), bias (O,) or None -> (N, O, oH, oW)."""
    forward = FORMULATIONS[_plan("forward", x.shape, weight.shape, stride, groups)][0]
    with threads():
        return forward(x, weight, bias, pads, stride, dilation, groups)


def conv2d_input_grad(grad, weight, input_shape, pads, stride, dilation, groups):
    """grad (N, O, oH, oW) -> d input (N, C, H, W)."""
    input_grad = FORMULATIONS[_plan("input_grad", input_shape, weight.shape, stride, groups)][1]
    with threads():
        return input_grad(grad, weight, input_shape, pads, stride, dilation, groups)


def conv2d_weight_grad(x, grad, weight_shape, pads, stride, dilation, groups):
    """x (N, C, H, W), grad (N, O, oH, oW) -> d weight (O, C/G, kH, kW)."""
    weight_grad = FORMULATIONS[_plan("weight_grad", x.shape, weight_shape, stride, groups)][2]
    with threads():
        return weight_grad(x, grad, weight_shape, pads, stride, dilation, groups)


@kernel
def _channel_sums(a, out):
    """out[c] = sum of a[:, c, :, :], any layout, one task per channel."""
    n, c, h, w = a.shape
    for ch in prange(c):
        s = 0.0
        for b in range(n):
            for i in range(h):
                for j in range(w):
                    s += a[b, ch, i, j]
        out[ch] = s


def conv2d_bias_grad(grad):
    """grad (N, O, oH, oW) -> d bias (O,): the sum over batch and pixels."""
    out = np.empty(grad.shape[1], grad.dtype)
    with threads():
        _channel_sums(grad, out)
    return out
