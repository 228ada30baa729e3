"""IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed: reader and writer.

An IDX file is a 4-byte magic number ``0x00 0x00 <type> <ndim>``, then ``ndim`` big-endian uint32
dimensions, then the values in row-major order (big-endian when wider than a byte). MNIST images have
magic 2051 (0x00000803: uint8, 3-D: N, rows, cols); labels 2049 (0x00000801: uint8, 1-D: N).
"""

import gzip
import os
import zlib

import numpy as np

from ..resources import atomic_write

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049

# IDX type code -> big-endian dtype of the stored values.
IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
             0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_TYPE_CODES = {dt.newbyteorder("=") if dt.itemsize > 1 else dt: code for code, dt in IDX_TYPES.items()}

_GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path, fn):
    """The whole content of ``path``, gunzipped when it is a gzip file (by its magic bytes or a ``.gz`` name).

    A corrupt or truncated gzip stream (bad CRC, missing end-of-stream marker, broken deflate data)
    becomes a one-line ``ValueError`` naming ``fn`` and the file.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != _GZIP_MAGIC and not path.endswith(".gz"):
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError as exc:
        raise ValueError(f"{fn}: file {path!r} is a truncated gzip file ({exc}); "
                         f"expected a complete gzip stream ({len(raw)} bytes on disk)") from None
    except (OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError: bad magic, CRC or length check
        raise ValueError(f"{fn}: file {path!r} is not a valid gzip file ({exc})") from None


def write_bytes(path, payload):
    """Write ``payload`` to ``path`` atomically, gzip-compressed (reproducibly: no timestamp) when it
    ends in ``.gz``; returns the path."""
    path = os.fspath(path)
    if path.endswith(".gz"):
        payload = gzip.compress(payload, mtime=0)
    atomic_write(path, lambda f: f.write(payload))
    return path


def _magic_text(magic):
    return f"{magic} (0x{magic:08X})"


def parse_idx(buffer, source="<bytes>", expected_magic=None, fn="read_idx"):
    """Decode IDX bytes into a native-endian, writable NumPy array.

    Args:
        buffer: the (already gunzipped) file content.
        source: the file name, for error messages.
        expected_magic: if given, the magic number the file must have (2051 images, 2049 labels).
        fn: the function name errors start with.

    Raises:
        ValueError: wrong magic number, truncated header, or a byte count that differs from the
            one the header's dimensions give.
    """
    n = len(buffer)
    if n < 4:
        raise ValueError(f"{fn}: file {source!r} is too short for an IDX header: {n} bytes, expected at least 4")
    magic = int.from_bytes(buffer[:4], "big")
    type_code, ndim = buffer[2], buffer[3]
    if buffer[0] != 0 or buffer[1] != 0 or type_code not in IDX_TYPES or ndim == 0:
        want = _magic_text(expected_magic) if expected_magic is not None else \
            "0x0000TTDD with type TT in 08/09/0B/0C/0D/0E and DD >= 1 dimensions"
        raise ValueError(f"{fn}: file {source!r} has magic number {_magic_text(magic)}, which is not an IDX "
                         f"magic number; expected {want}")
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(f"{fn}: file {source!r} has magic number {_magic_text(magic)} ({ndim}-D) but expected "
                         f"{_magic_text(expected_magic)} ({expected_magic & 0xFF}-D)")
    header = 4 + 4 * ndim
    if n < header:
        raise ValueError(f"{fn}: file {source!r} is truncated inside its header: {n} bytes, expected at least "
                         f"{header} for {ndim} dimensions")
    shape = tuple(int.from_bytes(buffer[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = IDX_TYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    received = n - header
    if received != expected:
        what = "truncated" if received < expected else "longer than its header says"
        raise ValueError(f"{fn}: file {source!r} is {what}: header gives shape {shape}, which needs {expected} "
                         f"bytes of data, but the file holds {received} bytes after the {header}-byte header")
    data = np.frombuffer(buffer, dtype=dtype, count=expected // dtype.itemsize, offset=header)
    # Copy into native byte order so the array is writable and fast to compute with.
    return data.reshape(shape).astype(dtype.newbyteorder("="), copy=True)


def read_idx(path, expected_magic=None):
    """Read an IDX file (``.gz`` or plain) into a NumPy array.

    Args:
        path: the file; gzip is recognised by its magic bytes or a ``.gz`` name.
        expected_magic: if given, the magic number the file must have (``IMAGES_MAGIC`` = 2051,
            ``LABELS_MAGIC`` = 2049).

    Example:
        >>> images = read_idx("train-images-idx3-ubyte.gz", expected_magic=2051)   # (60000, 28, 28) uint8
    """
    return parse_idx(read_bytes(path, "read_idx"), os.fspath(path), expected_magic)


def write_idx(path, array):
    """Write ``array`` as an IDX file, gzip-compressed when ``path`` ends in ``.gz``.

    Supported dtypes: uint8, int8, int16, int32, float32, float64 (the IDX type codes).
    """
    array = np.asarray(array)
    key = array.dtype.newbyteorder("=") if array.dtype.itemsize > 1 else array.dtype
    if key not in _TYPE_CODES:
        raise TypeError(f"write_idx: `array` dtype must be one of uint8, int8, int16, int32, float32, float64. "
                        f"Received dtype {array.dtype}")
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"write_idx: `array` must have 1 to 255 dimensions. Received shape {array.shape}")
    code = _TYPE_CODES[key]
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    payload = header + np.ascontiguousarray(array, dtype=IDX_TYPES[code]).tobytes()
    return write_bytes(path, payload)
