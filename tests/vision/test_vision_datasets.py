"""cnnlab.vision.datasets: torchvision's and cnnlab's layouts, where a missing dataset was looked for,
downloads into ``root``, CIFAR-10's binary version only, and the lazy ImageFolder."""

import gzip
import os
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

import cnnlab
from cnnlab.data import download as dl
from cnnlab.data import write_cifar_bin, write_idx
from cnnlab.utils.data import DataLoader
from cnnlab.vision import datasets, transforms


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise urllib.error.URLError("network disabled in tests")
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.delenv("CNNLAB_DATA", raising=False)


def write_mnist(directory, prefix="train", n=6, gz=False, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    os.makedirs(directory, exist_ok=True)
    suffix = ".gz" if gz else ""
    write_idx(os.path.join(directory, f"{prefix}-images-idx3-ubyte{suffix}"), images)
    write_idx(os.path.join(directory, f"{prefix}-labels-idx1-ubyte{suffix}"), labels)
    return images, labels


@pytest.mark.parametrize("cls, layout, gz", [
    (datasets.MNIST, "MNIST/raw", False),          # torchvision, after its download extracts the .gz
    (datasets.MNIST, "mnist", True),               # cnnlab
    (datasets.FashionMNIST, "FashionMNIST/raw", True),
    (datasets.FashionMNIST, "fashion-mnist", True),
    (datasets.MNIST, ".", True),
])
def test_idx_datasets_find_both_layouts_and_give_pil_images(tmp_path, cls, layout, gz):
    images, labels = write_mnist(str(tmp_path / layout), "t10k", gz=gz)
    ds = cls(str(tmp_path), train=False)
    assert len(ds) == 6
    img, target = ds[2]
    assert isinstance(img, Image.Image) and img.mode == "L" and isinstance(target, int)
    np.testing.assert_array_equal(np.asarray(img), images[2])
    assert target == labels[2]
    assert ds.data.dtype == np.uint8 and ds.data.shape == (6, 28, 28)
    np.testing.assert_array_equal(ds.targets.numpy(), labels)
    assert ds.class_to_idx[ds.classes[3]] == 3


def test_where_it_looked_and_cnnlab_data_as_a_second_place(tmp_path, monkeypatch):
    root = tmp_path / "empty"
    with pytest.raises(FileNotFoundError) as info:
        datasets.MNIST(str(root))
    message = str(info.value)
    for d in ("empty/MNIST/raw", "empty/MNIST", "empty/mnist"):
        assert os.path.join(str(tmp_path), d) in message
    assert "train-images-idx3-ubyte.gz (or uncompressed train-images-idx3-ubyte)" in message
    assert "not attempted (download=False)" in message

    shared = tmp_path / "shared"
    images, _ = write_mnist(str(shared / "mnist"), "train", gz=True)
    monkeypatch.setenv("CNNLAB_DATA", str(shared))
    ds = datasets.MNIST(str(root))            # nothing under root: the data already on the machine is used
    np.testing.assert_array_equal(np.asarray(ds[0][0]), images[0])
    assert not root.exists()                  # and nothing was written


def test_download_goes_into_torchvisions_layout_under_root(tmp_path, monkeypatch):
    calls = []

    def fake(folder, filename, directory, progress=True, mirrors=None):
        calls.append((folder, filename, directory))
        rng = np.random.default_rng(len(calls))
        arr = rng.integers(0, 256, (4, 28, 28), dtype=np.uint8) if "images" in filename else \
            rng.integers(0, 10, 4).astype(np.uint8)
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, filename)
        write_idx(path, arr)
        return path

    monkeypatch.setattr(dl, "download_resource", fake)
    ds = datasets.FashionMNIST(str(tmp_path), train=True, download=True)
    raw = os.path.join(str(tmp_path), "FashionMNIST", "raw")
    assert calls == [("fashion-mnist", "train-images-idx3-ubyte.gz", raw),
                     ("fashion-mnist", "train-labels-idx1-ubyte.gz", raw)]
    assert len(ds) == 4


