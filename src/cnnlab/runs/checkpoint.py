"""Training checkpoints: a run's state (weights, optimizer, RNG states, history, metadata) as data.

The format is ``cnnlab.serialization``'s npz+JSON (below: ``cnnlab.save`` of tensors needs it without
models or runs) in its path-named layout: every array under its path in the state
(``/model/fc.weight``), the rest a JSON header ``__meta__.json`` in which each array is
``{"__array__": path}``. Files are written to a temporary file in the same directory and renamed into
place, so a crash never leaves a half-written checkpoint. Here too: the checks that a checkpoint can
rebuild a trained model.
"""

import json
import os
import zipfile

import numpy as np

from .. import __version__, resources
from ..serialization import MAX_TOTAL_BYTES, check_references, decode, encode, read_npz

FORMAT = "cnnlab-checkpoint/1"
_META_KEY = "__meta__.json"


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
    meta = {"format": FORMAT, "cnnlab_version": __version__,
            "state": encode(state, arrays, fn="save_checkpoint", typed=False)}
    header = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    atomic_write(path, lambda f: np.savez(f, **{_META_KEY: header}, **arrays), before_rename)
    return path


class CheckpointError(ValueError):
    """A file that is not a valid cnnlab checkpoint (the CLI says so in one line, exit status 2)."""


def _refuse(path, why):
    return CheckpointError(f"load_checkpoint: {os.fspath(path)!r} is not a valid cnnlab "
                           f"checkpoint: {why}")


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
        text, arrays = read_npz(path, _META_KEY, MAX_TOTAL_BYTES)
    except ValueError as e:  # NeedsPickle included: an object array is refused as any other
        raise _refuse(path, str(e)) from None
    if text is None:
        raise CheckpointError(f"load_checkpoint: {path!r} is an .npz file but not a cnnlab "
                              f"checkpoint (no {_META_KEY} entry)")
    try:
        meta = json.loads(text)
    except RecursionError:
        raise _refuse(path, "its header is nested too deeply") from None
    except ValueError as e:
        raise CheckpointError(f"load_checkpoint: {path!r} is not a readable cnnlab checkpoint "
                              f"({str(e).splitlines()[0]})") from None
    if not isinstance(meta, dict):
        raise _refuse(path, f"its header is a JSON {type(meta).__name__}, not an object")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"load_checkpoint: {path!r} has format {meta.get('format')!r}; "
                              f"expected {FORMAT!r}")
    if "state" not in meta:
        raise _refuse(path, "its header has no 'state'")
    check_references(meta["state"], arrays, lambda why: _refuse(path, why))
    return decode(meta["state"], arrays)


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
