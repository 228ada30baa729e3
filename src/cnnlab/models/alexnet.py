"""AlexNet (Krizhevsky, Sutskever & Hinton 2012), its one-tower torchvision form, and ZFNet (Zeiler & Fergus 2013).

The feature extractors are tables, one row per layer:
``("conv", out_channels, kernel, stride, padding, grouped)`` is a convolution followed by ReLU
(``grouped`` rows use ``groups`` when the model is built with the paper's two-GPU split),
``("lrn",)`` is local response normalisation and ``("pool", kernel, stride, ceil_mode)`` max pooling.

Attribute names are torchvision's (``features``, ``avgpool``, ``classifier``), so ``features.0.weight``
and ``classifier.1.weight`` are the same tensors in both libraries.

Shapes of the original at its 227x227x3 input (Krizhevsky et al. 2012, Section 3.5 and Figure 2):
CONV1 96 11x11/4 -> 55x55x96, POOL 3x3/2 -> 27x27x96, CONV2 256 5x5 pad 2 -> 27x27x256,
POOL -> 13x13x256, CONV3 384 -> 13x13x384, CONV4 384 -> 13x13x384, CONV5 256 -> 13x13x256,
POOL -> 6x6x256, FC6 4096, FC7 4096, FC8 1000. The pools overlap (3x3 windows, stride 2).
"""

from .. import nn
from ..functional import flatten
from ._common import check_choice
from .registry import register_model

# Local response normalisation as the paper gives it: b = a / (k + alpha * sum of n neighbours' a^2)^beta
# with n = 5, k = 2, alpha = 1e-4, beta = 0.75. LocalResponseNorm divides alpha by n (PyTorch's and
# Caffe's convention), so the paper's alpha is passed as 1e-4 * 5.
LRN_SIZE, LRN_ALPHA, LRN_BETA, LRN_K = 5, 1e-4 * 5, 0.75, 2.0

ALEXNET_CONFIGS = {
    # Krizhevsky et al. 2012: LRN after CONV1 and CONV2, each followed by an overlapping max pool.
    # CONV2, CONV4 and CONV5 see only the kernel maps on their own GPU ("grouped").
    "original": [("conv", 96, 11, 4, 0, False), ("lrn",), ("pool", 3, 2, False),
                 ("conv", 256, 5, 1, 2, True), ("lrn",), ("pool", 3, 2, False),
                 ("conv", 384, 3, 1, 1, False),
                 ("conv", 384, 3, 1, 1, True),
                 ("conv", 256, 3, 1, 1, True), ("pool", 3, 2, False)],
    # Krizhevsky 2014 ("One weird trick"), the single-tower network torchvision calls ``alexnet``.
    "owt": [("conv", 64, 11, 4, 2, False), ("pool", 3, 2, False),
            ("conv", 192, 5, 1, 2, False), ("pool", 3, 2, False),
            ("conv", 384, 3, 1, 1, False),
            ("conv", 256, 3, 1, 1, False),
            ("conv", 256, 3, 1, 1, False), ("pool", 3, 2, False)],
    # Zeiler & Fergus 2013, Figure 3: CONV1 7x7/2 (224 -> 110), CONV2 5x5/2, CONV3-5 with 512, 1024, 512
    # filters; each pool is 3x3/2 rounding up (110 -> 55, 26 -> 13, 13 -> 6), contrast normalisation
    # after the first two pools.
    "zfnet": [("conv", 96, 7, 2, 1, False), ("pool", 3, 2, True), ("lrn",),
              ("conv", 256, 5, 2, 0, False), ("pool", 3, 2, True), ("lrn",),
              ("conv", 512, 3, 1, 1, False),
              ("conv", 1024, 3, 1, 1, False),
              ("conv", 512, 3, 1, 1, False), ("pool", 3, 2, True)],
}


def make_features(table, in_channels=3, groups=1):
    """The ``features`` Sequential of a table; returns it and its output channels."""
    layers, channels = [], in_channels
    for kind, *args in table:
        if kind == "conv":
            out, k, s, p, grouped = args
            layers += [nn.Conv2d(channels, out, k, stride=s, padding=p, groups=groups if grouped else 1),
                       nn.ReLU(inplace=True)]
            channels = out
        elif kind == "lrn":
            layers.append(nn.LocalResponseNorm(LRN_SIZE, alpha=LRN_ALPHA, beta=LRN_BETA, k=LRN_K))
        elif kind == "pool":
            k, s, ceil = args
            layers.append(nn.MaxPool2d(k, stride=s, ceil_mode=ceil))
        else:
            raise ValueError(f"make_features: unknown layer kind {kind!r}")
    return nn.Sequential(*layers), channels


class AlexNet(nn.Module):
    """``features`` (convolutions), ``avgpool`` (to 6x6) and ``classifier`` (three fully connected layers).

    The classifier is DROPOUT-FC6-RELU-DROPOUT-FC7-RELU-FC8, dropout 0.5 on the inputs of FC6 and FC7
    as in the paper (and torchvision). ``avgpool`` is an identity at the paper's input size and lets
    other sizes reach the 6x6 map the classifier expects.

    Shape:
        ``(N, C, H, W) -> (N, num_classes)``.
    """

    def __init__(self, features, channels, num_classes=1000, dropout=0.5, hidden=4096):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(channels * 6 * 6, hidden), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes))

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(flatten(x, 1))


@register_model("alexnet", input_size=(3, 227, 227), min_size=67)
def alexnet(num_classes=1000, in_channels=3, groups=1, dropout=0.5):
    """AlexNet as in Krizhevsky et al. 2012, for 227x227x3 input (96-256-384-384-256 filters, LRN).

    Args:
        num_classes: outputs of FC8. Default: 1000.
        in_channels: channels of the input. Default: 3.
        groups: 2 reproduces the paper's two-GPU split: CONV2, CONV4 and CONV5 see only the half of the
            previous layer's maps on their own GPU (60,965,224 parameters, the paper's "60 million");
            1 (default) is the same network on one device (62,378,344 parameters).
        dropout: dropout probability before FC6 and FC7. Default: 0.5.
    """
    check_choice("alexnet", "groups", groups, (1, 2))
    features, channels = make_features(ALEXNET_CONFIGS["original"], in_channels, groups)
    return AlexNet(features, channels, num_classes, dropout)


@register_model("alexnet_owt", input_size=(3, 224, 224), min_size=63)
def alexnet_owt(num_classes=1000, in_channels=3, dropout=0.5):
    """The one-tower AlexNet of Krizhevsky 2014 ("One weird trick"): torchvision's ``alexnet``.

    64-192-384-256-256 filters, CONV1 padded by 2, no LRN; 61,100,840 parameters, and state-dict
    names identical to torchvision's ``alexnet``.
    """
    features, channels = make_features(ALEXNET_CONFIGS["owt"], in_channels)
    return AlexNet(features, channels, num_classes, dropout)


@register_model("zfnet", input_size=(3, 224, 224), min_size=47)
def zfnet(num_classes=1000, in_channels=3, dropout=0.5):
    """ZFNet (Zeiler & Fergus 2013): AlexNet with CONV1 7x7 stride 2 and 512-1024-512 filters in CONV3-5.

    224x224x3 -> 110x110x96 -> 55x55x96 -> 26x26x256 -> 13x13x256 -> 13x13x512 -> 13x13x1024
    -> 13x13x512 -> 6x6x512 -> FC 4096 -> FC 4096 -> num_classes.
    """
    features, channels = make_features(ALEXNET_CONFIGS["zfnet"], in_channels)
    return AlexNet(features, channels, num_classes, dropout)
