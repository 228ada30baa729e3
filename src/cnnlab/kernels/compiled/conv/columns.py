"""The columns' formulation of convolution: register tiles straight from the padded channels-last input
for 16-64 float32 outputs, else threaded chunks of im2col columns times the kernel matrix through the
GEMM (the package's docstring has the whole picture; ``plan`` holds every tile and threshold).
``forward``, ``input_grad`` and ``weight_grad`` take the package's shared signatures."""

import numpy as np
from numba import prange

from .. import buffers
from .._numba import helper, kernel, num_threads
from .epilogue import output_write, write_channels
from .layout import _as_rows, _nhwc, _out_size, _padded_nhwc
from .machine import (gemm, product, product_transposed, ready, tile_convolution,
                      tile_weight_gradient)
from .plan import (COLUMN_BYTES, MIN_ROWS, MIN_SPLIT_CHANNELS, PANEL_BLOCK, TILE_GROUP, TILED_PANEL_BYTES,
                   TILES, WGRAD_NARROW_ROWS, WGRAD_PIXELS, WGRAD_TAP_ROWS, WGRAD_TILES, WGRAD_UNPADDED_MIN,
                   tile_tasks, tiled, wgrad_tiled)

# The register tiles as compile-time constants (rows R, vectors V) per output width.
R16, V16 = TILES[16]
R32, V32 = TILES[32]
R64, V64 = TILES[64]
WR16, WV16 = WGRAD_TILES[16]
WR32, WV32 = WGRAD_TILES[32]
WR64, WV64 = WGRAD_TILES[64]


