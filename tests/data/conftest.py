"""Fixtures for the data tests: no network, and small files in the official formats."""

import gzip
import urllib.error
import urllib.request

import numpy as np
import pytest

from data_helpers import idx_bytes


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Every data test runs offline: a test that wants a download mocks ``urlopen`` itself."""
    def refuse(*args, **kwargs):
        raise urllib.error.URLError("network disabled in tests")
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.fixture
def write_mnist_files():
    """Write a small MNIST-format IDX pair for one split into a directory; returns (images, labels)."""
    def write(directory, n=12, prefix="train", gz=True, seed=0, rows=28, cols=28):
        rng = np.random.default_rng(seed)
        images = rng.integers(0, 256, size=(n, rows, cols), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        directory.mkdir(parents=True, exist_ok=True)
        suffix = ".gz" if gz else ""
        for name, arr in ((f"{prefix}-images-idx3-ubyte", images), (f"{prefix}-labels-idx1-ubyte", labels)):
            payload = idx_bytes(arr)
            (directory / (name + suffix)).write_bytes(gzip.compress(payload) if gz else payload)
        return images, labels
    return write


@pytest.fixture
def cifar_arrays():
    """Random CIFAR-shaped images (N, 3, 32, 32) uint8 and labels 0..9."""
    def make(n, seed=0):
        rng = np.random.default_rng(seed)
        return (rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8),
                rng.integers(0, 10, size=n).astype(np.uint8))
    return make
