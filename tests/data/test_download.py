import gzip
import hashlib
import io
import os
import tarfile
import urllib.error
import urllib.request

import numpy as np
import pytest

from cnnlab.data import (CIFAR10, MNIST, ChecksumError, DatasetNotFoundError, DownloadError, FashionMNIST,
                         default_data_dir, download_url, resolve_data_dir, search_dirs)
from cnnlab.data import download as dl

from data_helpers import FakeResponse, cifar_bytes, idx_bytes


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No $CNNLAB_DATA, a fresh HOME, and an empty stand-in for the Debian system directory."""
    monkeypatch.delenv("CNNLAB_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    system = tmp_path / "usr-share-datasets-fashion-mnist"
    monkeypatch.setitem(dl.SYSTEM_DIRS, "fashion-mnist", (str(system),))
    return tmp_path


def serve(monkeypatch, files, requested=None, **response_kw):
    """Mock urlopen: serve ``files`` {url: bytes}; other URLs get HTTP 404."""
    def urlopen(request, timeout=None):
        url = request.full_url if isinstance(request, urllib.request.Request) else request
        if requested is not None:
            requested.append(url)
        if url not in files:
            raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)
        return FakeResponse(files[url], **response_kw)
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)


# ---------------------------------------------------------------- data directory resolution
def test_data_dir_argument_beats_env_beats_cache(isolated, monkeypatch):
    home = isolated / "home"
    assert default_data_dir() == os.path.join(str(home), ".cache", "cnnlab")
    assert resolve_data_dir() == os.path.join(str(home), ".cache", "cnnlab")
    monkeypatch.setenv("CNNLAB_DATA", str(isolated / "env"))
    assert resolve_data_dir() == str(isolated / "env")
    assert resolve_data_dir(isolated / "arg") == str(isolated / "arg")
    assert resolve_data_dir("~/x") == os.path.join(str(home), "x")
    monkeypatch.setenv("CNNLAB_DATA", "")
    assert resolve_data_dir() == os.path.join(str(home), ".cache", "cnnlab")
    with pytest.raises(TypeError, match=r"resolve_data_dir: `root` must be a path"):
        resolve_data_dir(3)


def test_search_order_and_debian_system_dir(isolated):
    root = str(isolated / "r")
    assert search_dirs("mnist", root) == [os.path.join(root, "mnist"), root]
    assert search_dirs("fashion-mnist", root)[-1] == str(isolated / "usr-share-datasets-fashion-mnist")


def test_real_module_lists_the_debian_path():
    assert dl.SYSTEM_DIRS["fashion-mnist"] == ("/usr/share/datasets/fashion-mnist",)


def test_dataset_found_in_each_location(isolated, monkeypatch, write_mnist_files):
    # Only in the (stand-in) Debian directory: found for Fashion-MNIST.
    images, labels = write_mnist_files(isolated / "usr-share-datasets-fashion-mnist", n=4, seed=1)
    ds = FashionMNIST(root=isolated / "empty", download=False)
    np.testing.assert_array_equal(ds.data, images)
    # In the cache (no argument, no env).
    cached, _ = write_mnist_files(isolated / "home" / ".cache" / "cnnlab" / "fashion-mnist", n=5, seed=2)
    np.testing.assert_array_equal(FashionMNIST(download=False).data, cached)
    # $CNNLAB_DATA beats the cache; files directly in the root are found.
    env, _ = write_mnist_files(isolated / "env", n=6, seed=3)
    monkeypatch.setenv("CNNLAB_DATA", str(isolated / "env"))
    np.testing.assert_array_equal(FashionMNIST(download=False).data, env)
    # The argument beats $CNNLAB_DATA; root/<folder> beats root; uncompressed IDX works.
    write_mnist_files(isolated / "arg", n=7, seed=4)
    arg, _ = write_mnist_files(isolated / "arg" / "fashion-mnist", n=8, seed=5, gz=False)
    ds = FashionMNIST(root=isolated / "arg", download=False)
    np.testing.assert_array_equal(ds.data, arg)
    assert ds.paths[0].endswith(os.path.join("fashion-mnist", "train-images-idx3-ubyte"))


def test_mnist_does_not_search_the_fashion_system_dir(isolated, write_mnist_files):
    write_mnist_files(isolated / "usr-share-datasets-fashion-mnist", n=4)
    with pytest.raises(DatasetNotFoundError):
        MNIST(root=isolated / "empty", download=False)


def test_not_found_error_lists_directories_and_files(isolated):
    root = isolated / "nothing"
    with pytest.raises(DatasetNotFoundError) as e:
        FashionMNIST(root=root, train=False, download=False)
    msg = str(e.value)
    assert isinstance(e.value, FileNotFoundError)
    for d in (root / "fashion-mnist", root, isolated / "usr-share-datasets-fashion-mnist"):
        assert f"    {d}\n" in msg
    for f in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        assert f in msg
    assert "download=True" in msg and "$CNNLAB_DATA" in msg and "apt-get install dataset-fashion-mnist" in msg
    assert "not attempted (download=False)" in msg


def test_offline_download_gives_one_not_found_error(isolated):
    # The autouse fixture makes every urlopen fail as it would offline.
    with pytest.raises(DatasetNotFoundError, match=r"(?s)MNIST: dataset files not found.*Download failed: "
                                                   r"download_url: could not fetch https://ossci-datasets"):
        MNIST(root=isolated / "r")
    with pytest.raises(DatasetNotFoundError, match=r"(?s)CIFAR10: dataset files not found.*test_batch.bin.*"
                                                   r"cifar-10-binary.tar.gz.*network disabled"):
        CIFAR10(root=isolated / "r", train=False)
    assert not (isolated / "r" / "mnist").exists() and not (isolated / "r" / "cifar-10").exists()


# ---------------------------------------------------------------- download_url
def test_download_success(tmp_path, monkeypatch):
    payload = os.urandom(3_000_000)
    serve(monkeypatch, {"https://host/f.bin": payload})
    dest = tmp_path / "sub" / "f.bin"
    out = download_url("https://host/f.bin", dest, md5=hashlib.md5(payload).hexdigest(),
                       sha256=hashlib.sha256(payload).hexdigest(), progress=True)
    assert out == str(dest) and dest.read_bytes() == payload
    assert os.listdir(tmp_path / "sub") == ["f.bin"]


def test_checksum_mismatch_leaves_nothing(tmp_path, monkeypatch):
    payload = b"x" * 5000
    serve(monkeypatch, {"https://host/f.bin": payload})
    with pytest.raises(ChecksumError, match=r"download_url: https://host/f.bin has sha256 [0-9a-f]{64} but expected "
                                            r"0{64} \(5000 bytes received\); the file was deleted"):
        download_url("https://host/f.bin", tmp_path / "f.bin", sha256="0" * 64, progress=False)
    with pytest.raises(ChecksumError, match=r"has md5"):
        download_url("https://host/f.bin", tmp_path / "f.bin", md5="0" * 32, progress=False)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("exc", [ConnectionResetError("connection reset by peer"), KeyboardInterrupt()])
def test_interrupted_download_leaves_nothing(tmp_path, monkeypatch, exc):
    serve(monkeypatch, {"https://host/f.bin": b"y" * 3_000_000}, fail_after=1_500_000, exc=exc)
    expected = KeyboardInterrupt if isinstance(exc, KeyboardInterrupt) else DownloadError
    with pytest.raises(expected):
        download_url("https://host/f.bin", tmp_path / "f.bin", progress=False)
    assert os.listdir(tmp_path) == []


def test_connection_closed_early_leaves_nothing(tmp_path, monkeypatch):
    serve(monkeypatch, {"https://host/f.bin": b"z" * 1000}, length=4000)
    with pytest.raises(DownloadError, match=r"https://host/f.bin ended after 1000 bytes; the server announced 4000"):
        download_url("https://host/f.bin", tmp_path / "f.bin", progress=False)
    assert os.listdir(tmp_path) == []


def test_unwritable_directory_is_a_download_error(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("a file where a directory should be")
    serve(monkeypatch, {"https://host/f.bin": b"data"})
    with pytest.raises(DownloadError, match=r"download_url: cannot write f.bin into .*file"):
        download_url("https://host/f.bin", tmp_path / "file" / "f.bin", progress=False)


def test_http_error(tmp_path, monkeypatch):
    serve(monkeypatch, {})
    with pytest.raises(DownloadError, match=r"could not fetch https://host/missing: HTTP Error 404: Not Found"):
        download_url("https://host/missing", tmp_path / "f", progress=False)
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- datasets downloading their files
def _mnist_gz_files(n=9):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    return images, labels, {"train-images-idx3-ubyte.gz": gzip.compress(idx_bytes(images)),
                            "train-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(labels))}


def test_mnist_downloads_verifies_and_loads(isolated, monkeypatch):
    images, labels, files = _mnist_gz_files()
    for name, data in files.items():
        monkeypatch.setitem(dl.KNOWN_CHECKSUMS, ("mnist", name), {"md5": hashlib.md5(data).hexdigest()})
    base = dl.MIRRORS["mnist"][0]
    requested = []
    serve(monkeypatch, {base + k: v for k, v in files.items()}, requested)
    ds = MNIST(root=isolated / "r", progress=False)
    np.testing.assert_array_equal(ds.data, images)
    np.testing.assert_array_equal(ds.targets, labels)
    assert sorted(os.listdir(isolated / "r" / "mnist")) == sorted(files)
    assert requested == [base + "train-images-idx3-ubyte.gz", base + "train-labels-idx1-ubyte.gz"]
    MNIST(root=isolated / "r")        # second time: found on disk, nothing fetched
    assert len(requested) == 2


def test_download_falls_back_to_the_next_mirror(isolated, monkeypatch):
    images, _, files = _mnist_gz_files()
    second = dl.MIRRORS["fashion-mnist"][1]
    requested = []
    for name, data in files.items():
        monkeypatch.setitem(dl.KNOWN_CHECKSUMS, ("fashion-mnist", name), {"sha256": hashlib.sha256(data).hexdigest()})
    serve(monkeypatch, {second + k: v for k, v in files.items()}, requested)
    ds = FashionMNIST(root=isolated / "r", progress=False)
    np.testing.assert_array_equal(ds.data, images)
    assert requested[0].startswith(dl.MIRRORS["fashion-mnist"][0]) and requested[1].startswith(second)


def test_dataset_download_with_bad_checksum_leaves_nothing(isolated, monkeypatch):
    _, _, files = _mnist_gz_files()
    serve(monkeypatch, {b + k: v for b in dl.MIRRORS["mnist"] for k, v in files.items()})
    with pytest.raises(DatasetNotFoundError, match=r"(?s)Download failed: .*has md5 .* but expected "
                                                   r"f68b3c2dcbeaaa9fbdd348bbdeb94873"):
        MNIST(root=isolated / "r", progress=False)
    assert not (isolated / "r" / "mnist").exists()  # the folder made for the download is gone too


def test_cifar_downloads_the_archive_and_reads_it_in_place(isolated, monkeypatch, cifar_arrays):
    buf = io.BytesIO()
    test = cifar_arrays(4)
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in {"cifar-10-batches-bin/test_batch.bin": cifar_bytes(*test)}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    archive = buf.getvalue()
    monkeypatch.setitem(dl.KNOWN_CHECKSUMS, ("cifar-10", "cifar-10-binary.tar.gz"),
                        {"md5": hashlib.md5(archive).hexdigest()})
    serve(monkeypatch, {"https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz": archive})
    ds = CIFAR10(root=isolated / "r", train=False, progress=False)
    np.testing.assert_array_equal(ds.targets, test[1])
    assert os.listdir(isolated / "r" / "cifar-10") == ["cifar-10-binary.tar.gz"]


def test_known_checksums_cover_every_downloadable_file():
    for folder, stems in (("mnist", MNIST.resources), ("fashion-mnist", FashionMNIST.resources)):
        for split in stems.values():
            for stem in split:
                sums = dl.KNOWN_CHECKSUMS[(folder, stem + ".gz")]
                assert len(sums["md5"]) == 32 and len(sums["sha256"]) == 64
    assert dl.KNOWN_CHECKSUMS[("cifar-10", "cifar-10-binary.tar.gz")]["md5"] == "c32a1d4ab5d03f1284b67883e8d87530"


def test_known_checksums_match_the_shared_fashion_files(data_dir):
    # The shared Fashion-MNIST files are the official upstream .gz files byte for byte.
    path = os.path.join(data_dir, "fashion-mnist", "train-labels-idx1-ubyte.gz")
    sums = dl.KNOWN_CHECKSUMS[("fashion-mnist", "train-labels-idx1-ubyte.gz")]
    assert dl.check_integrity(path, md5=sums["md5"], sha256=sums["sha256"])
    assert not dl.check_integrity(path, md5="0" * 32)
