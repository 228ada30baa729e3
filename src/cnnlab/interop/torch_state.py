"""PyTorch state dicts in and out: load torchvision-named weights into a zoo model, export ours for PyTorch.

The zoo uses torchvision's attribute names (``features.0.weight``, ``layer1.0.bn1.running_mean``,
``classifier.1.weight``), so a state dict maps one to one: a key either exists in the model with the
same shape or it is reported. Files: ``.safetensors`` are read with the ``safetensors`` package's NumPy
API (no PyTorch needed); ``.pt``/``.pth``/``.bin`` with ``torch.load(weights_only=True)`` (PyTorch
needed; no code in the file is run); ``.npz`` with NumPy (no pickles).
"""

import difflib
import os
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from .. import backend
from ..nn import LoadStateDictError, Module

TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
# Keys under which training scripts commonly nest the weights in a checkpoint.
NESTED_KEYS = ("state_dict", "model_state_dict", "model", "net", "weights")


class LoadReport(tuple):
    """What ``load_torch_state_dict`` did: ``missing_keys`` and ``unexpected_keys`` (non-strict loads only)
    and ``filled_keys`` (``num_batches_tracked`` counters absent from the source, set to 0)."""

    __slots__ = ()

    def __new__(cls, missing_keys, unexpected_keys, filled_keys):
        return super().__new__(cls, (list(missing_keys), list(unexpected_keys), list(filled_keys)))

    missing_keys = property(lambda self: self[0])
    unexpected_keys = property(lambda self: self[1])
    filled_keys = property(lambda self: self[2])

    def __repr__(self):
        return (f"LoadReport(missing_keys={self.missing_keys}, unexpected_keys={self.unexpected_keys}, "
                f"filled_keys={len(self.filled_keys)} num_batches_tracked)")


def _import_torch(why):
    try:
        import torch
    except ImportError:
        raise ImportError(f"{why} needs PyTorch, which is not installed (pip install torch); safetensors files "
                          f"need no PyTorch") from None
    return torch


def _import_safetensors(why):
    """``safetensors.numpy``, or an ImportError that names the pip command."""
    try:
        import safetensors.numpy as st
    except ImportError:
        raise ImportError(f"{why} needs the safetensors package, which is not installed: "
                          f"pip install safetensors") from None
    return st


def _to_numpy(key, value):
    """A state-dict value (torch tensor, NumPy array, cnnlab Tensor, number) as a NumPy array."""
    if hasattr(value, "detach") and hasattr(value, "cpu") and hasattr(value, "numpy"):   # a torch tensor
        t = value.detach().cpu()
        if str(t.dtype) in ("torch.bfloat16", "torch.float16"):
            t = t.float()
        return t.numpy()
    data = getattr(value, "data", None)
    if data is not None and hasattr(data, "shape") and not isinstance(value, np.ndarray):    # a cnnlab Tensor
        return backend.asnumpy(data)
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"load_torch_state_dict: the value of {key!r} is not numeric "
                        f"(received {type(value).__name__} of dtype {arr.dtype})")
    return arr


def read_state_dict(source):
    """An ordered ``{name: NumPy array}`` from a mapping or a file (``.safetensors``, ``.pt``/``.pth``, ``.npz``).

    Nested checkpoints (``{"state_dict": {...}}``, ``{"model": {...}}``) are unwrapped, and the ``module.``
    prefix that ``DataParallel`` adds is removed.
    """
    fn = "load_torch_state_dict"
    where = None
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        where = path
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{fn}: no such file: {path!r}")
        ext = os.path.splitext(path)[1].lower()
        if ext == ".safetensors":
            from safetensors.numpy import load_file

            source = load_file(path)
        elif ext in TORCH_SUFFIXES:
            torch = _import_torch(f"{fn}: reading {ext} file {path!r}")
            try:
                source = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as e:  # noqa: BLE001 - say which file could not be read and why
                raise ValueError(f"{fn}: cannot read {path!r} as a PyTorch state dict with weights_only=True "
                                 f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
        elif ext == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                source = {k: archive[k] for k in archive.files}
        else:
            raise ValueError(f"{fn}: unknown file type {ext!r} of {path!r}. Expected .safetensors, "
                             f"{', '.join(TORCH_SUFFIXES)} or .npz")
    if isinstance(source, Module):
        source = source.state_dict()
    if not isinstance(source, Mapping):
        raise TypeError(f"{fn}: expected a state dict (a mapping of name to tensor) or a file path. "
                        f"Received an object of type {type(source).__name__}")
    for key in NESTED_KEYS:   # {"epoch": 3, "state_dict": {...}} -> the inner dict
        inner = source.get(key)
        if isinstance(inner, Mapping) and inner and not any(hasattr(v, "shape") for k, v in source.items() if k != key):
            source = inner
            break
    out = OrderedDict()
    for key, value in source.items():
        if not isinstance(key, str):
            raise TypeError(f"{fn}: state dict keys must be strings. Received key {key!r}"
                            + (f" in {where!r}" if where else ""))
        out[key] = _to_numpy(key, value)
    if out and all(k.startswith("module.") for k in out):
        out = OrderedDict((k[len("module."):], v) for k, v in out.items())
    return out


def _closest(key, candidates):
    """The candidate whose name is most like ``key`` (a hint for renamed layers), or None."""
    close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.75)
    return close[0] if close else None


def _limit(keys, n=12):
    shown = ", ".join(keys[:n])
    return shown + (f", ... ({len(keys) - n} more)" if len(keys) > n else "")


