"""``cnnlab.save`` / ``cnnlab.load``: state dicts and checkpoints as data, never as pickles.

PyTorch's ``torch.save`` pickles, and unpickling a file can run any code in it. Here a file holds
arrays plus one JSON document for the structure around them (dicts, lists, tuples, numbers,
strings), in one of two containers:

- ``.npz`` (the default): NumPy's zip of ``.npy`` arrays, read with ``allow_pickle=False``; the
  structure is the uint8 array ``__cnnlab__.json``.
- ``.safetensors`` (when the path ends so): the safetensors layout (8-byte header length, JSON
  header, raw bytes), written and read here without the ``safetensors`` package; the structure is
  the header's ``__metadata__["cnnlab"]``. Other tools read the tensors of such a file directly.

A plain ``.npz`` or ``.safetensors`` of arrays (from NumPy, PyTorch's safetensors) loads as a dict
of tensors. Files are written to a temporary file beside the target and renamed into place.

This is cnnlab's one npz+JSON format: ``encode``/``decode`` (structure <-> JSON + arrays),
``check_references`` and ``read_npz`` (an archive checked before anything is allocated) also
serve the training checkpoints of ``cnnlab.runs.checkpoint``. The format sits here, on the level
of the ops, because ``cnnlab.save`` of tensors must not import models or runs; the run directory
(checkpoints with their metadata, the lock, trained models) builds on it from ``runs/``.
"""

import json
import os
import struct
import zipfile

import numpy as np

from . import backend, resources
from .tensor import Tensor

FORMAT = "cnnlab-save/1"
_STRUCTURE_KEY = "__cnnlab__.json"

# safetensors dtype codes <-> NumPy dtypes (BF16 has no NumPy twin and is refused on load).
_ST_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
              "I8": "i1", "U8": "u1", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "?"}
_ST_CODES = {np.dtype(v): k for k, v in _ST_DTYPES.items()}

_NO_PICKLE = "cnnlab never unpickles a file (unpickling can run code in it)"
_CONVERT = "Save it as safetensors in PyTorch (safetensors.torch.save_file(state_dict, path))"


def _path(fn, f):
    if isinstance(f, (str, os.PathLike)):
        return os.fspath(f)
    raise TypeError(f"{fn}: `f` must be a file path (str or os.PathLike). "
                    f"Received an object of type {type(f).__name__}")


# ---------------------------------------------------------------------- structure <-> JSON + arrays
def encode(obj, arrays, where="", fn="save", typed=True):
    """``obj`` as JSON-able data in which every array is a reference into ``arrays`` (name -> array).

    ``typed`` (``cnnlab.save``): arrays are named by their index, a Tensor keeps its
    ``requires_grad`` and a tuple stays a tuple. Otherwise (training checkpoints) arrays are named by
    their path in ``obj`` (``/model/fc.weight``), Tensors are stored as arrays and tuples as lists.
    """
    if isinstance(obj, Tensor):
        if not typed:
            return encode(obj._data, arrays, where, fn, typed)
        return {"__tensor__": _put(arrays, obj._data, where, typed),
                "requires_grad": bool(obj.requires_grad)}
    if isinstance(obj, np.ndarray) or hasattr(obj, "__cuda_array_interface__"):
        return {"__array__": _put(arrays, obj, where, typed)}
    if isinstance(obj, dict):
        return {"__dict__": [[_key(k, where, fn), encode(v, arrays, f"{where}/{k}", fn, typed)]
                             for k, v in obj.items()]}
    if isinstance(obj, tuple) and typed:
        items = enumerate(obj)
        return {"__tuple__": [encode(v, arrays, f"{where}/{i}", fn, typed) for i, v in items]}
    if isinstance(obj, (list, tuple)):
        return [encode(v, arrays, f"{where}/{i}", fn, typed) for i, v in enumerate(obj)]
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"{fn}: cannot store a value of type {type(obj).__name__} at {where or '/'!r}; "
                    f"expected tensors, arrays, numbers, strings, None, and dicts, lists or tuples "
                    f"of them")


def _put(arrays, array, where, typed):
    """Store ``array`` in ``arrays``; its reference: the index (typed) or the path in the structure."""
    ref = len(arrays) if typed else (where or "value")
    arrays[str(ref)] = backend.asnumpy(array)
    return ref


def _key(k, where, fn):
    if isinstance(k, (str, int)) and not isinstance(k, bool):
        return k
    raise TypeError(f"{fn}: dict keys must be str or int. Received key {k!r} at {where or '/'!r}")


