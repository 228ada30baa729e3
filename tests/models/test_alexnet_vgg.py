"""AlexNet, ZFNet and VGG: stage shapes from the papers, layer layout, state-dict names from torchvision."""

import numpy as np
import pytest

from cnnlab import Tensor, models, nn, no_grad


def stage_shapes(model, input_size, kinds=(nn.Conv2d, nn.MaxPool2d)):
    """(H, W, C) after every convolution and pool of ``model.features`` (the papers write volumes as HxWxC)."""
    shapes = []
    handles = [m.register_forward_hook(lambda m, a, out: shapes.append((out.shape[2], out.shape[3], out.shape[1])))
               for m in model.features if isinstance(m, kinds)]
    model.eval()
    with no_grad():
        model(Tensor(np.zeros((1,) + input_size, dtype=np.float32)))
    for h in handles:
        h.remove()
    return shapes


@pytest.fixture(scope="module")
def build():
    def make(name, **kw):
        with models.skip_init():
            return models.get(name, **kw)
    return make


@pytest.mark.parametrize("groups", [1, 2])
def test_alexnet_stage_shapes(build, groups):
    # Krizhevsky et al. 2012 (as the lectures give it): 227x227x3 -> CONV1 55x55x96 -> POOL1 27x27x96
    # -> CONV2 27x27x256 -> POOL2 13x13x256 -> CONV3 13x13x384 -> CONV4 13x13x384 -> CONV5 13x13x256
    # -> POOL3 6x6x256.
    expected = [(55, 55, 96), (27, 27, 96), (27, 27, 256), (13, 13, 256), (13, 13, 384), (13, 13, 384),
                (13, 13, 256), (6, 6, 256)]
    assert stage_shapes(build("alexnet", groups=groups), (3, 227, 227)) == expected


def test_alexnet_layout(build):
    model = build("alexnet")
    kinds = [type(m).__name__ for m in model.features]
    # LRN after the ReLU of CONV1 and CONV2, each followed by an overlapping 3x3/2 max pool.
    assert kinds[:8] == ["Conv2d", "ReLU", "LocalResponseNorm", "MaxPool2d", "Conv2d", "ReLU", "LocalResponseNorm",
                         "MaxPool2d"]
    pools = [m for m in model.features if isinstance(m, nn.MaxPool2d)]
    assert all(p.kernel_size == 3 and p.stride == 2 for p in pools)
    lrn = model.features[2]
    # Paper: k = 2, n = 5, alpha = 1e-4, beta = 0.75; LocalResponseNorm divides alpha by n.
    assert (lrn.size, lrn.k, lrn.beta) == (5, 2.0, 0.75) and lrn.alpha / lrn.size == pytest.approx(1e-4)
    conv1 = model.features[0]
    assert (conv1.kernel_size, conv1.stride, conv1.out_channels) == ((11, 11), (4, 4), 96)
    drops = [m for m in model.classifier if isinstance(m, nn.Dropout)]
    assert [d.p for d in drops] == [0.5, 0.5]
    assert [m.out_features for m in model.classifier if isinstance(m, nn.Linear)] == [4096, 4096, 1000]


def test_alexnet_owt_matches_torchvision_layout(build):
    # torchvision.models.alexnet: 64-192-384-256-256, CONV1 padding 2, no LRN; its state-dict keys.
    model = build("alexnet_owt")
    assert stage_shapes(model, (3, 224, 224)) == [(55, 55, 64), (27, 27, 64), (27, 27, 192), (13, 13, 192),
                                                  (13, 13, 384), (13, 13, 256), (13, 13, 256), (6, 6, 256)]
    keys = [f"features.{i}.{p}" for i in (0, 3, 6, 8, 10) for p in ("weight", "bias")]
    keys += [f"classifier.{i}.{p}" for i in (1, 4, 6) for p in ("weight", "bias")]
    assert list(model.state_dict()) == keys


