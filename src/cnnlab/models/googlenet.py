"""GoogLeNet (Szegedy et al. 2014, "Going deeper with convolutions") and its Inception modules.

The network is the paper's Table 1: ``INCEPTION_WIDTHS`` holds each module's
(#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj) row. An Inception module runs four branches
on the same input and concatenates them along the channels:
1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | 3x3 max pool (stride 1) -> 1x1,
so its output has #1x1 + #3x3 + #5x5 + pool proj channels (3a: 64 + 128 + 32 + 32 = 256).

Parameter counts (weights and biases) computed from the paper's widths: 3a 163,696, 3b 388,736,
4a 376,176, 4b 449,160, 4c 510,104, 4d 605,376, 4e 868,352, 5a 1,043,456, 5b 1,444,080; the whole
network 6,998,552 without the auxiliary heads and 13,378,280 with them. NOTE: the paper's "params"
column counts weights only, in units of 1024, and is approximate: 3a has 163,328 weights (159.5K,
printed "159K"), but 4c has 509,440 weights (497.5K) where the table prints "463K". The model follows
the widths, not the printed column.

``variant="torchvision"`` builds torchvision's ``googlenet`` instead (BatchNorm after every
convolution, no bias, no LRN, a 3x3 convolution in the "5x5" branch -- a known torchvision deviation --,
a 2x2 fourth pool and dropout 0.2; 6,624,904 parameters without the auxiliary heads). Both variants
use torchvision's attribute names (``conv1.conv``, ``inception3a.branch2.1.conv``, ``aux1.fc1``, ``fc``).
"""

from collections import namedtuple

from .. import nn
from ..functional import cat, flatten
from ._common import built_for_init, check_choice, check_positive_int, init_he
from .alexnet import LRN_ALPHA, LRN_BETA, LRN_K, LRN_SIZE
from .registry import register_model

# Szegedy et al. 2014, Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
INCEPTION_WIDTHS = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])
GoogLeNetOutputs.__doc__ = """What GoogLeNet returns in training mode with auxiliary heads (torchvision's order).

The paper adds the auxiliary losses with weight 0.3: ``loss(logits) + 0.3 * (loss(aux_logits1) +
loss(aux_logits2))``; see ``googlenet_loss``."""


class BasicConv2d(nn.Module):
    """Convolution, optional BatchNorm, ReLU; ``conv`` (and ``bn``) named as in torchvision.

    With ``batch_norm`` the convolution has no bias (BatchNorm's shift replaces it) and BatchNorm uses
    eps = 0.001, as torchvision's GoogLeNet and Inception-v3.
    """

    def __init__(self, in_channels, out_channels, batch_norm=False, **conv_kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=not batch_norm, **conv_kwargs)
        if batch_norm:
            self.bn = nn.BatchNorm2d(out_channels, eps=0.001)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.conv(x)
        if "bn" in self._modules:
            x = self.bn(x)
        return self.relu(x)