def _tap_offsets(kh, kw, dilation, wp, channels):
    """Element offsets of each tap (p, q) from tap (0, 0) in a padded channels-last image of width wp."""
    return np.array([(p * dilation[0] * wp + q * dilation[1]) * channels for p in range(kh) for q in range(kw)],
                    np.int64)


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
def _columns_product(xt, top, left, wm, bias, scale, shift, relu, sh, sw, dh, dw, kh, kw, oh, ow, runs, splits,
                     chunk, out):
    """out (N*oH*oW, O) = columns @ kernels, written through the epilogue (bias, scale, shift, relu:
    ``epilogue``). Each of runs x splits tasks takes a run of output rows and a block of each group's
    output channels, and builds and multiplies ``chunk`` rows of columns at a time, in its own cache.
    ``splits`` > 1 when there are fewer runs of rows than threads (a batch-1 network's last stages: 49
    pixels): the tasks of one run build the same columns, a small cost beside the product they share
    out."""
    groups, k, og = wm.shape
    rows = out.shape[0]
    for t in prange(runs * splits):
        run, split = t // splits, t % splits
        o0, o1 = _channel_block(og, split, splits), _channel_block(og, split + 1, splits)
        cols = np.empty((groups, chunk, k), xt.dtype)
        for r0 in range(rows * run // runs, rows * (run + 1) // runs, chunk):
            r1 = min(r0 + chunk, rows * (run + 1) // runs)
            _fill_columns(xt, top, left, r0, r1, sh, sw, dh, dw, kh, kw, oh, ow, cols)
            for g in range(groups):
                product(cols[g, :r1 - r0], wm[g, :, o0:o1], out[r0:r1, g * og + o0:g * og + o1])
            for r in range(r0, r1):
                dst = out[r]
                for g in range(groups):
                    write_channels(dst, dst, bias, scale, shift, relu, g * og + o0, g * og + o1)


@helper
def _channel_block(og, split, splits):
    """Where block ``split`` of ``splits`` starts among og output channels: whole cache lines of
    PANEL_BLOCK channels each, the last block taking the rest."""
    if split >= splits:
        return og
    return og * split // splits // PANEL_BLOCK * PANEL_BLOCK


@helper
def _tile_offsets(r0, count, hp, wp, cin, sh, sw, oh, ow, offsets):
    """Element offsets in the flattened padded input of the first tap of output rows r0.. (the last
    row repeated past ``count``, so a ragged tile reads valid memory). One division for the first
    row, then steps along the row: a small-K tile (a first layer's 25 taps) spent more time on a
    division per row than on its products."""
    b = r0 // (oh * ow)
    i = (r0 // ow) % oh
    j = r0 % ow
    for r in range(offsets.size):
        offsets[r] = ((b * hp + i * sh) * wp + j * sw) * cin
        if r + 1 < count:
            j += 1
            if j == ow:
                j = 0
                i += 1
                if i == oh:
                    i = 0
                    b += 1


@helper
def _convolution_tiles(xflat, offsets, taps, w, target, at, accumulate, start):
    """One register tile of ``_tiled_convolution`` for w's width (16, 32 or 64 columns)."""
    width = w.shape[1]
    if width == 16:
        if accumulate:
            tile_convolution(xflat, offsets, taps, w, target, at, R16, V16, True, start)
        else:
            tile_convolution(xflat, offsets, taps, w, target, at, R16, V16, False, start)
    elif width == 32:
        if accumulate:
            tile_convolution(xflat, offsets, taps, w, target, at, R32, V32, True, start)
        else:
            tile_convolution(xflat, offsets, taps, w, target, at, R32, V32, False, start)
    else:
        if accumulate:
            tile_convolution(xflat, offsets, taps, w, target, at, R64, V64, True, start)
        else:
            tile_convolution(xflat, offsets, taps, w, target, at, R64, V64, False, start)


@kernel
def _tiled_convolution(xflat, hp, wp, cin, taps, wm, bias, scale, shift, relu, sh, sw, oh, ow, runs, splits,
                       taps_per_block, out):
    """out (N*oH*oW, O) = the convolution of the padded channels-last input (flattened) with the kernel
    matrix wm (taps*C, O), register tile by register tile, no columns built (``plan.TILES``: 14 rows x
    16 channels, 7 x 32, or 6 x 64 per block of 64 channels, O a multiple of 64), written through the
    epilogue (bias, scale, shift, relu: ``epilogue``; the tiles start from the bias, and without scale
    and shift only a ragged tile's rows take a second pass). A task takes a run of output rows
    (``runs`` of them) and a share of the blocks of 64 outputs (``splits`` shares:
    ``plan.tile_tasks``), TILE_GROUP rows at a time; each group runs over the kernel panel a block
    (64 columns x ``taps_per_block`` taps, sized to stay in L2) at a time, adding block after block
    into its rows. A ragged last tile is computed in scratch and its valid rows copied."""
    rows, o = out.shape
    tile = R16 if o == 16 else (R32 if o == 32 else R64)
    block = o if o <= 32 else 64
    blocks = o // block
    n_taps = taps.size
    plain = scale.size == 0                   # sum + bias, no scale and shift to apply after
    zero = np.zeros(o, out.dtype)             # the tiles start from the bias: the write adds none
    for t in prange(runs * splits):
        run, split = t // splits, t % splits
        c0, c1 = blocks * split // splits * block, blocks * (split + 1) // splits * block
        offsets = np.empty(tile, np.int64)
        scratch = np.empty((tile, o), out.dtype)
        end = rows * (run + 1) // runs
        for g0 in range(rows * run // runs, end, TILE_GROUP - TILE_GROUP % tile):
            g1 = min(g0 + TILE_GROUP - TILE_GROUP % tile, end)
            for k0 in range(c0, c1, block):
                for t0 in range(0, n_taps, taps_per_block):
                    t1 = min(t0 + taps_per_block, n_taps)
                    w = wm[t0 * cin:t1 * cin, k0:k0 + block]
                    for r0 in range(g0, g1, tile):
                        count = min(tile, g1 - r0)
                        _tile_offsets(r0, count, hp, wp, cin, sh, sw, oh, ow, offsets)
                        target = out[:, k0:k0 + block] if count == tile else scratch[:, k0:k0 + block]
                        at = r0 if count == tile else 0
                        _convolution_tiles(xflat, offsets, taps[t0:t1], w, target, at, t0 > 0,
                                           bias[k0:k0 + block])
            whole = g0 + (g1 - g0) - (g1 - g0) % tile     # rows of whole tiles; the rest in scratch
            for r in range(whole if plain else g0, g1):   # plain: only a ragged tile's rows to move
                src = out[r] if r < whole else scratch[r - whole]
                write_channels(out[r], src, zero, scale, shift, relu, c0, c1)


@helper
def _tap_pixels(p0, count, h, w, cin, sh, sw, oh, ow, dy, dx, offsets, picks):
    """Of output pixels p0.. (``count`` of them, flat over N, oH, oW), those whose input for a tap
    displaced by (dy, dx), (i*sh + dy, j*sw + dx), lies inside the unpadded h x w image: their
    element offsets in the channels-last input and their indices from p0, in order. Returns how
    many. A tap's padding holds zeros, which add nothing to the weight gradient: skipping those
    pixels saves the padded copy of the input (and, 3x3 on 8x8 images, a sixth of the products). Works
    an output row at a time: the row's valid pixels are one range of columns, filled in a vector
    loop (a test per pixel and tap cost a 16 -> 16 layer a third of its time)."""
    lo = max(0, -(dx // sw))                  # columns whose input x = j*sw + dx is in [0, w)
    hi = -((dx - w) // sw)
    n = 0
    k = 0
    while k < count:
        pixel = p0 + k
        b = pixel // (oh * ow)
        i = (pixel // ow) % oh
        j = pixel % ow
        run = min(ow - j, count - k)          # this output row's pixels in the chunk
        y = i * sh + dy
        if 0 <= y < h:
            first, last = max(j, lo), min(j + run, hi)
            row = (b * h + y) * w + dx
            for t in range(last - first):
                offsets[n + t] = (row + (first + t) * sw) * cin
                picks[n + t] = k + first - j + t
            n += max(0, last - first)
        k += run
    return n


@helper
def _weight_gradient_tiles(xflat, offs, pick, base, grads, part, at, cin, o):
    """The register tiles of one tap of the weight gradient for o's width: part[at:at + cin] += the
    input's values at offs + base + channel x the gradient rows ``pick`` (None: grads' rows in
    order) (``plan.WGRAD_TILES``: R input channels x 16V outputs, or 16 outputs from channels in
    sixes)."""
    if o == 16 and cin % WR16 == 0:
        for c0 in range(0, cin, WR16):
            tile_weight_gradient(xflat, offs, pick, base + c0, grads, part, at + c0, WR16, WV16)
    elif o == 16:
        for c0 in range(0, cin, WGRAD_NARROW_ROWS):
            tile_weight_gradient(xflat, offs, pick, base + c0, grads, part, at + c0, WGRAD_NARROW_ROWS, WV16)
    elif o == 32:
        for c0 in range(0, cin, WR32):
            tile_weight_gradient(xflat, offs, pick, base + c0, grads, part, at + c0, WR32, WV32)
    else:
        for k0 in range(0, o, 64):
            for c0 in range(0, cin, WR64):
                tile_weight_gradient(xflat, offs, pick, base + c0, grads[:, k0:k0 + 64], part[:, k0:k0 + 64],
                                     at + c0, WR64, WV64)


@kernel
def _tiled_weight_gradient(xflat, padded, h, w, cin, kh, kw, top, left, dh, dw, g_rows, sh, sw, oh, ow, parts):
    """parts[t] (taps*C, O) = task t's sum over its run of output pixels of input value x gradient,
    register tile by register tile, no columns built, from the channels-last input (flattened, h x w).
    Unpadded input: per tap, only the pixels whose input lies inside the image (``_tap_pixels``).
    ``padded`` input (top = left = 0; narrow layers, ``plan.WGRAD_UNPADDED_MIN``): one offset per
    pixel serves every tap, with no lists to make; for one input channel into 16 outputs (a first
    layer, ``plan.wgrad_tiled``) a tile's rows are the WGRAD_TAP_ROWS taps of a kernel row,
    consecutive values of the input."""
    tasks, _, o = parts.shape
    rows = g_rows.shape[0]
    for t in prange(tasks):
        part = parts[t]
        part[:] = 0
        offsets = np.empty(WGRAD_PIXELS, np.int64)
        picks = np.empty(WGRAD_PIXELS, np.int64)
        end = rows * (t + 1) // tasks
        for p0 in range(rows * t // tasks, end, WGRAD_PIXELS):
            grads = g_rows[p0:min(p0 + WGRAD_PIXELS, end)]
            count = grads.shape[0]
            if padded:
                _tile_offsets(p0, count, h, w, cin, sh, sw, oh, ow, offsets)
            for tap in range(kh * kw):
                dy, dx = (tap // kw) * dh - top, (tap % kw) * dw - left
                if not padded:
                    n = _tap_pixels(p0, count, h, w, cin, sh, sw, oh, ow, dy, dx, offsets, picks)
                    _weight_gradient_tiles(xflat, offsets[:n], picks[:n], 0, grads, part, tap * cin, cin, o)
                elif cin == 1 and o == 16:
                    if tap % kw == 0:
                        tile_weight_gradient(xflat, offsets[:count], None, dy * w + dx, grads, part, tap,
                                             WGRAD_TAP_ROWS, WV16)
                else:     # the gradient's rows in order: no picks
                    _weight_gradient_tiles(xflat, offsets[:count], None, (dy * w + dx) * cin, grads, part, tap * cin,
                                           cin, o)


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

def _chunk_rows(row_values, itemsize):
    """Rows of columns built and multiplied at a time: about COLUMN_BYTES, at least MIN_ROWS (a
    product of fewer rows spends its time packing the kernel matrix), a multiple of 14 (whole
    register tiles of ``machine.product``)."""
    rows = max(MIN_ROWS, COLUMN_BYTES // max(1, row_values * itemsize))
    return -(-rows // R16) * R16


def _splits(runs, og):
    """Output-channel blocks per run of rows: enough to give every thread a task when there are
    fewer runs than threads, each block at least MIN_SPLIT_CHANNELS wide."""
    threads = num_threads()
    if runs >= threads:
        return 1
    return max(1, min(threads // runs, og // MIN_SPLIT_CHANNELS))


def _tasks(rows, chunk):
    """One run of rows per thread, unless there are fewer chunks than threads."""
    return max(1, min(num_threads(), -(-rows // chunk)))


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

def forward(x, weight, bias, pads, stride, dilation, groups, affine=None):
    """Columns (pixels, K) @ kernels (K, O) -> rows of (N, oH, oW, O), one product per chunk."""
    out_size = _out_size(x.shape, weight.shape[2:], pads, stride, dilation)
    return _columns_with_panel(x, _kernel_matrix(weight, groups), weight.shape[2:], bias, pads, stride,
                               dilation, out_size, affine)


def _columns_with_panel(x, wm, kernel_size, bias, pads, stride, dilation, out_size, affine=None):
    """``forward`` with its kernel matrix wm (G, kH*kW*C/G, O/G) given."""
    ready()
    n = x.shape[0]
    groups, _, og = wm.shape
    o, cg = groups * og, x.shape[1] // groups
    kh, kw = kernel_size
    oh, ow = out_size
    out = buffers.empty((n, oh, ow, o), x.dtype)
    rows = out.reshape(n * oh * ow, o)
    chunk = _chunk_rows(kh * kw * cg * groups, x.dtype.itemsize)
    write = output_write(o, x.dtype, bias, affine)
    threads = num_threads()
    if tiled(o, x.dtype, groups, rows.shape[0], threads):
        # register tiles read the padded input directly (no columns at all)
        xp = _padded_nhwc(x, pads)
        hp, wp = xp.shape[1:3]
        block = o if o <= 32 else 64
        taps_per_block = max(1, TILED_PANEL_BYTES // (cg * block * 4))
        _tiled_convolution(xp.reshape(-1), hp, wp, cg, _tap_offsets(kh, kw, dilation, wp, cg), wm[0], *write,
                           *stride, oh, ow, *tile_tasks(rows.shape[0], o, threads), taps_per_block, rows)
        return out.transpose(0, 3, 1, 2)
    runs = _tasks(rows.shape[0], chunk)
    _columns_product(_nhwc(x), pads[0][0], pads[1][0], wm, *write, *stride, *dilation, kh, kw, oh, ow,
                     runs, _splits(runs, og), chunk, rows)
    return out.transpose(0, 3, 1, 2)


def input_grad(grad, weight, input_shape, pads, stride, dilation, groups):
    """Stride 1: the full correlation of the gradient with the rotated kernel through the same
    product as the forward (``direct.input_grad``'s padding). Strides > 1: col2im."""
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
    gx = buffers.zeros((n, h, w, cg * groups), grad.dtype)
    chunk = _chunk_rows(kh * kw * cg * groups, grad.dtype.itemsize)
    _col2im_product(_as_rows(grad), _kernel_matrix(weight, groups), pads[0][0], pads[1][0],
                    *stride, *dilation, kh, kw, oh, ow, chunk, gx)
    return gx.transpose(0, 3, 1, 2)


def weight_grad(x, grad, weight_shape, pads, stride, dilation, groups):
    """Sum over every thread's rows of columns^T @ gradient rows, (G, K, O/G) -> (O, C/G, kH, kW)."""
    ready()
    o, cg, kh, kw = weight_shape
    og = o // groups
    oh, ow = grad.shape[2:]
    g_rows = _as_rows(grad)
    if wgrad_tiled(o, cg, x.dtype, groups, kw, dilation[1], g_rows.shape[0], num_threads()):
        parts = buffers.empty((_tasks(g_rows.shape[0], WGRAD_PIXELS), kh * kw * cg, o), x.dtype)
        if cg * o < WGRAD_UNPADDED_MIN:
            xp = _padded_nhwc(x, pads)
            _tiled_weight_gradient(xp.reshape(-1), True, *xp.shape[1:3], cg, kh, kw, 0, 0, *dilation, g_rows,
                                   *stride, oh, ow, parts)
        else:
            _tiled_weight_gradient(_nhwc(x).reshape(-1), False, *x.shape[2:], cg, kh, kw, pads[0][0], pads[1][0],
                                   *dilation, g_rows, *stride, oh, ow, parts)
        gw = np.empty(weight_shape, x.dtype)
        _panel_copy(gw, parts.sum(axis=0)[None] if parts.shape[0] > 1 else parts[:1], False)
        return gw
    chunk = _chunk_rows(kh * kw * cg * groups, x.dtype.itemsize)
    parts = buffers.empty((_tasks(g_rows.shape[0], chunk), groups, kh * kw * cg, og), x.dtype)
    _columns_weight_product(_nhwc(x), pads[0][0], pads[1][0], g_rows, *stride, *dilation, kh, kw, oh, ow,
                            chunk, parts)
    gw = np.empty(weight_shape, x.dtype)
    _panel_copy(gw, parts.sum(axis=0) if parts.shape[0] > 1 else parts[0], False)
    return gw
