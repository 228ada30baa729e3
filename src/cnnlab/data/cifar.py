"""CIFAR-10 "binary version" records: reader (plain, gzip, or straight from the official tar.gz) and writer.

Each record is 3073 bytes: one label byte (0..9), then 3072 pixel bytes: the 32x32 red plane, then
green, then blue, each row-major. The official archive ``cifar-10-binary.tar.gz`` holds
``cifar-10-batches-bin/data_batch_1.bin`` ... ``data_batch_5.bin`` (10000 records each) and
``test_batch.bin``. Only this binary format is read: the "python version" is pickled, and unpickling
runs arbitrary code.
"""

import os
import tarfile
import zlib

import numpy as np

from .idx import read_bytes, write_bytes

RECORD_SIZE = 3073
IMAGE_SHAPE = (3, 32, 32)
NUM_CLASSES = 10
TRAIN_BATCHES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_BATCH = "test_batch.bin"
ARCHIVE = "cifar-10-binary.tar.gz"


def parse_cifar_records(buffer, source="<bytes>", fn="read_cifar_bin"):
    """Decode CIFAR binary records into ``(images, labels)``.

    Returns:
        images: uint8 array (N, 32, 32, 3), height-width-channel like the usual CIFAR arrays.
        labels: int64 array (N,), each in 0..9.

    Raises:
        ValueError: empty content, a size that is not a multiple of 3073, or a label outside 0..9.
    """
    n = len(buffer)
    if n == 0:
        raise ValueError(f"{fn}: file {source!r} is empty; expected records of {RECORD_SIZE} bytes")
    if n % RECORD_SIZE:
        raise ValueError(f"{fn}: file {source!r} holds {n} bytes, which is not a multiple of the "
                         f"{RECORD_SIZE}-byte record size (1 label byte + 3072 pixel bytes): "
                         f"{n // RECORD_SIZE} whole records and {n % RECORD_SIZE} bytes left over")
    records = np.frombuffer(buffer, dtype=np.uint8).reshape(-1, RECORD_SIZE)  # (N, 3073)
    labels = records[:, 0].astype(np.int64)
    bad = np.flatnonzero(labels >= NUM_CLASSES)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{fn}: file {source!r} has label {labels[i]} at record {i} ({bad.size} bad labels in "
                         f"all); expected labels in 0..{NUM_CLASSES - 1}")
    # (N, 3072) planes R, G, B -> (N, 3, 32, 32) -> (N, 32, 32, 3), copied to a contiguous array.
    images = np.ascontiguousarray(records[:, 1:].reshape(-1, *IMAGE_SHAPE).transpose(0, 2, 3, 1))
    return images, labels


def read_cifar_bin(path):
    """Read one CIFAR-10 binary batch file (``.bin`` or gzip-compressed ``.bin.gz``).

    Returns ``(images uint8 (N, 32, 32, 3), labels int64 (N,))``.
    """
    return parse_cifar_records(read_bytes(path, "read_cifar_bin"), os.fspath(path))


def read_cifar_tar(path, members):
    """Read the named batch files (base names such as ``"test_batch.bin"``) from the official tar.gz.

    The archive is streamed once with ``tarfile``; nothing is extracted to disk. Returns
    ``(images, labels)`` with the members concatenated in the order given.

    Raises:
        ValueError: the archive is truncated or corrupt, or a member is missing.
    """
    path = os.fspath(path)
    wanted = {m: None for m in members}
    try:
        with tarfile.open(path, "r:*") as tar:
            for info in tar:
                base = info.name.rsplit("/", 1)[-1]
                if info.isfile() and base in wanted and wanted[base] is None:
                    wanted[base] = tar.extractfile(info).read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ValueError(f"read_cifar_tar: file {path!r} is not a readable tar archive ({exc}); "
                         f"expected the official {ARCHIVE}") from None
    missing = [m for m, data in wanted.items() if data is None]
    if missing:
        raise ValueError(f"read_cifar_tar: archive {path!r} lacks {', '.join(missing)}; expected the members of "
                         f"the official {ARCHIVE} (cifar-10-batches-bin/data_batch_1.bin ... test_batch.bin)")
    parts = [parse_cifar_records(wanted[m], f"{path}:{m}", fn="read_cifar_tar") for m in members]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def write_cifar_bin(path, images, labels):
    """Write CIFAR binary records; ``images`` uint8 (N, 32, 32, 3), ``labels`` (N,) in 0..9.

    gzip-compressed when ``path`` ends in ``.gz``.
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim != 4 or images.shape[1:] != (32, 32, 3) or images.dtype != np.uint8:
        raise ValueError(f"write_cifar_bin: `images` must be uint8 of shape (N, 32, 32, 3). "
                         f"Received {images.dtype} of shape {images.shape}")
    if labels.shape != (images.shape[0],):
        raise ValueError(f"write_cifar_bin: `labels` must have shape ({images.shape[0]},). Received {labels.shape}")
    records = np.empty((images.shape[0], RECORD_SIZE), dtype=np.uint8)
    records[:, 0] = labels
    records[:, 1:] = images.transpose(0, 3, 1, 2).reshape(images.shape[0], -1)  # (N, 3, 32, 32) -> (N, 3072)
    payload = records.tobytes()
    return write_bytes(path, payload)
