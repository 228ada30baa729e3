"""``cnnlab.inspect.summary``: the lectures' VGG16 table, user-built and branching models, bad input, exports."""

import json

import numpy as np
import pytest

from cnnlab import Tensor, cli, models, nn
from cnnlab.inspect import summary

# CS231n lecture 9, "VGGNet" table (memory in values, params as weights; biases are added below):
# layer, output (H, W, C), weights.
VGG16_TABLE = [
    ("CONV3-64", (224, 224, 64), (3 * 3 * 3) * 64),
    ("CONV3-64", (224, 224, 64), (3 * 3 * 64) * 64),
    ("POOL2", (112, 112, 64), 0),
    ("CONV3-128", (112, 112, 128), (3 * 3 * 64) * 128),
    ("CONV3-128", (112, 112, 128), (3 * 3 * 128) * 128),
    ("POOL2", (56, 56, 128), 0),
    ("CONV3-256", (56, 56, 256), (3 * 3 * 128) * 256),
    ("CONV3-256", (56, 56, 256), (3 * 3 * 256) * 256),
    ("CONV3-256", (56, 56, 256), (3 * 3 * 256) * 256),
    ("POOL2", (28, 28, 256), 0),
    ("CONV3-512", (28, 28, 512), (3 * 3 * 256) * 512),
    ("CONV3-512", (28, 28, 512), (3 * 3 * 512) * 512),
    ("CONV3-512", (28, 28, 512), (3 * 3 * 512) * 512),
    ("POOL2", (14, 14, 512), 0),
    ("CONV3-512", (14, 14, 512), (3 * 3 * 512) * 512),
    ("CONV3-512", (14, 14, 512), (3 * 3 * 512) * 512),
    ("CONV3-512", (14, 14, 512), (3 * 3 * 512) * 512),
    ("POOL2", (7, 7, 512), 0),
    ("FC", (1, 1, 4096), 7 * 7 * 512 * 4096),
    ("FC", (1, 1, 4096), 4096 * 4096),
    ("FC", (1, 1, 1000), 4096 * 1000),
]


@pytest.fixture(scope="module")
def vgg16_table():
    with models.skip_init():
        model = models.vgg16()
    return summary(model, (3, 224, 224))


def test_vgg16_rows_match_the_lecture_table(vgg16_table):
    rows = [r for r in vgg16_table.rows if r.type in ("Conv2d", "MaxPool2d", "Linear")]
    assert len(rows) == len(VGG16_TABLE)
    for row, (label, (h, w, c), weights) in zip(rows, VGG16_TABLE):
        shape = (1, c, h, w) if label != "FC" else (1, c)
        assert row.output_shape == shape, label
        assert row.activations == h * w * c, label           # the table's "memory" column
        biases = c if weights else 0
        assert row.params == weights + biases, label          # the table's "params" (+ one bias per filter)
        assert row.activation_bytes == 4 * h * w * c
        assert row.counted


def test_vgg16_totals(vgg16_table):
    t = vgg16_table
    # REFERENCE.md: 138,357,544 parameters with biases (138,344,128 weights); forward activations
    # input + every conv/pool/FC output with ReLU in place = 15,237,608 values = 60.95 MB per image.
    assert t.total_params == 138_357_544 == t.trainable_params
    assert sum(w for _, _, w in VGG16_TABLE) == 138_344_128
    assert t.frozen_params == 0 and t.unused_params == 0
    assert t.param_bytes == 4 * 138_357_544
    assert t.input_elements == 224 * 224 * 3
    assert t.total_activations == 224 * 224 * 3 + sum(h * w * c for _, (h, w, c), _ in VGG16_TABLE) == 15_237_608
    assert t.activation_bytes == 4 * 15_237_608
    assert t.training_activation_bytes == 2 * t.activation_bytes
    # Multiply-adds: every 3x3 conv output does 9 * C_in, every FC output in_features; torchvision lists
    # vgg16 at 15.47 GFLOPS (multiply-adds).
    convs = [(224, 64, 3), (224, 64, 64), (112, 128, 64), (112, 128, 128), (56, 256, 128), (56, 256, 256),
             (56, 256, 256), (28, 512, 256), (28, 512, 512), (28, 512, 512)] + [(14, 512, 512)] * 3
    macs = sum(s * s * cout * cin * 9 for s, cout, cin in convs) + 25088 * 4096 + 4096 * 4096 + 4096 * 1000
    assert t.total_macs == macs
    assert round(t.total_macs / 1e9, 2) == 15.47


def test_vgg16_in_place_and_view_rows_are_listed_but_not_counted(vgg16_table):
    kinds = {r.type: r.memory for r in vgg16_table.rows}
    assert kinds["ReLU"] == "in place" and kinds["AdaptiveAvgPool2d"] == "identity"
    assert kinds["Dropout"] in ("view", "in place")
    assert sum(r.type == "ReLU" for r in vgg16_table.rows) == 15
    # Counting every output, ReLUs included, gives more than the lecture's convention.
    assert vgg16_table.all_activations > vgg16_table.total_activations


