"""MobileNet v1 (Howard et al. 2017): depthwise-separable convolutions and a width multiplier.

A depthwise-separable convolution factorizes a KxK convolution from M to N channels into a KxK
*depthwise* convolution (one filter per input channel, ``groups = M``) and a 1x1 *pointwise*
convolution mixing the channels: M*K*K + M*N weights instead of M*N*K*K, about 1/N + 1/K^2 of
the multiply-adds (8 to 9 times fewer for 3x3). Every convolution is followed by BatchNorm and ReLU
and has no bias.

``MOBILENET_V1`` is the paper's Table 1 after the first (full) 3x3/2 convolution with 32 filters:
one (pointwise filters, depthwise stride) row per separable layer. At width 1.0 the network has
4,231,976 parameters (the paper's 4.2 million) and takes 224x224x3 input to 7x7x1024.
"""

from .. import nn
from ..functional import flatten
from ..validation import is_real
from ._common import built_for_init, init_he
from .registry import register_model

# Howard et al. 2017, Table 1: (pointwise output channels, depthwise stride).
MOBILENET_V1 = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]


def conv_bn(in_channels, out_channels, stride):
    """Full 3x3 convolution (padding 1, no bias), BatchNorm, ReLU."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


def depthwise_separable(in_channels, out_channels, stride):
    """3x3 depthwise convolution (``groups=in_channels``) + BN + ReLU, then 1x1 pointwise + BN + ReLU.

    Shape:
        ``(N, in_channels, H, W) -> (N, out_channels, floor((H - 1) / stride) + 1, floor((W - 1) / stride) + 1)``.
    """
    return nn.Sequential(
        nn.Conv2d(in_channels, in_channels, 3, stride=stride, padding=1, groups=in_channels, bias=False),
        nn.BatchNorm2d(in_channels), nn.ReLU(inplace=True),
        nn.Conv2d(in_channels, out_channels, 1, bias=False),
        nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class MobileNetV1(nn.Module):
    """``features`` (a 3x3/2 convolution and 13 depthwise-separable layers), ``avgpool``, ``classifier``.

    Args:
        num_classes: Default: 1000.
        in_channels: Default: 3.
        width_mult: the width multiplier alpha: every layer gets int(alpha * channels) filters
            (alpha in (0, 1] thins the network; cost falls roughly as alpha^2). Default: 1.0.
        dropout: dropout before the classifier (not in the paper). Default: 0.

    Shape:
        ``(N, C, H, W) -> (N, num_classes)``; H and W are divided by 32 before the global pool.
    """

    def __init__(self, num_classes=1000, in_channels=3, width_mult=1.0, dropout=0.0):
        super().__init__()
        if not is_real(width_mult) or not width_mult > 0:
            raise ValueError(f"mobilenet_v1: `width_mult` must be a positive number. "
                             f"Received: width_mult={width_mult!r}")

        def width(c):
            return max(1, int(c * width_mult))

        with built_for_init():
            channels = width(32)
            layers = [conv_bn(in_channels, channels, 2)]
            for out, stride in MOBILENET_V1:
                layers.append(depthwise_separable(channels, width(out), stride))
                channels = width(out)
            self.features = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.dropout = nn.Dropout(p=dropout)
            self.classifier = nn.Linear(channels, num_classes)
        init_he(self, conv_mode="fan_out", linear_std=0.01)

    def forward(self, x):
        x = flatten(self.avgpool(self.features(x)), 1)
        return self.classifier(self.dropout(x))


@register_model("mobilenet_v1", input_size=(3, 224, 224), min_size=1)
def mobilenet_v1(num_classes=1000, in_channels=3, width_mult=1.0, dropout=0.0):
    """MobileNet v1 (Howard et al. 2017); 4,231,976 parameters at width 1.0. See ``MobileNetV1``."""
    return MobileNetV1(num_classes, in_channels, width_mult, dropout)
