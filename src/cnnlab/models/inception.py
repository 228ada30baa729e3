"""Inception-v3 (Szegedy et al. 2016, "Rethinking the Inception Architecture for Computer Vision").

The network is the paper's Table 1 as torchvision builds it: a stem of plain convolutions, three
35x35 modules of Figure 5 (the 5x5 convolution replaced by two stacked 3x3), a grid reduction to
17x17, four 17x17 modules of Figure 6 (n x n factorised into 1 x n then n x 1, n = 7), a grid
reduction to 8x8 and two 8x8 modules of Figure 7 (the 3x3 split into parallel 1x3 and 3x1 outputs).
The grid reductions run stride-2 convolutions beside a stride-2 pool and concatenate, so the grid
shrinks without a representational bottleneck (Section 5). Every convolution is followed by
BatchNorm (eps 0.001) and ReLU and has no bias. An auxiliary classifier on the 17x17 map acts as a
regulariser in training (Section 4).

Each module is declared as a table of branches; each branch is a chain of convolutions
(torchvision's attribute names, e.g. ``Mixed_6b.branch7x7dbl_3``), pools and forks, so
``load_torch_state_dict`` loads torchvision's weights. Parameters: 27,161,264 with the auxiliary
head, 23,834,568 without.
"""

from collections import namedtuple

from .. import nn
from ..functional import cat, flatten
from ..nn import init
from ._common import built_for_init, check_positive_int
from .googlenet import BasicConv2d
from .registry import register_model

InceptionOutputs = namedtuple("InceptionOutputs", ["logits", "aux_logits"])
InceptionOutputs.__doc__ = (
    """What Inception-v3 returns in training mode with its auxiliary head (torchvision's order)."""
)


def conv(name, out_channels, kernel_size, stride=1, padding=0):
    """A convolution + BN + ReLU step of a branch: (name, out channels, kernel, stride, padding)."""
    return ("conv", name, out_channels, kernel_size, stride, padding)


def fork(*convs):
    """The last step of a Figure 7 branch: convolutions applied side by side, outputs
    concatenated."""
    return ("fork",) + convs


AVG = ("avgpool",)  # 3x3 average pool, stride 1, padding 1 (count_include_pad, as torchvision)
MAX = ("maxpool",)  # 3x3 max pool, stride 2: the pooling half of a grid reduction

# The stem (Table 1, first rows): 299x299x3 -> 35x35x192.
STEM = [
    conv("Conv2d_1a_3x3", 32, 3, stride=2),
    conv("Conv2d_2a_3x3", 32, 3),
    conv("Conv2d_2b_3x3", 64, 3, padding=1),
    ("maxpool", "maxpool1"),
    conv("Conv2d_3b_1x1", 80, 1),
    conv("Conv2d_4a_3x3", 192, 3),
    ("maxpool", "maxpool2"),
]


def inception_a(pool_features):
    """Figure 5 at 35x35: 1x1 | 1x1 -> 5x5 | 1x1 -> 3x3 -> 3x3 | avg pool -> 1x1."""
    return [
        [conv("branch1x1", 64, 1)],
        [conv("branch5x5_1", 48, 1), conv("branch5x5_2", 64, 5, padding=2)],
        [
            conv("branch3x3dbl_1", 64, 1),
            conv("branch3x3dbl_2", 96, 3, padding=1),
            conv("branch3x3dbl_3", 96, 3, padding=1),
        ],
        [AVG, conv("branch_pool", pool_features, 1)],
    ]


def inception_b():
    """Grid reduction 35 -> 17 (Figure 10): 3x3/2 | 1x1 -> 3x3 -> 3x3/2 | max pool 3x3/2."""
    return [
        [conv("branch3x3", 384, 3, stride=2)],
        [
            conv("branch3x3dbl_1", 64, 1),
            conv("branch3x3dbl_2", 96, 3, padding=1),
            conv("branch3x3dbl_3", 96, 3, stride=2),
        ],
        [MAX],
    ]


def inception_c(c7):
    """Figure 6 at 17x17, n = 7: 1x1 | 1x1 -> 1x7 -> 7x1 | 1x1 -> (7x1 -> 1x7) twice | avg pool ->
    1x1."""
    row, col = dict(padding=(0, 3)), dict(padding=(3, 0))
    return [
        [conv("branch1x1", 192, 1)],
        [
            conv("branch7x7_1", c7, 1),
            conv("branch7x7_2", c7, (1, 7), **row),
            conv("branch7x7_3", 192, (7, 1), **col),
        ],
        [
            conv("branch7x7dbl_1", c7, 1),
            conv("branch7x7dbl_2", c7, (7, 1), **col),
            conv("branch7x7dbl_3", c7, (1, 7), **row),
            conv("branch7x7dbl_4", c7, (7, 1), **col),
            conv("branch7x7dbl_5", 192, (1, 7), **row),
        ],
        [AVG, conv("branch_pool", 192, 1)],
    ]