def test_vgg16_printed_table(vgg16_table):
    text = str(vgg16_table)
    assert "features.0 (Conv2d)" in text and "(1, 64, 224, 224)" in text and "1,792" in text
    assert "Total params: 138,357,544" in text
    assert "Forward activations per image: 15,237,608 values (60.95 MB)" in text
    assert "Forward + backward (x2) per image: 121.90 MB" in text


def small_net():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(8 * 8 * 8, 10))


def test_user_sequential_rows_by_hand():
    table = summary(small_net(), (3, 16, 16), batch_size=2)
    names = [(r.name, r.type, r.output_shape) for r in table.rows]
    assert names == [("0", "Conv2d", (2, 8, 16, 16)), ("1", "BatchNorm2d", (2, 8, 16, 16)),
                     ("2", "ReLU", (2, 8, 16, 16)), ("3", "MaxPool2d", (2, 8, 8, 8)), ("4", "Flatten", (2, 512)),
                     ("5", "Linear", (2, 10))]
    conv, bn, relu, pool, flat, fc = table.rows
    assert (conv.params, bn.params, fc.params) == (3 * 9 * 8 + 8, 16, 512 * 10 + 10)
    assert conv.macs == 2 * 8 * 16 * 16 * 3 * 9
    assert bn.macs == 2 * 8 * 16 * 16
    assert fc.macs == 2 * 512 * 10
    assert relu.macs == pool.macs == flat.macs == 0
    assert (relu.memory, flat.memory) == ("in place", "view")
    assert table.total_activations == 3 * 16 * 16 + 2 * 8 * 16 * 16 + 8 * 8 * 8 + 10
    assert table.total_macs == (conv.macs + bn.macs + fc.macs) // 2
    assert table.total_params == conv.params + bn.params + fc.params
    assert "For the batch of 2" in str(table)


def test_frozen_parameters():
    net = small_net()
    net[0].weight.requires_grad = False
    table = summary(net, (3, 16, 16))
    assert table["0"].frozen == 3 * 9 * 8 and table["0"].trainable == 8
    assert table.frozen_params == 216 and table.trainable_params == table.total_params - 216
    assert "(216 frozen)" in str(table)


class TwoPaths(nn.Module):
    """A user-defined branching model: y = relu(conv_a(x) + conv_b(x)), then a head."""

    def __init__(self):
        super().__init__()
        self.conv_a = nn.Conv2d(2, 4, 3, padding=1)
        self.conv_b = nn.Conv2d(2, 4, 1)
        self.relu = nn.ReLU()
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))

    def forward(self, x):
        return self.head(self.relu(self.conv_a(x) + self.conv_b(x)))


def test_branching_user_model():
    table = summary(TwoPaths(), (2, 6, 6))
    assert [r.name for r in table.rows] == ["conv_a", "conv_b", "relu", "head.0", "head.1", "head.2"]
    assert table.total_params == (2 * 9 * 4 + 4) + (2 * 4 + 4) + (4 * 3 + 3)
    assert table["head.0"].macs == 4 * 6 * 6   # adaptive average: one add per input element


def test_googlenet_branches_and_unused_aux_heads():
    with models.skip_init():
        model = models.googlenet()
    model.train()
    table = summary(model, (3, 224, 224))
    assert model.training and model.inception3a.training   # modes restored
    assert table["inception3a.branch3.1.conv"].output_shape == (1, 32, 28, 28)
    assert table["inception5b.branch4.1.conv"].output_shape == (1, 128, 7, 7)
    assert not any(r.name.startswith("aux") for r in table.rows)   # dropped in evaluation mode
    aux = lambda c: (c * 128 + 128) + (2048 * 1024 + 1024) + (1024 * 1000 + 1000)  # noqa: E731
    assert table.unused_params == aux(512) + aux(528)
    assert table.total_params == 13_378_280
    assert "did not run: 6,379,728" in str(table)


def test_repeated_layer_calls_get_numbered_rows():
    with models.skip_init():
        model = models.resnet20()
    table = summary(model, (3, 32, 32))
    assert table["layer1.0.relu"].output_shape == table["layer1.0.relu (2)"].output_shape == (1, 16, 32, 32)
    assert table.total_params == sum(r.params for r in table.rows)


def test_modes_and_running_statistics_are_restored():
    net = small_net()
    net.train()
    net[1].eval()
    before = net[1].running_mean.numpy().copy()
    summary(net, (3, 16, 16))
    assert net.training and not net[1].training and net[0].training
    np.testing.assert_array_equal(net[1].running_mean.numpy(), before)
    assert not net[0]._forward_hooks and not net[0]._forward_pre_hooks


def test_float64():
    table = summary(small_net().double(), (3, 16, 16), dtype="float64")
    assert table["0"].activation_bytes == 8 * 8 * 16 * 16
    assert table.dtype == "float64"


