"""The small networks of the lectures: LeNet-5 and the Fashion-MNIST network, declared as layer tables.

A table row is ``(kind, *arguments)``: ``("conv", out_channels, kernel, stride, padding)``,
``("bn",)``, ``("relu",)``, ``("tanh",)``, ``("maxpool", kernel, stride)``, ``("avgpool", kernel, stride)``;
``("fc", out_features)`` rows build the classifier after the flattened features.
"""

from .. import nn
from .registry import register_model

# LeCun et al. 1998, as the lectures give it for 28x28 input:
# 28 -conv5-> 24 -pool2-> 12 -conv5-> 8 -pool2-> 4, then 16*4*4 = 256 -> 120 -> 84 -> classes.
LENET5 = {
    "features": [("conv", 6, 5, 1, 0), ("act",), ("pool", 2, 2),
                 ("conv", 16, 5, 1, 0), ("act",), ("pool", 2, 2)],
    "classifier": [("fc", 120), ("act",), ("fc", 84), ("act",)],
}

# The lectures' Fashion-MNIST network: [CONV 5x5 16 pad 2 -> BN -> ReLU -> POOL 2x2/2] x2 (16, 32 filters)
# -> FC 7*7*32 -> 10.
FASHION_CNN = {
    "features": [("conv", 16, 5, 1, 2), ("bn",), ("relu",), ("maxpool", 2, 2),
                 ("conv", 32, 5, 1, 2), ("bn",), ("relu",), ("maxpool", 2, 2)],
    "classifier": [],
}


def make_layers(table, in_channels, activation="relu", pool="max"):
    """Build a ``Sequential`` from a layer table; returns it and the number of output channels."""
    layers, channels = [], in_channels
    acts = {"relu": nn.ReLU, "tanh": nn.Tanh}
    pools = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}
    for kind, *args in table:
        if kind == "conv":
            out, k, s, p = args
            layers.append(nn.Conv2d(channels, out, k, stride=s, padding=p))
            channels = out
        elif kind == "bn":
            layers.append(nn.BatchNorm2d(channels))
        elif kind in ("relu", "tanh"):
            layers.append(acts[kind]())
        elif kind == "act":
            layers.append(acts[activation]())
        elif kind in ("maxpool", "avgpool", "pool"):
            cls = {"maxpool": nn.MaxPool2d, "avgpool": nn.AvgPool2d}.get(kind) or pools[pool]
            layers.append(cls(*args))
        else:
            raise ValueError(f"make_layers: unknown layer kind {kind!r}")
    return nn.Sequential(*layers), channels


def make_classifier(table, in_features, num_classes, activation="relu"):
    layers, features = [nn.Flatten()], in_features
    acts = {"relu": nn.ReLU, "tanh": nn.Tanh}
    for kind, *args in table:
        if kind == "fc":
            layers.append(nn.Linear(features, args[0]))
            features = args[0]
        elif kind in ("act", "relu", "tanh"):
            layers.append(acts[activation if kind == "act" else kind]())
        elif kind == "dropout":
            layers.append(nn.Dropout(*args))
        else:
            raise ValueError(f"make_classifier: unknown layer kind {kind!r}")
    layers.append(nn.Linear(features, num_classes))
    return nn.Sequential(*layers)


class SmallCNN(nn.Module):
    """``features`` (convolutions and pooling) then ``classifier`` (flatten and fully connected layers)."""

    def __init__(self, features, classifier):
        super().__init__()
        self.features = features
        self.classifier = classifier

    def forward(self, x):
        return self.classifier(self.features(x))


@register_model("lenet5", input_size=(1, 28, 28), min_size=16)
def lenet5(num_classes=10, in_channels=1, activation="relu", pool="max", input_size=28):
    """LeNet-5 (LeCun et al. 1998) for 28x28 input: CONV-POOL-CONV-POOL-FC-FC-FC, 44,426 parameters.

    ``activation="tanh", pool="avg"`` gives the paper's squashing units and subsampling; the default
    ReLU and max pooling train faster and are what the lectures use today.
    """
    side = ((input_size - 4) // 2 - 4) // 2
    if side < 1:
        raise ValueError(f"lenet5: `input_size` must be at least 16 (two 5x5 convolutions and two 2x2 pools). "
                         f"Received: input_size={input_size}")
    features, channels = make_layers(LENET5["features"], in_channels, activation, pool)
    return SmallCNN(features, make_classifier(LENET5["classifier"], channels * side * side, num_classes, activation))


@register_model("fashion_cnn", input_size=(1, 28, 28), min_size=4)
def fashion_cnn(num_classes=10, in_channels=1, input_size=28):
    """The lectures' Fashion-MNIST network: two CONV5x5-BN-ReLU-POOL stages and one FC layer, 29,034 parameters.

    ``input_size`` (the side of a square input) sets the flattened size: 28 -> 7*7*32 = 1568 features.
    """
    side = input_size // 4  # the "same" 5x5 convolutions keep the size; each 2x2 pool halves it
    if side < 1:
        raise ValueError(f"fashion_cnn: `input_size` must be at least 4. Received: input_size={input_size}")
    features, channels = make_layers(FASHION_CNN["features"], in_channels)
    return SmallCNN(features, make_classifier(FASHION_CNN["classifier"], channels * side * side, num_classes))
