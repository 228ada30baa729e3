import gzip
import struct

import numpy as np
import pytest

from cnnlab.data import MNIST, read_idx, write_idx
from cnnlab.data.idx import IMAGES_MAGIC, LABELS_MAGIC

from data_helpers import idx_bytes


def one_line_naming(exc_info, path):
    msg = str(exc_info.value)
    assert "\n" not in msg, msg
    assert str(path) in msg, msg


@pytest.mark.parametrize("dtype", ["u1", "i1", "i2", "i4", "f4", "f8"])
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_reads_every_type_plain_and_gzip(tmp_path, dtype, gz):
    rng = np.random.default_rng(1)
    arr = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    payload = idx_bytes(arr)
    path = tmp_path / ("x.idx.gz" if gz else "x.idx")
    path.write_bytes(gzip.compress(payload) if gz else payload)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.shape == (3, 4, 5)
    np.testing.assert_array_equal(out, arr)
    assert out.flags.writeable


def test_mnist_header_layout_and_magic(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "images.idx"
    path.write_bytes(struct.pack(">IIII", 2051, 2, 3, 4) + images.tobytes())
    np.testing.assert_array_equal(read_idx(path, expected_magic=IMAGES_MAGIC), images)
    labels_path = tmp_path / "labels.idx"
    labels_path.write_bytes(struct.pack(">II", 2049, 3) + bytes([7, 2, 1]))
    np.testing.assert_array_equal(read_idx(labels_path, expected_magic=LABELS_MAGIC), [7, 2, 1])


@pytest.mark.parametrize("dtype", ["u1", "i2", "f4", "f8"])
def test_write_idx_matches_the_format(tmp_path, dtype):
    arr = np.arange(24).reshape(2, 3, 4).astype(dtype)
    write_idx(tmp_path / "a.idx", arr)
    assert (tmp_path / "a.idx").read_bytes() == idx_bytes(arr)
    write_idx(tmp_path / "a.idx.gz", arr)
    assert gzip.decompress((tmp_path / "a.idx.gz").read_bytes()) == idx_bytes(arr)


def test_write_idx_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(TypeError, match=r"write_idx: `array` dtype must be one of .* Received dtype int64"):
        write_idx(tmp_path / "a.idx", np.zeros(3, dtype=np.int64))


# ---------------------------------------------------------------- corrupt files, one error each
def _images_payload():
    return idx_bytes(np.zeros((4, 5, 5), dtype=np.uint8))


def test_truncated_data(tmp_path):
    path = tmp_path / "t.idx"
    path.write_bytes(_images_payload()[:-7])
    with pytest.raises(ValueError, match=r"is truncated: header gives shape \(4, 5, 5\), which needs 100 bytes "
                                         r"of data, but the file holds 93 bytes") as e:
        read_idx(path)
    one_line_naming(e, path)


def test_extra_bytes(tmp_path):
    path = tmp_path / "t.idx"
    path.write_bytes(_images_payload() + b"\x00\x01")
    with pytest.raises(ValueError, match=r"longer than its header says: .* needs 100 bytes .* holds 102 bytes") as e:
        read_idx(path)
    one_line_naming(e, path)


def test_header_dimensions_do_not_match_byte_count(tmp_path):
    path = tmp_path / "t.idx"
    path.write_bytes(struct.pack(">IIII", 2051, 60000, 28, 28) + bytes(784 * 10))
    with pytest.raises(ValueError, match=r"header gives shape \(60000, 28, 28\), which needs 47040000 bytes "
                                         r"of data, but the file holds 7840 bytes") as e:
        read_idx(path)
    one_line_naming(e, path)


def test_truncated_header(tmp_path):
    path = tmp_path / "t.idx"
    path.write_bytes(struct.pack(">II", 2051, 4) + b"\x00\x00")
    with pytest.raises(ValueError, match=r"truncated inside its header: 10 bytes, expected at least 16 "
                                         r"for 3 dimensions") as e:
        read_idx(path)
    one_line_naming(e, path)


def test_too_short_and_empty(tmp_path):
    path = tmp_path / "t.idx"
    path.write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match=r"too short for an IDX header: 2 bytes, expected at least 4") as e:
        read_idx(path)
    one_line_naming(e, path)


def test_wrong_magic(tmp_path):
    path = tmp_path / "t.idx"
    path.write_bytes(b"\x12\x34\x56\x78" + bytes(8))
    with pytest.raises(ValueError, match=r"magic number 305419896 \(0x12345678\), which is not an IDX magic "
                                         r"number; expected 2051") as e:
        read_idx(path, expected_magic=2051)
    one_line_naming(e, path)


def test_labels_where_images_expected(tmp_path):
    path = tmp_path / "t.idx"
    path.write_bytes(struct.pack(">II", 2049, 3) + bytes(3))
    with pytest.raises(ValueError, match=r"magic number 2049 \(0x00000801\) \(1-D\) but expected "
                                         r"2051 \(0x00000803\) \(3-D\)") as e:
        read_idx(path, expected_magic=2051)
    one_line_naming(e, path)


def test_truncated_gzip(tmp_path):
    path = tmp_path / "t.idx.gz"
    path.write_bytes(gzip.compress(_images_payload() * 50)[:-30])
    with pytest.raises(ValueError, match=r"read_idx: file .* is a truncated gzip file") as e:
        read_idx(path)
    one_line_naming(e, path)


def test_gzip_crc_error(tmp_path):
    data = bytearray(gzip.compress(_images_payload()))
    data[-8] ^= 0xFF  # the CRC-32 of the uncompressed data sits in the last 8 bytes
    path = tmp_path / "t.idx.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"is not a valid gzip file \(CRC check failed") as e:
        read_idx(path)
    one_line_naming(e, path)


def test_corrupt_deflate_stream(tmp_path):
    data = bytearray(gzip.compress(np.random.default_rng(0).integers(0, 255, 5000, dtype=np.uint8).tobytes()))
    data[20:40] = b"\xff" * 20
    path = tmp_path / "t.idx.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"read_idx: file .* (not a valid gzip file|truncated gzip file)") as e:
        read_idx(path)
    one_line_naming(e, path)


def test_gz_name_without_gzip_content(tmp_path):
    path = tmp_path / "t.idx.gz"
    path.write_bytes(b"plain text, not gzip")
    with pytest.raises(ValueError, match=r"is not a valid gzip file \(Not a gzipped file") as e:
        read_idx(path)
    one_line_naming(e, path)


# ---------------------------------------------------------------- image/label pairs in a dataset
def test_label_count_differs_from_image_count(tmp_path):
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros((5, 28, 28), np.uint8))))
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(4, np.uint8))))
    with pytest.raises(ValueError, match=r"MNIST: label file .*train-labels-idx1-ubyte.gz' has 4 labels but "
                                         r"image file .*train-images-idx3-ubyte.gz' has 5 images") as e:
        MNIST(root=tmp_path, download=False)
    assert "\n" not in str(e.value)


def test_label_out_of_range(tmp_path):
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros((3, 28, 28), np.uint8))))
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.array([1, 12, 3], np.uint8))))
    with pytest.raises(ValueError, match=r"MNIST: label file .* has label 12 at index 1 \(1 bad labels in all\); "
                                         r"expected labels in 0..9") as e:
        MNIST(root=tmp_path, download=False)
    assert "\n" not in str(e.value)


def test_swapped_image_and_label_files(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros(3, np.uint8)))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros((3, 28, 28), np.uint8)))
    with pytest.raises(ValueError, match=r"MNIST: file .*train-images-idx3-ubyte' has magic number 2049"):
        MNIST(root=tmp_path, download=False)
