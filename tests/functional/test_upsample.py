"""F.interpolate / nn.Upsample against PyTorch: nearest, bilinear, size or scale, corner rules."""

import numpy as np
import pytest
import torch

import cnnlab
import cnnlab.functional as F
from cnnlab import nn
from helpers import check_against_torch

SIZES = [  # (input H, W, kwargs)
    (3, 4, {"scale_factor": 2}),
    (5, 5, {"scale_factor": 0.5}),
    (4, 3, {"scale_factor": (1.5, 2.7)}),
    (4, 6, {"size": (7, 3)}),
    (5, 4, {"size": 9}),
    (6, 6, {"size": (6, 6)}),
    (3, 5, {"scale_factor": 1.7, "recompute_scale_factor": True}),
    (1, 4, {"size": (3, 1)}),
    (3, 14, {"scale_factor": (2.2, 1.439)}),   # float32 steps that pick other pixels than H/H_out
    (2, 14, {"size": (3, 46)}),
    (3, 5, {"scale_factor": 1.2}),               # H keeps its size: copied; W 5 -> 6 resampled
]


@pytest.mark.parametrize("h,w,kwargs", SIZES)
@pytest.mark.parametrize("mode,align", [("nearest", None), ("nearest-exact", None),
                                        ("bilinear", False), ("bilinear", True), ("bilinear", None)])
def test_interpolate_matches_torch(rng, h, w, kwargs, mode, align):
    x = rng.standard_normal((2, 3, h, w))
    check_against_torch(lambda t: F.interpolate(t, mode=mode, align_corners=align, **kwargs),
                        lambda t: torch.nn.functional.interpolate(t, mode=mode, align_corners=align,
                                                                  **kwargs), [x])


@pytest.mark.parametrize("n,kwargs,rows", [
    (3, {"scale_factor": 2.2}, [0, 0, 1, 1, 2, 2]),   # floor(i * float32(1 / 2.2))
    (2, {"scale_factor": 1.439}, [0, 1]),
    (3, {"scale_factor": 2}, [0, 0, 1, 1, 2, 2]),     # the twice-the-size shortcut
])
def test_nearest_picks_pytorchs_rows(n, kwargs, rows):
    x = cnnlab.arange(n, dtype=cnnlab.float64).reshape(1, 1, n, 1)
    sf = kwargs["scale_factor"]
    out = F.interpolate(x, scale_factor=(sf, 1))
    assert out.numpy().reshape(-1).tolist() == rows


def test_bilinear_keeps_an_unchanged_axis():
    x = cnnlab.arange(9, dtype=cnnlab.float64).reshape(1, 1, 3, 3)
    assert F.interpolate(x, scale_factor=1.2, mode="bilinear").numpy().tolist() == \
        x.numpy().tolist()


def _axis_grid():
    """Every input length 1..9 against output sizes 1..25 and scales on a 0.05 grid (plus the
    issue's), along one axis, for each mode: values and gradients in float64."""
    scales = sorted({round(s, 2) for s in np.arange(0.25, 3.3, 0.05)} | {1.439, 2.2, 1 / 3})
    for n in range(1, 10):
        yield from ((n, {"size": (o, 2)}) for o in range(1, 26))
        yield from ((n, {"scale_factor": (s, 1.0)}) for s in scales if n * s >= 1)
        yield from ((n, {"scale_factor": (s, 1.0), "recompute_scale_factor": True})
                    for s in scales[::4] if n * s >= 1)


@pytest.mark.parametrize("mode,align", [("nearest", None), ("nearest-exact", None),
                                        ("bilinear", False), ("bilinear", True)])
def test_exhaustive_axis_grid_matches_torch(mode, align):
    rng = np.random.default_rng(0)
    failures = []
    for n, kwargs in _axis_grid():
        x = rng.standard_normal((1, 1, n, 2))
        theirs = torch.tensor(x, requires_grad=True)
        ref = torch.nn.functional.interpolate(theirs, mode=mode, align_corners=align, **kwargs)
        g = rng.standard_normal(tuple(ref.shape))
        ref.backward(torch.tensor(g))
        ours = cnnlab.tensor(x, requires_grad=True)
        out = F.interpolate(ours, mode=mode, align_corners=align, **kwargs)
        out.backward(cnnlab.tensor(g))
        if out.shape != tuple(ref.shape) or not (
                np.allclose(out.numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
                and np.allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-12)):
            failures.append((n, kwargs))
    assert not failures, f"{len(failures)} cases differ from PyTorch, e.g. {failures[:5]}"