def test_zfnet_stage_shapes(build):
    # Zeiler & Fergus 2013, Figure 3: 224 -> 110x110x96 -> 55x55x96 -> 26x26x256 -> 13x13x256
    # -> 13x13x512 -> 13x13x1024 -> 13x13x512 -> 6x6x512.
    expected = [(110, 110, 96), (55, 55, 96), (26, 26, 256), (13, 13, 256), (13, 13, 512), (13, 13, 1024),
                (13, 13, 512), (6, 6, 512)]
    assert stage_shapes(build("zfnet"), (3, 224, 224)) == expected


def test_vgg16_stage_shapes(build):
    # The lectures' VGG16 table: CONV3-64 x2 at 224, POOL2 112, CONV3-128 x2, POOL2 56, CONV3-256 x3, POOL2 28,
    # CONV3-512 x3, POOL2 14, CONV3-512 x3, POOL2 7.
    expected = ([(224, 224, 64)] * 2 + [(112, 112, 64)] + [(112, 112, 128)] * 2 + [(56, 56, 128)]
                + [(56, 56, 256)] * 3 + [(28, 28, 256)] + [(28, 28, 512)] * 3 + [(14, 14, 512)]
                + [(14, 14, 512)] * 3 + [(7, 7, 512)])
    assert stage_shapes(build("vgg16"), (3, 224, 224)) == expected


def test_vgg16_state_dict_names_are_torchvision(build):
    # torchvision.models.vgg16: conv layers at features.0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28;
    # Linear layers at classifier.0, 3, 6.
    model = build("vgg16")
    convs = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
    keys = [f"features.{i}.{p}" for i in convs for p in ("weight", "bias")]
    keys += [f"classifier.{i}.{p}" for i in (0, 3, 6) for p in ("weight", "bias")]
    assert list(model.state_dict()) == keys


def test_vgg_bn_layout(build):
    model = build("vgg11_bn")
    kinds = [type(m).__name__ for m in model.features][:4]
    assert kinds == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]


def test_vgg_config_c_has_1x1_convolutions(build):
    model = build("vgg16_c")
    kernels = [m.kernel_size for m in model.features if isinstance(m, nn.Conv2d)]
    assert kernels.count((1, 1)) == 3 and len(kernels) == 13
    assert [i for i, k in enumerate(kernels) if k == (1, 1)] == [6, 9, 12]


def test_vgg_a_lrn_has_lrn_after_first_conv(build):
    kinds = [type(m).__name__ for m in build("vgg11_lrn").features][:4]
    assert kinds == ["Conv2d", "ReLU", "LocalResponseNorm", "MaxPool2d"]


def test_torchvision_initialisation():
    # What VGG, ResNet, DenseNet and MobileNet apply (torchvision's): He normal convolutions over fan_out,
    # zero biases, BatchNorm 1/0, N(0, 0.01) fully connected weights.
    from cnnlab.models._common import init_he

    model = nn.Sequential(nn.Conv2d(16, 64, 3), nn.BatchNorm2d(64), nn.Flatten(), nn.Linear(400, 300))
    init_he(model, conv_mode="fan_out", linear_std=0.01)
    conv, bn, _, fc = model
    assert conv.weight.numpy().std() == pytest.approx(np.sqrt(2.0 / (64 * 9)), rel=0.05)
    assert np.all(conv.bias.numpy() == 0) and np.all(fc.bias.numpy() == 0)
    assert np.all(bn.weight.numpy() == 1) and np.all(bn.bias.numpy() == 0)
    assert fc.weight.numpy().std() == pytest.approx(0.01, rel=0.05)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"vgg: `config` must be one of 'A', 'A-LRN', 'B', 'C', 'D', 'E'. "
                                         r"Received: config='F'"):
        models.vgg(config="F")
    with pytest.raises(ValueError, match=r"alexnet: `groups` must be one of 1, 2. Received: groups=3"):
        models.alexnet(groups=3)
