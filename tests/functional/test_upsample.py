"""F.interpolate / nn.Upsample against PyTorch: nearest, bilinear, size or scale, corner rules."""

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
]


@pytest.mark.parametrize("h,w,kwargs", SIZES)
@pytest.mark.parametrize("mode,align", [("nearest", None), ("bilinear", False), ("bilinear", True),
                                        ("bilinear", None)])
def test_interpolate_matches_torch(rng, h, w, kwargs, mode, align):
    x = rng.standard_normal((2, 3, h, w))
    check_against_torch(lambda t: F.interpolate(t, mode=mode, align_corners=align, **kwargs),
                        lambda t: torch.nn.functional.interpolate(t, mode=mode, align_corners=align,
                                                                  **kwargs), [x])


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
                                         r"'bilinear'. "
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
    with pytest.raises(ValueError, match=r"interpolate: antialias=True is not supported"):
        F.interpolate(x, scale_factor=2, mode="bilinear", antialias=True)
    with pytest.raises(ValueError, match=r"interpolate: `input` must be 4-D \(N, C, H, W\)"):
        F.interpolate(cnnlab.zeros(4, 4), scale_factor=2)
    with pytest.raises(ValueError, match=r"Upsample: `mode` must be one of 'nearest', 'bilinear'"):
        nn.Upsample(scale_factor=2, mode="area")
    with pytest.raises(ValueError, match=r"Upsample: exactly one of `size` and `scale_factor` must "
                                         r"be given"):
        nn.Upsample()
