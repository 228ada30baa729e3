"""Writers for the official file formats, independent of the readers under test (struct and plain bytes),
and a fake ``urlopen`` response served from memory."""

import io
import struct

import numpy as np

IDX_CODES = {np.dtype("u1"): 0x08, np.dtype("i1"): 0x09, np.dtype("i2"): 0x0B, np.dtype("i4"): 0x0C,
             np.dtype("f4"): 0x0D, np.dtype("f8"): 0x0E}


def idx_bytes(array):
    """An IDX file's bytes: magic 0x0000<type><ndim>, big-endian uint32 dims, big-endian values."""
    array = np.asarray(array)
    header = struct.pack(">HBB", 0, IDX_CODES[array.dtype], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def cifar_bytes(images_chw, labels):
    """CIFAR binary records: per image one label byte, then the R, G, B planes (each 32x32 row-major)."""
    out = bytearray()
    for img, lab in zip(images_chw, labels):
        out.append(int(lab))
        out += bytes(img[0].ravel()) + bytes(img[1].ravel()) + bytes(img[2].ravel())
    return bytes(out)


class FakeResponse(io.BytesIO):
    """What ``urlopen`` returns, served from memory; optionally fails after ``fail_after`` bytes."""

    def __init__(self, payload, length=None, fail_after=None, exc=None):
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload) if length is None else length)}
        self.fail_after = fail_after
        self.exc = exc or ConnectionResetError("connection reset by peer")

    def read(self, n=-1):
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise self.exc
        if self.fail_after is not None and n is not None and n > 0:
            n = min(n, self.fail_after - self.tell())
        return super().read(n)

    def read1(self, n=-1):  # what download_url calls on a real HTTP response
        return self.read(n)
