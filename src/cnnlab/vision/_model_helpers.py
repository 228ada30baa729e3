"""``cnnlab.vision.models``' helper functions, kept out of its namespace of architectures."""

import fnmatch

from ..models import registry as _registry


def list_models(module=None, include=None, exclude=None):
    """Architecture names, sorted; ``include``/``exclude``: fnmatch patterns or lists of them."""
    names = _registry.list_models()
    if include is not None:
        patterns = [include] if isinstance(include, str) else list(include)
        names = [n for n in names if any(fnmatch.fnmatch(n, p) for p in patterns)]
    if exclude is not None:
        patterns = [exclude] if isinstance(exclude, str) else list(exclude)
        names = [n for n in names if not any(fnmatch.fnmatch(n, p) for p in patterns)]
    return names


def get_model(name, **config):
    """Build architecture ``name`` with ``config`` (``weights=``, ``num_classes=``, ...)."""
    return _registry.get_builder(name.lower())(**config)


def get_model_builder(name):
    return _registry.get_builder(name.lower())
