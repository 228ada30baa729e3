import gzip
import io
import tarfile

import numpy as np
import pytest

from cnnlab.data import CIFAR10, DatasetNotFoundError, read_cifar_bin, read_cifar_tar, write_cifar_bin

from data_helpers import cifar_bytes


def make_tar(path, members):
    """A gzipped tar holding ``members`` {name: bytes}, like the official cifar-10-binary.tar.gz."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def hwc(images_chw):
    return images_chw.transpose(0, 2, 3, 1)


@pytest.mark.parametrize("gz", [False, True])
def test_read_cifar_bin_plain_and_gzip(tmp_path, cifar_arrays, gz):
    images, labels = cifar_arrays(7)
    payload = cifar_bytes(images, labels)
    path = tmp_path / ("b.bin.gz" if gz else "b.bin")
    path.write_bytes(gzip.compress(payload) if gz else payload)
    out_images, out_labels = read_cifar_bin(path)
    assert out_images.shape == (7, 32, 32, 3) and out_images.dtype == np.uint8
    assert out_labels.dtype == np.int64
    np.testing.assert_array_equal(out_images, hwc(images))
    np.testing.assert_array_equal(out_labels, labels)


def test_write_cifar_bin_matches_the_format(tmp_path, cifar_arrays):
    images, labels = cifar_arrays(3)
    write_cifar_bin(tmp_path / "b.bin", hwc(images), labels)
    assert (tmp_path / "b.bin").read_bytes() == cifar_bytes(images, labels)


def test_size_not_a_multiple_of_the_record(tmp_path, cifar_arrays):
    images, labels = cifar_arrays(2)
    path = tmp_path / "b.bin"
    path.write_bytes(cifar_bytes(images, labels)[:-5])
    with pytest.raises(ValueError, match=r"read_cifar_bin: file .*b.bin' holds 6141 bytes, which is not a multiple "
                                         r"of the 3073-byte record size .*: 1 whole records and 3068 bytes left over"):
        read_cifar_bin(path)


def test_empty_file(tmp_path):
    path = tmp_path / "b.bin"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"file .*b.bin' is empty; expected records of 3073 bytes"):
        read_cifar_bin(path)


def test_label_out_of_range(tmp_path, cifar_arrays):
    images, labels = cifar_arrays(4)
    labels[2] = 10
    path = tmp_path / "b.bin"
    path.write_bytes(cifar_bytes(images, labels))
    with pytest.raises(ValueError, match=r"file .*b.bin' has label 10 at record 2 \(1 bad labels in all\); "
                                         r"expected labels in 0..9") as e:
        read_cifar_bin(path)
    assert "\n" not in str(e.value)


def test_truncated_gzip(tmp_path, cifar_arrays):
    images, labels = cifar_arrays(4)
    path = tmp_path / "b.bin.gz"
    path.write_bytes(gzip.compress(cifar_bytes(images, labels))[:-100])
    with pytest.raises(ValueError, match=r"read_cifar_bin: file .*b.bin.gz' is a truncated gzip file"):
        read_cifar_bin(path)


def test_read_from_the_official_tar_without_extracting(tmp_path, cifar_arrays):
    batches = {f"cifar-10-batches-bin/data_batch_{i}.bin": cifar_arrays(2, seed=i) for i in range(1, 6)}
    test = cifar_arrays(3, seed=9)
    members = {name: cifar_bytes(*b) for name, b in batches.items()}
    members["cifar-10-batches-bin/test_batch.bin"] = cifar_bytes(*test)
    members["cifar-10-batches-bin/batches.meta.txt"] = b"airplane\nautomobile\n"
    make_tar(tmp_path / "cifar-10-binary.tar.gz", members)
    before = sorted(p.name for p in tmp_path.iterdir())
    train = CIFAR10(root=tmp_path, train=True, download=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing extracted
    assert len(train) == 10
    np.testing.assert_array_equal(train.data, hwc(np.concatenate([b[0] for b in batches.values()])))
    np.testing.assert_array_equal(train.targets, np.concatenate([b[1] for b in batches.values()]))
    test_ds = CIFAR10(root=tmp_path, train=False, download=False)
    np.testing.assert_array_equal(test_ds.data, hwc(test[0]))


def test_tar_missing_member_and_corrupt_tar(tmp_path, cifar_arrays):
    make_tar(tmp_path / "a.tar.gz", {"cifar-10-batches-bin/data_batch_1.bin": cifar_bytes(*cifar_arrays(1))})
    with pytest.raises(ValueError, match=r"read_cifar_tar: archive .*a.tar.gz' lacks test_batch.bin"):
        read_cifar_tar(tmp_path / "a.tar.gz", ["test_batch.bin"])
    data = (tmp_path / "a.tar.gz").read_bytes()
    (tmp_path / "b.tar.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"read_cifar_tar: file .*b.tar.gz' is not a readable tar archive"):
        read_cifar_tar(tmp_path / "b.tar.gz", ["data_batch_1.bin", "test_batch.bin"])


def test_corrupt_member_in_tar_names_archive_and_member(tmp_path, cifar_arrays):
    make_tar(tmp_path / "c.tar.gz", {"cifar-10-batches-bin/test_batch.bin": cifar_bytes(*cifar_arrays(1))[:-1]})
    with pytest.raises(ValueError, match=r"read_cifar_tar: file .*c.tar.gz:test_batch.bin' holds 3072 bytes"):
        read_cifar_tar(tmp_path / "c.tar.gz", ["test_batch.bin"])


def test_batches_directory_layouts(tmp_path, cifar_arrays):
    # Official layout: root/cifar-10/cifar-10-batches-bin/*.bin, five train batches concatenated in order.
    d = tmp_path / "cifar-10" / "cifar-10-batches-bin"
    d.mkdir(parents=True)
    batches = [cifar_arrays(2, seed=i) for i in range(1, 6)]
    for i, b in enumerate(batches, 1):
        (d / f"data_batch_{i}.bin").write_bytes(cifar_bytes(*b))
    (d / "test_batch.bin").write_bytes(cifar_bytes(*cifar_arrays(3, seed=7)))
    train = CIFAR10(root=tmp_path, download=False)
    np.testing.assert_array_equal(train.targets, np.concatenate([b[1] for b in batches]))
    assert len(CIFAR10(root=tmp_path, train=False, download=False)) == 3


def test_gzipped_subset_files_directly_in_root(tmp_path, cifar_arrays):
    # The shared-folder layout: data_batch_subset10k.bin.gz and test_batch.bin.gz.
    train = cifar_arrays(5, seed=1)
    test = cifar_arrays(4, seed=2)
    (tmp_path / "data_batch_subset10k.bin.gz").write_bytes(gzip.compress(cifar_bytes(*train)))
    (tmp_path / "test_batch.bin.gz").write_bytes(gzip.compress(cifar_bytes(*test)))
    ds = CIFAR10(root=tmp_path, train=True, download=False)
    np.testing.assert_array_equal(ds.data, hwc(train[0]))
    ds = CIFAR10(root=tmp_path, train=False, download=False)
    np.testing.assert_array_equal(ds.targets, test[1])
    assert ds.classes[0] == "airplane" and ds.classes[-1] == "truck" and len(ds.classes) == 10


def test_incomplete_official_batches_are_not_used(tmp_path, cifar_arrays):
    (tmp_path / "data_batch_1.bin").write_bytes(cifar_bytes(*cifar_arrays(1)))
    with pytest.raises(DatasetNotFoundError, match="data_batch_1.bin, data_batch_2.bin"):
        CIFAR10(root=tmp_path, download=False)


def test_sample_and_batch_are_chw_in_unit_range(tmp_path, cifar_arrays):
    images, labels = cifar_arrays(3)
    (tmp_path / "test_batch.bin").write_bytes(cifar_bytes(images, labels))
    ds = CIFAR10(root=tmp_path, train=False, download=False)
    x, y = ds[1]
    assert x.shape == (3, 32, 32) and x.dtype == np.float32 and y == labels[1]
    np.testing.assert_allclose(x.numpy(), images[1] / 255.0, rtol=1e-6)
    xb, yb = ds.get_batch(np.array([2, 0]))
    np.testing.assert_allclose(xb, images[[2, 0]] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(yb, labels[[2, 0]])
