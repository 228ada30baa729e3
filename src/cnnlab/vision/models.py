"""torchvision.models' names: every cnnlab zoo architecture, taking ``weights=``/``pretrained=``.

The module's namespace holds the architectures only, so the usual listing
``sorted(n for n in models.__dict__ if n.islower() and not n.startswith("__")
and callable(models.__dict__[n]))`` names models and nothing else; the helpers
(``list_models``, ``get_model``, ``get_model_builder``, ``get_weight``) and the ``*_Weights`` names are served by the module's ``__getattr__``.

``weights=None`` (or ``pretrained=False``) builds random weights. cnnlab downloads no weights: a
weights name is one error saying how to load a torchvision state dict saved as safetensors through
``cnnlab.interop.load_torch_state_dict``.
"""

from ..models import registry as _registry
from . import _model_helpers as _helpers

for _name in _registry.list_models():
    globals()[_name] = _registry.get_builder(_name)
del _name


class _WeightName(str):
    """A torchvision weights name (``ResNet18_Weights.IMAGENET1K_V1``); builders refuse it."""

    @property
    def name(self):
        return self.split(".", 1)[-1]

    def transforms(self, *args, **kwargs):
        raise ValueError(f"{self}: cnnlab has no pretrained weights, so no weights' transforms; "
                         f"build the preprocessing with cnnlab.vision.transforms (Resize, "
                         f"CenterCrop, ToTensor, Normalize)")


class _WeightsEnum:
    """Stands for torchvision's ``ResNet18_Weights`` and kin: any member is a ``_WeightName``."""

    def __init__(self, name):
        self.__name__ = name

    def __getattr__(self, member):
        if member.startswith("__"):
            raise AttributeError(member)
        return _WeightName(f"{self.__name__}.{member}")

    def __repr__(self):
        return f"<weights {self.__name__}: none in cnnlab>"


# Kept in another module: a lower-case function here would be listed as an architecture.
_HELPERS = {"list_models": _helpers.list_models, "get_model": _helpers.get_model,
            "get_model_builder": _helpers.get_model_builder, "get_weight": _WeightName}


def __getattr__(name):
    if name in _HELPERS:
        return _HELPERS[name]
    if name.endswith("_Weights"):
        return _WeightsEnum(name)
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"cnnlab.vision.models has no `{name}`; its architectures are listed by "
                         f"models.list_models(): {', '.join(_registry.list_models())}")


def __dir__():
    return sorted(list(globals()) + list(_HELPERS))
