"""The AlphaGo policy network (Silver et al. 2016, "Mastering the game of Go", Methods).

Input: the 19x19 board as 48 feature planes. Layer 1 is a 5x5 convolution with k filters (zero
padding 2), layers 2 to 12 are 3x3 convolutions with k filters (padding 1), each followed by ReLU;
the last layer is a 1x1 convolution with one filter and "a different bias for each location", then
a softmax over the 19 * 19 = 361 points. The board never shrinks: every layer sees 19x19.
k = 192 in the match version (128, 256 and 384 were also trained): 3,882,793 parameters.
"""

import numpy as np

from .. import backend, nn
from ._common import check_positive_int
from .registry import register_model

# Silver et al. 2016: (out channels, kernel, padding) per layer; "k" is the filter count.
ALPHAGO_POLICY = [("k", 5, 2)] + [("k", 3, 1)] * 11


class PositionBias(nn.Module):
    """Adds a learned bias of ``shape`` (C, H, W): a different bias at every position (not per channel).

    Shape:
        ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)
        self.bias = nn.Parameter(np.zeros(self.shape, dtype=backend.get_default_dtype()))

    def forward(self, x):
        if tuple(x.shape[1:]) != self.shape:
            raise ValueError(f"PositionBias: input has per-sample shape {tuple(x.shape[1:])} but the bias has shape "
                             f"{self.shape} (input shape {tuple(x.shape)})")
        return x + self.bias

    def extra_repr(self):
        return f"shape={self.shape}"


class AlphaGoPolicy(nn.Module):
    """``features`` (12 convolutions with ReLU), ``head`` (1x1 convolution, per-position bias, flatten).

    Returns the 361 logits of the move distribution (softmax is applied by the loss, as in every
    classifier of the zoo); ``softmax=True`` appends the softmax and returns probabilities.

    Shape:
        ``(N, 48, 19, 19) -> (N, 361)``.
    """

    def __init__(self, filters=192, in_channels=48, board_size=19, softmax=False):
        super().__init__()
        check_positive_int("alphago_policy", "filters", filters)
        check_positive_int("alphago_policy", "board_size", board_size)
        layers, channels = [], in_channels
        for _, k, p in ALPHAGO_POLICY:
            layers += [nn.Conv2d(channels, filters, k, padding=p), nn.ReLU(inplace=True)]
            channels = filters
        self.board_size = board_size
        self.features = nn.Sequential(*layers)
        head = [nn.Conv2d(channels, 1, 1, bias=False), PositionBias((1, board_size, board_size)), nn.Flatten()]
        if softmax:
            head.append(nn.Softmax(dim=1))
        self.head = nn.Sequential(*head)

    def forward(self, x):
        return self.head(self.features(x))


@register_model("alphago_policy", input_size=(48, 19, 19), min_size=1)
def alphago_policy(filters=192, in_channels=48, board_size=19, softmax=False):
    """AlphaGo's supervised policy network: 13 layers over a 19x19x48 board; ``filters`` k = 192 (or 128, 256, 384).

    ``flatten(head)`` gives one logit per board point (361).
    """
    return AlphaGoPolicy(filters, in_channels, board_size, softmax)
