"""VGG (Simonyan & Zisserman 2014): configurations A, A-LRN, B, C, D and E of the paper's Table 1.

A configuration lists the convolutional part: a number is a 3x3 convolution (stride 1, padding 1)
with that many filters, followed by ReLU (and BatchNorm before the ReLU in the ``_bn`` variants);
``(n, 1)`` is configuration C's 1x1 convolution with ``n`` filters; ``"M"`` is a 2x2 max pool with
stride 2; ``"LRN"`` is A-LRN's local response normalisation. Every model ends with the same
classifier: FC-4096, FC-4096, FC-classes with ReLU and dropout 0.5.

Parameter counts equal the paper's Table 2 (133, 133, 133, 134, 138, 144 million) and, for A, B, D, E
and their batch-norm variants, torchvision's (vgg16: 138,357,544). Attribute names are torchvision's
(``features``, ``avgpool``, ``classifier``), so state dicts map one to one.
"""

from .. import nn
from ..functional import flatten
from ._common import built_for_init, check_choice, init_he
from .alexnet import LRN_ALPHA, LRN_BETA, LRN_K, LRN_SIZE
from .registry import register_variant

VGG_CONFIGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "A-LRN": [64, "LRN", "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "C": [64, 64, "M", 128, 128, "M", 256, 256, (256, 1), "M", 512, 512, (512, 1), "M",
          512, 512, (512, 1), "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],
}


def make_layers(config, batch_norm=False, in_channels=3):
    """The ``features`` Sequential of a VGG configuration (see the module docstring for the notation)."""
    layers, channels = [], in_channels
    for v in config:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        elif v == "LRN":
            layers.append(nn.LocalResponseNorm(LRN_SIZE, alpha=LRN_ALPHA, beta=LRN_BETA, k=LRN_K))
        else:
            out, k = v if isinstance(v, tuple) else (v, 3)
            layers.append(nn.Conv2d(channels, out, kernel_size=k, padding=k // 2))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            channels = out
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """``features`` (a configuration's convolutions), ``avgpool`` (to 7x7) and ``classifier``.

    ``avgpool`` is an identity at 224x224 input (features end at 7x7x512) and lets other input sizes
    reach the 7*7*512 = 25,088 inputs of the first fully connected layer.

    Shape:
        ``(N, C, H, W) -> (N, num_classes)``.
    """

    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        with built_for_init(init_weights):
            self.classifier = nn.Sequential(
                nn.Linear(512 * 7 * 7, 4096), nn.ReLU(inplace=True), nn.Dropout(p=dropout),
                nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(p=dropout),
                nn.Linear(4096, num_classes))
        if init_weights:
            # torchvision's: He normal (fan_out) convolutions, N(0, 0.01) fully connected layers, zero biases.
            init_he(self, conv_mode="fan_out", linear_std=0.01)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(flatten(x, 1))


def vgg(config="D", batch_norm=False, num_classes=1000, in_channels=3, init_weights=True, dropout=0.5):
    """A VGG network of configuration ``config`` ("A", "A-LRN", "B", "C", "D" or "E").

    Args:
        config: the column of the paper's Table 1.
        batch_norm: BatchNorm after every convolution (the ``_bn`` models). Default: False.
        num_classes: outputs of the last layer. Default: 1000.
        in_channels: channels of the input. Default: 3.
        init_weights: torchvision's initialisation; False keeps the layers' defaults. Default: True.
        dropout: dropout probability after FC1 and FC2. Default: 0.5.
    """
    check_choice("vgg", "config", config, tuple(VGG_CONFIGS))
    with built_for_init(init_weights):
        features = make_layers(VGG_CONFIGS[config], batch_norm, in_channels)
    return VGG(features, num_classes, init_weights, dropout)


def _register(name, config, batch_norm, doc):
    def build(num_classes=1000, in_channels=3, init_weights=True, dropout=0.5):
        return vgg(config, batch_norm, num_classes, in_channels, init_weights, dropout)

    doc = (f"VGG configuration {config}{' with BatchNorm' if batch_norm else ''}: {doc}\n\n"
           f"    Args: num_classes, in_channels, init_weights, dropout (see ``vgg``).\n")
    return register_variant(name, build, doc, input_size=(3, 224, 224), min_size=32)


vgg11 = _register("vgg11", "A", False, "8 convolutions + 3 FC layers, 132,863,336 parameters.")
vgg11_bn = _register("vgg11_bn", "A", True, "8 convolutions + 3 FC layers, 132,868,840 parameters.")
vgg11_lrn = _register("vgg11_lrn", "A-LRN", False, "configuration A with LRN after the first convolution.")
vgg13 = _register("vgg13", "B", False, "10 convolutions + 3 FC layers, 133,047,848 parameters.")
vgg13_bn = _register("vgg13_bn", "B", True, "10 convolutions + 3 FC layers, 133,053,736 parameters.")
vgg16_c = _register("vgg16_c", "C", False, "13 convolutions, three of them 1x1, + 3 FC layers (134 million).")
vgg16_c_bn = _register("vgg16_c_bn", "C", True, "configuration C with BatchNorm after every convolution.")
vgg16 = _register("vgg16", "D", False, "13 convolutions + 3 FC layers, 138,357,544 parameters.")
vgg16_bn = _register("vgg16_bn", "D", True, "13 convolutions + 3 FC layers, 138,365,992 parameters.")
vgg19 = _register("vgg19", "E", False, "16 convolutions + 3 FC layers, 143,667,240 parameters.")
vgg19_bn = _register("vgg19_bn", "E", True, "16 convolutions + 3 FC layers, 143,678,248 parameters.")
