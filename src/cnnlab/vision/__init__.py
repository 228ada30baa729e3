"""``cnnlab.vision``: torchvision's names over cnnlab: ``datasets``, ``transforms``, ``models``, ``utils``.

``from torchvision import datasets, transforms, models`` becomes
``from cnnlab.vision import datasets, transforms, models``. The sub-modules load on first use.
"""

import importlib as _importlib

_SUBMODULES = ("datasets", "transforms", "models", "utils")

__all__ = list(_SUBMODULES)


def __getattr__(name):
    if name in _SUBMODULES:
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"cnnlab.vision has no `{name}`; it has {', '.join(_SUBMODULES)} (torchvision's io, ops "
                         f"and tv_tensors are not supported)")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
