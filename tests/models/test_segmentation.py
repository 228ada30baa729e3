"""unet and fcn: per-pixel outputs of the input's size, forward and gradients equal to twins written in
``torch.nn``, per-pixel cross-entropy against PyTorch, and a few steps that learn a tiny set of scenes."""

import numpy as np
import pytest
import torch
from torch import nn as tnn
from torch.nn import functional as TF

import cnnlab
from cnnlab import models, nn, optim
from cnnlab.models.segmentation import UNET_CONFIGS, bilinear_kernel
from helpers import assert_close, check_against_torch


def _cbr(cin, cout, k=3):
    return [tnn.Conv2d(cin, cout, k, padding=k // 2, bias=False), tnn.BatchNorm2d(cout), tnn.ReLU()]


class TorchUNet(tnn.Module):
    def __init__(self, classes, cin, widths):
        super().__init__()
        self.down = tnn.ModuleList()
        c = cin
        for w in widths:
            self.down.append(tnn.Sequential(*_cbr(c, w), *_cbr(w, w)))
            c = w
        self.up, self.merge = tnn.ModuleList(), tnn.ModuleList()
        for w in reversed(widths[:-1]):
            self.up.append(tnn.ConvTranspose2d(c, w, 2, stride=2))
            self.merge.append(tnn.Sequential(*_cbr(2 * w, w), *_cbr(w, w)))
            c = w
        self.classifier = tnn.Conv2d(c, classes, 1)

    def forward(self, x):
        skips = []
        for i, stage in enumerate(self.down):
            x = stage(x if i == 0 else TF.max_pool2d(x, 2))
            skips.append(x)
        x = skips.pop()
        for up, merge in zip(self.up, self.merge):
            skip = skips.pop()
            x = merge(torch.cat([skip, up(x, output_size=skip.shape[2:])], 1))
        return self.classifier(x)


class TorchFCN(tnn.Module):
    """FCN-8s as the paper draws it: pool1/pool2/pool3 backbone, fc6/fc7, scores, x2 up + skip twice, x2 up."""

    def __init__(self, classes, cin):
        super().__init__()
        self.stages = tnn.ModuleList([tnn.Sequential(*_cbr(cin, 16), tnn.MaxPool2d(2)),
                                      tnn.Sequential(*_cbr(16, 32), tnn.MaxPool2d(2)),
                                      tnn.Sequential(*_cbr(32, 64), *_cbr(64, 64), tnn.MaxPool2d(2))])
        self.fc = tnn.Sequential(*_cbr(64, 128, 3), *_cbr(128, 128, 1))
        self.score = tnn.Conv2d(128, classes, 1)
        self.score_skip = tnn.ModuleList([tnn.Conv2d(32, classes, 1), tnn.Conv2d(16, classes, 1)])
        self.upscore = tnn.ModuleList([tnn.ConvTranspose2d(classes, classes, 4, 2, 1, bias=False)
                                       for _ in range(3)])

    def forward(self, x):
        size = x.shape[2:]
        p1 = self.stages[0](x)
        p2 = self.stages[1](p1)
        p3 = self.stages[2](p2)
        s = self.score(self.fc(p3))
        s = self.upscore[0](s, output_size=p2.shape[2:]) + self.score_skip[0](p2)
        s = self.upscore[1](s, output_size=p1.shape[2:]) + self.score_skip[1](p1)
        return self.upscore[2](s, output_size=size)


def _twins(name, seed=0):
    ours = models.get(name, num_classes=11, in_channels=1).double()
    theirs = (TorchUNet(11, 1, UNET_CONFIGS["unet"]) if name == "unet" else TorchFCN(11, 1)).double()
    rng = np.random.default_rng(seed)
    state = {}
    for key, value in ours.state_dict().items():
        a = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
        if key.endswith("running_var"):
            a = rng.uniform(0.5, 2.0, a.shape)
        elif key.endswith("running_mean") or key.endswith(".bias"):
            a = rng.uniform(-0.2, 0.2, a.shape)
        state[key] = a
    ours.load_state_dict({k: cnnlab.tensor(v) for k, v in state.items()})
    missing = theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()}, strict=True)
    assert not missing.missing_keys and not missing.unexpected_keys
    return ours, theirs


@pytest.mark.parametrize("name", ["unet", "fcn"])
@pytest.mark.parametrize("side", [64, 13])
def test_forward_and_gradients_equal_the_torch_twin(name, side):
    ours, theirs = _twins(name)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 1, side, side))
    y = rng.integers(0, 11, (2, side, side))
    for mode in ("eval", "train"):
        getattr(ours, mode)()
        getattr(theirs, mode)()
        out = ours(cnnlab.tensor(x))
        ref = theirs(torch.tensor(x))
        assert out.shape == (2, 11, side, side)
        assert_close(out.numpy(), ref.detach().numpy(), "float64", f"{name} {mode} forward")
    loss = nn.CrossEntropyLoss()(out, cnnlab.tensor(y))
    ref_loss = TF.cross_entropy(ref, torch.tensor(y))
    assert_close(loss.item(), ref_loss.item())
    loss.backward()
    ref_loss.backward()
    grads = dict(theirs.named_parameters())
    for key, p in ours.named_parameters():
        assert_close(p.grad.numpy(), grads[key].grad.numpy(), "float64", key)


