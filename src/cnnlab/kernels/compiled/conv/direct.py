"""Direct convolution for stride 1 on NCHW rows laid end to end (the package's docstring has the
layout): a register tile of a block of output channels (``plan.direct_block``: 6, 4 or 3, each
compiled as its own kernel) x DIRECT_TILE positions on the stack, for narrow outputs and first
layers. ``forward``, ``input_grad`` and ``weight_grad`` take the package's shared signatures;
``stride`` is (1, 1) (``plan.choose`` sees to it)."""

import numba
import numpy as np
from numba import prange

from .. import buffers
from .._numba import kernel, num_threads, renamed
from .epilogue import after, bias_values
from .machine import stack_tile
from .plan import DIRECT_BLOCKS, DIRECT_TILE as TILE, direct_block


@kernel
def _flat_pad_planes(x, top, left, hp, wp, out):
    """x (N, C, H, W) C-contiguous -> out (N, C, Hp*Wp + slack) zero-padded rows laid end to end;
    ``top``/``left`` may be negative (crop). A task per plane, each input row one slice copy."""
    n, c, h, w = x.shape
    j0, j1 = max(0, left), min(wp, w + left)
    for r in prange(n * c):
        b, ch = r // c, r % c
        row = out[b, ch]
        row[:] = 0
        for i in range(max(0, top), min(hp, h + top)):
            row[i * wp + j0:i * wp + j1] = x[b, ch, i - top, j0 - left:j1 - left]


@kernel
def _flat_pad_pixels(x, top, left, hp, wp, out):
    """As ``_flat_pad_planes`` from channels-last x (N, H, W, C): a task per image and padded row
    reads its input row once, contiguous, and writes C output rows (a task per plane read every
    pixel's cache line once per channel: 4x slower at 16 channels)."""
    n, h, w, c = x.shape
    length = out.shape[2]
    j0, j1 = max(0, left), min(wp, w + left)
    for r in prange(n * hp):
        b, i = r // hp, r % hp
        y = i - top
        end = (i + 1) * wp if i + 1 < hp else length       # the last row also zeroes the slack
        for ch in range(c):
            out[b, ch, i * wp:end] = 0
        if 0 <= y < h:
            src = x[b, y]
            for j in range(j0, j1):
                px = src[j - left]
                for ch in range(c):
                    out[b, ch, i * wp + j] = px[ch]


def _flat_pad(x, top, left, hp, wp, slack):
    """x (N, C, H, W) in either layout -> (N, C, Hp*Wp + slack) zero-padded rows laid end to end."""
    n, c = x.shape[:2]
    out = buffers.empty((n, c, hp * wp + slack), x.dtype)
    nhwc = x.transpose(0, 2, 3, 1)
    if nhwc.flags.c_contiguous and c > 1:
        _flat_pad_pixels(nhwc, top, left, hp, wp, out)
    else:
        _flat_pad_planes(np.ascontiguousarray(x), top, left, hp, wp, out)
    return out


def _direct_for(BLOCK):
    """``_direct`` for tiles of BLOCK output channels (a compile-time constant: the tile's registers)."""
    TILE_VALUES = TILE * BLOCK

    def direct(xf, w, bias, out, wp, dh, dw, groups):
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
            i = l0 // wp          # the tile's first position; then step along the row (a division
            j = l0 - i * wp       # per position cost a first layer's tile as much as its products)
            for t in range(min(TILE, length - l0)):
                if j < ow:
                    for k in range(BLOCK):
                        out[img, chans[k], i, j] = acc[k, t]
                j += 1
                if j == wp:
                    j = 0
                    i += 1

    return direct


def _generated(make):
    """``make(block)`` compiled for every block size of ``plan.DIRECT_BLOCKS`` (``_<name>_b<block>``;
    Numba compiles each on its first call), by block size."""
    kernels = {}
    for block in DIRECT_BLOCKS:
        fn = make(block)
        kernels[block] = kernel(renamed(fn, f"_{fn.__name__}_b{block}"))
    return kernels


_direct = _generated(_direct_for)


def forward(x, weight, bias, pads, stride, dilation, groups, affine=None):
    """Stride-1 correlation through ``_direct``; ``pads`` may be negative (crop)."""
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    (top, bottom), (left, right) = pads
    hp, wp = h + top + bottom, w + left + right
    oh, ow = hp - dilation[0] * (kh - 1), wp - dilation[1] * (kw - 1)
    xf = _flat_pad(x, top, left, hp, wp, TILE)
    out = buffers.empty((n, o, oh, ow), x.dtype)
    b = bias_values(o, x.dtype, bias)
    _direct[direct_block(o // groups)](xf, np.ascontiguousarray(weight), b, out, wp, dilation[0], dilation[1],
                                       groups)
    return after(out, affine)


def _rotated(weight, groups):
    """The input gradient's kernel: rotated 180 degrees, in/out channels swapped per group,
    (O, C/G, kH, kW) -> (C, O/G, kH, kW)."""
    o, cg, kh, kw = weight.shape
    w = weight.reshape(groups, o // groups, cg, kh, kw)[..., ::-1, ::-1]
    return np.ascontiguousarray(w.transpose(0, 2, 1, 3, 4)).reshape(groups * cg, o // groups, kh, kw)


def input_grad(grad, weight, input_shape, pads, stride, dilation, groups):
    """Stride 1: the full correlation of the gradient with the rotated kernel, computed only over
    the unpadded input: padded by the reach minus the forward padding in front (a crop if negative)."""
    _, _, kh, kw = weight.shape
    (top, _), (left, _) = pads
    h, w = input_shape[-2:]
    reach = (dilation[0] * (kh - 1), dilation[1] * (kw - 1))
    oh, ow = grad.shape[2:]
    gpads = ((reach[0] - top, h + top - oh), (reach[1] - left, w + left - ow))
    return forward(grad, _rotated(weight, groups), None, gpads, stride, dilation, groups)


def _direct_wgrad_for(BLOCK):
    """``_direct_wgrad`` for tiles of BLOCK output channels."""
    TILE_VALUES = TILE * BLOCK

    def direct_wgrad(xf, gf, wp, dh, dw, groups, gw):
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

    return direct_wgrad


_direct_wgrad = _generated(_direct_wgrad_for)


def weight_grad(x, grad, weight_shape, pads, stride, dilation, groups):
    """Stride 1: gradient^T @ columns without building the columns (``_direct_wgrad``)."""
    n, c, h, w = x.shape
    (top, bottom), (left, right) = pads
    hp, wp = h + top + bottom, w + left + right
    oh = grad.shape[2]
    xf = _flat_pad(x, top, left, hp, wp, TILE + wp)
    gf = _flat_pad(grad, 0, 0, oh, wp, TILE)                # rows widened to Wp with zeros
    gw = np.empty(weight_shape, x.dtype)
    # a task per (group, input channel, block): enough blocks to give every thread one (LeNet's first
    # layer, one channel into 6: two blocks of 3, not one of 6 on one thread)
    tasks_a_block = groups * (c // groups)
    block = direct_block(weight_shape[0] // groups, -(-num_threads() // tasks_a_block))
    _direct_wgrad[block](xf, gf, wp, dilation[0], dilation[1], groups, gw)
    return gw