@pytest.mark.parametrize("ours,theirs", [
    (lambda: nn.Upsample(scale_factor=2), lambda: torch.nn.Upsample(scale_factor=2)),
    (lambda: nn.Upsample(size=(5, 7), mode="bilinear"),
     lambda: torch.nn.Upsample(size=(5, 7), mode="bilinear")),
    (lambda: nn.Upsample(scale_factor=3, mode="bilinear", align_corners=True),
     lambda: torch.nn.Upsample(scale_factor=3, mode="bilinear", align_corners=True)),
    (lambda: nn.UpsamplingNearest2d(size=5), lambda: torch.nn.UpsamplingNearest2d(size=5)),
    (lambda: nn.UpsamplingBilinear2d(scale_factor=2),
     lambda: torch.nn.UpsamplingBilinear2d(scale_factor=2)),
])
def test_upsample_layers_match_torch(rng, ours, theirs):
    x = rng.standard_normal((1, 2, 3, 4))
    check_against_torch(lambda t: ours()(t), lambda t: theirs()(t), [x])


def test_upsample_repr():
    assert repr(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)) == \
        "Upsample(scale_factor=2, mode='bilinear', align_corners=False)"


def test_errors():
    x = cnnlab.zeros(1, 1, 4, 4)
    with pytest.raises(ValueError, match=r"interpolate: `mode` must be one of 'nearest', "
                                         r"'nearest-exact', 'bilinear'. "
                                         r"Received: mode='bicubic'"):
        F.interpolate(x, scale_factor=2, mode="bicubic")
    with pytest.raises(ValueError, match=r"interpolate: `align_corners` can only be set with "
                                         r"mode='bilinear'"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match=r"interpolate: exactly one of `size` and `scale_factor` "
                                         r"must be given"):
        F.interpolate(x)
    with pytest.raises(ValueError, match=r"interpolate: exactly one of `size` and `scale_factor` "
                                         r"must be given"):
        F.interpolate(x, size=2, scale_factor=2)
    with pytest.raises(ValueError, match=r"interpolate: `size` must be a positive int or a pair of "
                                         r"them. "
                                         r"Received: size=\(0, 2\)"):
        F.interpolate(x, size=(0, 2))
    with pytest.raises(ValueError, match=r"interpolate: `scale_factor` must be a positive number "
                                         r"or a pair of "
                                         r"them. Received: scale_factor=-1"):
        F.interpolate(x, scale_factor=-1)
    with pytest.raises(ValueError, match=r"interpolate: scale_factor=0.1 shrinks the input size "
                                         r"\(4, 4\) to "
                                         r"\(0, 0\); expected at least 1x1"):
        F.interpolate(x, scale_factor=0.1)
    with pytest.raises(ValueError, match=r"interpolate: `recompute_scale_factor` is not "
                                         r"meaningful with an explicit `size`"):
        F.interpolate(x, size=3, recompute_scale_factor=True)
    with pytest.raises(ValueError, match=r"interpolate: antialias=True is not supported"):
        F.interpolate(x, scale_factor=2, mode="bilinear", antialias=True)
    with pytest.raises(ValueError, match=r"interpolate: `input` must be 4-D \(N, C, H, W\)"):
        F.interpolate(cnnlab.zeros(4, 4), scale_factor=2)
    with pytest.raises(ValueError, match=r"Upsample: `mode` must be one of 'nearest', "
                                         r"'nearest-exact', 'bilinear'"):
        nn.Upsample(scale_factor=2, mode="area")
    with pytest.raises(ValueError, match=r"Upsample: exactly one of `size` and `scale_factor` must "
                                         r"be given"):
        nn.Upsample()
