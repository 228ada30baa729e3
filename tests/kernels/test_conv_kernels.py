"""Every compiled convolution formulation against PyTorch and the reference kernel, on drawn shapes.

Each formulation of ``kernels.compiled.conv`` (direct, columns, depthwise) is called directly, so
that every one is tested whatever shape the dispatch would send it; forward, input gradient and
weight gradient, float64 to 1e-8 and float32 to 1e-4, with a random upstream gradient. The shapes
cover the edges of the register tile (channel counts not a multiple of its 4 channels, rows longer
and shorter than its 64 positions), odd sizes, strides 2-3, dilation, groups, batch 1 and inputs
in either memory layout. Hypothesis draws them from a fixed seed (``derandomize``).
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlab
from cnnlab.kernels import reference
from cnnlab.kernels.compiled import conv as compiled
from cnnlab.kernels.compiled.conv import plan
from helpers import assert_close, check_against_torch

EXAMPLES = 12


@st.composite
def conv_cases(draw, form):
    """A valid convolution for ``form``: shapes, zero padding, stride, dilation, groups, layout."""
    n = draw(st.sampled_from([1, 2, 3]))
    if form == "depthwise":
        c = draw(st.integers(1, 9))
        groups, o = c, c * draw(st.integers(1, 3))
    else:
        groups = draw(st.sampled_from([1, 1, 2, 3]))
        c = groups * draw(st.integers(1, 9 if groups == 1 else 4))
        o = groups * draw(st.integers(1, 9 if groups == 1 else 5))
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    stride = (1, 1) if form == "direct" else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 2)))
    pads = ((draw(st.integers(0, 3)), draw(st.integers(0, 3))), (draw(st.integers(0, 3)), draw(st.integers(0, 3))))
    span = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)
    h = draw(st.integers(max(1, span[0] - sum(pads[0])), 23))
    w = draw(st.integers(max(1, span[1] - sum(pads[1])), 23))
    bias = draw(st.booleans())
    channels_last = draw(st.booleans())
    return dict(x=(n, c, h, w), w=(o, c // groups, kh, kw), pads=pads, stride=stride, dilation=dilation,
                groups=groups, bias=bias, channels_last=channels_last)


def _layout(a, channels_last):
    """The same values, as (N, C, H, W) stored channels-last when asked."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2) if channels_last else a


