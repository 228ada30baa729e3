"""Residual networks (He et al. 2015), their pre-activation form (He et al. 2016), wide ResNets
(Zagoruyko & Komodakis 2016) and the CIFAR-10 family of He et al. 2015, Section 4.2.

Each network is a (block, blocks per stage) table. A block computes F(x) + shortcut(x): the
shortcut is the identity, or a 1x1 convolution with stride (and BatchNorm) -- a *projection*,
option B of the paper -- where the block changes the number of channels or the resolution.
The CIFAR family uses projections too (the paper's CIFAR models use option A, zero-padding
identity shortcuts, which add no parameters), so resnet20 has 272,474 parameters instead of 269,722.

Attribute names are torchvision's (``conv1``, ``bn1``, ``layer1.0.conv2``, ``layer2.0.downsample.0``,
``fc``), so the ImageNet models' state dicts map one to one onto torchvision's.
"""

from .. import nn
from ..functional import flatten
from ..nn.fusion import add_relu, conv_bn_relu
from ..validation import is_int
from ._common import built_for_init, check_choice, check_positive_int, init_he
from .registry import register_depths, register_model


def conv3x3(in_planes, out_planes, stride=1, groups=1):
    """3x3 convolution with padding 1 and no bias (BatchNorm follows)."""
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, groups=groups, bias=False)


