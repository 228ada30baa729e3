"""Depthwise convolution (groups = channels, one or more filters per channel), one (image, channel)
plane per task, for arrays stored NCHW; channels-last ones (the columns' formulation answers in
that layout) go to ``depthwise_nhwc``'s loops over the channels, which read them as they are.
``forward``, ``input_grad`` and ``weight_grad`` take the package's shared signatures (``groups`` =
channels) and choose by the layout of the array they read most: the input, the gradient (and the
stride: see ``input_grad``), the input.

The task copies its input plane into a buffer of the thread's own (L1-sized), zero-padded and split
by the stride into ``sH*sW`` phase planes laid end to end: phase (a, b) holds the padded input's
pixels (y*sH + a, x*sW + b), in rows of ``Wq = ceil(Wp / sW)``. Output pixel (i, j) then reads, for
tap (p, q), phase ((p*dH) % sH, (q*dW) % sW) at (i + p*dH // sH, j + q*dW // sW): output position
l = i*Wq + j reads phase position l + a constant per tap, whatever the stride. So every tap is one
contiguous slice of the buffer, and the plane's sum is a few long vector loops over all its
positions (three taps per pass, ``_add_taps``); positions j >= oW of a row are computed and dropped.
The input gradient is the same gather per phase plane of the padded input, over the gradient laid
in rows of Wq (zeros beyond oW and around it); the weight gradient is one dot product per tap of the
gradient plane and the input's phase plane, summed over the batch from per-image partial sums. At
stride 1 with both layouts NCHW, ``backward`` does all three (and the bias's sums) from one copy of
each gradient plane (``_dw_backward``).

Measured (benchmarks/RESULTS.md): a register tile of 64 positions accumulating over the taps kept
its accumulators on the stack (the tap loop's count is not a compile-time constant, so LLVM does
not unroll it), a store-to-load chain per tap: 7.3 ms of one thread's time for N32 C128 28x28,
against 1.3 ms for these passes over the plane, whose accumulator row stays in L1. Row copies are
plain loops (copying in fixed 16-value chunks took twice as long), buffers are zeroed once per task,
not per plane, and sums run in the arrays' precision: the layer's forward went 3.2 -> 1.9 ms and its
forward + backward 12.3 -> 5.4 ms (2 threads, in ``bench_vs_torch.py``).
"""

import numpy as np
from numba import prange

from .. import buffers
from .._numba import helper, kernel, num_threads
from . import depthwise_nhwc
from .epilogue import after, bias_values
from .layout import _out_size, _padded_size

@helper
def _copy(src, dst):
    """dst[:] = src for 1-D runs as long as an image row: a plain loop, which LLVM vectorises with its
    remainder (4,096 planes of 28 rows, one thread: 0.62 ms, as ``numpy.copyto``; fixed 16-value
    chunks took 1.29 and a slice assignment 1.66)."""
    for t in range(src.size):
        dst[t] = src[t]