def test_download_failure_is_in_the_message(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Download failed: .*network disabled in tests"):
        datasets.MNIST(str(tmp_path), download=True)


def write_cifar(directory, name, n=5, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, n)
    os.makedirs(directory, exist_ok=True)
    write_cifar_bin(os.path.join(directory, name), images, labels)
    return images, labels


def test_cifar10_binary_layouts(tmp_path):
    images, labels = write_cifar(str(tmp_path / "a" / "cifar-10-batches-bin"), "test_batch.bin")
    ds = datasets.CIFAR10(str(tmp_path / "a"), train=False)
    img, target = ds[1]
    assert img.mode == "RGB" and img.size == (32, 32)
    np.testing.assert_array_equal(np.asarray(img), images[1])
    assert target == labels[1] and ds.targets == labels.tolist() and ds.data.shape == (5, 32, 32, 3)
    images, _ = write_cifar(str(tmp_path / "b" / "cifar-10"), "data_batch_subset.bin.gz")   # cnnlab's layout
    np.testing.assert_array_equal(np.asarray(datasets.CIFAR10(str(tmp_path / "b"))[0][0]), images[0])


def test_cifar10_pickled_version_is_never_read(tmp_path, monkeypatch):
    pickled = tmp_path / "cifar-10-batches-py"
    pickled.mkdir()
    (pickled / "data_batch_1").write_bytes(b"\x80\x04not read")
    with pytest.raises(FileNotFoundError) as info:
        datasets.CIFAR10(str(tmp_path))
    message = str(info.value)
    assert "Found the pickled python version" in message and "cifar-10-batches-py" in message
    assert "download=True fetches the binary version, cifar-10-binary.tar.gz" in message
    calls = []

    def fake(folder, filename, directory, progress=True, mirrors=None):
        calls.append((folder, filename, directory))
        raise dl.DownloadError("offline")

    monkeypatch.setattr(dl, "download_resource", fake)
    with pytest.raises(FileNotFoundError, match="Download failed: offline"):
        datasets.CIFAR10(str(tmp_path), download=True)
    assert calls == [("cifar-10", "cifar-10-binary.tar.gz", str(tmp_path))]


def test_batches_of_tensor_pipelines_match_sample_by_sample(tmp_path):
    write_mnist(str(tmp_path / "MNIST" / "raw"), "train", n=10)
    pipeline = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    ds = datasets.MNIST(str(tmp_path), transform=pipeline)
    assert ds.batchable
    fast = [b for b in DataLoader(ds, batch_size=4)]
    slow = [b for b in DataLoader(ds, batch_size=4, collate_fn=cnnlab.utils.data.default_collate)]
    for (fx, fy), (sx, sy) in zip(fast, slow):
        np.testing.assert_array_equal(fx.numpy(), sx.numpy())
        np.testing.assert_array_equal(fy.numpy(), sy.numpy())
    assert not datasets.MNIST(str(tmp_path), transform=transforms.Compose(
        [transforms.RandomCrop(28, padding=2), transforms.ToTensor()])).batchable


# ---------------------------------------------------------------------- ImageFolder
@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    sizes = {"cat": [(10, 12), (7, 5)], "dog": [(20, 9)], "emu": [(6, 6), (8, 11), (9, 9)]}
    for cls, shapes in sizes.items():
        (tmp_path / cls).mkdir()
        for i, (h, w) in enumerate(shapes):
            Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(tmp_path / cls / f"{i}.png")
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    Image.fromarray(rng.integers(0, 256, (4, 4), dtype=np.uint8)).save(tmp_path / "dog" / "gray.jpg")
    return tmp_path


def test_image_folder_is_lazy_and_serves_mixed_sizes(folder):
    opened = []

    def loader(path):
        opened.append(path)
        return datasets.default_loader(path)

    ds = datasets.ImageFolder(str(folder), loader=loader)
    assert opened == []                                              # nothing decoded up front
    assert ds.classes == ["cat", "dog", "emu"] and ds.class_to_idx == {"cat": 0, "dog": 1, "emu": 2}
    assert [os.path.relpath(p, folder) for p, _ in ds.samples] == [
        "cat/0.png", "cat/1.png", "dog/0.png", "dog/gray.jpg", "emu/0.png", "emu/1.png", "emu/2.png"]
    assert ds.targets == [0, 0, 1, 1, 2, 2, 2] and ds.imgs == ds.samples
    img, target = ds[3]
    assert opened == [ds.samples[3][0]] and img.mode == "RGB" and img.size == (4, 4) and target == 1
    assert [ds[i][0].size for i in (0, 1, 2)] == [(12, 10), (5, 7), (9, 20)]

    crop = datasets.ImageFolder(str(folder), transform=transforms.Compose(
        [transforms.RandomResizedCrop(8), transforms.ToTensor()]))
    batches = list(DataLoader(crop, batch_size=3, shuffle=True, num_workers=2))
    assert [tuple(b[0].shape) for b in batches] == [(3, 3, 8, 8), (3, 3, 8, 8), (1, 3, 8, 8)]


def test_image_folder_valid_files_and_errors(folder, tmp_path_factory):
    only_png = datasets.ImageFolder(str(folder), is_valid_file=lambda p: p.endswith(".png"))
    assert len(only_png) == 6
    empty = tmp_path_factory.mktemp("e")
    (empty / "a").mkdir()
    (empty / "b").mkdir()
    Image.new("RGB", (2, 2)).save(empty / "a" / "x.png")
    with pytest.raises(FileNotFoundError, match=r"ImageFolder: found no valid file for the classes b in .*"
                                                r"Supported extensions are: .jpg"):
        datasets.ImageFolder(str(empty))
    assert len(datasets.ImageFolder(str(empty), allow_empty=True)) == 1
    with pytest.raises(FileNotFoundError, match=r"ImageFolder: `root` .* is not a directory"):
        datasets.ImageFolder(str(empty / "nope"))


def test_fake_data_repeats_per_index():
    ds = datasets.FakeData(size=5, image_size=(3, 6, 4), num_classes=3, transform=transforms.ToTensor())
    x, y = ds[2]
    assert x.shape == (3, 6, 4) and 0 <= y < 3 and len(ds) == 5
    np.testing.assert_array_equal(ds[2][0].numpy(), x.numpy())
    assert datasets.FakeData(size=2, image_size=(1, 5, 5))[0][0].mode == "L"
    with pytest.raises(IndexError, match=r"FakeData: index 5 is out of range for 5 samples"):
        ds[5]


def test_transform_and_target_transform_apply_to_every_vision_dataset(folder, tmp_path):
    # one rule for all (torchvision's StandardTransform): transform on the image, target_transform on the label
    def size_of(img):
        return img.size

    def named(label):
        return f"class {label}"

    fake = datasets.FakeData(size=2, image_size=(1, 5, 7), num_classes=3)
    img, target = fake[1]
    fake_t = datasets.FakeData(size=2, image_size=(1, 5, 7), num_classes=3, transform=size_of, target_transform=named)
    assert fake_t[1] == ((7, 5), f"class {target}")
    assert datasets.FakeData(size=2, image_size=(1, 5, 7), num_classes=3, target_transform=named)[1][1] == \
        f"class {target}"
    ds = datasets.ImageFolder(str(folder), transform=size_of, target_transform=named)
    assert ds[2] == ((9, 20), "class 1")
    _, labels = write_mnist(str(tmp_path / "mnist"), "t10k", gz=True)
    assert datasets.MNIST(str(tmp_path), train=False, transform=size_of, target_transform=named)[4] == \
        ((28, 28), f"class {labels[4]}")