def _check(form, case, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(case["x"])
    w = rng.standard_normal(case["w"])
    b = rng.standard_normal(case["w"][0]) if case["bias"] else None
    args = (case["pads"], case["stride"], case["dilation"], case["groups"])
    (top, bottom), (left, right) = case["pads"]
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    ref = TF.conv2d(TF.pad(xt, (left, right, top, bottom)), wt, None if b is None else torch.tensor(b),
                    case["stride"], 0, case["dilation"], case["groups"])
    g = rng.standard_normal(ref.shape)
    ref.backward(torch.tensor(g))

    x, w, g = (_layout(a.astype(dtype), case["channels_last"]) for a in (x, w.astype(dtype), g))
    w = np.ascontiguousarray(w)
    b = None if b is None else b.astype(dtype)
    module = compiled.FORMULATIONS[form]        # one signature per op, whichever formulation
    forward, input_grad, weight_grad = module.forward, module.input_grad, module.weight_grad
    ours = (forward(x, w, b, *args), input_grad(g, w, x.shape, *args), weight_grad(x, g, w.shape, *args))
    theirs = (ref.detach().numpy(), xt.grad.numpy(), wt.grad.numpy())
    lecture = (reference.conv2d_forward(x, w, b, *args), reference.conv2d_input_grad(g, w, x.shape, *args),
               reference.conv2d_weight_grad(x, g, w.shape, *args))
    for what, a, t, r in zip(("forward", "input grad", "weight grad"), ours, theirs, lecture):
        assert a.dtype == np.dtype(dtype), f"{form} {what}: dtype {a.dtype}"
        assert_close(a, t, dtype, f"{form} {what} vs PyTorch, {case}")
        assert_close(a, r, dtype, f"{form} {what} vs the reference kernel, {case}")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("form", ["direct", "columns", "depthwise", "pixels"])
@settings(derandomize=True, max_examples=EXAMPLES, deadline=None)
@given(data=st.data())
def test_formulation_matches_torch_and_reference(form, dtype, data):
    _check(form, data.draw(conv_cases(form)), dtype)


@pytest.mark.parametrize("form,case", [
    ("direct", dict(x=(1, 1, 28, 28), w=(16, 1, 5, 5), pads=((2, 2), (2, 2)))),      # first layer, 1 channel
    ("direct", dict(x=(2, 16, 14, 14), w=(32, 16, 5, 5), pads=((2, 2), (2, 2)))),    # many 64-position tiles
    ("direct", dict(x=(2, 5, 9, 70), w=(7, 5, 3, 3), pads=((1, 1), (1, 1)))),        # a row longer than a tile
    # LeNet's layers and each tile block (plan.direct_block): 6 outputs in one block of 6, 16 input
    # channels into a 6-channel gradient, 10 outputs (a repeated last block), 1 output, per group
    ("direct", dict(x=(2, 1, 28, 28), w=(6, 1, 5, 5), pads=((0, 0), (0, 0)))),
    ("direct", dict(x=(2, 6, 12, 12), w=(16, 6, 5, 5), pads=((0, 0), (0, 0)))),
    ("direct", dict(x=(2, 3, 8, 8), w=(10, 3, 3, 3), pads=((1, 1), (1, 1)))),
    ("direct", dict(x=(1, 2, 6, 6), w=(1, 2, 3, 3), pads=((1, 1), (1, 1)))),
    ("direct", dict(x=(2, 4, 7, 7), w=(12, 2, 3, 3), pads=((1, 1), (1, 1)), groups=2)),
    ("columns", dict(x=(2, 64, 8, 8), w=(64, 64, 3, 3), pads=((1, 1), (1, 1)))),     # BLAS shape of a resnet
    ("columns", dict(x=(3, 8, 11, 11), w=(6, 8, 1, 1), pads=((0, 0), (0, 0)))),      # 1x1
    ("columns", dict(x=(2, 8, 30, 30), w=(24, 8, 3, 3), pads=((1, 1), (1, 1)))),     # GEMM, 24 outputs
    # few pixels, many channels: tiles of 6 channels x 64 pixels, groups of 8 tiles, a GEMM tail
    # (100 = 2 x 48 + 4), more than one block of 64 pixels, strided, both layouts
    ("pixels", dict(x=(1, 64, 3, 3), w=(64, 64, 3, 3), pads=((1, 1), (1, 1)))),
    ("pixels", dict(x=(1, 20, 7, 7), w=(100, 20, 3, 3), pads=((1, 1), (1, 1)), channels_last=True)),
    ("pixels", dict(x=(2, 8, 9, 8), w=(30, 8, 3, 3), pads=((2, 0), (1, 1)), stride=(2, 1))),
    # stride 1: pixels numbered over the padded width, two images across 64-pixel blocks, dilated
    ("pixels", dict(x=(2, 8, 9, 8), w=(40, 8, 3, 3), pads=((1, 1), (1, 1)))),
    ("pixels", dict(x=(2, 5, 9, 8), w=(20, 5, 3, 2), pads=((2, 1), (0, 3)), dilation=(2, 3))),
    ("pixels", dict(x=(1, 16, 14, 14), w=(24, 16, 3, 3), pads=((1, 1), (1, 1)), stride=(2, 2),
                    dilation=(1, 2), channels_last=True)),
    # 16 and 32 output channels: the register-tiled product, rows not a multiple of its tile, and
    # 16/32 input channels for the input gradient's product
    ("columns", dict(x=(2, 16, 9, 7), w=(16, 16, 3, 3), pads=((1, 1), (1, 1)), channels_last=True)),
    ("columns", dict(x=(3, 32, 5, 6), w=(32, 32, 3, 3), pads=((1, 1), (1, 1)))),
    # the weight gradient's narrow tile: 16 outputs from channels in sixes (LeNet's second layer)
    # and from one channel, a kernel row's 5 taps as the tile's rows (fashion_cnn's first layer);
    # dilated, the taps are not consecutive: the GEMM
    ("columns", dict(x=(2, 1, 12, 11), w=(16, 1, 5, 5), pads=((2, 2), (2, 1)))),
    ("columns", dict(x=(2, 1, 12, 11), w=(16, 1, 5, 5), pads=((2, 2), (2, 2)), dilation=(1, 2))),
    ("columns", dict(x=(2, 6, 12, 12), w=(16, 6, 5, 5), pads=((0, 0), (0, 0)))),
    ("columns", dict(x=(3, 12, 6, 7), w=(16, 12, 3, 3), pads=((1, 1), (0, 1)), channels_last=True)),
    ("columns", dict(x=(2, 16, 10, 10), w=(32, 16, 5, 5), pads=((2, 2), (2, 2)), channels_last=True)),
    ("columns", dict(x=(2, 32, 6, 6), w=(32, 16, 3, 3), pads=((1, 1), (1, 1)), groups=2)),
    ("columns", dict(x=(1, 16, 5, 5), w=(16, 16, 3, 3), pads=((1, 0), (2, 1)))),      # a ragged last tile
    ("columns", dict(x=(2, 64, 6, 5), w=(64, 64, 5, 5), pads=((2, 2), (2, 2)))),      # panel in 2 tap blocks
    # from 1024 input x output channels (plan.WGRAD_UNPADDED_MIN) the weight gradient reads the
    # unpadded input, each tap's pixels inside the image: taps that miss it for whole rows of
    # outputs (padding 2 around a 2x1 image), strided and dilated taps, every tile width
    ("columns", dict(x=(2, 32, 2, 1), w=(32, 32, 3, 3), pads=((2, 2), (1, 1)))),
    ("columns", dict(x=(3, 32, 5, 4), w=(32, 32, 3, 3), pads=((2, 1), (2, 3)), stride=(2, 3),
                     dilation=(2, 1), channels_last=True)),
    ("columns", dict(x=(2, 64, 5, 6), w=(16, 64, 3, 3), pads=((2, 1), (0, 2)))),
    ("columns", dict(x=(2, 66, 5, 5), w=(16, 66, 3, 3), pads=((1, 1), (1, 1)))),
    ("columns", dict(x=(2, 16, 4, 7), w=(64, 16, 3, 3), pads=((1, 1), (1, 1)), stride=(2, 2))),
    # 128+ outputs in blocks of 64 (enough rows for two threads): a ragged last tile, three blocks
    # from channels-last input, strided (col2im input gradient, tiled weight gradient)
    ("columns", dict(x=(1, 128, 31, 31), w=(128, 128, 3, 3), pads=((1, 1), (1, 1)))),
    # nothing to pad on channels-last input: the tiles read the input itself (a 1x1 shortcut)
    ("columns", dict(x=(2, 16, 9, 8), w=(32, 16, 1, 1), pads=((0, 0), (0, 0)), stride=(2, 2),
                     channels_last=True)),
    ("columns", dict(x=(2, 16, 7, 6), w=(16, 16, 3, 3), pads=((0, 0), (0, 0)), channels_last=True)),
    ("columns", dict(x=(1, 64, 30, 31), w=(192, 64, 3, 3), pads=((1, 1), (1, 1)), channels_last=True)),
    ("columns", dict(x=(4, 64, 30, 34), w=(128, 64, 3, 3), pads=((1, 1), (1, 1)), stride=(2, 2))),
    ("columns", dict(x=(2, 8, 13, 11), w=(32, 8, 3, 3), pads=((1, 1), (1, 1)), stride=(2, 2),
                     dilation=(2, 1), channels_last=True)),                        # strided, dilated tiles
    ("depthwise", dict(x=(2, 70, 9, 9), w=(70, 1, 3, 3), pads=((1, 1), (1, 1)))),    # depthwise, many channels
    # NCHW planes split into stride phases: strides 1-2 (and 3 x 1), padding 0-2, dilation, a
    # channel multiplier, odd sizes, batch 1; the same in channels-last memory for the channel loops
    ("depthwise", dict(x=(2, 6, 28, 28), w=(6, 1, 3, 3), pads=((1, 1), (1, 1)))),
    ("depthwise", dict(x=(1, 5, 15, 13), w=(5, 1, 3, 3), pads=((1, 1), (1, 1)), stride=(2, 2))),
    ("depthwise", dict(x=(3, 4, 11, 9), w=(4, 1, 3, 3), pads=((0, 0), (0, 0)), stride=(2, 2))),
    ("depthwise", dict(x=(2, 3, 17, 10), w=(3, 1, 5, 5), pads=((2, 2), (2, 2)), stride=(3, 1))),
    ("depthwise", dict(x=(1, 4, 13, 12), w=(12, 1, 3, 3), pads=((2, 1), (0, 2)), dilation=(2, 2),
                       stride=(2, 2))),
    ("depthwise", dict(x=(2, 3, 9, 70), w=(6, 1, 3, 3), pads=((1, 1), (1, 1)), dilation=(1, 2))),
    ("depthwise", dict(x=(1, 8, 7, 7), w=(8, 1, 7, 7), pads=((3, 3), (3, 3)), bias=False)),
    ("depthwise", dict(x=(1, 4, 1, 1), w=(8, 1, 1, 1), pads=((0, 0), (0, 0)))),
    ("depthwise", dict(x=(2, 5, 15, 13), w=(10, 1, 3, 3), pads=((1, 1), (1, 1)), stride=(2, 2),
                       channels_last=True)),
    ("depthwise", dict(x=(2, 5, 9, 8), w=(5, 1, 3, 3), pads=((0, 0), (0, 0)), channels_last=True)),
])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_named_shapes(form, case, dtype):
    """The shapes of the networks the library trains and the edges of each kernel's layout, beside
    the drawn ones."""
    defaults = dict(stride=(1, 1), dilation=(1, 1), groups=1, bias=True, channels_last=False)
    case = {**defaults, **case}
    if form == "depthwise":
        case["groups"] = case["x"][1]
    _check(form, case, dtype)


@pytest.mark.parametrize("case", [
    dict(x=(1, 16, 7, 7), w=(200, 16, 3, 3), pads=((1, 1), (1, 1))),          # ragged last block
    dict(x=(1, 256, 4, 5), w=(256, 128, 3, 3), pads=((1, 1), (1, 1)), groups=2),   # per group
    dict(x=(1, 32, 9, 9), w=(256, 32, 1, 1), pads=((0, 0), (0, 0)), stride=(2, 2)),
])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_columns_split_over_output_channels_when_rows_are_few(case, dtype, monkeypatch):
    """Batch 1 with few pixels: one run of rows, its product split into blocks of output channels
    (four threads assumed, so 2-4 blocks)."""
    from cnnlab.kernels.compiled.conv import columns

    monkeypatch.setattr(columns, "num_threads", lambda: 4)
    og = case["w"][0] // case.get("groups", 1)
    assert columns._splits(1, og) == min(4, og // plan.MIN_SPLIT_CHANNELS) > 1
    defaults = dict(stride=(1, 1), dilation=(1, 1), groups=1, bias=True, channels_last=False)
    _check("columns", {**defaults, **case}, dtype)


@pytest.mark.parametrize("stride,dilation,pads", [((2, 2), (1, 1), ((1, 1), (1, 1))),
                                                  ((3, 2), (2, 1), ((2, 0), (1, 2))),
                                                  ((2, 1), (1, 1), ((0, 0), (0, 0)))])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_depthwise_plane_input_gradient_for_strides_above_one(stride, dilation, pads, dtype):
    """The planes' input gradient gathers per phase plane for any stride; ``input_grad`` sends
    strides > 1 to the channel loops (faster there), so it is called here directly."""
    from cnnlab.kernels.compiled.conv import depthwise

    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((2, 3, 11, 10)), rng.standard_normal((6, 1, 3, 3))
    (top, bottom), (left, right) = pads
    xt = torch.tensor(x, requires_grad=True)
    ref = TF.conv2d(TF.pad(xt, (left, right, top, bottom)), torch.tensor(w), None, stride, 0,
                    dilation, 3)
    g = rng.standard_normal(ref.shape)
    ref.backward(torch.tensor(g))
    ours = depthwise._planes_input_grad(g.astype(dtype), w.astype(dtype), x.shape, pads, stride,
                                        dilation)
    assert_close(ours, xt.grad.numpy(), dtype, "planes' input gradient")


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("x_last,g_last", [(False, True), (True, False)])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_depthwise_with_input_and_gradient_in_different_layouts(x_last, g_last, dtype, stride,
                                                                monkeypatch):
    """The depthwise functions choose their loops by the layout of one array (NCHW: plane tasks;
    channels-last: loops over the channels; the input gradient of strides > 1 always the loops)
    and read the other in whichever layout it comes."""
    from cnnlab.kernels.compiled.conv import depthwise, depthwise_nhwc

    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 6, 10, 9)), rng.standard_normal((12, 1, 3, 3))
    args = (((1, 1), (1, 1)), (stride, stride), (1, 1), 6)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ref = TF.conv2d(xt, wt, None, stride, 1, 1, 6)
    g = rng.standard_normal(ref.shape)
    ref.backward(torch.tensor(g))
    calls = []
    for name in ("forward", "input_grad", "weight_grad"):
        real = getattr(depthwise_nhwc, name)
        monkeypatch.setattr(depthwise_nhwc, name,
                            lambda *a, _f=real, _n=name: calls.append(_n) or _f(*a))
    x, g = _layout(x.astype(dtype), x_last), _layout(g.astype(dtype), g_last)
    w = w.astype(dtype)
    assert_close(depthwise.forward(x, w, None, *args), ref.detach().numpy(), dtype, "forward")
    assert_close(depthwise.input_grad(g, w, x.shape, *args), xt.grad.numpy(), dtype, "input grad")
    assert_close(depthwise.weight_grad(x, g, w.shape, *args), wt.grad.numpy(), dtype, "weight grad")
    loops = (["forward"] if x_last else []) + (["input_grad"] if g_last or stride > 1 else []) \
        + (["weight_grad"] if x_last else [])
    assert calls == loops


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@settings(derandomize=True, max_examples=4, deadline=None)
@given(data=st.data())
def test_conv2d_padding_modes_with_compiled_kernels(mode, data):
    """Through ``F.conv2d`` (which pads for the non-zero modes) with the compiled kernels."""
    n, c, o = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    k, p = data.draw(st.integers(1, 4)), data.draw(st.integers(0, 2))
    s = data.draw(st.integers(1, 3))
    side = data.draw(st.integers(max(k, p + 1), 12))
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((n, c, side, side)), rng.standard_normal((o, c, k, k)), rng.standard_normal(o)
    torch_conv = torch.nn.Conv2d(c, o, k, s, p, padding_mode=mode)
    cnnlab.backend.set_kernels("compiled")
    try:
        check_against_torch(lambda x, w, b: cnnlab.functional.conv2d(x, w, b, s, p, padding_mode=mode),
                            lambda x, w, b: torch_conv._conv_forward(x, w, b), [x, w, b])
    finally:
        cnnlab.backend._kernels = None   # back to CNNLAB_KERNELS


