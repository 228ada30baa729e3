"""``cnnlab.vision``: torchvision's ``datasets``, ``transforms``, ``models`` and ``utils`` names.
May import models, nn, optim, data and below; not train, inspect or cli.

``from torchvision import datasets, transforms, models`` becomes
``from cnnlab.vision import datasets, transforms, models``. The sub-modules load on first use.
"""

import importlib as _importlib

_SUBMODULES = ("datasets", "transforms", "models", "utils")

__all__ = list(_SUBMODULES)


def __getattr__(name):
    if name in _SUBMODULES:
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"cnnlab.vision has no `{name}`; it has {', '.join(_SUBMODULES)} "
                         f"(torchvision's io, ops and tv_tensors are not supported)")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