def inception_d():
    """Grid reduction 17 -> 8: 1x1 -> 3x3/2 | 1x1 -> 1x7 -> 7x1 -> 3x3/2 | max pool 3x3/2."""
    return [
        [conv("branch3x3_1", 192, 1), conv("branch3x3_2", 320, 3, stride=2)],
        [
            conv("branch7x7x3_1", 192, 1),
            conv("branch7x7x3_2", 192, (1, 7), padding=(0, 3)),
            conv("branch7x7x3_3", 192, (7, 1), padding=(3, 0)),
            conv("branch7x7x3_4", 192, 3, stride=2),
        ],
        [MAX],
    ]


def inception_e():
    """Figure 7 at 8x8: 1x1 | 1x1 -> (1x3, 3x1) | 1x1 -> 3x3 -> (1x3, 3x1) | avg pool -> 1x1."""

    def split(a, b):
        return fork(conv(a, 384, (1, 3), padding=(0, 1)), conv(b, 384, (3, 1), padding=(1, 0)))

    return [
        [conv("branch1x1", 320, 1)],
        [conv("branch3x3_1", 384, 1), split("branch3x3_2a", "branch3x3_2b")],
        [
            conv("branch3x3dbl_1", 448, 1),
            conv("branch3x3dbl_2", 384, 3, padding=1),
            split("branch3x3dbl_3a", "branch3x3dbl_3b"),
        ],
        [AVG, conv("branch_pool", 192, 1)],
    ]


# Table 1's Inception rows in torchvision's names: (name, module table).
MIXED = [
    ("Mixed_5b", inception_a(32)),
    ("Mixed_5c", inception_a(64)),
    ("Mixed_5d", inception_a(64)),
    ("Mixed_6a", inception_b()),
    ("Mixed_6b", inception_c(128)),
    ("Mixed_6c", inception_c(160)),
    ("Mixed_6d", inception_c(160)),
    ("Mixed_6e", inception_c(192)),
    ("Mixed_7a", inception_d()),
    ("Mixed_7b", inception_e()),
    ("Mixed_7c", inception_e()),
]
AUX_AFTER = "Mixed_6e"


class Mixed(nn.Module):
    """An Inception module built from its table: parallel branches concatenated along the channels.

    Args:
        in_channels: channels of the input.
        branches: list of branches; a branch is a list of steps: ``conv(...)``, ``AVG``, ``MAX``
            or a final ``fork(conv, conv)``.

    Shape: ``(N, in_channels, H, W) -> (N, out_channels, H', W')`` with H' = H (stride-1 modules) or
    floor((H - 3) / 2) + 1 (grid reductions).
    """

    def __init__(self, in_channels, branches):
        super().__init__()
        self.branches = branches
        self.out_channels = 0
        for branch in branches:
            channels = in_channels
            for step in branch:
                if step[0] == "conv":
                    channels = self._add_conv(channels, step)
                elif step[0] == "fork":
                    channels = sum(self._add_conv(channels, s) for s in step[1:])
                elif step == AVG:
                    self.avgpool = nn.AvgPool2d(3, stride=1, padding=1)
                else:
                    self.maxpool = nn.MaxPool2d(3, stride=2)
            self.out_channels += channels

    def _add_conv(self, in_channels, step):
        _, name, out, kernel, stride, padding = step
        setattr(
            self,
            name,
            BasicConv2d(in_channels, out, True, kernel_size=kernel, stride=stride, padding=padding),
        )
        return out

    def forward(self, x):
        outputs = []
        for branch in self.branches:
            y = x
            for step in branch:
                if step[0] == "conv":
                    y = getattr(self, step[1])(y)
                elif step[0] == "fork":
                    y = cat([getattr(self, s[1])(y) for s in step[1:]], 1)
                else:
                    y = getattr(self, step[0])(y)
            outputs.append(y)
        return cat(outputs, 1)


