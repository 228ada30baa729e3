"""The bundled fashion-mnist-mini subset: its bytes, its balance, and that it is the documented drawing."""

import hashlib
import importlib.util
import os

import numpy as np
import pytest

from cnnlab.data import get_dataset
from cnnlab.data import mini
from cnnlab.data.download import resolve_data_dir
from cnnlab.data.idx import read_idx

# The sha256 published in the README (an independent record of the bytes that shipped).
README_SHA256 = {
    "train-images-idx3-ubyte.gz": "a77f37afb21b30320948e8726d9924e230ce0c6f2bebf8cabc0e8c8ff6643b96",
    "train-labels-idx1-ubyte.gz": "1a8594e7c79a95615df5ee757be7b68f8dafebf127f07338dd1aff24d1c89b5a",
    "t10k-images-idx3-ubyte.gz": "22afba54e58855cb7a458d77d339d537c7ecf9982db94c3eb9a40fec1c875cc0",
    "t10k-labels-idx1-ubyte.gz": "6e5e0692bed9f33c9425b805373b8b3cec330c5ea3ad9635b77efd0e88cdc7ee",
}
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
TOOL = os.path.join(ROOT, "tools", "make_fashion_mini.py")
README = os.path.join(ROOT, "README.md")


def test_the_bundled_files_have_the_recorded_sha256():
    assert mini.SHA256 == README_SHA256
    with open(README, encoding="utf-8") as f:
        readme = f.read()
    for name, digest in README_SHA256.items():
        assert f"| `{name}` | `{digest}` |" in readme, name
    for name, expected in README_SHA256.items():
        with open(os.path.join(mini.DIRECTORY, name), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == expected, name


def test_the_subset_is_class_balanced_and_named_fashion_mnist_mini():
    train = get_dataset("fashion-mnist-mini", train=True)
    test = get_dataset("fashion_mnist_mini", train=False, normalize=True)
    assert train.data.shape == (6000, 28, 28) and test.data.shape == (1000, 28, 28)
    assert np.bincount(train.targets).tolist() == [600] * 10
    assert np.bincount(test.targets).tolist() == [100] * 10
    assert train.classes[0] == "T-shirt/top" and test[0][0].shape == (1, 28, 28)


def test_the_subset_is_the_documented_drawing_from_the_official_files():
    source = os.path.join(resolve_data_dir(), "fashion-mnist")
    if not os.path.isfile(os.path.join(source, "train-labels-idx1-ubyte.gz")):
        pytest.skip(f"the official Fashion-MNIST files are not in {source}")
    spec = importlib.util.spec_from_file_location("make_fashion_mini", TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    for stem, split in (("train", True), ("t10k", False)):
        per_class, seed = tool.SPLITS[stem]
        labels = read_idx(os.path.join(source, f"{stem}-labels-idx1-ubyte.gz"))
        images = read_idx(os.path.join(source, f"{stem}-images-idx3-ubyte.gz"))
        keep = tool.draw(labels, per_class, seed)
        bundled = get_dataset("fashion-mnist-mini", train=split)
        np.testing.assert_array_equal(bundled.data, images[keep])
        np.testing.assert_array_equal(bundled.targets, labels[keep])