def conv1x1(in_planes, out_planes, stride=1):
    """1x1 convolution without bias: the projection shortcut and the bottleneck's reductions."""
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)). ``expansion`` = 1."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, base_width=64):
        super().__init__()
        if base_width != 64:
            raise ValueError(f"BasicBlock: only `base_width`=64 is supported. Received: base_width={base_width}")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = conv_bn_relu(self.conv1, self.bn1, self.relu, x)  # relu(bn1(conv1(x))), one or two ops
        out = conv_bn_relu(self.conv2, self.bn2, None, out)
        return add_relu(self.relu, out, identity)                # relu(out + identity), one op


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (with the stride, as torchvision "ResNet v1.5"), 1x1 expand by ``expansion`` = 4.

    The inner width is ``planes * base_width / 64`` (wide ResNets double it with base_width 128).
    """

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, base_width=64):
        super().__init__()
        width = int(planes * (base_width / 64.0))
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = conv_bn_relu(self.conv1, self.bn1, self.relu, x)
        out = conv_bn_relu(self.conv2, self.bn2, self.relu, out)
        out = conv_bn_relu(self.conv3, self.bn3, None, out)
        return add_relu(self.relu, out, identity)


class PreActBasicBlock(nn.Module):
    """Pre-activation block (He et al. 2016): x + conv2(relu(bn2(conv1(relu(bn1(x)))))).

    BatchNorm and ReLU come *before* each convolution and nothing follows the addition, so the
    shortcut path is a clean identity from block to block: the gradient reaches early layers
    unchanged through the sums ("Identity mappings in deep residual networks").

    ``preact_input=False`` drops ``bn1`` and its ReLU (the input is already activated, e.g. by the ImageNet
    stem); the first block of a stage, and any block with a projection, projects the *activated* input.
    ``dropout`` (wide ResNets) sits between the two convolutions.
    """

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, base_width=64, preact_input=True,
                 dropout=0.0):
        super().__init__()
        if preact_input:
            self.bn1 = nn.BatchNorm2d(inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        if dropout:
            self.dropout = nn.Dropout(p=dropout)
        self.conv2 = conv3x3(planes, planes)
        self.downsample = downsample
        self.stride = stride

    def _preact(self, x):
        out = self.relu(self.bn1(x)) if "bn1" in self._modules else x
        shortcut = x if self.downsample is None else self.downsample(out)
        return out, shortcut

    def forward(self, x):
        out, shortcut = self._preact(x)
        out = conv_bn_relu(self.conv1, self.bn2, self.relu, out)
        if "dropout" in self._modules:
            out = self.dropout(out)
        return self.conv2(out) + shortcut


class PreActBottleneck(PreActBasicBlock):
    """Pre-activation bottleneck: BN-ReLU-1x1, BN-ReLU-3x3 (stride), BN-ReLU-1x1 expand; plus the shortcut."""

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, base_width=64, preact_input=True,
                 dropout=0.0):
        nn.Module.__init__(self)
        width = int(planes * (base_width / 64.0))
        if preact_input:
            self.bn1 = nn.BatchNorm2d(inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = conv1x1(inplanes, width)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)
        self.bn3 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out, shortcut = self._preact(x)
        out = conv_bn_relu(self.conv1, self.bn2, self.relu, out)
        out = conv_bn_relu(self.conv2, self.bn3, self.relu, out)
        return self.conv3(out) + shortcut


# He et al. 2015, Table 1: (block, blocks in each of conv2_x ... conv5_x).
RESNET_CONFIGS = {
    18: (BasicBlock, [2, 2, 2, 2]),
    34: (BasicBlock, [3, 4, 6, 3]),
    50: (Bottleneck, [3, 4, 6, 3]),
    101: (Bottleneck, [3, 4, 23, 3]),
    152: (Bottleneck, [3, 8, 36, 3]),
}
# He et al. 2015, Section 4.2: depth 6n + 2 -> n basic blocks in each of three stages (16, 32, 64 filters).
CIFAR_RESNET_DEPTHS = {20: 3, 32: 5, 44: 7, 56: 9, 110: 18}
IMAGENET_WIDTHS = (64, 128, 256, 512)
CIFAR_WIDTHS = (16, 32, 64)


class ResNet(nn.Module):
    """A stem, stages ``layer1`` ... ``layerK`` of residual blocks, global average pooling, ``fc``.

    Args:
        block: BasicBlock, Bottleneck, PreActBasicBlock or PreActBottleneck.
        layers: blocks per stage; the first block of every stage but the first halves the resolution.
        num_classes: outputs of ``fc``. Default: 1000.
        in_channels: channels of the input. Default: 3.
        widths: ``planes`` of each stage (outputs are ``planes * block.expansion``).
        stem: ``"imagenet"`` (7x7/2 convolution, BN, ReLU, 3x3/2 max pool: 224 -> 56) or ``"cifar"``
            (3x3 convolution, stride 1; pre-activation networks take the stem's BN-ReLU from their
            first block).
        base_width: bottleneck inner width per 64 planes (128 doubles it: wide_resnet50_2).
        dropout: dropout inside pre-activation blocks (wide ResNets). Default: 0.
        zero_init_residual: start each block's last BatchNorm at 0, so every block starts as the identity.
        stem_channels: filters of the stem convolution. Default: ``widths[0]``.

    Shape:
        ``(N, C, H, W) -> (N, num_classes)``; the ImageNet stem and stages reduce H and W by 32.
    """

    def __init__(self, block, layers, num_classes=1000, in_channels=3, widths=IMAGENET_WIDTHS, stem="imagenet",
                 base_width=64, dropout=0.0, zero_init_residual=False, stem_channels=None):
        super().__init__()
        check_choice("ResNet", "stem", stem, ("imagenet", "cifar"))
        if len(widths) != len(layers):
            raise ValueError(f"ResNet: `widths` and `layers` must have the same length. Received: widths={widths}, "
                             f"layers={layers}")
        preact = issubclass(block, PreActBasicBlock)
        with built_for_init():
            self.inplanes = widths[0] if stem_channels is None else stem_channels
            if stem == "imagenet":
                self.conv1 = nn.Conv2d(in_channels, self.inplanes, 7, stride=2, padding=3, bias=False)
                self.bn1 = nn.BatchNorm2d(self.inplanes)
                self.relu = nn.ReLU(inplace=True)
                self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            else:
                self.conv1 = conv3x3(in_channels, self.inplanes)
                if not preact:
                    self.bn1 = nn.BatchNorm2d(self.inplanes)
                    self.relu = nn.ReLU(inplace=True)
            self.base_width = base_width
            stem_activated = stem == "imagenet"
            for i, (planes, count) in enumerate(zip(widths, layers)):
                stage = self._make_layer(block, planes, count, stride=1 if i == 0 else 2, dropout=dropout,
                                         first_preact=not (i == 0 and stem_activated))
                setattr(self, f"layer{i + 1}", stage)
            channels = widths[-1] * block.expansion
            if preact:  # the extra activation after the last addition (He et al. 2016, appendix)
                self.bn_final = nn.BatchNorm2d(channels)
                self.relu_final = nn.ReLU(inplace=True)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(channels, num_classes)
        self.num_stages = len(layers)
        init_he(self, conv_mode="fan_out")
        if zero_init_residual:
            for m in self.modules():
                last = {Bottleneck: "bn3", BasicBlock: "bn2"}.get(type(m))
                if last:
                    nn.init.zeros_(getattr(m, last).weight)

    def _make_layer(self, block, planes, blocks, stride=1, dropout=0.0, first_preact=True):
        preact = issubclass(block, PreActBasicBlock)
        out = planes * block.expansion
        downsample = None
        if stride != 1 or self.inplanes != out:
            downsample = (nn.Sequential(conv1x1(self.inplanes, out, stride)) if preact
                          else nn.Sequential(conv1x1(self.inplanes, out, stride), nn.BatchNorm2d(out)))
        kw = {"preact_input": first_preact, "dropout": dropout} if preact else {}
        layers = [block(self.inplanes, planes, stride, downsample, self.base_width, **kw)]
        self.inplanes = out
        kw = {"dropout": dropout} if preact else {}
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, base_width=self.base_width, **kw))
        return nn.Sequential(*layers)

    def forward(self, x):
        if "bn1" in self._modules:
            x = conv_bn_relu(self.conv1, self.bn1, self.relu, x)
        else:
            x = self.conv1(x)
        if "maxpool" in self._modules:
            x = self.maxpool(x)
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)
        if "bn_final" in self._modules:
            x = self.relu_final(self.bn_final(x))
        return self.fc(flatten(self.avgpool(x), 1))


def resnet(depth=50, num_classes=1000, in_channels=3, zero_init_residual=False):
    """An ImageNet ResNet of ``depth`` 18, 34, 50, 101 or 152 (He et al. 2015, Table 1)."""
    check_choice("resnet", "depth", depth, tuple(RESNET_CONFIGS))
    block, layers = RESNET_CONFIGS[depth]
    return ResNet(block, layers, num_classes, in_channels, zero_init_residual=zero_init_residual)


# torchvision's parameter counts of the ImageNet ResNets, by depth.
RESNET_PARAMETERS = {18: "11,689,512", 34: "21,797,672", 50: "25,557,032", 101: "44,549,160", 152: "60,192,808"}


def _imagenet_doc(depth):
    block, layers = RESNET_CONFIGS[depth]
    return (f"ResNet-{depth} (He et al. 2015): {block.__name__}s {layers}, {RESNET_PARAMETERS[depth]} parameters "
            f"(torchvision's count).\n\n    Args: num_classes, in_channels, zero_init_residual.\n")


resnet18, resnet34, resnet50, resnet101, resnet152 = register_depths(
    "resnet", resnet, RESNET_PARAMETERS, _imagenet_doc, input_size=(3, 224, 224), min_size=1)


@register_model("wide_resnet50_2", input_size=(3, 224, 224), min_size=1)
def wide_resnet50_2(num_classes=1000, in_channels=3, zero_init_residual=False):
    """torchvision's wide ResNet-50-2: ResNet-50 with bottlenecks twice as wide inside (68,883,240 parameters)."""
    block, layers = RESNET_CONFIGS[50]
    return ResNet(block, layers, num_classes, in_channels, base_width=128, zero_init_residual=zero_init_residual)


