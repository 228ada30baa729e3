"""Few output pixels, many output channels (a batch-1 network's last stages): the forward as
outputs^T = kernels @ columns^T.

With 49 pixels and 512 channels the weight is the large operand. The columns' formulation copied it
into its panel (the transpose of the output channels) on every call, and the GEMM packed it again:
resnet18 at batch 1 spent a quarter of its time there. Here the weight is read as it lies, (O,
C*kH*kW) rows in (c, p, q) order, as the left operand of register tiles (``machine.tile_product``:
R output channels x 64 pixels), and only the columns are built, transposed, in blocks of 64 pixels
(B, C*kH*kW, 64) padded with zeros: a few hundred KB. ``plan.choose`` takes it for float32
forwards without groups; the gradients, and other dtypes and groups, are the columns' (the same
functions).
"""

import numba
import numpy as np
from numba import prange

from .. import buffers
from .._numba import kernel
from . import columns, direct
from .epilogue import output_write
from .layout import _out_size
from .machine import gemm, ready, stack_tile, tile_product
from .plan import PIXELS_DEPTH as DEPTH, PIXELS_GROUP as GROUP, TILES

R, V = TILES[64]          # a tile: R output channels x 64 pixels (V vectors of 16 float32)
PIXELS = 16 * V           # pixels per tile
TILE_VALUES = R * PIXELS
GROUP_VALUES = GROUP * TILE_VALUES