@pytest.mark.parametrize("x_shape,w_shape,stride,groups,plans", [
    ((8, 16, 14, 14), (32, 16, 5, 5), (1, 1), 1, ("columns", "columns", "columns")),
    ((8, 6, 14, 14), (16, 6, 5, 5), (1, 1), 1, ("columns", "direct", "columns")),
    ((8, 1, 28, 28), (16, 1, 5, 5), (1, 1), 1, ("columns", "direct", "columns")),
    ((8, 1, 28, 28), (16, 1, 3, 3), (1, 1), 1, ("columns", "direct", "direct")),
    ((8, 1, 28, 28), (6, 1, 5, 5), (1, 1), 1, ("direct", "direct", "direct")),
    ((8, 64, 8, 8), (64, 64, 3, 3), (1, 1), 1, ("columns", "columns", "columns")),
    ((8, 16, 32, 32), (32, 16, 3, 3), (2, 2), 1, ("columns", "columns", "columns")),
    ((8, 32, 8, 8), (32, 1, 3, 3), (1, 1), 32, ("depthwise", "depthwise", "depthwise")),
    ((1, 512, 7, 7), (512, 512, 3, 3), (1, 1), 1, ("pixels", "columns", "columns")),
    ((1, 256, 14, 14), (512, 256, 3, 3), (2, 2), 1, ("pixels", "columns", "columns")),
    ((1, 256, 14, 14), (256, 256, 3, 3), (1, 1), 1, ("columns", "columns", "columns")),
])
def test_dispatch_per_op_and_shape(x_shape, w_shape, stride, groups, plans):
    """One dispatch point chooses per op and shape (the measured choices in the module)."""
    ops = ("forward", "input_grad", "weight_grad")
    assert tuple(plan.choose(op, x_shape, w_shape, stride, groups).formulation for op in ops) == plans


