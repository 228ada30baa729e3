"""DenseNet, MobileNet v1, SqueezeNet and the AlphaGo policy network: structure from the papers."""

import numpy as np
import pytest
import torch

from cnnlab import Tensor, models, nn, no_grad
from cnnlab.models.alphago import PositionBias
from cnnlab.models.densenet import DenseBlock
from cnnlab.models.squeezenet import Fire

F = torch.nn.functional


def build(name, **kw):
    with models.skip_init():
        return models.get(name, **kw)


def shapes_of(model, size, modules):
    out = {}
    handles = [m.register_forward_hook(lambda m, a, o, k=k: out.__setitem__(k, tuple(o.shape[1:])))
               for k, m in modules.items()]
    model.eval()
    with no_grad():
        model(Tensor(np.zeros((1,) + size, dtype=np.float32)))
    for h in handles:
        h.remove()
    return out


def test_densenet121_blocks_grow_and_transitions_halve():
    # Huang et al. 2017, Table 1 (k = 32): 56x56 after the stem; each block adds layers * 32 channels,
    # each transition halves channels and resolution: 64 + 6*32 = 256 -> 128, 128 + 12*32 = 512 -> 256,
    # 256 + 24*32 = 1024 -> 512, 512 + 16*32 = 1024 at 7x7.
    model = build("densenet121")
    f = model.features
    mods = {k: getattr(f, k) for k in ("pool0", "denseblock1", "transition1", "denseblock2", "transition2",
                                       "denseblock3", "transition3", "denseblock4")}
    assert shapes_of(model, (3, 224, 224), mods) == {
        "pool0": (64, 56, 56), "denseblock1": (256, 56, 56), "transition1": (128, 28, 28),
        "denseblock2": (512, 28, 28), "transition2": (256, 14, 14), "denseblock3": (1024, 14, 14),
        "transition3": (512, 7, 7), "denseblock4": (1024, 7, 7)}
    # Layer i of a block sees the block input plus the i - 1 earlier outputs.
    assert [f.denseblock2[f"denselayer{i}"].conv1.in_channels for i in (1, 2, 12)] == [128, 160, 128 + 11 * 32]


def test_dense_block_concatenates_every_earlier_output():
    # Each layer's input is cat(x, y1, ..., y_{i-1}); the block returns cat(x, y1, ..., yL).
    rng = np.random.default_rng(0)
    block = DenseBlock(num_layers=3, num_input_features=4, bn_size=2, growth_rate=3)
    block.double().eval()
    s = {k: torch.tensor(v) for k, v in block.state_dict().items()}
    for k in s:
        if k.endswith("weight") and s[k].ndim > 1:
            s[k] = torch.tensor(rng.standard_normal(tuple(s[k].shape)))
    block.load_state_dict({k: v.numpy() for k, v in s.items()})
    x = rng.standard_normal((2, 4, 5, 5))

    def layer(i, inp):
        p = f"denselayer{i}."

        def bn(t, n):
            return F.batch_norm(t, s[p + n + ".running_mean"], s[p + n + ".running_var"], s[p + n + ".weight"],
                                s[p + n + ".bias"], training=False)
        h = F.conv2d(F.relu(bn(inp, "norm1")), s[p + "conv1.weight"])
        return F.conv2d(F.relu(bn(h, "norm2")), s[p + "conv2.weight"], padding=1)

    feats = [torch.tensor(x)]
    for i in (1, 2, 3):
        feats.append(layer(i, torch.cat(feats, 1)))
    with no_grad():
        out = block(Tensor(x)).numpy()
    np.testing.assert_allclose(out, torch.cat(feats, 1).numpy(), rtol=1e-10, atol=1e-10)
    assert out.shape == (2, 4 + 3 * 3, 5, 5)


