"""ResNets: block arithmetic against PyTorch written out by hand, stage shapes, shortcuts, variants."""

import numpy as np
import pytest
import torch

from cnnlab import Tensor, models, nn, no_grad
from cnnlab.models.resnet import BasicBlock, Bottleneck, PreActBasicBlock, PreActBottleneck, ResNet

F = torch.nn.functional


def randomize(block, rng):
    """Random weights and BatchNorm statistics (float64), so evaluation mode is not an identity."""
    block.double()
    for name, p in block.named_parameters():
        p.data[...] = rng.standard_normal(p.shape) * (0.3 if p.ndim > 1 else 0.1) + (1.0 if "bn" in name and
                                                                                       name.endswith("weight") else 0)
    for name, b in block.named_buffers():
        if name.endswith("running_mean"):
            b.data[...] = rng.standard_normal(b.shape) * 0.1
        elif name.endswith("running_var"):
            b.data[...] = rng.uniform(0.5, 1.5, b.shape)
    block.eval()
    return {k: torch.tensor(v) for k, v in block.state_dict().items()}


def tbn(x, s, name):
    return F.batch_norm(x, s[name + ".running_mean"], s[name + ".running_var"], s[name + ".weight"],
                        s[name + ".bias"], training=False, eps=1e-5)


def run(block, x):
    with no_grad():
        return block(Tensor(x)).numpy()


def test_basic_block_with_projection_matches_torch():
    rng = np.random.default_rng(0)
    down = nn.Sequential(nn.Conv2d(4, 8, 1, stride=2, bias=False), nn.BatchNorm2d(8))
    block = BasicBlock(4, 8, stride=2, downsample=down)
    s = randomize(block, rng)
    x = rng.standard_normal((2, 4, 9, 9))
    t = torch.tensor(x)
    out = F.relu(tbn(F.conv2d(t, s["conv1.weight"], stride=2, padding=1), s, "bn1"))
    out = tbn(F.conv2d(out, s["conv2.weight"], padding=1), s, "bn2")
    shortcut = tbn(F.conv2d(t, s["downsample.0.weight"], stride=2), s, "downsample.1")
    np.testing.assert_allclose(run(block, x), F.relu(out + shortcut).numpy(), rtol=1e-10, atol=1e-10)


def test_bottleneck_matches_torch():
    # torchvision's "v1.5": the stride sits on the 3x3 convolution.
    rng = np.random.default_rng(1)
    down = nn.Sequential(nn.Conv2d(8, 16, 1, stride=2, bias=False), nn.BatchNorm2d(16))
    block = Bottleneck(8, 4, stride=2, downsample=down)
    s = randomize(block, rng)
    x = rng.standard_normal((2, 8, 8, 8))
    t = torch.tensor(x)
    out = F.relu(tbn(F.conv2d(t, s["conv1.weight"]), s, "bn1"))
    out = F.relu(tbn(F.conv2d(out, s["conv2.weight"], stride=2, padding=1), s, "bn2"))
    out = tbn(F.conv2d(out, s["conv3.weight"]), s, "bn3")
    shortcut = tbn(F.conv2d(t, s["downsample.0.weight"], stride=2), s, "downsample.1")
    np.testing.assert_allclose(run(block, x), F.relu(out + shortcut).numpy(), rtol=1e-10, atol=1e-10)


def test_preact_block_matches_torch():
    # He et al. 2016: x_{l+1} = x_l + F(x_l) with F = conv(relu(bn(conv(relu(bn(x)))))); a projection
    # shortcut takes the activated input. Nothing follows the addition.
    rng = np.random.default_rng(2)
    for downsample in (None, nn.Sequential(nn.Conv2d(4, 6, 1, stride=2, bias=False))):
        planes, stride = (4, 1) if downsample is None else (6, 2)
        block = PreActBasicBlock(4, planes, stride=stride, downsample=downsample)
        s = randomize(block, rng)
        x = rng.standard_normal((2, 4, 7, 7))
        t = torch.tensor(x)
        act = F.relu(tbn(t, s, "bn1"))
        shortcut = t if downsample is None else F.conv2d(act, s["downsample.0.weight"], stride=2)
        out = F.relu(tbn(F.conv2d(act, s["conv1.weight"], stride=stride, padding=1), s, "bn2"))
        out = F.conv2d(out, s["conv2.weight"], padding=1)
        np.testing.assert_allclose(run(block, x), (out + shortcut).numpy(), rtol=1e-10, atol=1e-10)


def test_preact_bottleneck_matches_torch():
    rng = np.random.default_rng(3)
    block = PreActBottleneck(16, 4, stride=1)
    s = randomize(block, rng)
    x = rng.standard_normal((2, 16, 5, 5))
    t = torch.tensor(x)
    out = F.conv2d(F.relu(tbn(t, s, "bn1")), s["conv1.weight"])
    out = F.conv2d(F.relu(tbn(out, s, "bn2")), s["conv2.weight"], padding=1)
    out = F.conv2d(F.relu(tbn(out, s, "bn3")), s["conv3.weight"])
    np.testing.assert_allclose(run(block, x), (out + t).numpy(), rtol=1e-10, atol=1e-10)


