"""EfficientNet-B0 to B7 (Tan & Le 2019): MBConv blocks and compound scaling.

B0 is the paper's Table 1: a 3x3/2 stem, seven stages of MBConv blocks and a 1x1 head. An MBConv
block (the MobileNetV2 inverted residual with squeeze-and-excitation) expands the channels with a
1x1 convolution, filters each channel with a depthwise k x k convolution, reweights the channels
by squeeze-and-excitation (global pool -> 1x1 -> SiLU -> 1x1 -> sigmoid, times the input), and
projects back with a linear 1x1 convolution; when the shape allows, the input is added back after
stochastic depth. Every convolution has BatchNorm and no bias; the activation is SiLU.

B1-B7 are not typed in: they are B0's table scaled (Section 3.3). Compound scaling grows depth,
width and resolution together: depth d = alpha^phi, width w = beta^phi, resolution r = gamma^phi
with alpha = 1.2, beta = 1.1, gamma = 1.15 (alpha * beta^2 * gamma^2 ~ 2, so FLOPs grow ~2^phi). A
stage's layer count becomes ceil(layers * d) and its channels round(channels * w) to a multiple
of 8. The released models (and torchvision, whose names and parameter counts these match) use the
rule's coefficients rounded by hand: ``VARIANTS`` holds them, and ``scaling_table()`` prints them
beside the rule's.
"""

import math

from .. import nn
from ..functional import flatten
from ..nn import init
from ..validation import choice, real_arg
from ._common import built_for_init, check_positive_int, skip_init
from .registry import register_variant

# Tan & Le 2019, Table 1 (EfficientNet-B0) after the stem:
# (expand ratio, kernel, stride, input channels, output channels, layers) per stage.
B0_STAGES = [
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
]
B0_RESOLUTION = 224
ALPHA, BETA, GAMMA = 1.2, 1.1, 1.15  # depth, width, resolution bases of the compound scaling rule

# The released coefficients per variant: (width multiplier, depth multiplier, resolution, dropout).
VARIANTS = {
    "b0": (1.0, 1.0, 224, 0.2),
    "b1": (1.0, 1.1, 240, 0.2),
    "b2": (1.1, 1.2, 260, 0.3),
    "b3": (1.2, 1.4, 300, 0.3),
    "b4": (1.4, 1.8, 380, 0.4),
    "b5": (1.6, 2.2, 456, 0.4),
    "b6": (1.8, 2.6, 528, 0.5),
    "b7": (2.0, 3.1, 600, 0.5),
}
# B5-B7 were trained with these BatchNorm settings (torchvision keeps them); B0-B4 use PyTorch's
# defaults.
LARGE_BN = {"eps": 0.001, "momentum": 0.01}