def test_mobilenet_depthwise_separable():
    # Howard et al. 2017, Table 1: 224 -> 112x112x32 -> ... -> 7x7x1024; each separable layer is a 3x3
    # depthwise convolution (groups = channels) and a 1x1 pointwise one, each with BN and ReLU, no bias.
    model = build("mobilenet_v1")
    f = model.features
    assert shapes_of(model, (3, 224, 224), {"stem": f[0], "last": f[13]}) == {"stem": (32, 112, 112),
                                                                             "last": (1024, 7, 7)}
    dw, _, _, pw, _, _ = f[1]
    assert dw.groups == dw.in_channels == 32 and dw.kernel_size == (3, 3) and dw.bias is None
    assert pw.kernel_size == (1, 1) and pw.out_channels == 64
    assert [type(m).__name__ for m in f[1]] == ["Conv2d", "BatchNorm2d", "ReLU"] * 2
    half = build("mobilenet_v1", width_mult=0.5)
    assert half.features[13][3].out_channels == 512


def test_squeezenet_fire_matches_torch():
    # Iandola et al. 2016: squeeze 1x1 + ReLU, then cat(ReLU(expand 1x1), ReLU(expand 3x3 pad 1)).
    rng = np.random.default_rng(1)
    fire = Fire(6, 3, 4, 5).double()
    for p in fire.parameters():
        p.data[...] = rng.standard_normal(p.shape)
    s = {k: torch.tensor(v) for k, v in fire.state_dict().items()}
    x = rng.standard_normal((2, 6, 7, 7))
    sq = F.relu(F.conv2d(torch.tensor(x), s["squeeze.weight"], s["squeeze.bias"]))
    expected = torch.cat([F.relu(F.conv2d(sq, s["expand1x1.weight"], s["expand1x1.bias"])),
                          F.relu(F.conv2d(sq, s["expand3x3.weight"], s["expand3x3.bias"], padding=1))], 1)
    with no_grad():
        np.testing.assert_allclose(fire(Tensor(x)).numpy(), expected.numpy(), rtol=1e-10)


def test_squeezenet_names_are_torchvision():
    model = build("squeezenet1_1")
    keys = list(model.state_dict())
    assert keys[:4] == ["features.0.weight", "features.0.bias", "features.3.squeeze.weight", "features.3.squeeze.bias"]
    assert keys[-2:] == ["classifier.1.weight", "classifier.1.bias"]
    assert model.classifier[1].kernel_size == (1, 1)


def test_alphago_policy():
    # Silver et al. 2016: 19x19x48 -> conv 5x5 k pad 2 -> 11 x conv 3x3 k pad 1 -> 1x1 conv with a bias per
    # point -> softmax over 361 moves. The board stays 19x19 throughout.
    model = build("alphago_policy")
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [c.kernel_size[0] for c in convs] == [5] + [3] * 11
    assert all(c.out_channels == 192 for c in convs)
    head_conv, bias = model.head[0], model.head[1]
    assert head_conv.bias is None and isinstance(bias, PositionBias) and bias.bias.shape == (1, 19, 19)
    assert shapes_of(model, (48, 19, 19), {"features": model.features}) == {"features": (192, 19, 19)}
    probs_model = build("alphago_policy", filters=8, softmax=True)
    x = Tensor(np.random.default_rng(0).standard_normal((2, 48, 19, 19)).astype(np.float32))
    with no_grad():
        probs = probs_model(x).numpy()
    assert probs.shape == (2, 361)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_position_bias_adds_a_bias_per_point():
    pb = PositionBias((1, 3, 3))
    pb.bias.data[...] = np.arange(9, dtype=np.float32).reshape(1, 3, 3)
    out = pb(Tensor(np.ones((2, 1, 3, 3), dtype=np.float32))).numpy()
    np.testing.assert_array_equal(out[1, 0], 1 + np.arange(9).reshape(3, 3))
    with pytest.raises(ValueError, match=r"PositionBias: input has per-sample shape \(1, 4, 4\) but the bias has "
                                         r"shape \(1, 3, 3\)"):
        pb(Tensor(np.ones((2, 1, 4, 4), dtype=np.float32)))


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"mobilenet_v1: `width_mult` must be a positive number. Received: "
                                         r"width_mult=0"):
        models.mobilenet_v1(width_mult=0)
    with pytest.raises(ValueError, match=r"alphago_policy: `filters` must be a positive int. Received: filters=0"):
        models.alphago_policy(filters=0)
    with pytest.raises(ValueError, match=r"densenet: `depth` must be one of 121, 161, 169, 201. Received: depth=100"):
        models.densenet(depth=100)