class Inception(nn.Module):
    """The Inception module: four parallel branches concatenated along the channels.

    Args:
        in_channels: channels of the input.
        ch1x1: filters of the 1x1 branch (``branch1``).
        ch3x3red, ch3x3: 1x1 reduction and 3x3 filters (``branch2``).
        ch5x5red, ch5x5: 1x1 reduction and 5x5 filters (``branch3``).
        pool_proj: 1x1 filters after the 3x3 stride-1 max pool (``branch4``).
        batch_norm: BatchNorm after every convolution. Default: False (the paper).
        branch3_kernel: kernel of ``branch3``'s second convolution: 5 (the paper) or 3 (torchvision).

    Shape:
        ``(N, in_channels, H, W) -> (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W)``.
    """

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, batch_norm=False,
                 branch3_kernel=5):
        super().__init__()
        bn = batch_norm
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj
        self.branch1 = BasicConv2d(in_channels, ch1x1, bn, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, bn, kernel_size=1),
                                     BasicConv2d(ch3x3red, ch3x3, bn, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, bn, kernel_size=1),
                                     BasicConv2d(ch5x5red, ch5x5, bn, kernel_size=branch3_kernel,
                                                 padding=branch3_kernel // 2))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv2d(in_channels, pool_proj, bn, kernel_size=1))

    def forward(self, x):
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionFactorized(nn.Module):
    """An Inception module with factorized convolutions (Szegedy et al. 2015, "Rethinking the Inception
    architecture", Figures 5 and 6).

    With ``n=None`` the 5x5 branch becomes two stacked 3x3 convolutions (same 5x5 receptive field,
    18/25 of the weights). With ``n`` given, every spatial convolution is factorized further into a
    1xn followed by an nx1 convolution: ``branch2`` is 1x1 -> 1xn -> nx1 and ``branch3`` is
    1x1 -> 1xn -> nx1 -> 1xn -> nx1 (the double-3x3 branch with n x n kernels).

    Args: as ``Inception`` (``ch5x5`` is the width of the double branch), plus ``n``.

    Shape:
        ``(N, in_channels, H, W) -> (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W)``.
    """

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, n=None,
                 batch_norm=True):
        super().__init__()
        bn = batch_norm
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj

        def spatial(cin, cout):
            """A 3x3 convolution, or 1xn then nx1; 'same' padding keeps H and W."""
            if n is None:
                return [BasicConv2d(cin, cout, bn, kernel_size=3, padding=1)]
            # An odd n pads n // 2 on both sides; an even n needs n - 1 in all, which cannot be split
            # evenly: "same" puts the odd pixel on the right/bottom, as PyTorch's padding="same" does.
            row, col = ((0, n // 2), (n // 2, 0)) if n % 2 else ("same", "same")
            return [BasicConv2d(cin, cout, bn, kernel_size=(1, n), padding=row),
                    BasicConv2d(cout, cout, bn, kernel_size=(n, 1), padding=col)]

        self.branch1 = BasicConv2d(in_channels, ch1x1, bn, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, bn, kernel_size=1),
                                     *spatial(ch3x3red, ch3x3))
        self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, bn, kernel_size=1),
                                     *spatial(ch5x5red, ch5x5), *spatial(ch5x5, ch5x5))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv2d(in_channels, pool_proj, bn, kernel_size=1))

    def forward(self, x):
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


def inception_module(in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, batch_norm=False,
                     factorized=False, n=None):
    """A reusable Inception block: the paper's module, or with ``factorized=True`` the Inception-v3 one.

    Example:
        >>> block = inception_module(192, *INCEPTION_WIDTHS["3a"])       # 192 -> 256 channels
        >>> block = inception_module(192, 64, 96, 128, 16, 32, 32, factorized=True, n=7)
    """
    fn = "inception_module"
    for name, v in (("in_channels", in_channels), ("ch1x1", ch1x1), ("ch3x3red", ch3x3red), ("ch3x3", ch3x3),
                    ("ch5x5red", ch5x5red), ("ch5x5", ch5x5), ("pool_proj", pool_proj)):
        check_positive_int(fn, name, v)
    if factorized:
        if n is not None:
            check_positive_int(fn, "n", n)
        return InceptionFactorized(in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, n, batch_norm)
    if n is not None:
        raise ValueError(f"{fn}: `n` (the 1xn / nx1 factorization) needs factorized=True. Received: n={n!r}")
    return Inception(in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, batch_norm)


# The paper's auxiliary heads pool the 4a and 4d maps with a fixed 5x5/3 window to the 4x4 their
# FC layer expects: (S - 5) // 3 + 1 = 4 for maps of 14, 15 or 16 pixels.
AUX_MAP_SIDES = (14, 16)