def make_divisible(value, divisor=8):
    """Round ``value`` to the nearest multiple of ``divisor`` (at least ``divisor``), never going
    more than 10% below it: the channel rounding of MobileNet and EfficientNet."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def scale_width(channels, width_mult):
    return make_divisible(channels * width_mult)


def scale_depth(layers, depth_mult):
    return int(math.ceil(layers * depth_mult))


def scaled_stages(width_mult, depth_mult):
    """B0's stage table with every stage's channels and layer count scaled."""
    return [
        (
            e,
            k,
            s,
            scale_width(cin, width_mult),
            scale_width(cout, width_mult),
            scale_depth(n, depth_mult),
        )
        for e, k, s, cin, cout, n in B0_STAGES
    ]


def conv_bn_act(
    in_channels, out_channels, kernel_size, stride=1, groups=1, activation=True, bn=None
):
    """Convolution ('same' padding, no bias), BatchNorm, optional SiLU: torchvision's
    ``Conv2dNormActivation`` (children ``0``, ``1``, ``2``)."""
    layers = [
        nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=(kernel_size - 1) // 2,
            groups=groups,
            bias=False,
        ),
        nn.BatchNorm2d(out_channels, **(bn or {})),
    ]
    if activation:
        layers.append(nn.SiLU(inplace=True))
    return nn.Sequential(*layers)


class SqueezeExcitation(nn.Module):
    """Channel attention (Hu et al. 2018): a per-channel scale in (0, 1) computed from the global
    average.

    Shape: ``(N, C, H, W) -> (N, C, H, W)``; the scale is ``(N, C, 1, 1)``.
    """

    def __init__(self, input_channels, squeeze_channels):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = nn.SiLU(inplace=True)
        self.scale_activation = nn.Sigmoid()

    def forward(self, x):
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return x * scale


class MBConv(nn.Module):
    """Mobile inverted bottleneck: 1x1 expand (skipped at ratio 1), k x k depthwise,
    squeeze-and-excitation (to input_channels / 4), 1x1 projection without activation; residual with
    stochastic depth when the stride is 1 and the channels match.

    Shape: ``(N, in_channels, H, W) -> (N, out_channels, ceil(H / stride), ceil(W / stride))``.
    """

    def __init__(
        self,
        expand_ratio,
        kernel,
        stride,
        in_channels,
        out_channels,
        stochastic_depth_prob,
        bn=None,
    ):
        super().__init__()
        self.use_res_connect = stride == 1 and in_channels == out_channels
        expanded = scale_width(in_channels, expand_ratio)
        layers = []
        if expanded != in_channels:
            layers.append(conv_bn_act(in_channels, expanded, 1, bn=bn))
        layers.append(conv_bn_act(expanded, expanded, kernel, stride, groups=expanded, bn=bn))
        layers.append(SqueezeExcitation(expanded, max(1, in_channels // 4)))
        layers.append(conv_bn_act(expanded, out_channels, 1, activation=False, bn=bn))
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = nn.StochasticDepth(stochastic_depth_prob, "row")
        self.out_channels = out_channels

    def forward(self, x):
        out = self.block(x)
        if self.use_res_connect:
            out = self.stochastic_depth(out) + x
        return out


class EfficientNet(nn.Module):
    """``features`` (stem, one ``Sequential`` of MBConv blocks per stage, 1x1 head to 4x the last
    stage's channels), ``avgpool``, ``classifier`` (dropout, linear): torchvision's layout and
    names.

    Args:
        stages: rows (expand ratio, kernel, stride, in, out, layers), already scaled.
        dropout: before the classifier.
        stochastic_depth_prob: the last block's drop probability; block i of n drops with
            ``stochastic_depth_prob * i / n`` (deeper blocks are dropped more often).
        num_classes, in_channels: Default 1000 and 3.
        bn: BatchNorm keyword arguments (eps, momentum).

    Shape: ``(N, C, H, W) -> (N, num_classes)``; H and W are divided by 32 before the global pool.
    """

    def __init__(
        self,
        stages,
        dropout,
        stochastic_depth_prob=0.2,
        num_classes=1000,
        in_channels=3,
        bn=None,
        init_weights=True,
    ):
        super().__init__()
        with built_for_init(init_weights):
            layers = [conv_bn_act(in_channels, stages[0][3], 3, stride=2, bn=bn)]
            total = sum(row[5] for row in stages)
            index = 0
            for expand, kernel, stride, cin, cout, n in stages:
                blocks = []
                for i in range(n):
                    blocks.append(
                        MBConv(
                            expand,
                            kernel,
                            stride if i == 0 else 1,
                            cin if i == 0 else cout,
                            cout,
                            stochastic_depth_prob * index / total,
                            bn,
                        )
                    )
                    index += 1
                layers.append(nn.Sequential(*blocks))
            head = 4 * stages[-1][4]
            layers.append(conv_bn_act(stages[-1][4], head, 1, bn=bn))
            self.features = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Sequential(
                nn.Dropout(p=dropout, inplace=True), nn.Linear(head, num_classes)
            )
        if init_weights:
            self._init_weights()

    def _init_weights(self):
        """torchvision's: He normal (fan out) convolutions, BatchNorm 1 and 0, linear
        U(+-1/sqrt(out)), zero biases."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.out_features)
                init.uniform_(m.weight, -bound, bound)
                init.zeros_(m.bias)

    def forward(self, x):
        x = flatten(self.avgpool(self.features(x)), 1)
        return self.classifier(x)


def efficientnet(
    variant="b0",
    num_classes=1000,
    in_channels=3,
    dropout=None,
    stochastic_depth_prob=0.2,
    init_weights=True,
):
    """EfficientNet ``variant`` ("b0" ... "b7"): B0's table scaled by the variant's width and depth.

    Args:
        variant: ``"b0"`` to ``"b7"``.
        num_classes, in_channels: Default 1000 and 3.
        dropout: before the classifier. Default: the variant's (0.2 for B0 up to 0.5 for B7).
        stochastic_depth_prob: drop probability of the last block. Default: 0.2.
        init_weights: torchvision's initialisation. Default: True.
    """
    fn = "efficientnet"
    choice(fn, "variant", variant, tuple(VARIANTS))
    check_positive_int(fn, "num_classes", num_classes)
    check_positive_int(fn, "in_channels", in_channels)
    real_arg(fn, "stochastic_depth_prob", stochastic_depth_prob, 0, 1)
    width, depth, _, default_dropout = VARIANTS[variant]
    bn = LARGE_BN if variant in ("b5", "b6", "b7") else None
    return EfficientNet(
        scaled_stages(width, depth),
        default_dropout if dropout is None else dropout,
        stochastic_depth_prob,
        num_classes,
        in_channels,
        bn,
        init_weights,
    )


def _register(variant):
    resolution = VARIANTS[variant][2]

    def build(
        num_classes=1000, in_channels=3, dropout=None, stochastic_depth_prob=0.2, init_weights=True
    ):
        return efficientnet(
            variant, num_classes, in_channels, dropout, stochastic_depth_prob, init_weights
        )

    doc = (
        f"EfficientNet-{variant.upper()} at {resolution}x{resolution}: B0's table with width x"
        f"{VARIANTS[variant][0]}, depth x{VARIANTS[variant][1]}. See ``efficientnet``."
    )
    return register_variant(
        f"efficientnet_{variant}", build, doc, input_size=(3, resolution, resolution), min_size=1
    )


(
    efficientnet_b0,
    efficientnet_b1,
    efficientnet_b2,
    efficientnet_b3,
    efficientnet_b4,
    efficientnet_b5,
    efficientnet_b6,
    efficientnet_b7,
) = (_register(v) for v in VARIANTS)


def scaling_table():
    """One row per variant: the rule's coefficients for the variant's phi beside the released ones.

    phi is read off the released depth multiplier (d = 1.2^phi); each row holds ``variant``,
    ``phi``, the rule's ``rule_depth``, ``rule_width``, ``rule_resolution``, the released ``depth``,
    ``width``, ``resolution``, ``dropout``, the resulting ``layers`` (MBConv blocks), ``head``
    channels and ``params`` (counted on a model built without random initialisation).
    """
    rows = []
    for variant, (width, depth, resolution, dropout) in VARIANTS.items():
        phi = math.log(depth) / math.log(ALPHA)
        stages = scaled_stages(width, depth)
        with skip_init():
            params = sum(p.numel() for p in efficientnet(variant).parameters())
        rows.append(
            {
                "variant": variant,
                "phi": phi,
                "rule_depth": ALPHA**phi,
                "rule_width": BETA**phi,
                "rule_resolution": B0_RESOLUTION * GAMMA**phi,
                "depth": depth,
                "width": width,
                "resolution": resolution,
                "dropout": dropout,
                "layers": sum(s[5] for s in stages),
                "head": 4 * stages[-1][4],
                "params": params,
            }
        )
    return rows
