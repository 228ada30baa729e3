"""conv2d against PyTorch: a seeded sweep of 200+ configurations, special cases, both backward forms, errors."""

import importlib
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnlab
from cnnlab.functional.conv import conv2d
from cnnlab.validation import padding_pairs
from helpers import assert_close, check_against_torch, gradcheck

MODES = ["zeros", "reflect", "replicate", "circular"]


def _torch_conv(c):
    """PyTorch's own Conv2d with the config's settings: it applies padding_mode and "same" its own way."""
    module = torch.nn.Conv2d(c["C"], c["O"], c["kernel"], c["stride"], c["padding"], c["dilation"], c["groups"],
                             bias=c["bias"], padding_mode=c["mode"])
    return lambda x, w, b=None: module._conv_forward(x, w, b)


def _pads(c):
    """Padding per side, worked out by hand from the config (only to reject configs torch would reject)."""
    p = c["padding"]
    if p == "valid":
        return (0, 0), (0, 0)
    if p == "same":
        totals = [d * (k - 1) for d, k in zip(c["dilation"], c["kernel"])]
        return tuple((t // 2, t - t // 2) for t in totals)
    p = (p, p) if isinstance(p, int) else p
    return (p[0], p[0]), (p[1], p[1])


def _draw_configs(count, seed=2024):
    """Random valid configurations: kernel 1-7 (often non-square), stride 1-3, padding 0-3/"same"/"valid",
    dilation 1-3, groups (incl. depthwise with a channel multiplier), every padding mode, sizes 5-12."""
    rng = np.random.default_rng(seed)
    configs = []
    while len(configs) < count:
        kind = rng.choice(["plain", "plain", "grouped", "depthwise"])
        if kind == "depthwise":
            groups = int(rng.integers(1, 5))
            c_in, c_out = groups, groups * int(rng.integers(1, 4))
        else:
            groups = 1 if kind == "plain" else int(rng.integers(2, 4))
            c_in, c_out = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
        kernel = tuple(int(k) for k in rng.integers(1, 8, 2))
        if rng.random() < 0.3:
            kernel = (kernel[0], kernel[0])
        stride = tuple(int(s) for s in rng.integers(1, 4, 2))
        dilation = tuple(int(d) for d in rng.integers(1, 4, 2))
        if rng.random() < 0.4:
            dilation = (1, 1)
        choice = rng.random()
        if choice < 0.15:
            padding, stride = "same", (1, 1)
        elif choice < 0.25:
            padding = "valid"
        elif choice < 0.45:
            padding = tuple(int(p) for p in rng.integers(0, 4, 2))
        else:
            padding = int(rng.integers(0, 4))
        size = tuple(int(s) for s in rng.integers(5, 13, 2))
        c = dict(N=int(rng.integers(1, 5)), C=c_in, O=c_out, size=size, kernel=kernel, stride=stride,
                 padding=padding, dilation=dilation, groups=groups, mode=str(rng.choice(MODES)),
                 bias=bool(rng.random() < 0.8))
        pads = _pads(c)
        spans = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
        padded = [s + sum(p) for s, p in zip(size, pads)]
        if any(sp > pd for sp, pd in zip(spans, padded)):
            continue
        if c["mode"] == "reflect" and any(max(p) >= s for p, s in zip(pads, size)):
            continue
        if c["mode"] == "circular" and any(max(p) > s for p, s in zip(pads, size)):
            continue
        configs.append(c)
    return configs


CONFIGS = _draw_configs(210)


def _arrays(c, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((c["N"], c["C"]) + c["size"])
    w = rng.standard_normal((c["O"], c["C"] // c["groups"]) + c["kernel"])
    b = rng.standard_normal(c["O"])
    return [x, w, b] if c["bias"] else [x, w]


def _ours(c):
    def f(x, w, b=None):
        return conv2d(x, w, b, stride=c["stride"], padding=c["padding"], dilation=c["dilation"], groups=c["groups"],
                      padding_mode=c["mode"])
    return f


def _id(c):
    return (f"n{c['N']}c{c['C']}o{c['O']}-{c['size'][0]}x{c['size'][1]}-k{c['kernel'][0]}x{c['kernel'][1]}"
            f"-s{c['stride'][0]}{c['stride'][1]}-p{c['padding']}-d{c['dilation'][0]}{c['dilation'][1]}"
            f"-g{c['groups']}-{c['mode']}{'' if c['bias'] else '-nobias'}").replace(" ", "")


def test_sweep_covers_the_space():
    assert len(CONFIGS) >= 200
    assert {c["mode"] for c in CONFIGS} == set(MODES)
    assert {c["padding"] for c in CONFIGS} >= {"same", "valid", 0, 1, 2, 3}
    assert any(c["groups"] == c["C"] > 1 and c["O"] > c["C"] for c in CONFIGS)   # depthwise with multiplier
    assert any(c["kernel"][0] != c["kernel"][1] for c in CONFIGS)
    assert any(max(c["dilation"]) == 3 for c in CONFIGS) and any(max(c["stride"]) == 3 for c in CONFIGS)
    assert any(max(c["kernel"]) == 7 for c in CONFIGS) and any(c["kernel"] == (1, 1) for c in CONFIGS)
    assert {c["N"] for c in CONFIGS} == {1, 2, 3, 4}


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # PyTorch's own performance note
@pytest.mark.parametrize("c", CONFIGS, ids=_id)
def test_conv2d_sweep_matches_torch(c):
    check_against_torch(_ours(c), _torch_conv(c), _arrays(c))


# ---------------------------------------------------------------------------- both kernel sets

@pytest.mark.parametrize("kernel_set", ["reference", "compiled"])
@pytest.mark.parametrize("c", [c for c in CONFIGS if c["mode"] == "zeros"][:30], ids=_id)
def test_both_kernel_sets_match_torch(kernel_set, c):
    """Each kernel set's forward, input and weight gradient, called directly on zero-padded configs."""
    k = importlib.import_module(f"cnnlab.kernels.{kernel_set}")
    x, w = _arrays(c)[:2]
    pads = padding_pairs("conv2d", c["padding"], c["kernel"], c["stride"], c["dilation"])
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ref = _torch_conv(dict(c, bias=False))(xt, wt)
    g = np.random.default_rng(1).standard_normal(ref.shape)
    ref.backward(torch.tensor(g))
    args = (pads, c["stride"], c["dilation"], c["groups"])
    assert_close(k.conv2d_forward(x, w, None, *args), ref.detach().numpy(), what="forward")
    assert_close(k.conv2d_input_grad(g, w, x.shape, *args), xt.grad.numpy(), what="input grad")
    assert_close(k.conv2d_weight_grad(x, g, w.shape, *args), wt.grad.numpy(), what="weight grad")


# ------------------------------------------------------------------------------------- special cases

@pytest.mark.parametrize("mode", MODES)
def test_asymmetric_padding_matches_torch_pad_then_conv(mode, rng):
    x, w, b = rng.standard_normal((2, 3, 7, 8)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    pads = ((2, 0), (1, 3))   # (top, bottom), (left, right)
    torch_mode = "constant" if mode == "zeros" else mode
    check_against_torch(
        lambda x, w, b: conv2d(x, w, b, stride=(2, 1), padding=pads, padding_mode=mode),
        lambda x, w, b: TF.conv2d(TF.pad(x, (1, 3, 2, 0), mode=torch_mode), w, b, stride=(2, 1)),
        [x, w, b])


@pytest.mark.parametrize("padding", ["same", "valid", 1, (2, 0)])
def test_unbatched_chw_input(padding, rng):
    x, w, b = rng.standard_normal((3, 6, 7)), rng.standard_normal((5, 3, 2, 3)), rng.standard_normal(5)
    check_against_torch(lambda x, w, b: conv2d(x, w, b, padding=padding),
                        lambda x, w, b: TF.conv2d(x, w, b, padding=padding), [x, w, b])


@pytest.mark.parametrize("kernel", [(2, 2), (4, 3), (2, 5)])
@pytest.mark.parametrize("dilation", [1, 2])
def test_same_with_even_kernels_puts_extra_pixel_bottom_right(kernel, dilation, rng):
    x, w = rng.standard_normal((2, 2, 7, 6)), rng.standard_normal((3, 2) + kernel)
    check_against_torch(lambda x, w: conv2d(x, w, padding="same", dilation=dilation),
                        lambda x, w: TF.conv2d(x, w, padding="same", dilation=dilation), [x, w])


@pytest.mark.parametrize("multiplier", [1, 2, 3])
@pytest.mark.parametrize("stride", [1, 2])
def test_depthwise(multiplier, stride, rng):
    x, w = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((4 * multiplier, 1, 3, 3))
    b = rng.standard_normal(4 * multiplier)
    check_against_torch(lambda x, w, b: conv2d(x, w, b, stride=stride, padding=1, groups=4),
                        lambda x, w, b: TF.conv2d(x, w, b, stride=stride, padding=1, groups=4), [x, w, b])


def test_one_by_one_kernel(rng):
    x, w, b = rng.standard_normal((3, 8, 5, 6)), rng.standard_normal((4, 8, 1, 1)), rng.standard_normal(4)
    check_against_torch(lambda x, w, b: conv2d(x, w, b), lambda x, w, b: TF.conv2d(x, w, b), [x, w, b])


@pytest.mark.parametrize("needs", [(True, False, False), (False, True, False), (False, False, True),
                                   (True, True, False), (False, True, True)])
def test_only_requested_gradients(needs, rng):
    x, w, b = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    check_against_torch(lambda x, w, b: conv2d(x, w, b, stride=2, padding=1),
                        lambda x, w, b: TF.conv2d(x, w, b, stride=2, padding=1), [x, w, b], grad=list(needs))
    xs = [cnnlab.tensor(a, requires_grad=n) for a, n in zip((x, w, b), needs)]
    conv2d(*xs, stride=2, padding=1).sum().backward()
    assert [t.grad is not None for t in xs] == list(needs)


@pytest.mark.parametrize("mode", MODES)
def test_uncovered_rows_get_zero_gradient(mode, rng):
    """7x7 input, 3x3 kernel, stride 3: no window reaches the last row/column, so their gradient is 0."""
    x, w = rng.standard_normal((1, 2, 7, 7)), rng.standard_normal((3, 2, 3, 3))
    check_against_torch(lambda x, w: conv2d(x, w, stride=3), lambda x, w: TF.conv2d(x, w, stride=3), [x, w])
    xt = cnnlab.tensor(x, requires_grad=True)
    out = conv2d(xt, cnnlab.tensor(w), stride=3, padding_mode=mode)
    assert out.shape == (1, 3, 2, 2)
    out.backward(rng.standard_normal(out.shape))
    assert np.all(xt.grad.numpy()[..., 6, :] == 0) and np.all(xt.grad.numpy()[..., :, 6] == 0)
    assert np.all(xt.grad.numpy()[..., :6, :6] != 0)


def test_float32_output_and_grads_stay_float32(rng):
    x = cnnlab.tensor(rng.standard_normal((1, 2, 5, 5)).astype(np.float32), requires_grad=True)
    w = cnnlab.tensor(rng.standard_normal((3, 2, 3, 3)).astype(np.float32), requires_grad=True)
    b = cnnlab.tensor(np.zeros(3, np.float32), requires_grad=True)
    out = conv2d(x, w, b, stride=2, padding=1, padding_mode="reflect")
    out.sum().backward()
    assert out.dtype == x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32


def test_lecture_32x32x3_ten_5x5_filters(rng):
    """32x32x3 input, ten 5x5 filters, stride 1, pad 2 -> 32x32x10, with 10*(5*5*3) + 10 = 760 parameters."""
    x, w, b = rng.standard_normal((1, 3, 32, 32)), rng.standard_normal((10, 3, 5, 5)), rng.standard_normal(10)
    out = conv2d(cnnlab.tensor(x), cnnlab.tensor(w), cnnlab.tensor(b), stride=1, padding=2)
    assert out.shape == (1, 10, 32, 32)
    assert w.size + b.size == 760
    assert sum(p.numel() for p in torch.nn.Conv2d(3, 10, 5, padding=2).parameters()) == 760
    assert_close(out.numpy(), TF.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), padding=2).numpy())


def test_alexnet_conv1_shape_and_values(rng):
    """AlexNet conv1: 227x227x3 input, 11x11 filters, stride 4 -> (227 - 11) / 4 + 1 = 55."""
    x, w = rng.standard_normal((1, 3, 227, 227)), rng.standard_normal((4, 3, 11, 11))
    check_against_torch(lambda x, w: conv2d(x, w, stride=4), lambda x, w: TF.conv2d(x, w, stride=4), [x, w],
                        dtypes=("float32",))
    assert conv2d(cnnlab.tensor(x), cnnlab.tensor(w), stride=4).shape == (1, 4, 55, 55)


def test_accepts_numpy_arrays(rng):
    x, w = rng.standard_normal((1, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
    assert_close(conv2d(x, w).numpy(), TF.conv2d(torch.tensor(x), torch.tensor(w)).numpy())


# ------------------------------------------------------------------------------------- gradcheck

@pytest.mark.parametrize("kw", [
    dict(stride=1, padding=1),
    dict(stride=2, padding=(1, 0), dilation=(1, 2), groups=2),
    dict(stride=(2, 3), padding=((1, 0), (0, 2)), padding_mode="reflect"),
    dict(stride=1, padding="same", dilation=2, padding_mode="circular"),
    dict(stride=2, padding=2, padding_mode="replicate", groups=2),
])
def test_conv2d_gradcheck(kw, rng):
    x, w, b = rng.standard_normal((1, 2, 5, 6)), rng.standard_normal((2, 2 // kw.get("groups", 1), 3, 2)), \
        rng.standard_normal(2)
    gradcheck(lambda x, w, b: conv2d(x, w, b, **kw), [x, w, b])


# ------------------------------------------------------------------------------------------ errors

def _t(*shape, dtype=np.float64):
    return cnnlab.tensor(np.zeros(shape, dtype=dtype))


def test_error_channel_mismatch():
    with pytest.raises(ValueError, match=re.escape("conv2d: input has 3 channels but weight expects 1 (input shape "
                                                   "(8, 3, 28, 28), weight shape (16, 1, 5, 5))")):
        conv2d(_t(8, 3, 28, 28), _t(16, 1, 5, 5))


def test_error_channel_mismatch_grouped():
    with pytest.raises(ValueError, match=re.escape("conv2d: input has 6 channels but weight expects 4 (2 per group x "
                                                   "groups=2)")):
        conv2d(_t(1, 6, 8, 8), _t(4, 2, 3, 3), groups=2)


def test_error_input_ndim():
    with pytest.raises(ValueError, match=re.escape("conv2d: `input` must be 3-D or 4-D (N, C, H, W) or unbatched "
                                                   "(C, H, W). Received a 2-D tensor of shape (28, 28)")):
        conv2d(_t(28, 28), _t(1, 1, 3, 3))


def test_error_weight_ndim():
    with pytest.raises(ValueError, match=re.escape("conv2d: `weight` must be 4-D (out_channels, in_channels/groups, "
                                                   "kH, kW). Received a 3-D tensor of shape (4, 3, 3)")):
        conv2d(_t(1, 3, 8, 8), _t(4, 3, 3))


def test_error_groups_must_divide_out_channels():
    with pytest.raises(ValueError, match=r"conv2d: `groups`=2 must divide the output channels, but weight has 5"):
        conv2d(_t(1, 4, 8, 8), _t(5, 2, 3, 3), groups=2)


def test_error_groups_must_divide_in_channels():
    with pytest.raises(ValueError, match=r"conv2d: `groups`=3 must divide the input channels, but input has 4 "
                                         r"\(input shape \(1, 4, 8, 8\)"):
        conv2d(_t(1, 4, 8, 8), _t(6, 1, 3, 3), groups=3)


@pytest.mark.parametrize("groups", [0, -1, 1.5, True])
def test_error_groups_not_positive_int(groups):
    with pytest.raises(ValueError, match=re.escape(f"conv2d: `groups` must be a positive int. Received: "
                                                   f"groups={groups!r}")):
        conv2d(_t(1, 4, 8, 8), _t(4, 4, 3, 3), groups=groups)


def test_error_bias_shape():
    with pytest.raises(ValueError, match=re.escape("conv2d: `bias` must have shape (16,), one value per output "
                                                   "channel (input shape (2, 3, 8, 8), weight shape (16, 3, 3, 3)). "
                                                   "Received bias shape (10,)")):
        conv2d(_t(2, 3, 8, 8), _t(16, 3, 3, 3), _t(10))


def test_error_bias_dtype():
    with pytest.raises(TypeError, match=r"conv2d: `bias` must have the weight's dtype float64\. Received "
                                        r"dtype float32"):
        conv2d(_t(2, 3, 8, 8), _t(4, 3, 3, 3), _t(4, dtype=np.float32))


def test_error_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match=re.escape("conv2d: the kernel is larger than the padded input: kernel 5x3 "
                                                   "with dilation (2, 1) spans 9x3, but the input 6x6 padded by "
                                                   "((1, 1), (1, 1)) is 8x8")):
        conv2d(_t(1, 1, 6, 6), _t(1, 1, 5, 3), padding=1, dilation=(2, 1))


@pytest.mark.parametrize("name", ["stride", "dilation"])
@pytest.mark.parametrize("value", [0, (0, 1), -2])
def test_error_non_positive_stride_or_dilation(name, value):
    with pytest.raises(ValueError, match=re.escape(f"conv2d: `{name}` must be a positive int or a pair of positive "
                                                   f"ints. Received: {name}={value!r}")):
        conv2d(_t(1, 1, 6, 6), _t(1, 1, 3, 3), **{name: value})


@pytest.mark.parametrize("padding", [-1, (1, -2), ((0, 1), (-1, 0))])
def test_error_negative_padding(padding):
    with pytest.raises(ValueError, match=re.escape(f"negative padding is not allowed. Received: padding={padding!r}")):
        conv2d(_t(1, 1, 6, 6), _t(1, 1, 3, 3), padding=padding)


def test_error_same_with_stride():
    with pytest.raises(ValueError, match=re.escape("conv2d: padding='same' is only supported with stride 1 (the output "
                                                   "could not keep the input size). Received: padding='same', "
                                                   "stride=(2, 2)")):
        conv2d(_t(1, 1, 6, 6), _t(1, 1, 3, 3), stride=2, padding="same")


def test_error_unknown_padding_string():
    with pytest.raises(ValueError, match=r"conv2d: `padding` string must be one of 'valid', 'same'\. Received: "
                                         r"padding='full'"):
        conv2d(_t(1, 1, 6, 6), _t(1, 1, 3, 3), padding="full")


@pytest.mark.parametrize("padding, error", [(1.5, TypeError), ((1, 2, 3), ValueError), (((1,), (1, 1)), ValueError)])
def test_error_malformed_padding(padding, error):
    with pytest.raises(error, match=re.escape("conv2d: `padding` must be 'valid', 'same', a non-negative int, a pair "
                                              "of non-negative ints (vertical, horizontal) or ((top, bottom), "
                                              "(left, right))")):
        conv2d(_t(1, 1, 6, 6), _t(1, 1, 3, 3), padding=padding)


def test_error_unknown_padding_mode():
    with pytest.raises(ValueError, match=r"conv2d: `padding_mode` must be one of 'zeros', 'reflect', 'replicate', "
                                         r"'circular'\. Received: padding_mode='mirror'"):
        conv2d(_t(1, 1, 6, 6), _t(1, 1, 3, 3), padding=1, padding_mode="mirror")


def test_error_reflect_padding_too_large():
    with pytest.raises(ValueError, match=re.escape("conv2d: reflect padding must be smaller than the input size on "
                                                   "that axis (at most 3 for height 4). Received: "
                                                   "padding=((4, 4), (4, 4)) for input height 4")):
        conv2d(_t(1, 1, 4, 6), _t(1, 1, 3, 3), padding=4, padding_mode="reflect")


def test_error_dtype_mismatch():
    with pytest.raises(TypeError, match=r"conv2d: `input` and `weight` must have the same dtype\. Received input "
                                        r"float32 and weight float64"):
        conv2d(_t(1, 1, 6, 6, dtype=np.float32), _t(1, 1, 3, 3))


def test_error_integer_input():
    with pytest.raises(TypeError, match=r"conv2d: `input` must be a floating tensor \(float32 or float64\)\. "
                                        r"Received dtype int64"):
        conv2d(_t(1, 1, 6, 6, dtype=np.int64), _t(1, 1, 3, 3))
