"""Checkpoints as data, not code: arrays in an ``.npz`` (loaded with ``allow_pickle=False``) plus a JSON header.

Nested state (model weights, optimizer state, RNG states, history) is split into two parts: every
array goes into the archive under a path-like key, and everything else stays in a JSON document in
which each array is replaced by ``{"__array__": key}``. Files are written to a temporary file in the
same directory and renamed into place, so a crash never leaves a half-written checkpoint.
"""

import json
import os
import tempfile
import zipfile

import numpy as np

from .. import __version__, backend

FORMAT = "cnnlab-checkpoint/1"
_META_KEY = "__meta__.json"


def _split(obj, arrays, prefix):
    """Replace arrays in ``obj`` by references, collecting them in ``arrays``."""
    if isinstance(obj, np.ndarray) or hasattr(obj, "__cuda_array_interface__"):
        key = prefix or "value"
        arrays[key] = backend.asnumpy(obj)
        return {"__array__": key}
    if hasattr(obj, "data") and hasattr(obj, "requires_grad"):  # a Tensor
        return _split(obj.data, arrays, prefix)
    if isinstance(obj, dict):
        return {"__dict__": [[_key(k), _split(v, arrays, f"{prefix}/{k}")] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [_split(v, arrays, f"{prefix}/{i}") for i, v in enumerate(obj)]
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"save_checkpoint: cannot store a value of type {type(obj).__name__} at {prefix!r}; "
                    "checkpoints hold arrays, numbers, strings, lists and dicts only")


def _key(k):
    if isinstance(k, (str, int)) and not isinstance(k, bool):
        return k
    raise TypeError(f"save_checkpoint: dictionary keys must be str or int. Received {k!r}")


def _join(obj, arrays):
    if isinstance(obj, dict):
        if "__array__" in obj:
            return arrays[obj["__array__"]]
        return {k: _join(v, arrays) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [_join(v, arrays) for v in obj]
    return obj


def atomic_write(path, write, before_rename=None):
    """Call ``write(file_object)`` on a temp file beside ``path``, then rename it over ``path``.

    ``before_rename()``, if given, runs once the data is on disk but not yet in place (a test hook: an
    exception there leaves ``path`` as it was and removes the temp file).
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if before_rename is not None:
            before_rename()
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_checkpoint(path, state, before_rename=None):
    """Write ``state`` (a dict of arrays, numbers, strings, lists, dicts) to ``path`` atomically."""
    arrays = {}
    meta = {"format": FORMAT, "cnnlab_version": __version__, "state": _split(state, arrays, "")}
    header = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    atomic_write(path, lambda f: np.savez(f, **{_META_KEY: header}, **arrays), before_rename)
    return path


def load_checkpoint(path):
    """Read a checkpoint written by ``save_checkpoint``; never unpickles anything."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_checkpoint: no checkpoint file at {path!r}")
    if not zipfile.is_zipfile(path):  # np.load would otherwise try (and refuse) to unpickle it
        raise ValueError(f"load_checkpoint: {path!r} is not a readable cnnlab checkpoint (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
        header = arrays.pop(_META_KEY, None)
        meta = json.loads(header.tobytes().decode("utf-8")) if header is not None else None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError, json.JSONDecodeError) as e:
        raise ValueError(f"load_checkpoint: {path!r} is not a readable cnnlab checkpoint ({e})") from None
    if meta is None:
        raise ValueError(f"load_checkpoint: {path!r} is an .npz file but not a cnnlab checkpoint (no {_META_KEY} entry)")
    if meta.get("format") != FORMAT:
        raise ValueError(f"load_checkpoint: {path!r} has format {meta.get('format')!r}; expected {FORMAT!r}")
    return _join(meta["state"], arrays)