@kernel
def _columns_transposed(x, top, left, sh, sw, dh, dw, kh, kw, oh, ow, cols):
    """cols (B, C*kH*kW, PIXELS), pixel blocks of the transposed columns, each contiguous:
    cols[pix // PIXELS, (c*kH + p)*kW + q, pix % PIXELS] = x[b, c, i*sh + p*dh - top, j*sw + q*dw - left]
    for pix = (b*oH + i)*oW + j, zero in the padding and past the last pixel. One task per row
    (input channel and tap); x C-contiguous NCHW."""
    n, _, h, w = x.shape
    taps = kh * kw
    for r in prange(cols.shape[1]):
        c, p, q = r // taps, (r // kw) % kh, r % kw
        cols[:, r] = 0
        j0 = max(0, -((q * dw - left) // sw))                # first j whose column is inside
        j1 = min(ow, (w - 1 - q * dw + left) // sw + 1)     # one past the last
        for b in range(n):
            for i in range(oh):
                y = i * sh + p * dh - top
                if 0 <= y < h and j1 > j0:
                    # one output row's run of pixels, split where it crosses a block's end
                    src = x[b, c, y]
                    pix, j = (b * oh + i) * ow + j0, j0
                    while j < j1:
                        block, at = pix // PIXELS, pix % PIXELS
                        m = min(j1 - j, PIXELS - at)
                        start = j * sw + q * dw - left
                        cols[block, r, at:at + m] = src[start:start + (m - 1) * sw + 1:sw]
                        pix += m
                        j += m


@kernel
def _columns_of_rows(xf, wp, dh, dw, kh, kw, length, cols):
    """Stride 1: the transposed columns from flat padded rows xf (N, C, Hp*Wp + slack) (``direct``'s
    layout), pixels numbered over the padded width, pix = b*length + i*Wp + j (length = oH*Wp; the
    columns j >= oW are computed and dropped): a row of the columns is then one contiguous run of
    the input per image, cut where it crosses a block's end (a dense numbering took a copy per
    output row: 3-4x slower at 256 channels of 14x14)."""
    n = xf.shape[0]
    taps = kh * kw
    for r in prange(cols.shape[1]):
        c, p, q = r // taps, (r // kw) % kh, r % kw
        off = p * dh * wp + q * dw
        cols[-1, r] = 0                          # the last block's tail
        for b in range(n):
            src = xf[b, c, off:off + length]
            pix, at = b * length, 0
            while at < length:
                block, u = pix // PIXELS, pix % PIXELS
                m = min(length - at, PIXELS - u)
                cols[block, r, u:u + m] = src[at:at + m]
                pix += m
                at += m


@kernel
def _kernels_times_columns(wrows, cols, bias, scale, shift, relu, row_width, out):
    """out (N, O, oH, oW) = wrows (O, K) @ columns, written through the epilogue (bias, scale, shift,
    relu: ``epilogue``); the columns in pixel blocks cols (B, K, PIXELS), pixels numbered (b*oH +
    i)*row_width + j (row_width oW, or Wp for ``_columns_of_rows``; j >= oW dropped). A task takes
    GROUP tiles of R output channels x PIXELS pixels and runs through K in chunks of DEPTH: a chunk of
    columns (DEPTH x PIXELS, 32 KB) is read from cache by every tile of the group, where whole-K tiles
    each streamed all the columns (1.2 MB at 512 channels) from L3. Channels left over by whole tiles
    go through the GEMM."""
    o, depth = wrows.shape
    n, _, oh, ow = out.shape
    pixels = n * oh * row_width
    pblocks = cols.shape[0]
    span = GROUP * R
    groups = -(-o // span)
    flat = out.reshape(-1)           # out is C-contiguous NCHW
    for t in prange(pblocks * groups):
        pb, g = t // groups, t % groups
        o0, o1, p0 = g * span, min(g * span + span, o), pb * PIXELS
        acc = numba.carray(stack_tile(GROUP_VALUES, np.float32), (span, PIXELS))
        part = numba.carray(stack_tile(TILE_VALUES, np.float32), (R, PIXELS))
        acc[:] = 0
        for k0 in range(0, depth, DEPTH):
            k1 = min(k0 + DEPTH, depth)
            chunk = cols[pb, k0:k1]
            for r0 in range(o0, o1, R):
                rows = min(R, o1 - r0)
                if rows == R:
                    tile_product(wrows[r0:r0 + R, k0:k1], chunk, part, 0, R, V, False)
                else:
                    gemm(False, False, wrows[r0:o1, k0:k1], chunk, 0.0, part[:rows])
                for r in range(rows):
                    dst, src = acc[r0 - o0 + r], part[r]
                    for u in range(PIXELS):
                        dst[u] += src[u]
        # each pixel's place in out's first channel (-1: dropped), found by stepping from the
        # block's first pixel rather than dividing again for every pixel of every channel
        where = numba.carray(stack_tile(PIXELS, np.int64), (PIXELS,))
        b, rest = p0 // (oh * row_width), p0 % (oh * row_width)
        i, j = rest // row_width, rest % row_width
        for u in range(PIXELS):
            where[u] = b * o * oh * ow + i * ow + j if u < pixels - p0 and j < ow else -1
            j += 1
            if j == row_width:
                j, i = 0, i + 1
                if i == oh:
                    i, b = 0, b + 1
        for k in range(o1 - o0):
            beta = bias[o0 + k]
            plane = (o0 + k) * oh * ow
            if scale.size == 0:
                for u in range(PIXELS):
                    if where[u] >= 0:
                        flat[where[u] + plane] = acc[k, u] + beta
            else:
                alpha, gamma = scale[o0 + k], shift[o0 + k]
                for u in range(PIXELS):
                    if where[u] >= 0:
                        y = (acc[k, u] + beta) * alpha + gamma
                        flat[where[u] + plane] = 0 if relu and y < 0 else y


input_grad, weight_grad = columns.input_grad, columns.weight_grad


def forward(x, weight, bias, pads, stride, dilation, groups, affine=None):
    """(N, O, oH, oW) in NCHW memory (float32, one group; else the columns' forward)."""
    if groups != 1 or x.dtype != np.float32:
        return columns.forward(x, weight, bias, pads, stride, dilation, groups, affine)
    ready()
    n, c = x.shape[:2]
    o, _, kh, kw = weight.shape
    oh, ow = _out_size(x.shape, (kh, kw), pads, stride, dilation)
    if stride == (1, 1):
        (top, bottom), (left, right) = pads
        hp, wp = x.shape[2] + top + bottom, x.shape[3] + left + right
        xf = direct._flat_pad(x, top, left, hp, wp, dilation[1] * (kw - 1))
        row_width = wp
        cols = buffers.empty((-(-(n * oh * wp) // PIXELS), c * kh * kw, PIXELS), x.dtype)
        _columns_of_rows(xf, wp, *dilation, kh, kw, oh * wp, cols)
    else:
        row_width = ow
        cols = buffers.empty((-(-(n * oh * ow) // PIXELS), c * kh * kw, PIXELS), x.dtype)
        # NCHW planes to gather from: the input is a few hundred KB, its channels-last copy strided
        _columns_transposed(np.ascontiguousarray(x), pads[0][0], pads[1][0], *stride, *dilation, kh, kw,
                            oh, ow, cols)
    out = buffers.empty((n, o, oh, ow), x.dtype)
    _kernels_times_columns(np.ascontiguousarray(weight).reshape(o, c * kh * kw), cols,
                           *output_write(o, x.dtype, bias, affine), row_width, out)
    return out