def test_input_too_small_names_the_layer_and_volume():
    with models.skip_init():
        vgg = models.vgg16()
        alexnet = models.alexnet()
    with pytest.raises(ValueError, match=r"summary: input 3x16x16 is too small for VGG: the volume becomes empty at "
                                         r"layer 'features.30' \(MaxPool2d.*received a volume of 1x1x512"):
        summary(vgg, (3, 16, 16))
    with pytest.raises(ValueError, match=r"summary: input 3x64x64 is too small for AlexNet: the volume becomes empty "
                                         r"at layer 'features.14' \(MaxPool2d, kernel 3x3, stride 2x2, padding 0x0\), "
                                         r"which received a volume of 2x2x256"):
        summary(alexnet, (3, 64, 64))
    with pytest.raises(ValueError, match=r"empty at layer '0' \(Conv2d, kernel 5x5.*received a volume of 3x3x1 "
                                         r"\(shape \(1, 1, 3, 3\)\)"):
        summary(nn.Sequential(nn.Conv2d(1, 1, 5)), (1, 3, 3))


def test_other_failures_name_the_layer():
    with pytest.raises(ValueError, match=r"summary: the forward pass of Sequential on input \(1, 3\) failed at layer "
                                         r"'0' \(Linear\), which received shape \(1, 3\)"):
        summary(nn.Sequential(nn.Linear(10, 5)), (3,))


def test_bad_arguments():
    net = small_net()
    with pytest.raises(ValueError, match=r"summary: `input_size` must be a tuple of positive ints.*"
                                         r"Received: input_size=\(3, 0, 16\)"):
        summary(net, (3, 0, 16))
    with pytest.raises(ValueError, match=r"summary: `batch_size` must be a positive int. Received: batch_size=0"):
        summary(net, (3, 16, 16), batch_size=0)
    with pytest.raises(TypeError, match=r"summary: `dtype` must be a floating dtype.*Received: dtype=int64"):
        summary(net, (3, 16, 16), dtype="int64")


def test_exports():
    table = summary(small_net(), (3, 16, 16))
    d = json.loads(table.to_json())
    assert d == table.to_dict()
    assert d["layers"][0]["output_shape"] == [1, 8, 16, 16] and d["layers"][0]["counted"] is True
    assert d["totals"]["activations_per_image"] == table.total_activations
    assert d["totals"]["params"] == table.total_params
    md = table.to_markdown().splitlines()
    assert md[2] == "| Layer (type) | Output shape | Param # | Activations | Mult-adds |"
    assert "| 0 (Conv2d) | (1, 8, 16, 16) | 224 | 2,048 | 55,296 |" in md
    with pytest.raises(KeyError, match=r"no layer named 'nope'"):
        table["nope"]


def test_cli_summary(capsys):
    assert cli.main(["summary", "lenet5"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 44,426" in out and "features.0 (Conv2d)" in out
    assert cli.main(["summary", "resnet20", "--format", "json", "--batch-size", "2"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["input_shape"] == [2, 3, 32, 32] and d["totals"]["params"] == 272_474
    assert cli.main(["summary", "fashion_cnn", "--format", "markdown", "--input", "1x28x28"]) == 0
    assert capsys.readouterr().out.startswith("**SmallCNN**")


def test_cli_summary_errors(capsys):
    assert cli.main(["summary", "vgg17"]) == 2
    assert "unknown model 'vgg17'. Known models: " in capsys.readouterr().err
    assert cli.main(["summary", "alexnet", "--input", "3x64x64"]) == 2
    assert "the volume becomes empty at layer 'features.14'" in capsys.readouterr().err
    assert cli.main(["summary", "alexnet", "--input", "3xfoo"]) == 2
    assert "--input must be CxHxW" in capsys.readouterr().err


@pytest.mark.parametrize("name,config,published", [
    # torchvision 0.29 model docs, "GFLOPS" (multiply-adds of convolutions and FC layers), 2 decimals.
    ("alexnet_owt", {}, 0.71), ("resnet18", {}, 1.81), ("resnet50", {}, 4.09), ("densenet121", {}, 2.83),
    ("squeezenet1_0", {}, 0.82), ("squeezenet1_1", {}, 0.35), ("googlenet", {"variant": "torchvision"}, 1.50),
    # Howard et al. 2017, Table 8: 1.0 MobileNet-224, 569 million mult-adds.
    ("mobilenet_v1", {}, 0.569),
])
def test_multiply_adds_match_published_figures(name, config, published):
    with models.skip_init():
        model = models.get(name, **config)
    table = summary(model, models.input_size(name))
    conv_fc = sum(r.macs for r in table.rows if r.type in ("Conv2d", "Linear"))
    digits = 3 if name == "mobilenet_v1" else 2
    assert round(conv_fc / 1e9, digits) == published
    # BatchNorm adds one multiply-add per element on top.
    bn = sum(r.activations for r in table.rows if r.type == "BatchNorm2d")
    assert table.total_macs == conv_fc + bn + sum(r.macs for r in table.rows if r.type.startswith("AdaptiveAvg")
                                                  or r.type == "AvgPool2d")
