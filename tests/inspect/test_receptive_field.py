"""``cnnlab.inspect.receptive_field``: sizes, jumps and starts against hand computations and published values."""

import json

import pytest

from cnnlab import models, nn
from cnnlab.functional import cat
from cnnlab.inspect import receptive_field
from cnnlab.models import inception_module


def test_three_3x3_convs_see_what_one_7x7_sees():
    # The lectures: a stack of three 3x3 (stride 1) convolutions has the receptive field of one 7x7.
    stack = nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3))
    one = nn.Sequential(nn.Conv2d(1, 1, 7))
    rf3, rf1 = receptive_field(stack, (1, 32, 32)), receptive_field(one, (1, 32, 32))
    assert [r.size for r in rf3.rows] == [(3, 3), (5, 5), (7, 7)]
    assert rf3.final.size == rf1.final.size == (7, 7)
    assert rf3.final.jump == rf1.final.jump == (1, 1)
    assert rf3.final.start == rf1.final.start == (3.5, 3.5)


def test_strided_example_by_hand():
    # Two 3x3 convolutions, stride 2, padding 1 on a 5x5 input: r = 3, 7; jump = 2, 4; the first unit's
    # patch is centred on the first pixel both times (start 0.5) because the padding shifts it back.
    net = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2, padding=1), nn.Conv2d(1, 1, 3, stride=2, padding=1))
    rf = receptive_field(net, (1, 5, 5))
    assert [(r.size, r.jump, r.start, r.output_shape[2:]) for r in rf.rows] == [
        ((3, 3), (2, 2), (0.5, 0.5), (3, 3)), ((7, 7), (4, 4), (0.5, 0.5), (2, 2))]


def test_dilation_and_rectangular_kernels():
    rf = receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3, dilation=2), nn.Conv2d(1, 1, (1, 5))), (1, 20, 20))
    assert rf.rows[0].size == (5, 5)
    assert rf.final.size == (5, 9)


def test_alexnet_and_vgg16_published_values():
    # Araujo, Norris & Sim 2019 ("Computing receptive fields of convolutional neural networks", Distill),
    # Table 1: AlexNet 195, VGG16 212 at the last pooling layer; jump 32 for both.
    with models.skip_init():
        alexnet, vgg = models.alexnet(), models.vgg16()
    a = receptive_field(alexnet, (3, 227, 227))
    assert a["features.0"].size == (11, 11) and a["features.0"].jump == (4, 4)
    assert a["features.14"].size == (195, 195) and a["features.14"].jump == (32, 32)
    v = receptive_field(vgg, (3, 224, 224))
    assert v["features.30"].size == (212, 212) and v["features.30"].jump == (32, 32)
    assert v["features.2"].size == (5, 5)      # two 3x3 convolutions see 5x5
    assert v["classifier.6"].global_ and v["classifier.6"].size == (224, 224)


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(1, 1, 3, padding=1)
        self.b = nn.Conv2d(1, 1, 3, padding=1)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.b(self.a(x)) + x)


def test_branches_take_the_largest_path():
    # relu(conv(conv(x)) + x): the sum sees the union of a 5x5 patch and the 1x1 shortcut -> 5x5.
    rf = receptive_field(Residual(), (1, 8, 8))
    assert rf["relu"].size == (5, 5)


def test_inception_concat_takes_the_5x5_branch():
    with models.skip_init():
        model = models.googlenet()
    rf = receptive_field(model, (3, 224, 224))
    a = rf["inception3a.branch3.1.conv"]       # 1x1 then 5x5: the widest branch of 3a
    assert rf["inception3a.branch2.1.conv"].size[0] < a.size[0]
    assert rf["inception3b.branch1.conv"].size == a.size   # a 1x1 on the concatenation sees the union
    assert rf["fc"].global_


def test_factorized_branch_sees_as_far_as_5x5():
    five = inception_module(4, 2, 2, 2, 2, 2, 2)
    two_threes = inception_module(4, 2, 2, 2, 2, 2, 2, factorized=True)
    assert receptive_field(five.branch3, (4, 9, 9)).final.size == (5, 5)
    assert receptive_field(two_threes.branch3, (4, 9, 9)).final.size == (5, 5)
    seven = inception_module(4, 2, 2, 2, 2, 2, 2, factorized=True, n=7)
    assert receptive_field(seven.branch2, (4, 9, 9)).final.size == (7, 7)   # 1x7 then 7x1


class DenseCat(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)
        self.mix = nn.Conv2d(2, 1, 1)

    def forward(self, x):
        return self.mix(cat([x, self.conv(x)], 1))


def test_concatenation_with_the_input():
    assert receptive_field(DenseCat(), (1, 6, 6))["mix"].size == (3, 3)


class Subsample(nn.Module):
    def forward(self, x):
        return x[:, :, ::2, ::2]


def test_unknown_spatial_layer_is_an_error():
    with pytest.raises(ValueError, match=r"receptive_field: cannot follow layer '1' \(Subsample\): it changes the "
                                         r"spatial size from 8x8 to 4x4"):
        receptive_field(nn.Sequential(nn.Conv2d(1, 1, 1), Subsample()), (1, 8, 8))


def test_bad_input_size():
    with pytest.raises(ValueError, match=r"receptive_field: `input_size` must be \(C, H, W\). "
                                         r"Received: input_size=\(8, 8\)"):
        receptive_field(nn.Sequential(nn.Conv2d(1, 1, 1)), (8, 8))


def test_exports_and_modes():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(2 * 3 * 3, 4))
    net.train()
    rf = receptive_field(net, (1, 8, 8))
    assert net.training and net[1].training
    d = json.loads(rf.to_json())
    assert d["layers"][3] == {"name": "3", "type": "MaxPool2d", "output_shape": [1, 2, 3, 3], "size": [4, 4],
                              "jump": [2, 2], "start": [2, 2], "global": False}
    assert d["layers"][-1]["global"] is True
    assert "3 (MaxPool2d)" in str(rf) and "8 (global)" in str(rf)
    assert rf.to_markdown().splitlines()[0] == "| Layer (type) | Output shape | Receptive field | Jump | Start |"
