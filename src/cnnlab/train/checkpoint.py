"""Checkpoints as data, not code: arrays in an ``.npz`` (read with ``allow_pickle=False``) + JSON.

Nested state (model weights, optimizer state, RNG states, history) is split into two parts: every
array goes into the archive under a path-like key, and everything else stays in a JSON document in
which each array is replaced by ``{"__array__": key}``. Files are written to a temporary file in the
same directory and renamed into place, so a crash never leaves a half-written checkpoint.
"""

import json
import os
import zipfile

import numpy as np

from .. import __version__, backend, resources
from ..serialization import npz_members

FORMAT = "cnnlab-checkpoint/1"
_META_KEY = "__meta__.json"


def _split(obj, arrays, prefix):
    """Replace arrays in ``obj`` by references, collecting them in ``arrays``."""
    if isinstance(obj, np.ndarray) or hasattr(obj, "__cuda_array_interface__"):
        key = prefix or "value"
        arrays[key] = backend.asnumpy(obj)
        return {"__array__": key}
    if hasattr(obj, "data") and hasattr(obj, "requires_grad"):  # a Tensor
        return _split(obj._data, arrays, prefix)
    if isinstance(obj, dict):
        return {"__dict__": [[_key(k), _split(v, arrays, f"{prefix}/{k}")] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [_split(v, arrays, f"{prefix}/{i}") for i, v in enumerate(obj)]
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"save_checkpoint: cannot store a value of type {type(obj).__name__} at "
                    f"{prefix!r}; "
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
    """Call ``write(file_object)`` on a temp file beside ``path``, then rename it over ``path``
    (``resources.atomic_write``: a temporary name within the file system's name limit, and an
    ``OSError`` such as a full disk naming ``path``).

    ``before_rename()``, if given, runs once the data is on disk but not yet in place (a test
    hook: an exception there leaves ``path`` as it was and removes the temp file).
    """
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    resources.atomic_write(path, write, before_rename)


def save_checkpoint(path, state, before_rename=None):
    """Write ``state`` (a dict of arrays, numbers, strings, lists, dicts) to ``path`` atomically."""
    arrays = {}
    meta = {"format": FORMAT, "cnnlab_version": __version__, "state": _split(state, arrays, "")}
    header = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    atomic_write(path, lambda f: np.savez(f, **{_META_KEY: header}, **arrays), before_rename)
    return path


# Limits checked before anything is allocated (a crafted header must not exhaust memory or stack).
MAX_TOTAL_BYTES = 16 * 2 ** 30   # all arrays together
MAX_HEADER_BYTES = 64 * 2 ** 20  # the JSON header
MAX_DEPTH = 64                   # nesting of the JSON header


class CheckpointError(ValueError):
    """A file that is not a valid cnnlab checkpoint (the CLI says so in one line, exit status 2)."""


def _refuse(path, why):
    return CheckpointError(f"load_checkpoint: {os.fspath(path)!r} is not a valid cnnlab "
                           f"checkpoint: {why}")


def _member_headers(path, zf):
    """Each member's (shape, dtype) from its .npy header alone, with the size checks of
    ``serialization.npz_members`` (exact sizes, no zip bomb, ``MAX_TOTAL_BYTES``) and the memory
    available now."""
    try:
        members = npz_members(zf, MAX_TOTAL_BYTES)
    except ValueError as e:
        raise _refuse(path, str(e)) from None
    total, free = sum(m[2] for m in members.values()), resources.available_memory()
    if free is not None and total > free:
        raise _refuse(path, f"its arrays need {resources.format_bytes(total)}, more than the "
                            f"{resources.format_bytes(free)} of memory available")
    return {name: (shape, dtype) for name, (shape, dtype, _) in members.items()}


def _check_header(path, node, arrays):
    """Walk the JSON header without recursion: the schema of references and dicts, and the depth;
    every array of the archive must be referenced (an archive holds nothing its header does not
    name)."""
    stack, named = [(node, 1)], set()
    while stack:
        obj, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _refuse(path, f"its header is nested deeper than {MAX_DEPTH} levels")
        if isinstance(obj, dict):
            if "__array__" in obj:
                key = obj["__array__"]
                if len(obj) != 1 or not isinstance(key, str):
                    raise _refuse(path, f"malformed array reference {json.dumps(obj)[:80]}")
                if key not in arrays:
                    raise _refuse(path, f"the header refers to array {key!r}, which the file does "
                                        "not hold")
                named.add(key)
                continue
            entries = obj.get("__dict__")
            if len(obj) != 1 or not isinstance(entries, list):
                raise _refuse(path, f"malformed dictionary {json.dumps(obj)[:80]} (expected "
                                    "{'__dict__': [...]})")
            for entry in entries:
                if (not isinstance(entry, list) or len(entry) != 2 or isinstance(entry[0], bool)
                        or not isinstance(entry[0], (str, int))):
                    raise _refuse(path, f"malformed dictionary entry {json.dumps(entry)[:80]}")
                stack.append((entry[1], depth + 1))
        elif isinstance(obj, list):
            stack.extend((v, depth + 1) for v in obj)
    unnamed = sorted(set(arrays) - named)
    if unnamed:
        shown = ", ".join(repr(k) for k in unnamed[:3]) + (", ..." if len(unnamed) > 3 else "")
        raise _refuse(path, f"it holds {len(unnamed)} array(s) its header never names ({shown})")


def load_checkpoint(path):
    """Read a checkpoint written by ``save_checkpoint``; never unpickles anything.

    Everything is checked before it is used or allocated: the archive's members (numeric .npy arrays
    whose declared shapes fit their sizes and ``MAX_TOTAL_BYTES``), the JSON header's schema and
    depth and every array reference. Any problem is a ``CheckpointError`` (a ValueError), one line.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise CheckpointError(f"load_checkpoint: {path!r} is a directory, not a checkpoint file")
    resources.check_regular_file(path, "load_checkpoint")  # a FIFO would block the open
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_checkpoint: no checkpoint file at {path!r}")
    if not zipfile.is_zipfile(path):  # np.load would otherwise try (and refuse) to unpickle it
        raise CheckpointError(f"load_checkpoint: {path!r} is not a readable cnnlab checkpoint "
                              "(not an .npz archive)")
    try:
        with zipfile.ZipFile(path) as zf:
            headers = _member_headers(path, zf)
            meta_header = headers.pop(_META_KEY, None)
            if meta_header is None:
                raise CheckpointError(f"load_checkpoint: {path!r} is an .npz file but not a cnnlab "
                                      f"checkpoint (no {_META_KEY} entry)")
            shape, dtype = meta_header
            if dtype != np.uint8 or len(shape) != 1 or shape[0] > MAX_HEADER_BYTES:
                raise _refuse(path, f"its header {_META_KEY} must be at most {MAX_HEADER_BYTES:,} "
                                    f"bytes of uint8; it is {dtype} of shape {shape}")
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(archive[_META_KEY].tobytes().decode("utf-8"))
            if not isinstance(meta, dict):
                raise _refuse(path, f"its header is a JSON {type(meta).__name__}, not an object")
            if meta.get("format") != FORMAT:
                got = meta.get("format")
                raise CheckpointError(f"load_checkpoint: {path!r} has format {got!r}; expected "
                                      f"{FORMAT!r}")
            if "state" not in meta:
                raise _refuse(path, "its header has no 'state'")
            _check_header(path, meta["state"], headers)
            arrays = {k: archive[k] for k in headers}
    except CheckpointError:
        raise
    except RecursionError:
        raise _refuse(path, "its header is nested too deeply") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError, UnicodeDecodeError) as e:
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(f"load_checkpoint: {path!r} is not a readable cnnlab checkpoint "
                              f"({why})") from None
    return _join(meta["state"], arrays)


# What a trained model's metadata may hold: enough for any zoo model, far below exhausting memory.
MAX_CLASSES = 100_000
MAX_SIDE = 8192
MAX_CHANNELS = 1024


def _is_int(v, lo, hi):
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _finite_numbers(v, n):
    return (isinstance(v, list) and len(v) == n and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and np.isfinite(x) for x in v))


def check_trained_state(state, path, fn="load_trained"):
    """Check what rebuilding a trained model needs, before anything is built; returns the meta.

    The metadata: model name, config (class count, channels, input size within limits), class names
    (one per class), input size, the preprocessing (``normalize`` mean and std per channel); and the
    weights: a dict of arrays, all finite. Raises ``CheckpointError`` naming the first problem.
    """
    def refuse(why):
        return CheckpointError(f"{fn}: {os.fspath(path)!r} cannot be used: {why}")

    if not isinstance(state, dict) or not isinstance(state.get("meta"), dict):
        raise refuse("it holds no model metadata; was it written by cnnlab train?")
    if "model" not in state:
        raise refuse("it holds no model weights (no 'model' entry)")
    meta, weights = state["meta"], state["model"]
    if not isinstance(weights, dict) or not all(isinstance(k, str) and isinstance(v, np.ndarray)
                                                for k, v in weights.items()):
        raise refuse("its 'model' entry is not a dict of named arrays")
    if not isinstance(meta.get("model"), str):
        raise refuse(f"its metadata names no model (model={meta.get('model')!r})")
    config = meta.get("config", {})
    if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
        raise refuse(f"its model config is not a dict of settings (config={config!r:.80})")
    for key, (lo, hi) in {"num_classes": (1, MAX_CLASSES), "in_channels": (1, MAX_CHANNELS),
                          "input_size": (1, MAX_SIDE)}.items():
        if key in config and not _is_int(config[key], lo, hi):
            raise refuse(f"config {key}={config[key]!r:.40} is not an int in {lo}..{hi}")
    classes = meta.get("classes")
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        raise refuse(f"its class names are not a non-empty list of strings "
                     f"(classes={classes!r:.80})")
    if len(classes) > MAX_CLASSES or config.get("num_classes", len(classes)) != len(classes):
        raise refuse(f"it names {len(classes)} classes but its model predicts "
                     f"{config.get('num_classes')}")
    size = meta.get("input_size")
    if not (isinstance(size, list) and len(size) == 3 and _is_int(size[0], 1, MAX_CHANNELS)
            and all(_is_int(v, 1, MAX_SIDE) for v in size[1:])):
        raise refuse(f"its input_size is not [channels, height, width] within limits "
                     f"(input_size={size!r:.80})")
    if config.get("in_channels", size[0]) != size[0]:
        raise refuse(f"its input_size has {size[0]} channels but its config "
                     f"{config['in_channels']}")
    norm = meta.get("normalize")
    if not isinstance(norm, dict):
        raise refuse("it records no preprocessing (the 'normalize' mean and std of training); "
                     "without it inputs would be scaled differently from training")
    if not (_finite_numbers(norm.get("mean"), size[0]) and _finite_numbers(norm.get("std"), size[0])
            and all(s > 0 for s in norm["std"])):
        raise refuse(f"its 'normalize' needs a finite mean and a positive std per channel "
                     f"({size[0]}); it holds {json.dumps(norm)[:80]}")
    for name, value in weights.items():
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise refuse(f"its weight {name!r} holds non-finite values (nan or inf); the run that "
                         "wrote it diverged")
    return meta


def check_model_arrays(model, weights, path, fn="load_trained"):
    """One line naming each missing, unexpected, misshapen or non-float array of ``weights``."""
    expected = {**dict(model.named_parameters()), **dict(model.named_buffers())}
    problems = []
    for k, t in expected.items():
        if k in weights:
            got = weights[k]
            if tuple(got.shape) != tuple(t.shape):
                problems.append(f"{k} has shape {tuple(got.shape)}, the model's is "
                                f"{tuple(t.shape)}")
            elif np.dtype(t.dtype).kind == "f" and got.dtype.kind != "f":
                problems.append(f"{k} has dtype {got.dtype}, expected floating point")
    problems += [f"missing {k}" for k in expected if k not in weights]
    problems += [f"unexpected {k}" for k in weights if k not in expected]
    if problems:
        more = f"; and {len(problems) - 12} more" if len(problems) > 12 else ""
        shown = "; ".join(problems[:12]) + more
        raise CheckpointError(f"{fn}: {os.fspath(path)!r} does not fit the model "
                              f"{type(model).__name__}: {shown}")
