"""Image captioning: a CNN encoder whose features start an LSTM decoder that attends over them.

After Xu et al. 2015 ("Show, Attend and Tell"), itself after Vinyals et al. 2015 ("Show and Tell"): the
encoder maps an image to a grid of feature vectors (8x8 for a 64x64 scene), each with its position
appended; their mean starts the decoder's state (h, c); the decoder, an ``nn.LSTMCell``, emits the
caption one token at a time. At each step it looks at the grid through soft attention (a softmax over
the grid's places, scored from its state) and is fed that context beside the previous token (a START
token first). A caption of ``mnist-scenes`` is its digits read left to right, then END: tokens 0-9 are
the digits, token V - 1 = 10 is END, token V (an input only) is START.

- Training uses teacher forcing: step t is fed the true token t - 1, so every step learns at once.
- Test time decodes greedily: step t is fed the decoder's own most likely token of step t - 1.

Why attention: decoded from one flattened feature vector, the same model learnt slowly (13% exact
captions after 3 epochs), since every digit class had to be learnt again at every place of the grid;
with attention the convolutions recognise a digit anywhere and the decoder only chooses where to look
next (the appended x, y coordinates tell it what "next to the right" is).
"""

import numpy as np

from .. import backend, nn
from ..autograd import no_grad
from ..data.scenes import PAD
from ..functional import cat, stack
from ..functional.activation import softmax, tanh
from ..tensor import Tensor
from ._common import check_positive_int
from .registry import register_model

# Encoder: 3x3 convolution widths ((width, stride) for a strided one) and "M" (2x2 max pool); then the
# token-embedding, attention and LSTM widths. The first convolution halves the 64x64 scene at once: a
# full-resolution stage costs as much as the three after it, and 32x32 still shows the digits.
CAPTIONER_CONFIGS = {
    "captioner": {"encoder": [(16, 2), 32, "M", 64, "M", 128], "embedding": 32, "attention": 64,
                  "hidden": 256, "dropout": 0.2},
}


class Captioner(nn.Module):
    """CNN encoder + LSTM decoder with soft attention, emitting a caption token by token.

    Args:
        num_classes: the vocabulary V: tokens 0..V-2 and END = V - 1 (11 for ``mnist-scenes``: ten
            digits and END, as many as its classes, background and ten digits).
        in_channels: image channels.
        max_length: tokens decoded per caption, END included (5: up to four digits and END).
        config: ``{"encoder": table, "embedding": E, "attention": A, "hidden": H, "dropout": p}``;
            dropout (in training) on the grid's features and on the output layer's input.

    Shape:
        ``forward(images (N, C, H, W), captions (N, T) or None) -> logits (N, T, V)``, T =
        ``max_length``;
        ``generate(images) -> tokens (N, T)`` int64, PAD (-100) after the first END;
        ``encode(images) -> (N, L, D)``: L grid places, D = encoder width + 2 (x, y).
    """

    task = "caption"

    def __init__(self, num_classes=11, in_channels=1, max_length=5,
                 config=CAPTIONER_CONFIGS["captioner"]):
        super().__init__()
        check_positive_int("captioner", "num_classes", num_classes)
        check_positive_int("captioner", "max_length", max_length)
        if num_classes < 2:
            raise ValueError(f"captioner: `num_classes` must be at least 2 (a token and END). "
                             f"Received: num_classes={num_classes}")
        self.vocab_size, self.max_length = num_classes, max_length
        self.end, self.start = num_classes - 1, num_classes
        layers, channels = [], in_channels
        for v in config["encoder"]:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
                continue
            width, stride = v if isinstance(v, tuple) else (v, 1)
            layers += [nn.Conv2d(channels, width, 3, stride=stride, padding=1, bias=False),
                       nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            channels = width
        d, e, a, h = channels + 2, config["embedding"], config["attention"], config["hidden"]
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(config["dropout"])
        self.init_h, self.init_c = nn.Linear(d, h), nn.Linear(d, h)
        self.attend_features = nn.Linear(d, a)               # W_a: each place's key
        self.attend_state = nn.Linear(h, a, bias=False)      # W_h: the decoder's query
        self.attend_score = nn.Linear(a, 1, bias=False)      # v: score = v . tanh(W_a a + W_h h)
        self.embed = nn.Embedding(num_classes + 1, e)        # the vocabulary and START
        self.cell = nn.LSTMCell(e + d, h)
        self.classifier = nn.Linear(h + d, num_classes)

    def encode(self, images):
        """The grid of feature vectors (N, L, D), each with its place's x and y in [-1, 1] appended."""
        f = self.features(images)                                               # (N, C, S, S')
        n, c, rows, cols = f.shape
        grid = self.dropout(f.reshape(n, c, rows * cols).permute(0, 2, 1))      # (N, L, C)
        y, x = np.meshgrid(np.linspace(-1, 1, rows), np.linspace(-1, 1, cols), indexing="ij")
        xp = backend.get_array_module(f._data)
        where = xp.asarray(np.stack([x.ravel(), y.ravel()], 1).astype(f.dtype))  # (L, 2)
        return cat([grid, Tensor(xp.broadcast_to(where, (n, rows * cols, 2)))], 2)

    def decode(self, annotations, captions=None):
        """Logits (N, T, V): teacher-forced on ``captions`` (N, T), else fed the greedy tokens."""
        n, places, _ = annotations.shape
        mean = annotations.mean(dim=1)                                          # (N, D)
        state = (tanh(self.init_h(mean)), tanh(self.init_c(mean)))
        keys = self.attend_features(annotations)                                # (N, L, A), once
        token = np.full(n, self.start, np.int64)
        if captions is not None:
            given = backend.asnumpy(captions._data if isinstance(captions, Tensor) else captions)
            given = np.where(given == PAD, self.end, given).astype(np.int64)   # after END: any token
        logits = []
        for t in range(self.max_length):
            query = self.attend_state(state[0]).reshape(n, 1, -1)               # (N, 1, A)
            scores = self.attend_score(tanh(keys + query)).reshape(n, places)   # (N, L)
            weights = softmax(scores, 1).reshape(n, places, 1)
            context = (weights * annotations).sum(dim=1)                        # (N, D)
            state = self.cell(cat([self.embed(Tensor(token)), context], 1), state)
            logits.append(self.classifier(self.dropout(cat([state[0], context], 1))))  # (N, V)
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


@register_model("captioner", input_size=(1, 64, 64), min_size=8, task="caption",
                recipe={"epochs": 10, "lr": 2e-3, "batch_size": 64})
def captioner(num_classes=11, in_channels=1, max_length=5):
    """CNN encoder (8x8 places of 128 features for a 64x64 scene), attending LSTM decoder (256 units)."""
    return Captioner(num_classes, in_channels, max_length, CAPTIONER_CONFIGS["captioner"])