@register_model("wide_resnet101_2", input_size=(3, 224, 224), min_size=1)
def wide_resnet101_2(num_classes=1000, in_channels=3, zero_init_residual=False):
    """torchvision's wide ResNet-101-2: ResNet-101 with bottlenecks twice as wide inside (126,886,696 parameters)."""
    block, layers = RESNET_CONFIGS[101]
    return ResNet(block, layers, num_classes, in_channels, base_width=128, zero_init_residual=zero_init_residual)


def cifar_resnet(depth=20, num_classes=10, in_channels=3):
    """A CIFAR-10 ResNet of depth 6n + 2 (He et al. 2015, Section 4.2): 3x3 convolution with 16 filters,
    three stages of n basic blocks with 16, 32, 64 filters on 32x32, 16x16, 8x8 maps, global average
    pooling, FC. Shortcuts that change shape are 1x1 projections with BatchNorm (option B), not the
    paper's zero-padding option A.
    """
    check_choice("cifar_resnet", "depth", depth, tuple(CIFAR_RESNET_DEPTHS))
    n = CIFAR_RESNET_DEPTHS[depth]
    return ResNet(BasicBlock, [n, n, n], num_classes, in_channels, widths=CIFAR_WIDTHS, stem="cifar")


def _cifar_doc(depth):
    return (f"ResNet-{depth} for CIFAR-10 (He et al. 2015, Section 4.2): {CIFAR_RESNET_DEPTHS[depth]} "
            f"basic blocks per stage, 1x1 projection shortcuts (option B).\n\n"
            f"    Args: num_classes (default 10), in_channels.\n")


