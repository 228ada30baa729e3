"""Helpers shared by the zoo's model files: fast construction without random initialisation, weight init."""

import contextlib

from .. import nn
from ..nn import init
from ..validation import is_int

_RANDOM_FILLS = ("uniform_", "normal_", "trunc_normal_")


@contextlib.contextmanager
def skip_init():
    """Build models inside this block without drawing random initial weights (they stay zero).

    Drawing 138 million random numbers for VGG16 takes seconds; counting its parameters, printing its
    summary table or loading a checkpoint into it does not need them. Only the random fills of
    ``cnnlab.nn.init`` are skipped (constant fills such as BatchNorm's ones still run), so shapes,
    names and parameter counts are exactly those of a normally built model.

    Example:
        >>> with skip_init():
        ...     model = vgg16()          # fast: weights are zero
        >>> model.num_parameters()
        138357544
    """
    saved = {name: getattr(init, name) for name in _RANDOM_FILLS}

    def keep(tensor, *args, **kwargs):
        return tensor

    try:
        for name in _RANDOM_FILLS:
            setattr(init, name, keep)
        yield
    finally:
        for name, fn in saved.items():
            setattr(init, name, fn)


def built_for_init(enabled=True):
    """Context for building layers whose random default initialisation a model's own init replaces.

    Every layer draws its default weights when constructed; a model that re-initialises them all
    (``init_he``) would pay twice (seconds for VGG). Inside this block the first draw is skipped.
    """
    return skip_init() if enabled else contextlib.nullcontext()


def init_he(model, conv_mode="fan_out", linear_std=None):
    """torchvision's initialisation for plain CNNs (VGG, ResNet, DenseNet, MobileNet).

    Convolutions: He normal (``kaiming_normal_``, ReLU gain) over ``conv_mode`` fan, zero bias;
    BatchNorm: weight 1, bias 0; Linear: N(0, ``linear_std``^2) when ``linear_std`` is given, otherwise
    PyTorch's default (``reset_parameters``); zero bias. Every Conv2d, BatchNorm and Linear parameter is
    set, so the model may be built inside ``built_for_init()``.
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            init.kaiming_normal_(m.weight, mode=conv_mode, nonlinearity="relu")
            if m.bias is not None:
                init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            if m.weight is not None:
                init.ones_(m.weight)
                init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            if linear_std is not None:
                init.normal_(m.weight, 0.0, linear_std)
            else:
                m.reset_parameters()
            if m.bias is not None:
                init.zeros_(m.bias)
    return model


def check_positive_int(fn, name, value):
    """Raise a ValueError naming ``fn`` and ``name`` unless ``value`` is a positive int."""
    if not is_int(value) or value < 1:
        raise ValueError(f"{fn}: `{name}` must be a positive int. Received: {name}={value!r}")
    return value


def check_choice(fn, name, value, choices):
    """Raise a ValueError naming ``fn``, ``name`` and the allowed values unless ``value`` is one of them."""
    if value not in choices:
        raise ValueError(f"{fn}: `{name}` must be one of {', '.join(map(repr, choices))}. "
                         f"Received: {name}={value!r}")
    return value
