"""The real datasets in ``$CNNLAB_DATA`` (skipped when unset); expected values from the datasets' manifest."""

import numpy as np
import pytest

from cnnlab.data import CIFAR10, MNIST, DataLoader, FashionMNIST, get_dataset, list_datasets


def test_fashion_mnist_train(data_dir):
    ds = FashionMNIST(root=data_dir, train=True, download=False)
    assert len(ds) == 60000 and ds.data.shape == (60000, 28, 28) and ds.data.dtype == np.uint8
    assert ds.targets[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert abs(ds.data.mean() - 72.9404) < 1e-3
    assert np.bincount(ds.targets).tolist() == [6000] * 10
    assert ds.classes == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                          "Bag", "Ankle boot"]
    images, labels = next(iter(DataLoader(ds, batch_size=256, shuffle=True, seed=0)))
    assert images.shape == (256, 1, 28, 28) and images.dtype == np.float32 and labels.dtype == np.int64


def test_fashion_mnist_test(data_dir):
    ds = FashionMNIST(root=data_dir, train=False, download=False)
    assert len(ds) == 10000
    assert ds.targets[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    assert abs(ds.data.mean() - 73.1466) < 1e-3


def test_mnist_test(data_dir):
    ds = MNIST(root=data_dir, train=False, download=False)
    assert len(ds) == 10000
    assert ds.targets[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(ds.targets).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    x, y = ds[0]
    assert x.shape == (1, 28, 28) and y == 7


def test_cifar10_test_and_train_subset(data_dir):
    ds = CIFAR10(root=data_dir, train=False, download=False)
    assert len(ds) == 10000 and ds.data.shape == (10000, 32, 32, 3)
    assert np.bincount(ds.targets).tolist() == [1000] * 10
    np.testing.assert_allclose(ds.data.reshape(-1, 3).mean(axis=0), [125.987, 123.691, 114.847], atol=2e-3)
    assert ds.classes == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    train = get_dataset("cifar-10", root=data_dir, train=True, download=False)
    assert len(train) == 10000
    np.testing.assert_allclose(train.data.reshape(-1, 3).mean(axis=0), [125.818, 123.194, 113.997], atol=2e-3)


def test_env_var_finds_the_shared_data(data_dir, monkeypatch):
    monkeypatch.setenv("CNNLAB_DATA", data_dir)
    assert len(get_dataset("mnist", train=False, download=False)) == 10000


def test_get_dataset_registry():
    assert list_datasets() == ["mnist", "fashion-mnist", "cifar10", "digits", "fashion-mnist-mini", "mnist-scenes"]
    with pytest.raises(ValueError, match=r"get_dataset: unknown dataset 'imagenet'. Expected one of: mnist, "
                                         r"fashion-mnist, cifar10, digits, fashion-mnist-mini, mnist-scenes"):
        get_dataset("imagenet")
    with pytest.raises(TypeError, match=r"get_dataset: `name` must be a string"):
        get_dataset(3)


def test_get_dataset_aliases(tmp_path, write_mnist_files):
    write_mnist_files(tmp_path / "fashion-mnist", n=3, prefix="t10k")
    ds = get_dataset("Fashion_MNIST", root=tmp_path, train=False, download=False)
    assert type(ds) is FashionMNIST and len(ds) == 3
    assert type(get_dataset("fashionmnist", root=tmp_path, train=False, download=False)) is FashionMNIST


def test_normalize_true_uses_published_statistics(tmp_path, write_mnist_files):
    images, _ = write_mnist_files(tmp_path / "mnist", n=3, prefix="t10k")
    ds = MNIST(root=tmp_path, train=False, download=False, normalize=True)
    expected = (images[0].astype(np.float32) / np.float32(255) - np.float32(0.1307)) / np.float32(0.3081)
    np.testing.assert_allclose(ds[0][0].numpy()[0], expected, rtol=1e-5)