@helper
def _phase_rows(y, top, sh, sw, hq, wq):
    """Where padded row y + top starts in phase plane (its row phase, column phase 0)."""
    return (((y + top) % sh) * sw * hq + (y + top) // sh) * wq


@helper
def _phase_column(b, left, sw):
    """Phase column b's first padded column: its offset in a phase row, and its input column."""
    first = left + (b - left) % sw
    return first // sw, first - left


@helper
def _move(a, b, forward):
    """b[:] = a when ``forward``, else a[:] = b."""
    if forward:
        _copy(a, b)
    else:
        _copy(b, a)


@helper
def _phase_runs(plane, top, left, sh, sw, hq, wq, buf, to_buf):
    """Moves the (H, W) plane's pixels into their places in the phase planes buf (``to_buf``), or
    back: input row y's pixels x0, x0 + sW, ... of phase column b make one run of a phase row.
    The divisions are per row and phase, not per pixel (an integer division costs tens of cycles),
    and none for stride 1 (a third of the forward's time when every row paid three)."""
    h, w = plane.shape
    if sh == 1 and sw == 1:
        for y in range(h):
            _move(plane[y], buf[(y + top) * wq + left:(y + top) * wq + left + w], to_buf)
        return
    for b in range(sw):
        col, x0 = _phase_column(b, left, sw)
        for y in range(h):
            at = _phase_rows(y, top, sh, sw, hq, wq) + b * hq * wq + col
            run = plane[y, x0::sw]
            _move(run, buf[at:at + run.size], to_buf)


@helper
def _to_phases(src, top, left, sh, sw, hq, wq, buf):
    """src (H, W) -> buf: padded by (top, left), split into sH*sW phase planes (hq, wq). The padding
    is the zeros buf was made with: every plane of a shape writes the same positions, so a task
    zeroes its buffer once, not per plane."""
    _phase_runs(src, top, left, sh, sw, hq, wq, buf, True)


@helper
def _input_planes(x, r, first, o, top, left, sh, sw, hq, wq, buf):
    """(image, output channel) of plane task r of a run starting at ``first``, with the phase
    planes of its input channel in buf: copied there unless they already are (the M filters of a
    channel are consecutive tasks)."""
    img, oc = r // o, r % o
    m = o // x.shape[1]
    if r == first or oc % m == 0:
        _to_phases(x[img, oc // m], top, left, sh, sw, hq, wq, buf)
    return img, oc


@helper
def _to_rows(src, front, wq, buf):
    """src (oH, oW) -> buf: rows of wq values (zeros beyond oW) from ``front`` on, zeros elsewhere:
    those of buf, made with zeros (as ``_to_phases``)."""
    oh, ow = src.shape
    for i in range(oh):
        _copy(src[i], buf[front + i * wq:front + i * wq + ow])


@helper
def _add_taps(acc, src, starts, w, taps):
    """acc[l] += w[k] * src[starts[k] + l] for each tap k in ``taps``: three taps per pass over acc,
    so that acc is loaded and stored once per three multiply-adds."""
    n = acc.size
    full = taps.size - taps.size % 3
    for u in range(0, full, 3):
        k0, k1, k2 = taps[u], taps[u + 1], taps[u + 2]
        x0, x1, x2 = src[starts[k0]:starts[k0] + n], src[starts[k1]:starts[k1] + n], \
            src[starts[k2]:starts[k2] + n]
        w0, w1, w2 = w[k0], w[k1], w[k2]
        for t in range(n):
            acc[t] += w0 * x0[t] + w1 * x1[t] + w2 * x2[t]
    for u in range(full, taps.size):
        k = taps[u]
        xs, wv = src[starts[k]:starts[k] + n], w[k]
        for t in range(n):
            acc[t] += wv * xs[t]


@helper
def _tap_dots(g, src, starts, out):
    """out[k] = the dot product of g and src[starts[k]:], three taps per pass over g, summed in the
    arrays' own precision (a float64 sum of float32 products took twice as long: 2.5 against 1.3 ms
    for N32 C128 28x28's planes, 3x3, one thread)."""
    n = g.size
    out[:] = 0
    full = starts.size - starts.size % 3
    for k in range(0, full, 3):
        x0, x1, x2 = src[starts[k]:starts[k] + n], src[starts[k + 1]:starts[k + 1] + n], \
            src[starts[k + 2]:starts[k + 2] + n]
        s0 = s1 = s2 = out[k]
        for t in range(n):
            s0 += g[t] * x0[t]
            s1 += g[t] * x1[t]
            s2 += g[t] * x2[t]
        out[k], out[k + 1], out[k + 2] = s0, s1, s2
    for k in range(full, starts.size):
        xs = src[starts[k]:starts[k] + n]
        s = out[k]
        for t in range(n):
            s += g[t] * xs[t]
        out[k] = s


@kernel
def _dw_forward(x, w, bias, top, left, sh, sw, starts, hq, wq, tasks, out):
    """x (N, C, H, W) any layout, w (C*M, kH*kW), bias (C*M,) -> out (N, C*M, oH, oW): per (image,
    output channel), the taps' passes over the flattened output plane (rows of wq) from the phase
    planes of its input plane; ``starts`` (kH*kW,): where each tap starts in them (``_phases``)."""
    n, o, oh, ow = out.shape
    length = (oh - 1) * wq + ow
    for task in prange(tasks):
        buf = np.zeros(sh * sw * hq * wq, x.dtype)
        flat = np.empty(length, x.dtype)
        taps = np.arange(starts.size)
        first = n * o * task // tasks
        for r in range(first, n * o * (task + 1) // tasks):
            img, oc = _input_planes(x, r, first, o, top, left, sh, sw, hq, wq, buf)
            flat[:] = bias[oc]
            _add_taps(flat, buf, starts, w[oc], taps)
            plane = out[img, oc]
            for i in range(oh):
                _copy(flat[i * wq:i * wq + ow], plane[i])


@kernel
def _dw_input_grad(g, w, top, left, sh, sw, order, bounds, starts, hq, wq, front, tasks, gx):
    """g (N, C*M, oH, oW) any layout, w (C*M, kH*kW) -> gx (N, C, H, W): per (image, channel),
    each padded input pixel gathers w[p, q] * g[i, j] over its taps and filters, one phase plane
    at a time: the M gradient planes laid in rows of wq after ``front`` zeros (reads before a
    plane's first row, or beyond oW, are zeros). Phase plane f takes the taps
    ``order[bounds[f]:bounds[f + 1]]``, tap k reading the gradient from ``starts[k]`` on."""
    n, c = gx.shape[:2]
    o = g.shape[1]
    m = o // c
    plane = hq * wq
    size = front + plane
    for task in prange(tasks):
        rows = np.zeros(m * size, g.dtype)
        phases = np.empty(sh * sw * plane, g.dtype)
        for r in range(n * c * task // tasks, n * c * (task + 1) // tasks):
            img, ch = r // c, r % c
            for k in range(m):
                _to_rows(g[img, ch * m + k], front, wq, rows[k * size:(k + 1) * size])
            phases[:] = 0
            for f in range(sh * sw):
                acc = phases[f * plane:(f + 1) * plane]
                taps = order[bounds[f]:bounds[f + 1]]
                for k in range(m):
                    _add_taps(acc, rows[k * size:(k + 1) * size], starts, w[ch * m + k], taps)
            _phase_runs(gx[img, ch], top, left, sh, sw, hq, wq, phases, False)


@kernel
def _dw_weight_grad(x, g, top, left, sh, sw, starts, hq, wq, tasks, parts):
    """x (N, C, H, W), g (N, C*M, oH, oW), any layout -> parts (N, C*M, kH*kW): per (image,
    output channel), each tap's dot product of the gradient (rows of wq, zeros beyond oW) and the
    input's phase plane from that tap on (``starts``)."""
    n, o, oh, ow = g.shape
    length = (oh - 1) * wq + ow
    for task in prange(tasks):
        buf = np.zeros(sh * sw * hq * wq, x.dtype)
        rows = np.zeros(length, x.dtype)
        first = n * o * task // tasks
        for r in range(first, n * o * (task + 1) // tasks):
            img, oc = _input_planes(x, r, first, o, top, left, sh, sw, hq, wq, buf)
            _to_rows(g[img, oc], 0, wq, rows)
            _tap_dots(rows, buf, starts, parts[img, oc])


@kernel
def _dw_backward(x, g, w, top, left, x_starts, g_starts, hq, wq, front, tasks, gx, parts, bias_parts):
    """Stride 1, x (N, C, H, W), g (N, C*M, oH, oW), both NCHW -> gx (N, C, H, W), parts (N, C*M,
    kH*kW), bias_parts (N, C*M): the three gradients of an (image, channel) plane from one copy of
    each gradient plane, while it is in L1: laid in rows of wq after ``front`` zeros, it is gathered
    into the padded input's gradient (taps from ``g_starts`` on), dotted with the padded input from
    each tap on (``x_starts``) and summed for the bias."""
    n, c = gx.shape[:2]
    o, oh, ow = g.shape[1:]
    m = o // c
    plane = hq * wq
    size = front + plane
    length = (oh - 1) * wq + ow
    for task in prange(tasks):
        rows = np.zeros(size, g.dtype)
        padded = np.zeros(plane, x.dtype)
        acc = np.empty(plane, g.dtype)
        zero = np.zeros(1, g.dtype)         # the bias sums' start, in the gradient's precision
        taps = np.arange(x_starts.size)
        for r in range(n * c * task // tasks, n * c * (task + 1) // tasks):
            img, ch = r // c, r % c
            _to_phases(x[img, ch], top, left, 1, 1, hq, wq, padded)
            acc[:] = 0
            for oc in range(ch * m, (ch + 1) * m):
                _to_rows(g[img, oc], front, wq, rows)
                _add_taps(acc, rows, g_starts, w[oc], taps)
                _tap_dots(rows[front:front + length], padded, x_starts, parts[img, oc])
                s = zero[0]
                for t in range(size):
                    s += rows[t]
                bias_parts[img, oc] = s
            _phase_runs(gx[img, ch], top, left, 1, 1, hq, wq, acc, False)


def _phases(shape, kernel_size, pads, stride, dilation):
    """The phase planes' size (hq, wq), the padded size divided by the stride (rounded up), and
    per tap (p, q) in row-major order: its phase plane, its row and column shift in that plane,
    and so where it starts in the planes laid end to end (a table, not a division per tile)."""
    (hp, wp), (sh, sw), (dh, dw) = _padded_size(shape, pads), stride, dilation
    hq, wq = -(-hp // sh), -(-wp // sw)
    p, q = np.divmod(np.arange(kernel_size[0] * kernel_size[1]), kernel_size[1])
    phase = (p * dh % sh) * sw + q * dw % sw
    shift = (p * dh // sh) * wq + q * dw // sw
    return hq, wq, phase, shift, phase * hq * wq + shift


def _tasks(planes):
    return max(1, min(planes, num_threads()))


def _flat_taps(weight):
    """(C*M, 1, kH, kW) -> (C*M, kH*kW)."""
    return np.ascontiguousarray(weight.reshape(weight.shape[0], -1))


def _channels_last(a):
    """Whether ``a`` (N, C, H, W) is stored channels-last (and not also NCHW, as when C = 1)."""
    return not a.flags.c_contiguous and a.transpose(0, 2, 3, 1).flags.c_contiguous


def forward(x, weight, bias, pads, stride, dilation, groups, affine=None):
    if _channels_last(x):
        return after(depthwise_nhwc.forward(x, weight, bias, pads, stride, dilation, groups), affine)
    n, o = x.shape[0], weight.shape[0]
    out = buffers.empty((n, o, *_out_size(x.shape, weight.shape[2:], pads, stride, dilation)), x.dtype)
    b = bias_values(o, x.dtype, bias)
    hq, wq, _, _, starts = _phases(x.shape, weight.shape[2:], pads, stride, dilation)
    _dw_forward(x, _flat_taps(weight), b, pads[0][0], pads[1][0], *stride, starts, hq, wq,
                _tasks(n * o), out)
    return after(out, affine)


def input_grad(grad, weight, input_shape, pads, stride, dilation, groups):
    # Strides > 1 go to the channel loops whatever the layout: the planes' strided copy back into
    # NCHW cost more than the loops' transposed gradient, a quarter the size (3.8 against 2.6-2.8
    # ms of one thread for 3x3 stride 2 at N32 C128 28x28, benchmarks/conv_formulations.py dw128s2)
    if _channels_last(grad) or stride != (1, 1):
        return depthwise_nhwc.input_grad(grad, weight, input_shape, pads, stride, dilation, groups)
    return _planes_input_grad(grad, weight, input_shape, pads, stride, dilation)


def _planes_input_grad(grad, weight, input_shape, pads, stride, dilation):
    """The input gradient on plane tasks, for any stride (``input_grad`` takes it for stride 1)."""
    n, c = input_shape[:2]
    hq, wq, phase, shift, _ = _phases(input_shape, weight.shape[2:], pads, stride, dilation)
    order = np.argsort(phase, kind="stable")                             # taps grouped by phase
    bounds = np.searchsorted(phase[order], np.arange(stride[0] * stride[1] + 1))
    front = int(shift.max())
    gx = buffers.empty(input_shape, grad.dtype)
    _dw_input_grad(grad, _flat_taps(weight), pads[0][0], pads[1][0], *stride, order, bounds,
                   front - shift, hq, wq, front, _tasks(n * c), gx)
    return gx


def fuses(grad, x, needs, stride):
    """Whether ``backward`` computes the three gradients in one pass (``_dw_backward``): stride 1,
    input and gradient NCHW, the input's and the weight's gradients both wanted."""
    return needs[0] and needs[1] and stride == (1, 1) and not _channels_last(x) and not _channels_last(grad)


def backward(grad, x, weight, needs, pads, stride, dilation, groups):
    """(d input, d weight, d bias or None) in one pass over the gradient (``fuses`` says when), where
    the separate kernels read it three times: 4.5-5.6 against 5.8-7.0 ms (N32 C128 28x28, 3x3, 2
    threads, alternated, min)."""
    n, c = x.shape[:2]
    o = weight.shape[0]
    hq, wq, _, shift, x_starts = _phases(x.shape, weight.shape[2:], pads, stride, dilation)
    front = int(shift.max())
    gx = buffers.empty(x.shape, grad.dtype)
    parts = buffers.empty((n, o, x_starts.size), x.dtype)                       # (N, C*M, kH*kW)
    bias_parts = buffers.empty((n, o), np.float64)
    _dw_backward(x, grad, _flat_taps(weight), pads[0][0], pads[1][0], x_starts, front - shift, hq, wq,
                 front, _tasks(n * c), gx, parts, bias_parts)
    gb = bias_parts.sum(axis=0).astype(grad.dtype) if needs[2] else None
    return gx, parts.sum(axis=0).reshape(weight.shape), gb


def weight_grad(x, grad, weight_shape, pads, stride, dilation, groups):
    if _channels_last(x):
        return depthwise_nhwc.weight_grad(x, grad, weight_shape, pads, stride, dilation, groups)
    n, o = grad.shape[:2]
    hq, wq, _, _, starts = _phases(x.shape, weight_shape[2:], pads, stride, dilation)
    parts = buffers.empty((n, o, starts.size), x.dtype)                        # (N, C*M, kH*kW)
    _dw_weight_grad(x, grad, pads[0][0], pads[1][0], *stride, starts, hq, wq, _tasks(n * o), parts)
    return parts.sum(axis=0).reshape(weight_shape)
