"""Image captioning: a CNN encoder whose features start an LSTM decoder (Vinyals et al. 2015, "Show and Tell").

The encoder maps an image to one feature vector; the decoder is an ``nn.LSTMCell`` whose state (h, c)
starts from that vector and that emits the caption one token at a time, each step fed the previous
token (a START token first) beside the image's features. A caption of ``mnist-scenes`` is its digits
read left to right, then END: tokens 0-9 are the digits, token V - 1 = 10 is END, token V (an
input only) is START.

- Training uses teacher forcing: step t is fed the true token t - 1, so every step learns at once.
- Test time decodes greedily: step t is fed the decoder's own most likely token of step t - 1.

The encoder flattens its last feature map (4x4 for a 64x64 scene) instead of averaging it: where a
digit stands is what orders the caption, and a global average would forget it.
"""

import numpy as np

from .. import backend, nn
from ..autograd import no_grad
from ..data.scenes import PAD
from ..functional import cat, stack
from ..functional.activation import tanh
from ..tensor import Tensor
from ._common import check_positive_int
from .registry import register_model

# Encoder: 3x3 convolution widths ((width, stride) for a strided one) and "M" (2x2 max pool); then the
# feature, token-embedding and LSTM widths. The first convolution halves the 64x64 scene at once: a
# full-resolution stage costs as much as the three after it, and 32x32 still shows the digits.
CAPTIONER_CONFIGS = {
    "captioner": {"encoder": [(16, 2), 32, "M", 64, "M", 128, "M"], "features": 256, "embedding": 32,
                  "hidden": 256},
}


class Captioner(nn.Module):
    """CNN encoder + LSTM decoder emitting a caption token by token.

    Args:
        num_classes: the vocabulary V: tokens 0..V-2 and END = V - 1 (11 for ``mnist-scenes``: ten
            digits and END, as many as its classes, background and ten digits).
        in_channels: image channels.
        input_size: the square image side the encoder's flattened features are sized for.
        max_length: tokens decoded per caption, END included (5: up to four digits and END).
        config: ``{"encoder": table, "features": F, "embedding": E, "hidden": H}``.

    Shape:
        ``forward(images (N, C, S, S), captions (N, T) or None) -> logits (N, T, V)``, T = ``max_length``;
        ``generate(images) -> tokens (N, T)`` int64, PAD (-100) after the first END.
    """

    task = "caption"

    def __init__(self, num_classes=11, in_channels=1, input_size=64, max_length=5,
                 config=CAPTIONER_CONFIGS["captioner"]):
        super().__init__()
        check_positive_int("captioner", "num_classes", num_classes)
        check_positive_int("captioner", "max_length", max_length)
        if num_classes < 2:
            raise ValueError(f"captioner: `num_classes` must be at least 2 (a token and END). "
                             f"Received: num_classes={num_classes}")
        self.vocab_size, self.max_length = num_classes, max_length
        self.end, self.start = num_classes - 1, num_classes
        layers, channels, side = [], in_channels, input_size
        for v in config["encoder"]:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
                side //= 2
                continue
            width, stride = v if isinstance(v, tuple) else (v, 1)
            layers += [nn.Conv2d(channels, width, 3, stride=stride, padding=1, bias=False),
                       nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            channels, side = width, (side - 1) // stride + 1
        if side < 1:
            raise ValueError(f"captioner: a {input_size}x{input_size} input pools to nothing in the encoder "
                             f"({config['encoder']})")
        f, e, h = config["features"], config["embedding"], config["hidden"]
        self.features = nn.Sequential(*layers)
        self.project = nn.Sequential(nn.Flatten(), nn.Linear(channels * side * side, f), nn.ReLU(inplace=True))
        self.init_h, self.init_c = nn.Linear(f, h), nn.Linear(f, h)
        self.embed = nn.Embedding(num_classes + 1, e)          # the vocabulary and START
        self.cell = nn.LSTMCell(e + f, h)
        self.classifier = nn.Linear(h, num_classes)

    def encode(self, images):
        """The images' feature vectors (N, F)."""
        return self.project(self.features(images))

    def decode(self, features, captions=None):
        """Logits (N, T, V): teacher-forced on ``captions`` (N, T), else fed the greedy tokens."""
        n = features.shape[0]
        state = (tanh(self.init_h(features)), self.init_c(features))
        token = np.full(n, self.start, np.int64)
        if captions is not None:
            given = backend.asnumpy(captions._data if isinstance(captions, Tensor) else captions)
            given = np.where(given == PAD, self.end, given).astype(np.int64)   # after END: any token
        logits = []
        for t in range(self.max_length):
            step = cat([self.embed(Tensor(token)), features], 1)               # (N, E + F)
            state = self.cell(step, state)
            logits.append(self.classifier(state[0]))                          # (N, V)
            token = given[:, t] if captions is not None else logits[-1]._data.argmax(axis=1)
        return stack(logits, 1)

    def forward(self, images, captions=None):
        return self.decode(self.encode(images), captions)

    def generate(self, images):
        """Greedy captions (N, T) int64: each step's most likely token, PAD after the first END."""
        was_training = self.training
        self.eval()                      # batch norm with its running statistics, as at test time
        try:
            with no_grad():
                logits = self.forward(images if isinstance(images, Tensor) else Tensor(images))
        finally:
            self.train(was_training)
        return tokens_of(logits._data, self.end)


def tokens_of(logits, end):
    """Greedy tokens of logits (N, T, V): the arg-max per step, PAD from the step after the first END."""
    tokens = np.asarray(backend.asnumpy(logits)).argmax(axis=2).astype(np.int64)   # (N, T)
    ended = np.cumsum(tokens == end, axis=1) > 0
    after = np.concatenate([np.zeros_like(ended[:, :1]), ended[:, :-1]], axis=1)   # past the first END
    return np.where(after, PAD, tokens)


@register_model("captioner", input_size=(1, 64, 64), min_size=16, task="caption")
def captioner(num_classes=11, in_channels=1, input_size=64, max_length=5):
    """CNN encoder (four conv-BN-ReLU + pool stages) and an LSTM decoder (256 units) for captions."""
    return Captioner(num_classes, in_channels, input_size, max_length, CAPTIONER_CONFIGS["captioner"])