def test_channels_last_input_with_nothing_to_pad_is_not_copied(rng):
    from cnnlab.kernels.compiled.conv import layout

    x = np.ascontiguousarray(rng.standard_normal((2, 5, 6, 3))).transpose(0, 3, 1, 2)   # NCHW view
    same = layout._padded_nhwc(x, ((0, 0), (0, 0)))
    assert np.shares_memory(same, x) and same.flags.c_contiguous
    padded = layout._padded_nhwc(x, ((1, 0), (0, 0)))
    assert not np.shares_memory(padded, x) and padded.shape == (2, 6, 6, 3)
    assert not np.shares_memory(layout._padded_nhwc(np.ascontiguousarray(x), ((0, 0), (0, 0))), x)


@pytest.mark.parametrize("width,rows,threads,expected", [
    (16, 10, 8, True), (64, 1, 2, True),          # 16-64 outputs: always
    (128, 6272, 2, True), (512, 1568, 2, True),   # blocks of 64: a task of MIN_TILED_ROWS per thread
    (128, 784, 2, True), (256, 196, 4, True),     # few rows: the blocks of 64 shared out over tasks
    (128, 784, 4, False), (192, 1000, 8, False),  # still fewer tasks than threads: the GEMM
    (128, 784, 1, True), (96, 100000, 2, False), (24, 100000, 1, False),
])
def test_wide_outputs_run_in_tiles_when_every_thread_gets_a_task(width, rows, threads, expected):
    assert plan.tiled(width, np.float32, 1, rows, threads) is expected
    assert not plan.tiled(width, np.float64, 1, rows, threads)
    assert not plan.tiled(width, np.float32, 2, rows, threads)


