"""Semantic segmentation: U-Net (Ronneberger et al. 2015) and FCN (Long et al. 2015), sized for 64x64 scenes.

Both map an image (N, C, H, W) to per-pixel class scores (N, classes, H, W), trained with per-pixel
cross-entropy (``F.cross_entropy`` takes (N, C, H, W) scores and (N, H, W) targets, as PyTorch's does).

- U-Net: an encoder of [conv3x3-BN-ReLU] x2 stages, each followed by a 2x2 max pool, a bottleneck, and a
  decoder that upsamples by a 2x2 stride-2 transposed convolution, concatenates the encoder's feature map
  of the same size (the skip) and applies two more convolutions; a 1x1 convolution scores each pixel.
  The paper's valid convolutions and cropping are replaced by padded ones, so output size = input size.
- FCN: a VGG-like backbone (stages of 3x3 convolutions and pools down to 1/8), its fully connected
  layers as convolutions (a 3x3 "fc6" and 1x1 "fc7"), a 1x1 score layer, then FCN-8s's decoding:
  upsample the scores x2 by a transposed convolution initialised to bilinear interpolation, add the
  scores of the earlier pool's features (the skip), and again, back to the input's size.

The widths are a table, like the zoo's classifiers; the defaults are small enough to train on two cores.
"""

import numpy as np

from .. import nn
from ..autograd import no_grad
from ..tensor import Tensor
from ..functional import cat
from ._common import check_positive_int
from .registry import register_model

# Channels per encoder level (the last is the bottleneck); each level halves the resolution.
UNET_CONFIGS = {"unet": (8, 16, 32, 64)}
# The backbone's stages ("M": 2x2 max pool), then fc6 / fc7 widths as convolutions.
FCN_CONFIGS = {"fcn": ([16, "M", 32, "M", 64, 64, "M"], (128, 128))}


def conv_bn_relu(in_channels, out_channels, kernel_size=3):
    """A padded convolution, batch norm and ReLU: the unit both networks are built of."""
    return [nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]


def bilinear_kernel(channels, kernel_size):
    """Weights (channels, channels, k, k) of a transposed convolution that upsamples each channel
    bilinearly by ``k // 2`` (Long et al.'s initialisation of the upsampling layers)."""
    factor = (kernel_size + 1) // 2
    centre = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    og = np.arange(kernel_size)
    filt = 1 - np.abs(og - centre) / factor                                      # (k,)
    weight = np.zeros((channels, channels, kernel_size, kernel_size), np.float64)
    weight[np.arange(channels), np.arange(channels)] = np.outer(filt, filt)
    return weight


class UNet(nn.Module):
    """Encoder-decoder with concatenated skips (Ronneberger et al. 2015), padded convolutions.

    Args:
        num_classes: classes scored per pixel (background included).
        in_channels: image channels.
        widths: channels of each level, the last one the bottleneck: ``len(widths) - 1`` pools.

    Shape:
        ``(N, in_channels, H, W) -> (N, num_classes, H, W)`` for H, W >= 2^(len(widths) - 1).
    """

    task = "segment"

    def __init__(self, num_classes=11, in_channels=1, widths=UNET_CONFIGS["unet"]):
        super().__init__()
        check_positive_int("unet", "num_classes", num_classes)
        if len(widths) < 2:
            raise ValueError(f"unet: `widths` needs at least two levels (one pool). Received: widths={widths!r}")
        self.down = nn.ModuleList()
        channels = in_channels
        for w in widths:
            self.down.append(nn.Sequential(*conv_bn_relu(channels, w), *conv_bn_relu(w, w)))
            channels = w
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for w in reversed(widths[:-1]):
            self.up.append(nn.ConvTranspose2d(channels, w, 2, stride=2))
            self.merge.append(nn.Sequential(*conv_bn_relu(2 * w, w), *conv_bn_relu(w, w)))
            channels = w
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, x):
        skips = []
        for i, stage in enumerate(self.down):
            x = stage(x if i == 0 else self.pool(x))
            skips.append(x)
        x = skips.pop()
        for up, merge in zip(self.up, self.merge):
            skip = skips.pop()
            x = up(x, output_size=skip.shape[2:])   # an odd side pooled down comes back to its size
            x = merge(cat([skip, x], 1))
        return self.classifier(x)


