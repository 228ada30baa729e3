"""The model registry: ``get(name, **config)`` builds any zoo model by name; ``list_models()`` names them.

Every registered builder also takes torchvision's ``weights=`` and ``pretrained=`` keywords: None or
False build random weights; a weights name (``"IMAGENET1K_V1"``, ``"DEFAULT"``, ``pretrained=True``)
is one error saying how to load a torchvision state-dict file instead (cnnlab downloads no
weights).
"""

import functools
import inspect

_MODELS = {}


def check_weights(name, weights=None, pretrained=None):
    """Raise unless ``weights``/``pretrained`` ask for random initial weights (None or False)."""
    if weights in (None, False) and pretrained in (None, False):
        return
    label = getattr(weights, "name", weights) if weights not in (None, False) else "DEFAULT"
    if weights not in (None, False):
        received = f"weights={label!r}"
    else:
        received = f"pretrained={pretrained!r}"
    raise ValueError(f"{name}: cnnlab does not download pretrained weights (received {received}); "
                     f"build the model with weights=None and load a torchvision state dict saved as "
                     f"safetensors: cnnlab.interop.load_torch_state_dict(model, "
                     f"'{name}.safetensors') (in PyTorch: safetensors.torch.save_file("
                     f"torchvision.models.{name}(weights={str(label)!r})"
                     f".state_dict(), '{name}.safetensors'))")


def _accepting_weights(fn, name):
    """``fn`` also taking ``weights``, ``pretrained`` and ``progress`` (torchvision's keywords)."""

    @functools.wraps(fn)
    def build(*args, weights=None, pretrained=None, progress=True, **config):
        check_weights(name, weights, pretrained)
        return fn(*args, **config)

    return build


def register_model(name, input_size=None, min_size=None, task="classify", recipe=None):
    """Decorator that registers a model builder under ``name`` with the input size it expects (C, H, W).

    ``min_size`` is the smallest square input side the model accepts (built with ``input_size=side``
    when the builder takes that argument): smaller inputs shrink to nothing in its convolutions and pools.
    ``task`` is what the model predicts, and so which labels it trains on: ``"classify"`` (a class
    per image), ``"segment"`` (a class per pixel), ``"detect"`` (boxes) or ``"caption"`` (tokens).
    ``recipe`` is the training recipe measured to reach the model's published figure on two cores, a
    dict of some of ``epochs``, ``lr`` and ``batch_size`` (``default_recipe`` returns it).
    """
    recipe = _check_recipe(name, recipe)

    def decorate(fn):
        if name in _MODELS:
            raise ValueError(f"register_model: a model named {name!r} is already registered")
        fn = _accepting_weights(fn, name)
        fn.model_name = name
        fn.input_size = input_size
        fn.min_size = min_size
        fn.task = task
        fn.recipe = recipe
        _MODELS[name] = fn
        return fn

    return decorate


def register_variant(name, build, doc, **registration):
    """Register ``build``, one variant of a family (``resnet50`` of ``resnet``), under ``name`` with ``doc``.

    A family's ``_register(depth, ...)`` defines ``build`` over its settings and returns this, so each
    variant is one line of data. ``registration``: ``register_model``'s keywords (input_size, ...).
    """
    build.__name__ = build.__qualname__ = name
    build.__doc__ = doc
    return register_model(name, **registration)(build)


def register_depths(prefix, family, depths, doc, **registration):
    """Register ``family`` at each of ``depths`` as ``<prefix><depth>`` (``resnet50``), documented by
    ``doc(depth)``; returns the builders in ``depths``' order, for the family's module to name them.

    Each builder is ``family`` with its first argument, the depth, fixed: it takes the family's other
    arguments, with their defaults, and its signature says so. ``registration``: as ``register_variant``.
    """
    return tuple(register_variant(f"{prefix}{depth}", _at_depth(family, depth), doc(depth), **registration)
                 for depth in depths)


def _at_depth(family, depth):
    """``family(depth, ...)``, signed with ``family``'s parameters after the first."""

    def build(*args, **config):
        return family(depth, *args, **config)

    build.__signature__ = inspect.Signature(list(inspect.signature(family).parameters.values())[1:])
    return build


RECIPE_KEYS = ("epochs", "lr", "batch_size")


def _check_recipe(name, recipe):
    """``recipe`` as a new dict after checking its keys and values (None: no recipe, ``{}``)."""
    if recipe is None:
        return {}
    if not isinstance(recipe, dict) or not set(recipe) <= set(RECIPE_KEYS):
        raise ValueError(f"register_model: {name}'s `recipe` must be a dict with keys among "
                         f"{', '.join(RECIPE_KEYS)}. Received: recipe={recipe!r}")
    for key in ("epochs", "batch_size"):
        v = recipe.get(key, 1)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"register_model: {name}'s recipe[{key!r}] must be a positive int. "
                             f"Received: {key}={v!r}")
    lr = recipe.get("lr", 1.0)
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < float("inf"):
        raise ValueError(f"register_model: {name}'s recipe['lr'] must be a positive finite number. "
                         f"Received: lr={lr!r}")
    return dict(recipe)


def list_models():
    """Names of every registered model, sorted."""
    return sorted(_MODELS)


def get_builder(name):
    if name not in _MODELS:
        raise ValueError(f"models.get: unknown model {name!r}. Known models: {', '.join(list_models())}")
    return _MODELS[name]


def get(name, **config):
    """Build the model registered as ``name`` with keyword ``config`` (e.g. ``num_classes=10``)."""
    return get_builder(name)(**config)


def input_size(name):
    """The (C, H, W) input a registered model expects by default."""
    return get_builder(name).input_size


def task_of(name):
    """What the registered model predicts: ``"classify"``, ``"segment"``, ``"detect"`` or ``"caption"``."""
    return getattr(get_builder(name), "task", "classify")


def min_input_size(name):
    """The smallest square input side the registered model accepts, or None where it is not declared."""
    return getattr(get_builder(name), "min_size", None)


def default_recipe(name):
    """The registered model's recommended training recipe (``epochs``, ``lr``, ``batch_size``), or ``{}``.

    A copy: changing it changes nothing registered. ``cnnlab train`` uses it for what is not given.
    """
    return dict(getattr(get_builder(name), "recipe", None) or {})