@pytest.mark.parametrize("width,channels,rows,expected", [
    (128, 128, 784, True), (512, 256, 1568, True), (256, 256, 196, False),  # a WGRAD_PIXELS run per thread
    (128, 6, 100000, False), (16, 16, 10, True), (16, 6, 10, True), (32, 6, 10, False),
])
def test_weight_gradient_tiles_for_wide_outputs_need_a_run_of_pixels_per_thread(width, channels, rows,
                                                                                   expected):
    assert plan.wgrad_tiled(width, channels, np.float32, 1, 3, 1, rows, 2) is expected


def test_wide_tiles_are_the_path_taken(monkeypatch):
    """128 outputs on 961 rows with two threads: the forward, the stride-1 input gradient and the
    weight gradient all run the register tiles (no GEMM call)."""
    from cnnlab.kernels.compiled.conv import columns

    calls = []
    for name in ("_tiled_convolution", "_tiled_weight_gradient", "_columns_product",
                 "_columns_weight_product"):
        original = getattr(columns, name)
        monkeypatch.setattr(columns, name, lambda *a, _f=original, _n=name: calls.append(_n) or _f(*a))
    monkeypatch.setattr(columns, "num_threads", lambda: 2)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 128, 31, 31)).astype(np.float32)
    w = rng.standard_normal((128, 128, 3, 3)).astype(np.float32)
    pads = ((1, 1), (1, 1))
    y = columns.forward(x, w, None, pads, (1, 1), (1, 1), 1)
    columns.input_grad(np.ascontiguousarray(y), w, x.shape, pads, (1, 1), (1, 1), 1)
    columns.weight_grad(x, np.ascontiguousarray(y), w.shape, pads, (1, 1), (1, 1), 1)
    assert calls == ["_tiled_convolution", "_tiled_convolution", "_tiled_weight_gradient"]