class InceptionAux(nn.Module):
    """The auxiliary classifier on the 17x17x768 map: avg pool 5x5/3 (-> 5x5), 1x1 conv to 128, 5x5
    conv to 768 (-> 1x1), FC to the classes.

    Shape: ``(N, in_channels, 17, 17) -> (N, num_classes)``.
    """

    def __init__(self, in_channels, num_classes):
        super().__init__()
        self.avgpool = nn.AvgPool2d(5, stride=3)
        self.conv0 = BasicConv2d(in_channels, 128, True, kernel_size=1)
        self.conv1 = BasicConv2d(128, 768, True, kernel_size=5)
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(768, num_classes)
        self.fc.stddev = 0.001  # torchvision's initialisation of this layer

    def forward(self, x):
        x = self.conv1(self.conv0(self.avgpool(x)))  # (N, 768, 1, 1) at 17x17
        return self.fc(flatten(self.pool(x), 1))


class Inception3(nn.Module):
    """Inception-v3: ``STEM``, the ``MIXED`` modules, global average pool, dropout, ``fc``.

    In training mode with ``aux_logits`` it returns ``InceptionOutputs(logits, aux_logits)`` (the
    trainer adds the auxiliary loss with a weight); in evaluation mode only the logits.

    Shape:
        ``(N, C, 299, 299) -> (N, num_classes)``; 35x35x288 after Mixed_5d, 17x17x768 after
        Mixed_6e, 8x8x2048 after Mixed_7c. The smallest input is 75x75 (the auxiliary head needs
        299-ish, so train smaller inputs with ``aux_logits=False``).
    """

    def __init__(
        self, num_classes=1000, in_channels=3, aux_logits=True, dropout=0.5, init_weights=True
    ):
        super().__init__()
        with built_for_init(init_weights):
            self.aux_logits = aux_logits
            channels = in_channels
            for step in STEM:
                if step[0] == "conv":
                    _, name, out, kernel, stride, padding = step
                    setattr(
                        self,
                        name,
                        BasicConv2d(
                            channels, out, True, kernel_size=kernel, stride=stride, padding=padding
                        ),
                    )
                    channels = out
                else:
                    setattr(self, step[1], nn.MaxPool2d(3, stride=2))
            for name, branches in MIXED:
                block = Mixed(channels, branches)
                setattr(self, name, block)
                if name == AUX_AFTER and aux_logits:
                    self.AuxLogits = InceptionAux(block.out_channels, num_classes)
                channels = block.out_channels
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.dropout = nn.Dropout(p=dropout)
            self.fc = nn.Linear(channels, num_classes)
        if init_weights:
            self._init_weights()

    def _init_weights(self):
        """torchvision's: truncated normal (std 0.1, or the layer's ``stddev``) for convolutions and
        FC layers, zero FC biases, BatchNorm weight 1 and bias 0."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                init.trunc_normal_(m.weight, 0.0, getattr(m, "stddev", 0.1), -2.0, 2.0)
                if m.bias is not None:
                    init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)

    def forward(self, x):
        for step in STEM:
            x = getattr(self, step[1])(x)  # (N, 192, 35, 35) at 299x299
        aux = None
        for name, _ in MIXED:
            x = getattr(self, name)(x)
            if name == AUX_AFTER and self.aux_logits and self.training:
                aux = self.AuxLogits(x)  # from the (N, 768, 17, 17) map
        x = flatten(self.avgpool(x), 1)  # (N, 2048)
        logits = self.fc(self.dropout(x))
        if self.aux_logits and self.training:
            return InceptionOutputs(logits, aux)
        return logits


@register_model("inception_v3", input_size=(3, 299, 299), min_size=75)
def inception_v3(num_classes=1000, in_channels=3, aux_logits=True, dropout=0.5, init_weights=True):
    """Inception-v3 (Szegedy et al. 2016) as torchvision builds it; 27,161,264 parameters with the
    auxiliary head (23,834,568 without). See ``Inception3``.

    Args:
        num_classes: outputs of the classifier and the auxiliary head. Default: 1000.
        in_channels: channels of the input. Default: 3.
        aux_logits: build the auxiliary classifier (used in training only). Default: True.
        dropout: dropout before the last FC layer. Default: 0.5.
        init_weights: torchvision's truncated-normal initialisation. Default: True.
    """
    check_positive_int("inception_v3", "num_classes", num_classes)
    check_positive_int("inception_v3", "in_channels", in_channels)
    return Inception3(num_classes, in_channels, aux_logits, dropout, init_weights)


# The auxiliary head pools the 17x17 grid with a 5x5 window at stride 3, then convolves 5x5: it fits
# the 299x299 input the network was designed for, and smaller inputs train without it.
inception_v3.aux_min_size = 299