def stage_shapes(model, size, stages):
    shapes = {}
    handles = [getattr(model, s).register_forward_hook(lambda m, a, out, s=s: shapes.__setitem__(s, out.shape[1:]))
               for s in stages]
    model.eval()
    with no_grad():
        model(Tensor(np.zeros((1,) + size, dtype=np.float32)))
    for h in handles:
        h.remove()
    return shapes


def test_resnet50_stages():
    # He et al. 2015, Table 1: conv2_x 56x56, conv3_x 28x28, conv4_x 14x14, conv5_x 7x7, 4x expansion.
    with models.skip_init():
        model = models.resnet50()
    shapes = stage_shapes(model, (3, 224, 224), ["maxpool", "layer1", "layer2", "layer3", "layer4"])
    assert shapes == {"maxpool": (64, 56, 56), "layer1": (256, 56, 56), "layer2": (512, 28, 28),
                      "layer3": (1024, 14, 14), "layer4": (2048, 7, 7)}
    assert [len(getattr(model, f"layer{i}")) for i in range(1, 5)] == [3, 4, 6, 3]


def test_resnet18_projection_shortcuts_only_where_shapes_change():
    with models.skip_init():
        model = models.resnet18()
    assert model.layer1[0].downsample is None
    for stage in (model.layer2, model.layer3, model.layer4):
        proj, norm = stage[0].downsample
        assert proj.kernel_size == (1, 1) and proj.stride == (2, 2) and isinstance(norm, nn.BatchNorm2d)
        assert stage[1].downsample is None


def test_cifar_resnet20_stages_and_option_b():
    # He et al. 2015, Section 4.2: 32x32 maps with 16 filters, 16x16 with 32, 8x8 with 64; 3 blocks each.
    with models.skip_init():
        model = models.resnet20()
    shapes = stage_shapes(model, (3, 32, 32), ["layer1", "layer2", "layer3"])
    assert shapes == {"layer1": (16, 32, 32), "layer2": (32, 16, 16), "layer3": (64, 8, 8)}
    assert model.conv1.kernel_size == (3, 3) and "maxpool" not in model._modules
    assert model.layer2[0].downsample[0].kernel_size == (1, 1)
    assert model.fc.in_features == 64 and model.fc.out_features == 10


def test_preact_resnet_structure():
    with models.skip_init():
        model = models.preact_resnet(depth=50)
        cifar = models.preact_resnet(depth=20, stem="cifar", num_classes=10)
    assert isinstance(model.layer1[0], PreActBottleneck)
    assert "bn1" not in model.layer1[0]._modules      # takes the stem's activation
    assert "bn1" in model.layer2[0]._modules
    assert "bn_final" in model._modules and "bn1" not in cifar._modules
    assert "bn1" in cifar.layer1[0]._modules          # activates the stem conv before splitting
    model.eval()
    with no_grad():
        assert model(Tensor(np.zeros((1, 3, 32, 32), dtype=np.float32))).shape == (1, 1000)


def test_wide_resnet_widths():
    with models.skip_init():
        model = models.wide_resnet(depth=16, widen_factor=8)
    assert model.conv1.out_channels == 16
    assert [getattr(model, f"layer{i}")[0].conv1.out_channels for i in (1, 2, 3)] == [128, 256, 512]
    assert len(model.layer1) == 2  # (16 - 4) / 6


def test_zero_init_residual():
    with models.skip_init():
        model = models.resnet18(zero_init_residual=True)
    assert np.all(model.layer1[0].bn2.weight.numpy() == 0)
    assert np.all(model.layer1[0].bn1.weight.numpy() == 1)


def test_deep_resnet_backward_has_no_recursion_limit():
    # resnet110: 110 layers, 54 blocks; backward runs iteratively.
    with models.skip_init():
        model = models.resnet110()
    x = Tensor(np.ones((1, 3, 8, 8), dtype=np.float32), requires_grad=True)
    model(x).sum().backward()
    assert x.grad.shape == x.shape


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"resnet: `depth` must be one of 18, 34, 50, 101, 152. Received: depth=19"):
        models.resnet(depth=19)
    with pytest.raises(ValueError, match=r"cifar_resnet: `depth` must be one of 20, 32, 44, 56, 110. "
                                         r"Received: depth=18"):
        models.cifar_resnet(depth=18)
    with pytest.raises(ValueError, match=r"wide_resnet: `depth` must be 6n \+ 4 .* Received: depth=27"):
        models.wide_resnet(depth=27)
    with pytest.raises(ValueError, match=r"wide_resnet: `widen_factor` must be a positive int. Received: "
                                         r"widen_factor=0"):
        models.wide_resnet(widen_factor=0)
    with pytest.raises(ValueError, match=r"preact_resnet: `stem` must be one of 'imagenet', 'cifar'"):
        models.preact_resnet(stem="tiny")
    with pytest.raises(ValueError, match=r"ResNet: `widths` and `layers` must have the same length"):
        ResNet(BasicBlock, [1, 1], widths=(8,))