def test_the_tiled_weight_gradient_pads_only_narrow_layers(monkeypatch):
    """From plan.WGRAD_UNPADDED_MIN input x output channels it reads each tap's pixels inside the
    image straight from the input (``_tap_pixels``); narrower layers (and a one-channel first layer,
    whose tile takes a kernel row's taps as consecutive values) read a padded copy."""
    from cnnlab.kernels.compiled.conv import columns

    padded = []
    original = columns._padded_nhwc
    monkeypatch.setattr(columns, "_padded_nhwc", lambda *a: padded.append(a[0].shape) or original(*a))
    rng = np.random.default_rng(3)
    for x_shape, w_shape in (((2, 32, 9, 9), (32, 32, 3, 3)), ((2, 16, 9, 9), (32, 16, 3, 3)),
                             ((2, 1, 9, 9), (16, 1, 5, 5))):
        x = rng.standard_normal(x_shape).astype(np.float32)
        w = rng.standard_normal(w_shape).astype(np.float32)
        k = w_shape[-1]
        pads = ((k // 2, k // 2),) * 2
        g = rng.standard_normal((2, w_shape[0], 9, 9)).astype(np.float32)
        assert plan.wgrad_tiled(w_shape[0], x_shape[1], np.float32, 1, k, 1, 162, 1)
        got = columns.weight_grad(x, g, w.shape, pads, (1, 1), (1, 1), 1)
        assert_close(got, reference.conv2d_weight_grad(x, g, w.shape, pads, (1, 1), (1, 1), 1), "float32",
                     f"weight gradient {w_shape}")
    assert plan.WGRAD_UNPADDED_MIN == 1024
    assert padded == [(2, 16, 9, 9), (2, 1, 9, 9)]


@pytest.mark.parametrize("rows,width,threads,tasks", [
    (100000, 64, 2, (2, 1)), (784, 128, 2, (1, 2)), (196, 256, 4, (1, 4)), (196, 192, 2, (1, 2)),
    (2000, 512, 4, (3, 1)), (900, 512, 4, (2, 2)), (10, 16, 4, (1, 1)),
])
def test_tile_tasks_share_out_blocks_of_64_when_runs_are_fewer_than_threads(rows, width, threads, tasks):
    assert plan.tile_tasks(rows, width, threads) == tasks


@pytest.mark.parametrize("case,threads", [
    (dict(x=(1, 128, 9, 9), w=(192, 128, 3, 3), pads=((1, 1), (1, 1))), 2),     # 3 blocks in 2 tasks
    (dict(x=(1, 64, 7, 8), w=(256, 64, 3, 3), pads=((1, 1), (0, 1)), stride=(2, 1), channels_last=True), 4),
    (dict(x=(1, 64, 7, 8), w=(256, 64, 3, 3), pads=((1, 1), (0, 1)), stride=(2, 1)), 2),
])
def test_tiles_split_over_blocks_of_outputs_when_rows_are_few(case, threads, monkeypatch):
    """Batch 1: one run of rows, its blocks of 64 outputs shared out over the threads' tasks."""
    from cnnlab.kernels.compiled.conv import columns

    monkeypatch.setattr(columns, "num_threads", lambda: threads)
    defaults = dict(stride=(1, 1), dilation=(1, 1), groups=1, bias=True, channels_last=False)
    case = {**defaults, **case}
    n, _, h, w = case["x"]
    o, _, kh, kw = case["w"]
    (top, bottom), (left, right) = case["pads"]
    rows = n * ((h + top + bottom - kh) // case["stride"][0] + 1) * ((w + left + right - kw) // case["stride"][1] + 1)
    runs, splits = plan.tile_tasks(rows, o, threads)
    assert runs == 1 and splits == threads and plan.tiled(o, np.float32, 1, rows, threads)
    _check("columns", case, "float32")


@pytest.mark.parametrize("channels,block", [(6, 6), (12, 6), (16, 4), (8, 4), (20, 4), (9, 3), (3, 3),
                                            (1, 3), (10, 6)])
def test_direct_block_computes_the_fewest_channels(channels, block):
    """A direct tile computes a whole block of output channels, so LeNet's 6 go in one block of 6,
    not in two of 4 (8 computed); on a tie, the larger block (more products per input load)."""
    assert plan.direct_block(channels) == block


@pytest.mark.parametrize("channels,min_blocks,block", [(6, 2, 3), (16, 2, 4), (16, 4, 4), (12, 2, 6),
                                                       (6, 3, 3), (1, 2, 3)])
def test_direct_block_makes_a_task_for_every_thread_when_asked(channels, min_blocks, block):
    """The weight gradient's tasks are its blocks: LeNet's first layer (one channel into 6) in two
    blocks of 3 keeps both threads busy, where one block of 6 ran on one."""
    assert plan.direct_block(channels, min_blocks) == block


NEEDS = st.sampled_from([(True, True, True), (True, True, False), (False, True, True), (True, False, False)])


@pytest.mark.parametrize("form", ["depthwise", "columns"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True)
@given(data=st.data())
def test_backward_gives_the_three_gradients_asked_for(form, dtype, data):
    """``conv2d_backward`` (the depthwise planes' one pass at stride 1 with NCHW input and gradient,
    else the three ops) against PyTorch and the reference, None where a gradient is not wanted;
    half the depthwise cases take the one pass, the others come with the gradient in either layout."""
    case, needs = data.draw(conv_cases(form)), data.draw(NEEDS)
    g_last = case["channels_last"]
    if form == "depthwise" and data.draw(st.booleans()):       # half of them for the one pass
        case.update(stride=(1, 1), channels_last=False)
        g_last, needs = False, (True, True, data.draw(st.booleans()))
    elif form == "depthwise":
        g_last = data.draw(st.booleans())
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal(case["x"]), rng.standard_normal(case["w"])
    (top, bottom), (left, right) = case["pads"]
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bt = torch.zeros(case["w"][0], dtype=torch.float64, requires_grad=True)
    ref = TF.conv2d(TF.pad(xt, (left, right, top, bottom)), wt, bt, case["stride"], 0, case["dilation"],
                    case["groups"])
    g = rng.standard_normal(ref.shape)
    ref.backward(torch.tensor(g))
    x, g = _layout(x.astype(dtype), case["channels_last"]), _layout(g.astype(dtype), g_last)
    w = w.astype(dtype)
    args = (case["pads"], case["stride"], case["dilation"], case["groups"])
    ours = compiled.conv2d_backward(g, x, w, needs, *args)
    lecture = reference.conv2d_backward(g, x, w, needs, *args)
    for what, need, a, r, t in zip(("input grad", "weight grad", "bias grad"), needs, ours, lecture,
                                   (xt.grad, wt.grad, bt.grad)):
        assert (a is None) == (not need) and (r is None) == (not need), what
        if need:
            assert a.dtype == np.dtype(dtype), f"{what}: dtype {a.dtype}"
            assert_close(a, t.numpy(), dtype, what)
            assert_close(r, t.numpy(), dtype, what)


@pytest.mark.parametrize("x_last,g_last,stride,needs,fused", [
    (False, False, 1, (True, True, True), True),
    (False, False, 1, (True, True, False), True),
    (False, False, 1, (False, True, True), False),
    (False, False, 1, (True, False, True), False),
    (False, False, 2, (True, True, True), False),
    (True, False, 1, (True, True, True), False),
    (False, True, 1, (True, True, True), False)])
def test_depthwise_backward_is_one_pass_exactly_when_it_fuses(x_last, g_last, stride, needs, fused,
                                                              monkeypatch):
    """The one-pass kernel runs for stride 1, NCHW input and gradient, both the input's and the
    weight's gradient wanted; anything else takes the ops one by one (same values)."""
    from cnnlab.kernels.compiled.conv import depthwise

    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((2, 4, 9, 11)), rng.standard_normal((8, 1, 3, 3))
    args = (((1, 1), (1, 1)), (stride, stride), (1, 1), 4)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bt = torch.zeros(8, dtype=torch.float64, requires_grad=True)
    ref = TF.conv2d(xt, wt, bt, stride, 1, 1, 4)
    g = rng.standard_normal(ref.shape)
    ref.backward(torch.tensor(g))
    calls = []
    real = depthwise._dw_backward
    monkeypatch.setattr(depthwise, "_dw_backward", lambda *a: calls.append(1) or real(*a))
    ours = compiled.conv2d_backward(_layout(g, g_last), _layout(x, x_last), w, needs, *args)
    assert bool(calls) == fused
    for need, a, t in zip(needs, ours, (xt.grad, wt.grad, bt.grad)):
        assert (a is None) == (not need)
        if need:
            assert_close(a, t.numpy(), "float64")


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", [(7, 5, 40, 30), (3, 16, 5, 4), (2, 32, 3, 3)])
def test_bias_grad_is_the_sum_over_batch_and_pixels(channels_last, dtype, shape, rng):
    """Both memory layouts (channels-last sums rows, 16 and 32 channels 64 values wide; NCHW sums
    planes), float32 summed in float64."""
    g = rng.standard_normal(shape).astype(dtype)
    expected = g.astype(np.float64).sum(axis=(0, 2, 3))
    ours = compiled.conv2d_bias_grad(_layout(g, channels_last))
    assert ours.dtype == np.dtype(dtype)
    assert_close(ours, expected, dtype)
    assert_close(reference.conv2d_bias_grad(g), expected, dtype)