resnet20, resnet32, resnet44, resnet56, resnet110 = register_depths(
    "resnet", cifar_resnet, CIFAR_RESNET_DEPTHS, _cifar_doc, input_size=(3, 32, 32), min_size=1)


@register_model("preact_resnet", input_size=(3, 224, 224), min_size=1)
def preact_resnet(depth=18, num_classes=1000, in_channels=3, stem="imagenet"):
    """Pre-activation ResNet (He et al. 2016): BN-ReLU before each convolution, identity shortcuts.

    The "slight modification" of the lectures: moving BatchNorm and ReLU off the shortcut path lets the
    gradient flow straight through every addition. With ``stem="imagenet"`` ``depth`` is 18, 34, 50,
    101 or 152 (the same tables as ``resnet``); with ``stem="cifar"`` it is 20, 32, 44, 56 or 110
    (basic blocks, 16-32-64 filters, for 32x32 input).

    The first block takes its pre-activation from the stem (ImageNet) or applies it before splitting
    into the two paths (CIFAR), and one more BN-ReLU (``bn_final``) follows the last addition, as in
    the paper's appendix. Projection shortcuts are a bare 1x1 convolution on the activated input.
    """
    check_choice("preact_resnet", "stem", stem, ("imagenet", "cifar"))
    if stem == "cifar":
        check_choice("preact_resnet", "depth", depth, tuple(CIFAR_RESNET_DEPTHS))
        n = CIFAR_RESNET_DEPTHS[depth]
        return ResNet(PreActBasicBlock, [n, n, n], num_classes, in_channels, widths=CIFAR_WIDTHS, stem="cifar")
    check_choice("preact_resnet", "depth", depth, tuple(RESNET_CONFIGS))
    block, layers = RESNET_CONFIGS[depth]
    block = PreActBasicBlock if block is BasicBlock else PreActBottleneck
    return ResNet(block, layers, num_classes, in_channels)


@register_model("wide_resnet", input_size=(3, 32, 32), min_size=1)
def wide_resnet(depth=28, widen_factor=10, num_classes=10, in_channels=3, dropout=0.0):
    """Wide ResNet WRN-depth-k (Zagoruyko & Komodakis 2016) for 32x32 input.

    Pre-activation basic blocks, (depth - 4) / 6 per stage, with 16k, 32k, 64k filters: fewer, wider
    layers. WRN-28-10 has 36,479,194 parameters (the paper's 36.5M).

    Args:
        depth: 6n + 4 (e.g. 16, 22, 28, 40). Default: 28.
        widen_factor: the width multiplier k. Default: 10.
        num_classes: Default: 10.
        in_channels: Default: 3.
        dropout: dropout between the two convolutions of each block (the paper uses 0.3). Default: 0.
    """
    fn = "wide_resnet"
    check_positive_int(fn, "widen_factor", widen_factor)
    if not is_int(depth) or depth < 10 or (depth - 4) % 6:
        raise ValueError(f"{fn}: `depth` must be 6n + 4 with n >= 1 (10, 16, 22, 28, 40, ...). "
                         f"Received: depth={depth!r}")
    n = (depth - 4) // 6
    widths = tuple(w * widen_factor for w in CIFAR_WIDTHS)
    # The stem convolution keeps 16 channels; the first block of each stage widens with a projection.
    return ResNet(PreActBasicBlock, [n, n, n], num_classes, in_channels, widths=widths, stem="cifar",
                  dropout=dropout, stem_channels=16)