def load_torch_state_dict(model, state_dict_or_path, strict=True):
    """Load a PyTorch (torchvision-named) state dict into ``model``, checking every name and shape first.

    Args:
        model: a zoo model (or any Module) whose names follow torchvision's.
        state_dict_or_path: a mapping of name to tensor/array (torch tensors, NumPy arrays), or a file:
            ``.safetensors`` (no PyTorch needed), ``.pt``/``.pth``/``.bin`` (``torch.load(weights_only=True)``),
            ``.npz``.
        strict: every model key must be given and every given key must exist (default). With False, keys
            on either side only are skipped; shapes must still agree.

    ``num_batches_tracked`` counters missing from the source (older checkpoints) are set to 0.
    Values are cast to the model's dtypes. Nothing changes unless everything fits.

    Returns:
        ``LoadReport(missing_keys, unexpected_keys, filled_keys)``.

    Raises:
        LoadStateDictError (a ValueError) listing the missing keys, the unexpected keys and every shape
        mismatch, e.g. a ResNet-34 checkpoint given to a ResNet-18.

    Example:
        >>> model = cnnlab.models.get("resnet18")
        >>> load_torch_state_dict(model, "resnet18-f37072fd.pth")          # torchvision's weights
    """
    fn = "load_torch_state_dict"
    if not isinstance(model, Module):
        raise TypeError(f"{fn}: `model` must be a cnnlab.nn.Module. Received an object of type "
                        f"{type(model).__name__}")
    source = read_state_dict(state_dict_or_path)
    targets = OrderedDict((name, t) for name, t in model._state_entries())
    filled = _fill_batch_counters(targets, source)
    missing, unexpected, problems = _fit_problems(targets, source, strict)
    if problems:
        where = (f" from {os.fspath(state_dict_or_path)!r}" if isinstance(state_dict_or_path, (str, os.PathLike))
                 else "")
        raise LoadStateDictError(f"{fn}: the state dict{where} does not fit {type(model).__name__} "
                                 f"({len(targets)} keys in the model, {len(source) - len(filled)} given); nothing "
                                 f"was loaded:\n  " + "\n  ".join(problems))
    usable = OrderedDict((k, v) for k, v in source.items() if k in targets)
    model.load_state_dict(usable, strict=False)
    return LoadReport(missing, unexpected, filled)


def _fill_batch_counters(targets, source):
    """Add zero ``num_batches_tracked`` counters the source lacks (older checkpoints); their names."""
    filled = []
    for name, t in targets.items():
        if name.endswith("num_batches_tracked") and name not in source:
            source[name] = np.zeros(t.shape, dtype=np.int64)
            filled.append(name)
    return filled


def _fit_problems(targets, source, strict):
    """(missing keys, unexpected keys, the lines saying why ``source`` does not fit ``targets``).

    An unexpected key with a missing key of the same shape and a close name is shown as a likely rename.
    """
    missing = [k for k in targets if k not in source]
    unexpected = [k for k in source if k not in targets]
    mismatched = [(k, tuple(source[k].shape), tuple(targets[k].shape)) for k in targets
                  if k in source and tuple(source[k].shape) != tuple(targets[k].shape)]
    problems = []
    if strict and missing:
        problems.append(f"missing keys ({len(missing)}): {_limit(missing)}")
    if strict and unexpected:
        hints = []
        for k in unexpected[:3]:
            same_shape = [m for m in missing if tuple(targets[m].shape) == tuple(source[k].shape)]
            near = _closest(k, same_shape)
            if near:
                hints.append(f"{k!r} -> {near!r}?")
        problems.append(f"unexpected keys ({len(unexpected)}): {_limit(unexpected)}"
                        + (f" (renamed? {'; '.join(hints)})" if hints else ""))
    if mismatched:
        problems.append(f"shape mismatches ({len(mismatched)}): "
                        + _limit([f"{k}: state dict {s} vs model {m}" for k, s, m in mismatched], 8))
    return missing, unexpected, problems


def to_torch_state_dict(model, as_torch=None):
    """``model``'s state dict for PyTorch: torchvision-named keys, torch tensors when PyTorch is installed.

    Args:
        as_torch: True for torch tensors (needs PyTorch), False for NumPy arrays, None for tensors when
            PyTorch is importable. ``num_batches_tracked`` stays int64, as PyTorch keeps it.

    Example:
        >>> torch_model.load_state_dict(to_torch_state_dict(model))
    """
    state = model.state_dict()
    if as_torch is None:
        try:
            import torch as _probe  # noqa: F401
            as_torch = True
        except ImportError:
            as_torch = False
    if not as_torch:
        return OrderedDict((k, backend.asnumpy(v._data)) for k, v in state.items())
    torch = _import_torch("to_torch_state_dict(as_torch=True)")
    return OrderedDict((k, torch.from_numpy(np.asarray(v, order="C"))) for k, v in state.items())


def save_torch_state_dict(model, path):
    """Write ``model``'s state dict as ``.safetensors`` (no PyTorch needed) or ``.pt``/``.pth`` (``torch.save``)."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext == ".safetensors":
        save_file = _import_safetensors("save_torch_state_dict: writing .safetensors").save_file
        save_file({k: np.asarray(v, order="C") for k, v in model.state_dict().items()}, os.fspath(path))
    elif ext in TORCH_SUFFIXES:
        torch = _import_torch(f"save_torch_state_dict: writing {ext}")
        torch.save(to_torch_state_dict(model, as_torch=True), os.fspath(path))
    else:
        raise ValueError(f"save_torch_state_dict: unknown file type {ext!r}. Expected .safetensors or "
                         f"{', '.join(TORCH_SUFFIXES)}")
    return os.fspath(path)


__all__ = ["load_torch_state_dict", "to_torch_state_dict", "save_torch_state_dict", "read_state_dict", "LoadReport"]