def test_per_pixel_cross_entropy_matches_torch():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 11, 6, 5)) * 3
    y = rng.integers(0, 11, (3, 6, 5))
    y[0, :2] = 0                                          # background dominates, as in the scenes
    check_against_torch(lambda a, t: cnnlab.functional.cross_entropy(a, t),
                        lambda a, t: TF.cross_entropy(a, t), [x, y])


def test_fcn_upsampling_starts_as_bilinear_interpolation():
    """A 4x4 stride-2 transposed convolution with Long et al.'s weights doubles a map bilinearly
    (torch's interpolate, half-pixel centres) everywhere but the one-pixel border."""
    x = np.random.default_rng(3).standard_normal((1, 2, 5, 5))
    up = TF.conv_transpose2d(torch.tensor(x), torch.tensor(bilinear_kernel(2, 4)), stride=2, padding=1)
    ref = TF.interpolate(torch.tensor(x), scale_factor=2, mode="bilinear", align_corners=False)
    np.testing.assert_allclose(up.numpy()[..., 1:-1, 1:-1], ref.numpy()[..., 1:-1, 1:-1], atol=1e-12)
    net = models.get("fcn")
    for layer in net.upscore:
        np.testing.assert_allclose(layer.weight.numpy(), bilinear_kernel(11, 4), atol=1e-7)


@pytest.mark.parametrize("name,smallest", [("unet", 8), ("fcn", 8)])
def test_smallest_input(name, smallest):
    net = models.get(name).eval()
    assert models.min_input_size(name) == smallest and models.task_of(name) == "segment"
    assert net(cnnlab.zeros(1, 1, smallest, smallest)).shape == (1, 11, smallest, smallest)
    with pytest.raises(ValueError):
        net(cnnlab.zeros(1, 1, smallest - 1, smallest - 1))


def test_a_few_steps_learn_a_handful_of_scenes(data_dir):
    from cnnlab.data.scenes import MNISTScenes

    scenes = MNISTScenes(root=data_dir, train=False, download=False, num_scenes=8, seed=1)
    x, y = (cnnlab.tensor(a) for a in scenes.get_batch(np.arange(8)))
    cnnlab.manual_seed(0)
    net = models.get("unet")
    opt = optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(10):
        opt.zero_grad()
        loss = nn.CrossEntropyLoss()(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(b < a for a, b in zip(losses, losses[1:])) and losses[-1] < 0.8 * losses[0], losses


def test_bad_widths_and_table():
    with pytest.raises(ValueError, match=r"unet: `widths` needs at least two levels \(one pool\). "
                                         r"Received: widths=\(8,\)"):
        models.get("unet", widths=(8,))
    with pytest.raises(ValueError, match="unet: `num_classes` must be a positive int. Received: num_classes=0"):
        models.get("unet", num_classes=0)


def test_parameter_counts_layer_by_layer():
    def conv(cin, cout, k, bias=False):
        return cin * cout * k * k + (cout if bias else 0)

    bn = 2  # weight and bias per channel
    unet = (conv(1, 8, 3) + bn * 8 + conv(8, 8, 3) + bn * 8                  # level 1 (64x64)
            + conv(8, 16, 3) + bn * 16 + conv(16, 16, 3) + bn * 16           # level 2
            + conv(16, 32, 3) + bn * 32 + conv(32, 32, 3) + bn * 32          # level 3
            + conv(32, 64, 3) + bn * 64 + conv(64, 64, 3) + bn * 64          # bottleneck (8x8)
            + conv(64, 32, 2, True) + conv(64, 32, 3) + bn * 32 + conv(32, 32, 3) + bn * 32   # up 1
            + conv(32, 16, 2, True) + conv(32, 16, 3) + bn * 16 + conv(16, 16, 3) + bn * 16   # up 2
            + conv(16, 8, 2, True) + conv(16, 8, 3) + bn * 8 + conv(8, 8, 3) + bn * 8         # up 3
            + conv(8, 11, 1, True))
    fcn = (conv(1, 16, 3) + bn * 16 + conv(16, 32, 3) + bn * 32
           + conv(32, 64, 3) + bn * 64 + conv(64, 64, 3) + bn * 64
           + conv(64, 128, 3) + bn * 128 + conv(128, 128, 1) + bn * 128       # fc6, fc7
           + conv(128, 11, 1, True) + conv(32, 11, 1, True) + conv(16, 11, 1, True)
           + 3 * conv(11, 11, 4))                                              # three upsamplings
    assert sum(p.numel() for p in models.get("unet").parameters()) == unet == 121_123
    assert sum(p.numel() for p in models.get("fcn").parameters()) == fcn == 158_801
