"""Freezing: choose parameters by name glob or submodule, and stop (or resume) training them.

Lives in ``nn`` because ``Module.freeze`` / ``Module.unfreeze`` use it; ``cnnlab.train.transfer`` builds
the transfer-learning recipes on top of it.
"""

import fnmatch

from .module import Module


def _prefixes(name):
    """``"layer1.0.conv1.weight"`` -> ``["layer1", "layer1.0", "layer1.0.conv1", "layer1.0.conv1.weight"]``."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _matches(name, pattern):
    """A parameter matches a glob when its full name or the name of a module holding it matches."""
    return any(fnmatch.fnmatchcase(p, pattern) for p in _prefixes(name))


def select_parameters(model, pattern=None, fn="select_parameters"):
    """``[(name, Parameter)]`` of ``model`` chosen by ``pattern``.

    Args:
        pattern: None (every parameter); a glob over dotted names, matched against each parameter's name
            and the names of the modules that hold it (``"features"``, ``"features.*"``, ``"layer[12]"``,
            ``"*.bn*"``); a submodule of ``model``; or a list of these.

    Raises:
        ValueError when a glob or module selects nothing (a typo would otherwise freeze nothing), naming
        the model's top-level modules.
    """
    if not isinstance(model, Module):
        raise TypeError(f"{fn}: `model` must be a cnnlab.nn.Module. Received an object of type {type(model).__name__}")
    named = list(model.named_parameters())
    if pattern is None:
        return named
    patterns = list(pattern) if isinstance(pattern, (list, tuple)) else [pattern]
    chosen = {}
    module_names = {id(m): n for n, m in model.named_modules()}
    for pat in patterns:
        if isinstance(pat, Module):
            if id(pat) not in module_names:
                raise ValueError(f"{fn}: the module {type(pat).__name__} given as `pattern` is not part of the model")
            ids = {id(p) for p in pat.parameters()}
            hits = [(n, p) for n, p in named if id(p) in ids]
            what = f"module {module_names[id(pat)] or '<root>'!r}"
        elif isinstance(pat, str):
            hits = [(n, p) for n, p in named if _matches(n, pat)]
            what = f"pattern {pat!r}"
        else:
            raise TypeError(f"{fn}: `pattern` must be a glob string, a submodule, a list of them, or None. "
                            f"Received an object of type {type(pat).__name__}")
        if not hits:
            top = ", ".join(n for n, _ in model.named_children())
            raise ValueError(f"{fn}: {what} matches no parameter of {type(model).__name__}. "
                             f"Its top-level modules are: {top}")
        for n, p in hits:
            chosen[n] = p
    return [(n, p) for n, p in named if n in chosen]


def freeze(model, pattern=None):
    """Stop training the parameters selected by ``pattern`` (all when None): ``requires_grad = False``.

    Frozen parameters get no gradient, so optimizers leave them exactly as they are, and the summary
    counts them as frozen. BatchNorm running statistics are buffers, not parameters: put the frozen
    layers in ``eval()`` mode too if they should not follow the new data.

    Args:
        model: a Module.
        pattern: see :func:`select_parameters`.

    Returns:
        the names of the parameters frozen.
    """
    chosen = select_parameters(model, pattern, "freeze")
    for _, p in chosen:
        p.requires_grad_(False)
        p.grad = None
    return [n for n, _ in chosen]


def unfreeze(model, pattern=None):
    """Train the parameters selected by ``pattern`` again (all when None); returns their names."""
    chosen = select_parameters(model, pattern, "unfreeze")
    for _, p in chosen:
        p.requires_grad_(True)
    return [n for n, _ in chosen]
