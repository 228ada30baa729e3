"""DenseNet (Huang et al. 2017, "Densely connected convolutional networks").

Inside a dense block every layer sees the concatenation of the block's input and of *all* earlier
layers' outputs, and adds ``growth_rate`` new channels: layer i of a block with k0 input channels
gets k0 + (i - 1) * growth_rate channels. Each layer is BN-ReLU-1x1 conv (to ``bn_size * growth_rate``
channels, the "bottleneck") then BN-ReLU-3x3 conv (to ``growth_rate``). Between blocks a transition
(BN-ReLU-1x1 conv halving the channels, 2x2 average pool) halves the resolution.

A network is (growth rate, layers per block, initial features): the paper's Table 1.
Attribute names are torchvision's (``features.denseblock1.denselayer1.conv1``,
``features.transition1.conv``, ``features.norm5``, ``classifier``), so state dicts map one to one;
parameter counts equal torchvision's (densenet121: 7,978,856).
"""

from collections import OrderedDict

from .. import nn
from ..functional import cat, flatten
from ._common import built_for_init, check_choice, init_he
from .registry import register_depths

# Huang et al. 2017, Table 1: growth rate k, layers per dense block, channels of the stem convolution.
DENSENET_CONFIGS = {
    121: (32, (6, 12, 24, 16), 64),
    161: (48, (6, 12, 36, 24), 96),
    169: (32, (6, 12, 32, 32), 64),
    201: (32, (6, 12, 48, 32), 64),
}


class DenseLayer(nn.Module):
    """BN-ReLU-conv1x1 (bottleneck to ``bn_size * growth_rate``) then BN-ReLU-conv3x3 (to ``growth_rate``).

    Takes the list of all earlier feature maps of its block and concatenates them first.

    Shape:
        ``[(N, C_1, H, W), ..., (N, C_m, H, W)] -> (N, growth_rate, H, W)``.
    """

    def __init__(self, num_input_features, growth_rate, bn_size, drop_rate=0.0):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1, stride=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, stride=1, padding=1, bias=False)
        if drop_rate > 0:
            self.dropout = nn.Dropout(p=drop_rate)

    def forward(self, features):
        x = cat(features, 1) if isinstance(features, (list, tuple)) else features
        x = self.conv1(self.relu1(self.norm1(x)))
        x = self.conv2(self.relu2(self.norm2(x)))
        return self.dropout(x) if "dropout" in self._modules else x


class DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers (``denselayer1`` ...); returns the input and every layer's output, concatenated.

    Shape:
        ``(N, C, H, W) -> (N, C + num_layers * growth_rate, H, W)``.
    """

    def __init__(self, num_layers, num_input_features, bn_size, growth_rate, drop_rate=0.0):
        super().__init__()
        for i in range(num_layers):
            layer = DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size, drop_rate)
            self.add_module(f"denselayer{i + 1}", layer)

    def forward(self, init_features):
        features = [init_features]
        for layer in self.values():
            features.append(layer(features))
        return cat(features, 1)


class Transition(nn.Sequential):
    """BN-ReLU-conv1x1 (to ``num_output_features``) then a 2x2 average pool: halves channels and resolution."""

    def __init__(self, num_input_features, num_output_features):
        super().__init__()
        self.norm = nn.BatchNorm2d(num_input_features)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(num_input_features, num_output_features, kernel_size=1, stride=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(nn.Module):
    """``features`` (stem, dense blocks and transitions, final BatchNorm ``norm5``), ReLU, global pool, ``classifier``.

    Args:
        growth_rate: channels each dense layer adds (k). Default: 32.
        block_config: dense layers in each block. Default: (6, 12, 24, 16) (DenseNet-121).
        num_init_features: filters of the 7x7/2 stem convolution. Default: 64.
        bn_size: the bottleneck has ``bn_size * growth_rate`` channels. Default: 4.
        drop_rate: dropout after each dense layer. Default: 0.
        num_classes: Default: 1000.
        in_channels: Default: 3.

    Shape:
        ``(N, C, H, W) -> (N, num_classes)``; 224x224 -> 56 after the stem, 7x7 in the last block.
    """

    def __init__(self, growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, bn_size=4,
                 drop_rate=0.0, num_classes=1000, in_channels=3):
        super().__init__()
        with built_for_init():
            self.features = nn.Sequential(OrderedDict([
                ("conv0", nn.Conv2d(in_channels, num_init_features, kernel_size=7, stride=2, padding=3, bias=False)),
                ("norm0", nn.BatchNorm2d(num_init_features)),
                ("relu0", nn.ReLU(inplace=True)),
                ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
            ]))
            channels = num_init_features
            for i, num_layers in enumerate(block_config):
                block = DenseBlock(num_layers, channels, bn_size, growth_rate, drop_rate)
                self.features.add_module(f"denseblock{i + 1}", block)
                channels += num_layers * growth_rate
                if i != len(block_config) - 1:
                    self.features.add_module(f"transition{i + 1}", Transition(channels, channels // 2))
                    channels //= 2
            self.features.add_module("norm5", nn.BatchNorm2d(channels))
            self.relu = nn.ReLU(inplace=True)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.classifier = nn.Linear(channels, num_classes)
        # torchvision's: He normal (fan_in) convolutions, BatchNorm 1/0, zero Linear bias.
        init_he(self, conv_mode="fan_in")

    def forward(self, x):
        x = self.relu(self.features(x))
        return self.classifier(flatten(self.avgpool(x), 1))


def densenet(depth=121, num_classes=1000, in_channels=3, drop_rate=0.0):
    """DenseNet-``depth`` (121, 161, 169 or 201) from the paper's Table 1."""
    check_choice("densenet", "depth", depth, tuple(DENSENET_CONFIGS))
    growth, blocks, init_features = DENSENET_CONFIGS[depth]
    return DenseNet(growth, blocks, init_features, 4, drop_rate, num_classes, in_channels)


# torchvision's parameter counts, by depth.
DENSENET_PARAMETERS = {121: "7,978,856", 161: "28,681,000", 169: "14,149,480", 201: "20,013,928"}


def _doc(depth):
    growth, blocks, _ = DENSENET_CONFIGS[depth]
    return (f"DenseNet-{depth} (Huang et al. 2017): growth rate {growth}, dense blocks of {blocks} layers, "
            f"{DENSENET_PARAMETERS[depth]} parameters (torchvision's count).\n\n"
            f"    Args: num_classes, in_channels, drop_rate.\n")


densenet121, densenet161, densenet169, densenet201 = register_depths(
    "densenet", densenet, DENSENET_PARAMETERS, _doc, input_size=(3, 224, 224), min_size=29)