class FCN(nn.Module):
    """Fully convolutional network with FCN-8s's skips (Long et al. 2015), for small images.

    Args:
        num_classes: classes scored per pixel (background included).
        in_channels: image channels.
        config: ``(backbone table, (fc6, fc7) widths)``; the table's entries are convolution widths and
            ``"M"`` (2x2 max pool); the scores of every pool's features but the last join as skips.

    Shape:
        ``(N, in_channels, H, W) -> (N, num_classes, H, W)`` for H, W >= 2^(pools).
    """

    task = "segment"

    def __init__(self, num_classes=11, in_channels=1, config=FCN_CONFIGS["fcn"]):
        super().__init__()
        check_positive_int("fcn", "num_classes", num_classes)
        table, (fc6, fc7) = config
        self.stages = nn.ModuleList()
        layers, channels, pooled = [], in_channels, []
        for v in table:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
                self.stages.append(nn.Sequential(*layers))
                pooled.append(channels)
                layers = []
            else:
                layers += conv_bn_relu(channels, v)
                channels = v
        if layers or not pooled:
            raise ValueError(f"fcn: the backbone table must end with a pool 'M'. Received: {table!r}")
        self.fc = nn.Sequential(*conv_bn_relu(channels, fc6, 3), *conv_bn_relu(fc6, fc7, 1))
        self.score = nn.Conv2d(fc7, num_classes, 1)
        # Skips from the earlier pools, deepest first (pool 2 then pool 1 for three pools).
        self.score_skip = nn.ModuleList([nn.Conv2d(c, num_classes, 1) for c in reversed(pooled[:-1])])
        self.upscore = nn.ModuleList([nn.ConvTranspose2d(num_classes, num_classes, 4, stride=2, padding=1,
                                                         bias=False) for _ in pooled])
        with no_grad():
            for up in self.upscore:   # start as bilinear interpolation; learnt from there
                up.weight.copy_(Tensor(bilinear_kernel(num_classes, 4).astype(up.weight.dtype)))

    def forward(self, x):
        size = x.shape[2:]
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        scores = self.score(self.fc(x))
        for up, score_skip, skip in zip(self.upscore, self.score_skip, reversed(features[:-1])):
            scores = up(scores, output_size=skip.shape[2:]) + score_skip(skip)
        return self.upscore[-1](scores, output_size=size)


# Recipes measured on 2 cores (benchmarks/RESULTS.md, "Applications"): Adam, cosine schedule, 9,000 scenes.
@register_model("unet", input_size=(1, 64, 64), min_size=8, task="segment",
                recipe={"epochs": 12, "lr": 3e-3, "batch_size": 32})
def unet(num_classes=11, in_channels=1, widths=None):
    """U-Net (Ronneberger et al. 2015) for per-pixel classes: 8-16-32 encoder, 64 bottleneck (three pools).

    The paper's network has four pools and 64-1024 channels. Three pools give each output pixel a
    96-pixel receptive field (two pools: 44), so every pixel of a digit (up to 26 pixels tall) sees the
    whole digit whose class it takes; the narrow 8-channel first level keeps the cost of an epoch
    below the two-pool 16-32-64 table's (``widths`` gives any other table).
    """
    return UNet(num_classes, in_channels, tuple(widths) if widths else UNET_CONFIGS["unet"])


@register_model("fcn", input_size=(1, 64, 64), min_size=8, task="segment",
                recipe={"epochs": 8, "lr": 3e-3, "batch_size": 32})
def fcn(num_classes=11, in_channels=1):
    """FCN-8s (Long et al. 2015) for per-pixel classes: a 3-pool backbone, bilinear-initialised upsampling."""
    return FCN(num_classes, in_channels, FCN_CONFIGS["fcn"])