def map_side_after_4a(side):
    """Side of the map the auxiliary heads see (after inception 4a) for an input of ``side`` pixels.

    conv1 7x7/2 (padding 3), then three 3x3/2 max pools that round up: 224 -> 112 -> 56 -> 28 -> 14.
    """
    x = (side - 1) // 2 + 1
    for _ in range(3):
        x = -(-max(x - 3, 0) // 2) + 1  # ceil((x - 3) / 2) + 1
    return x


def paper_aux_input_range():
    """The (smallest, largest) input side for which the paper's auxiliary heads get a 14-16 pixel map."""
    fits = [s for s in range(1, 1024) if AUX_MAP_SIDES[0] <= map_side_after_4a(s) <= AUX_MAP_SIDES[1]]
    return fits[0], fits[-1]


class InceptionAux(nn.Module):
    """An auxiliary classifier on an intermediate map (after 4a and after 4d).

    The paper's: 5x5 average pool with stride 3 (14x14 -> 4x4), 1x1 convolution with 128 filters and
    ReLU, FC 1024 with ReLU, dropout 0.7, FC to the classes. ``adaptive=True`` pools to 4x4 from any
    size instead (torchvision's), which differs from the paper's windows at 14x14.
    """

    def __init__(self, in_channels, num_classes, batch_norm=False, adaptive=False, dropout=0.7):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d((4, 4)) if adaptive else nn.AvgPool2d(5, stride=3)
        self.conv = BasicConv2d(in_channels, 128, batch_norm, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.relu = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(p=dropout)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x):
        x = self.conv(self.avgpool(x))                      # (N, 128, 4, 4)
        x = self.relu(self.fc1(flatten(x, 1)))              # (N, 2048) -> (N, 1024)
        return self.fc2(self.dropout(x))


class GoogLeNet(nn.Module):
    """GoogLeNet: a stem of convolutions, nine Inception modules, global average pooling and one FC layer.

    In training mode with ``aux_logits`` it returns ``GoogLeNetOutputs(logits, aux_logits2, aux_logits1)``;
    in evaluation mode (or without auxiliary heads) only the logits: the auxiliary classifiers are
    dropped at inference, as in the paper.

    Shape:
        ``(N, C, 224, 224) -> (N, num_classes)``; module outputs at 224x224: 3a 28x28x256, 3b 28x28x480,
        4a 14x14x512, 4b 14x14x512, 4c 14x14x512, 4d 14x14x528, 4e 14x14x832, 5a 7x7x832, 5b 7x7x1024.
    """

    def __init__(self, num_classes=1000, in_channels=3, aux_logits=True, variant="paper", dropout=None,
                 dropout_aux=0.7, init_weights=True, aux_adaptive=None):
        super().__init__()
        paper = variant == "paper"
        self.aux_adaptive = (not paper) if aux_adaptive is None else bool(aux_adaptive)
        bn = not paper
        with built_for_init(init_weights):
            self.aux_logits = aux_logits
            self.conv1 = BasicConv2d(in_channels, 64, bn, kernel_size=7, stride=2, padding=3)
            self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            self.conv2 = BasicConv2d(64, 64, bn, kernel_size=1)
            self.conv3 = BasicConv2d(64, 192, bn, kernel_size=3, padding=1)
            self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            if paper:  # Figure 3: LocalRespNorm after the first pool and after the 3x3 convolution
                self.lrn1 = nn.LocalResponseNorm(LRN_SIZE, alpha=LRN_ALPHA, beta=LRN_BETA, k=LRN_K)
                self.lrn2 = nn.LocalResponseNorm(LRN_SIZE, alpha=LRN_ALPHA, beta=LRN_BETA, k=LRN_K)
            channels = 192
            kernel5 = 5 if paper else 3
            for name, widths in INCEPTION_WIDTHS.items():
                block = Inception(channels, *widths, batch_norm=bn, branch3_kernel=kernel5)
                setattr(self, "inception" + name, block)
                channels = block.out_channels
                if name == "3b":
                    self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
                elif name == "4e":
                    # The paper's table: 3x3/2 max pool (14 -> 7 rounding up); torchvision uses 2x2/2.
                    self.maxpool4 = (nn.MaxPool2d(3, stride=2, ceil_mode=True) if paper
                                     else nn.MaxPool2d(2, stride=2, ceil_mode=True))
            if aux_logits:
                self.aux1 = InceptionAux(512, num_classes, bn, adaptive=self.aux_adaptive, dropout=dropout_aux)
                self.aux2 = InceptionAux(528, num_classes, bn, adaptive=self.aux_adaptive, dropout=dropout_aux)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.dropout = nn.Dropout(p=(0.4 if paper else 0.2) if dropout is None else dropout)
            self.fc = nn.Linear(channels, num_classes)
        if init_weights:
            init_he(self, conv_mode="fan_out")

    @staticmethod
    def _check_aux_input(input_hw, map_hw):
        """The paper's fixed auxiliary pooling needs a 14-16 pixel map after 4a: say which inputs give one."""
        if AUX_MAP_SIDES[0] <= min(map_hw) and max(map_hw) <= AUX_MAP_SIDES[1]:
            return
        low, high = paper_aux_input_range()
        small = min(map_hw) < AUX_MAP_SIDES[0]
        which = f"too small, needs at least {low}" if small else f"too large, at most {high}"
        side = min(input_hw) if small else max(input_hw)
        raise ValueError(f"googlenet: a {input_hw[0]}x{input_hw[1]} input is {which} pixels for the paper's "
                         f"auxiliary heads (their 5x5/3 average pool needs a 14-16 pixel map after inception 4a; "
                         f"this input gives {map_hw[0]}x{map_hw[1]}); build with input_size={side} (adaptive "
                         f"auxiliary pooling, as torchvision's) or aux_logits=False, or feed {low}-{high} "
                         f"pixel inputs")

    def forward(self, x):
        lrn = "lrn1" in self._modules
        input_hw = tuple(x.shape[2:])
        x = self.maxpool1(self.conv1(x))                    # (N, 64, 56, 56) at 224x224
        if lrn:
            x = self.lrn1(x)
        x = self.conv3(self.conv2(x))                       # (N, 192, 56, 56)
        if lrn:
            x = self.lrn2(x)
        x = self.maxpool2(x)                                # (N, 192, 28, 28)
        x = self.inception3b(self.inception3a(x))           # (N, 480, 28, 28)
        x = self.inception4a(self.maxpool3(x))              # (N, 512, 14, 14)
        want_aux = self.aux_logits and self.training
        if want_aux and not self.aux_adaptive:
            self._check_aux_input(input_hw, tuple(x.shape[2:]))
        aux1 = self.aux1(x) if want_aux else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))  # (N, 528, 14, 14)
        aux2 = self.aux2(x) if want_aux else None
        x = self.maxpool4(self.inception4e(x))              # (N, 832, 7, 7)
        x = self.inception5b(self.inception5a(x))           # (N, 1024, 7, 7)
        x = flatten(self.avgpool(x), 1)                     # (N, 1024)
        logits = self.fc(self.dropout(x))
        if want_aux:
            return GoogLeNetOutputs(logits, aux2, aux1)
        return logits


