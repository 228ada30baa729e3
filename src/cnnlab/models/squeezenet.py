"""SqueezeNet (Iandola et al. 2016): AlexNet-level accuracy with 50x fewer parameters, from fire modules.

A fire module *squeezes* with 1x1 convolutions to few channels, then *expands* with 1x1 and 3x3
convolutions side by side and concatenates them. The network ends without fully connected layers:
a 1x1 convolution to the classes and global average pooling.

``SQUEEZENET_CONFIGS`` lists the feature extractor: ``("conv", out, kernel, stride)`` (with ReLU),
``"M"`` a 3x3/2 max pool rounding up, ``(squeeze, expand1x1, expand3x3)`` a fire module.
Version 1.1 moves the pools earlier and uses a 3x3 first convolution: 2.4x less computation, same
accuracy. Attribute names (``features.3.squeeze``, ``features.3.expand1x1``, ``classifier.1``) and
parameter counts are torchvision's: 1,248,424 (1.0) and 1,235,496 (1.1).
"""

from .. import nn
from ..functional import cat, flatten
from ..nn import init
from ._common import built_for_init, check_choice
from .registry import register_model

SQUEEZENET_CONFIGS = {
    "1_0": [("conv", 96, 7, 2), "M", (16, 64, 64), (16, 64, 64), (32, 128, 128), "M",
            (32, 128, 128), (48, 192, 192), (48, 192, 192), (64, 256, 256), "M", (64, 256, 256)],
    "1_1": [("conv", 64, 3, 2), "M", (16, 64, 64), (16, 64, 64), "M", (32, 128, 128), (32, 128, 128), "M",
            (48, 192, 192), (48, 192, 192), (64, 256, 256), (64, 256, 256)],
}


class Fire(nn.Module):
    """Squeeze (1x1, ReLU) then expand with 1x1 and 3x3 convolutions (ReLU), concatenated.

    Shape:
        ``(N, inplanes, H, W) -> (N, expand1x1_planes + expand3x3_planes, H, W)``.
    """

    def __init__(self, inplanes, squeeze_planes, expand1x1_planes, expand3x3_planes):
        super().__init__()
        self.inplanes = inplanes
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))
        return cat([self.expand1x1_activation(self.expand1x1(x)),
                    self.expand3x3_activation(self.expand3x3(x))], 1)


class SqueezeNet(nn.Module):
    """``features`` (convolution, pools, fire modules) and ``classifier`` (dropout, 1x1 conv, ReLU, global pool).

    Shape:
        ``(N, C, H, W) -> (N, num_classes)``.
    """

    def __init__(self, version="1_0", num_classes=1000, in_channels=3, dropout=0.5):
        super().__init__()
        check_choice("squeezenet", "version", version, tuple(SQUEEZENET_CONFIGS))
        with built_for_init():
            layers, channels = [], in_channels
            for row in SQUEEZENET_CONFIGS[version]:
                if row == "M":
                    layers.append(nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True))
                elif row[0] == "conv":
                    _, out, k, s = row
                    layers += [nn.Conv2d(channels, out, kernel_size=k, stride=s), nn.ReLU(inplace=True)]
                    channels = out
                else:
                    squeeze, e1, e3 = row
                    layers.append(Fire(channels, squeeze, e1, e3))
                    channels = e1 + e3
            self.num_classes = num_classes
            self.features = nn.Sequential(*layers)
            final_conv = nn.Conv2d(channels, num_classes, kernel_size=1)
            self.classifier = nn.Sequential(nn.Dropout(p=dropout), final_conv, nn.ReLU(inplace=True),
                                            nn.AdaptiveAvgPool2d((1, 1)))
        # torchvision's: He uniform convolutions, N(0, 0.01) for the last one, zero biases.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    init.kaiming_uniform_(m.weight)
                init.zeros_(m.bias)

    def forward(self, x):
        return flatten(self.classifier(self.features(x)), 1)


@register_model("squeezenet1_0", input_size=(3, 224, 224), min_size=21)
def squeezenet1_0(num_classes=1000, in_channels=3, dropout=0.5):
    """SqueezeNet 1.0 (Iandola et al. 2016, Table 1): 1,248,424 parameters."""
    return SqueezeNet("1_0", num_classes, in_channels, dropout)


@register_model("squeezenet1_1", input_size=(3, 224, 224), min_size=17)
def squeezenet1_1(num_classes=1000, in_channels=3, dropout=0.5):
    """SqueezeNet 1.1: 3x3 first convolution and earlier pools; 1,235,496 parameters, 2.4x fewer multiply-adds."""
    return SqueezeNet("1_1", num_classes, in_channels, dropout)