def decode(obj, arrays):
    """The structure ``encode`` wrote, with its references replaced by ``arrays`` (name -> array)."""
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return Tensor(arrays[str(obj["__tensor__"])], requires_grad=obj["requires_grad"])
        if "__array__" in obj:
            return arrays[str(obj["__array__"])]
        if "__tuple__" in obj:
            return tuple(decode(v, arrays) for v in obj["__tuple__"])
        return {k: decode(v, arrays) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [decode(v, arrays) for v in obj]
    return obj


# ---------------------------------------------------------------------- archive checks
# What an .npz member may be, checked from the zip directory and the .npy header before any data
# is decompressed: a crafted 3 MB archive must not inflate to gigabytes.
MAX_TOTAL_BYTES = 16 * 2 ** 30  # all arrays of one archive together
MAX_RATIO = 100                 # how much a member may expand when decompressed (float data: ~1.1)
_ANY_RATIO_BELOW = 2 ** 20      # ... unless it is this small anyway
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # what np.savez(_compressed) writes
NUMERIC_KINDS = "biuf"          # booleans, integers, floats


class NeedsPickle(ValueError):
    """An archive member of Python objects (reading it would unpickle)."""


def npz_members(zf, max_total=MAX_TOTAL_BYTES):
    """``{name: (shape, dtype, nbytes)}`` of an open ``.npz`` zip, read from each member's ``.npy``
    header alone; raises ``ValueError(reason)`` before anything large is read or allocated.

    Each member must be a numeric ``.npy`` array, stored or deflated, whose uncompressed size is
    exactly its header plus shape x itemsize, that expands at most ``MAX_RATIO`` times when
    decompressed, and all of them together at most ``max_total`` bytes.
    """
    members, total = {}, 0
    for info in zf.infolist():
        if not info.filename.endswith(".npy"):
            raise ValueError(f"unexpected member {info.filename!r} (only .npy arrays belong in it)")
        name = info.filename[:-4]
        if name in members:
            raise ValueError(f"array {name!r} is stored twice")
        if info.compress_type not in _METHODS or info.flag_bits & 0x1:
            raise ValueError(f"array {name!r} is encrypted or compressed with method "
                             f"{info.compress_type} (expected stored or deflated, as NumPy writes)")
        stored = info.compress_type == zipfile.ZIP_STORED
        if (stored and info.compress_size != info.file_size) or (
                info.file_size > max(_ANY_RATIO_BELOW, MAX_RATIO * info.compress_size)):
            raise ValueError(f"array {name!r} would expand from {info.compress_size:,} to "
                             f"{info.file_size:,} bytes (at most {MAX_RATIO} times is accepted: a "
                             f"zip bomb?)")
        with zf.open(info) as f:
            try:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(f)
                else:
                    raise ValueError(f"unsupported .npy version {version}")
            except (ValueError, OSError, EOFError, SyntaxError, TypeError, zipfile.BadZipFile) as e:
                why = str(e).splitlines()[0] if str(e) else type(e).__name__
                raise ValueError(f"array {name!r} has an unreadable header ({why})") from None
            header_bytes = f.tell()
        if dtype.hasobject:
            raise NeedsPickle(f"array {name!r} has dtype {dtype}: Python objects, which need "
                              "unpickling")
        if dtype.kind not in NUMERIC_KINDS or dtype.fields is not None:
            raise ValueError(f"array {name!r} has dtype {dtype}; only numbers belong in it")
        if any(not isinstance(d, int) or d < 0 for d in shape):
            raise ValueError(f"array {name!r} has an invalid shape {shape}")
        nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if header_bytes + nbytes != info.file_size:
            raise ValueError(f"array {name!r} claims shape {tuple(shape)} ({nbytes:,} bytes) but "
                             f"its member holds {info.file_size - header_bytes:,} bytes of data")
        total += nbytes
        if total > max_total:
            raise ValueError(f"its arrays exceed {max_total:,} bytes")
        members[name] = (tuple(shape), dtype, nbytes)
    return members


MAX_DEPTH = 64                  # nesting of a JSON header
MAX_HEADER_BYTES = 64 * 2 ** 20  # the JSON header itself
_REFERENCES = {"__array__": {"__array__"}, "__tensor__": {"__tensor__", "requires_grad"}}


def check_references(node, names, refuse):
    """Check a decoded JSON structure before ``decode`` reads it: each node is a JSON value, a list,
    or one of ``encode``'s dicts; every reference names one of ``names`` and every name is referenced
    (an archive holds nothing its header does not name). Walked without recursion (a crafted header
    may nest deeply); a problem raises ``refuse(why)``."""
    stack, named = [(node, 1)], set()
    while stack:
        obj, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise refuse(f"its header is nested deeper than {MAX_DEPTH} levels")
        if isinstance(obj, list):
            stack.extend((v, depth + 1) for v in obj)
        elif isinstance(obj, dict):
            kind = next((k for k in _REFERENCES if k in obj), None)
            if kind is not None:
                ref = obj[kind]
                flag = obj.get("requires_grad", False)
                if (set(obj) != _REFERENCES[kind] or isinstance(ref, bool)
                        or not isinstance(ref, (int, str)) or not isinstance(flag, bool)):
                    raise refuse(f"malformed array reference {json.dumps(obj)[:80]}")
                if str(ref) not in names:
                    raise refuse(f"its header refers to array {ref!r}, which the file does not hold")
                named.add(str(ref))
                continue
            entries = obj.get("__tuple__", obj.get("__dict__"))
            if len(obj) != 1 or not isinstance(entries, list):
                raise refuse(f"malformed dictionary {json.dumps(obj)[:80]} (expected "
                             "{'__dict__': [...]})")
            if "__tuple__" in obj:
                stack.extend((v, depth + 1) for v in entries)
                continue
            for entry in entries:
                if (not isinstance(entry, list) or len(entry) != 2 or isinstance(entry[0], bool)
                        or not isinstance(entry[0], (str, int))):
                    raise refuse(f"malformed dictionary entry {json.dumps(entry)[:80]}")
                stack.append((entry[1], depth + 1))
    unnamed = sorted(set(names) - named)
    if unnamed:
        shown = ", ".join(repr(k) for k in unnamed[:3]) + (", ..." if len(unnamed) > 3 else "")
        raise refuse(f"it holds {len(unnamed)} array(s) its header never names ({shown})")


def read_npz(path, header_key, max_total=MAX_TOTAL_BYTES):
    """``(header text or None, {name: array})`` of the ``.npz`` archive at ``path``, its JSON header
    the uint8 member ``header_key``; nothing is unpickled.

    The members are checked from the zip directory and their ``.npy`` headers first
    (``npz_members``), then against the memory available now, and the header must be at most
    ``MAX_HEADER_BYTES`` of uint8 UTF-8 text. Raises ``NeedsPickle`` or ``ValueError(reason)``.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            members = npz_members(zf, max_total)
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"it is not a readable .npz archive ({e})") from None
    total, free = sum(m[2] for m in members.values()), resources.available_memory()
    if free is not None and total > free:
        raise ValueError(f"its arrays need {resources.format_bytes(total)}, more than the "
                         f"{resources.format_bytes(free)} of memory available")
    header = members.pop(header_key, None)
    if header is not None:
        shape, dtype, nbytes = header
        if dtype != np.uint8 or len(shape) != 1 or nbytes > MAX_HEADER_BYTES:
            raise ValueError(f"its header {header_key} must be at most {MAX_HEADER_BYTES:,} bytes "
                             f"of uint8; it is {dtype} of shape {shape}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            text = None if header is None else archive[header_key].tobytes().decode("utf-8")
            return text, {k: archive[k] for k in members}
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, UnicodeDecodeError) as e:
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"it is not a readable .npz archive ({why})") from None


# ---------------------------------------------------------------------- save
def save(obj, f):
    """Write ``obj`` (a state dict; nested dicts/lists of tensors, arrays, numbers, text) to ``f``.

    ``.safetensors`` paths get the safetensors layout, every other path an ``.npz`` archive (the
    name is kept as given). The write is atomic: a crash leaves the old file or none.

    Example:
        >>> cnnlab.save(model.state_dict(), "model.npz")
        >>> model.load_state_dict(cnnlab.load("model.npz"))
    """
    path = _path("save", f)
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise FileNotFoundError(f"save: the directory of {path!r} does not exist")
    arrays = {}
    structure = {"format": FORMAT, "value": encode(obj, arrays)}
    text = json.dumps(structure)
    if path.endswith(".safetensors"):
        tensors = list(arrays.values())
        resources.atomic_write(path, lambda out: _write_safetensors(out, tensors, text))
    else:
        arrays[_STRUCTURE_KEY] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
        resources.atomic_write(path, lambda out: np.savez(out, **arrays))


def _write_safetensors(out, arrays, text):
    header, offset = {"__metadata__": {"cnnlab": text}}, 0
    for i, a in enumerate(arrays):
        code = _ST_CODES.get(a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype)
        if code is None:
            raise TypeError(f"save: safetensors cannot hold dtype {a.dtype} (array {i}); "
                            f"save as .npz")
        header[str(i)] = {"dtype": code, "shape": list(a.shape),
                          "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    blob = json.dumps(header).encode("utf-8")
    blob += b" " * (-len(blob) % 8)  # the header is padded to 8 bytes, as the reference writer does
    out.write(struct.pack("<Q", len(blob)) + blob)
    for a in arrays:
        out.write(np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes())


# ---------------------------------------------------------------------- load
def load(f, map_location=None, weights_only=None):
    """Read what ``save`` wrote (or a plain ``.npz``/``.safetensors`` of arrays) from ``f``.

    Tensors come back as Tensors (on ``map_location``'s device when given), arrays as NumPy arrays.
    A file that needs unpickling (a PyTorch ``.pt`` pickle, an ``.npz`` with object arrays) is
    refused with a message. ``weights_only`` is accepted for PyTorch's signature: nothing but data
    is ever loaded. ``map_location`` may be a device (``"cpu"``, ``cnnlab.device("cuda")``), or,
    as in PyTorch, a dict or a function of (storage, location): the file records no devices, so
    those load onto the CPU.
    """
    path = _path("load", f)
    resources.check_regular_file(path, "load")  # a FIFO would block the open
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load: no such file: {path!r}")
    device = _map_location(map_location)
    with open(path, "rb") as fh:
        head = fh.read(9)
    length = struct.unpack("<Q", head[:8])[0] if len(head) == 9 else -1
    if head[8:9] == b"{" and length <= os.path.getsize(path) - 8:  # a safetensors JSON header
        value = _load_safetensors(path, length)
    elif head[:1] == b"\x80":
        raise ValueError(f"load: {path!r} is a pickle (a legacy PyTorch .pt file?); {_NO_PICKLE}. "
                         f"{_CONVERT}")
    elif head[:4] == b"PK\x03\x04":
        value = _load_npz(path)
    else:
        raise ValueError(f"load: {path!r} is neither an .npz archive nor a safetensors file "
                         f"(expected a file written by cnnlab.save)")
    return value if device is None else _to_device(value, device)


def _map_location(map_location):
    """The device to move tensors to (None: leave them on the CPU, where they are read)."""
    if map_location is None or callable(map_location) or isinstance(map_location, dict):
        return None
    return backend.require_device("load", map_location)


def _load_npz(path):
    try:
        with zipfile.ZipFile(path) as z:
            pickles = any(n.endswith(".pkl") for n in z.namelist())
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"load: {path!r} is not a readable .npz archive ({e})") from None
    if pickles:
        raise ValueError(f"load: {path!r} is a PyTorch zip of pickles (torch.save); "
                         f"{_NO_PICKLE}. {_CONVERT}")
    try:
        text, arrays = read_npz(path, _STRUCTURE_KEY)
    except NeedsPickle:
        raise ValueError(f"load: {path!r} holds object arrays, which need unpickling; "
                         f"{_NO_PICKLE}. Save numeric arrays only") from None
    except ValueError as e:
        raise _unsafe(path, str(e)) from None
    if text is None:
        return {k: Tensor(a) for k, a in arrays.items()}
    return _decoded(path, text, arrays)


def _unsafe(path, why):
    return ValueError(f"load: {path!r} cannot be read safely: {why}")


def _decoded(path, text, arrays):
    """The value of a cnnlab header ``text`` over ``arrays``, its references checked first."""
    structure = _structure(path, text)
    check_references(structure.get("value"), arrays, lambda why: _unsafe(path, why))
    return decode(structure["value"], arrays)


def _structure(path, text):
    try:
        structure = json.loads(text)
    except ValueError:
        structure = None
    if not isinstance(structure, dict) or structure.get("format") != FORMAT:
        raise ValueError(f"load: {path!r} has a damaged or unknown cnnlab header; "
                         f"expected format {FORMAT!r}")
    return structure


def _load_safetensors(path, length):
    with open(path, "rb") as fh:
        fh.seek(8)
        try:
            header = json.loads(fh.read(length).decode("utf-8"))
        except ValueError:
            raise ValueError(f"load: {path!r} has a damaged safetensors header") from None
        data = fh.read()
    meta = header.pop("__metadata__", None) or {}
    arrays = {}
    for name, info in header.items():
        dtype = _ST_DTYPES.get(info.get("dtype"))
        if dtype is None:
            raise ValueError(f"load: {path!r}: tensor {name!r} has dtype {info.get('dtype')!r}, "
                             f"which NumPy cannot hold; expected one of {', '.join(_ST_DTYPES)}")
        begin, end = info["data_offsets"]
        count = int(np.prod(info["shape"], dtype=np.int64))
        if not 0 <= begin <= end <= len(data) or end - begin != count * np.dtype(dtype).itemsize:
            raise ValueError(f"load: {path!r}: tensor {name!r} points outside the file's data")
        raw = np.frombuffer(data, dtype=dtype, count=count, offset=begin)
        arrays[name] = raw.reshape(info["shape"]).astype(np.dtype(dtype).newbyteorder("="))
    if "cnnlab" not in meta:
        return {k: Tensor(a) for k, a in arrays.items()}
    return _decoded(path, meta["cnnlab"], arrays)


def _to_device(obj, device):
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(v, device) for v in obj)
    return obj