@register_model("googlenet", input_size=(3, 224, 224), min_size=31)
def googlenet(num_classes=1000, in_channels=3, aux_logits=True, variant="paper", dropout=None, dropout_aux=0.7,
              init_weights=True, input_size=None):
    """GoogLeNet (Inception v1), 22 layers deep, as in Szegedy et al. 2014.

    Args:
        num_classes: outputs of the classifier and of the auxiliary heads. Default: 1000.
        in_channels: channels of the input. Default: 3.
        aux_logits: build the two auxiliary classifiers (used in training only). Default: True.
        variant: ``"paper"`` (true 5x5 branches, LRN, biases, no BatchNorm; 6,998,552 parameters without
            the auxiliary heads) or ``"torchvision"`` (see the module docstring; 6,624,904).
        dropout: dropout before the last FC layer. Default: 0.4 (paper), 0.2 (torchvision).
        dropout_aux: dropout in the auxiliary heads. Default: 0.7.
        init_weights: He-normal convolutions, zero biases. Default: True.
        input_size: the side of the inputs it will see, if not 224. The main path takes any side from
            the registered ``min_size`` up (its pools round up; global average pooling before the
            classifier); the paper's auxiliary heads fit inputs of 223-270 pixels only, so at other sides they pool
            adaptively to 4x4, as torchvision's do.
    """
    check_choice("googlenet", "variant", variant, ("paper", "torchvision"))
    aux_adaptive = None
    if input_size is not None:
        check_positive_int("googlenet", "input_size", input_size)
        low, high = paper_aux_input_range()
        aux_adaptive = True if not low <= input_size <= high else None
    return GoogLeNet(num_classes, in_channels, aux_logits, variant, dropout, dropout_aux, init_weights,
                     aux_adaptive)


def googlenet_loss(outputs, target, criterion, aux_weight=0.3):
    """The paper's training loss: main loss plus ``aux_weight`` times each auxiliary loss.

    ``outputs`` is what GoogLeNet returned: ``GoogLeNetOutputs`` in training, plain logits otherwise.
    """
    if isinstance(outputs, GoogLeNetOutputs):
        loss = criterion(outputs.logits, target)
        for aux in (outputs.aux_logits1, outputs.aux_logits2):
            if aux is not None:
                loss = loss + aux_weight * criterion(aux, target)
        return loss
    return criterion(outputs, target)
