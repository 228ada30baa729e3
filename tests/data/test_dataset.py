import numpy as np
import pytest

import cnnlab
from cnnlab import Tensor
from cnnlab.data import ArrayDataset, ConcatDataset, Dataset, Subset, TensorDataset, random_split


def gray_dataset(n=6, **kw):
    rng = np.random.default_rng(0)
    return ArrayDataset(rng.integers(0, 256, (n, 4, 5), dtype=np.uint8), rng.integers(0, 3, n), ["a", "b", "c"], **kw)


def color_dataset(n=6, **kw):
    rng = np.random.default_rng(1)
    return ArrayDataset(rng.integers(0, 256, (n, 4, 5, 3), dtype=np.uint8), rng.integers(0, 3, n), **kw)


def test_sample_is_chw_float_in_unit_range():
    ds = gray_dataset()
    x, y = ds[2]
    assert isinstance(x, Tensor) and x.shape == (1, 4, 5) and x.dtype == np.float32
    assert isinstance(y, int) and y == ds.targets[2]
    np.testing.assert_array_equal(x.numpy()[0], ds.data[2].astype(np.float32) / np.float32(255))
    c = color_dataset()
    x, _ = c[-1]
    assert x.shape == (3, 4, 5)
    np.testing.assert_array_equal(x.numpy(), c.data[-1].transpose(2, 0, 1).astype(np.float32) / np.float32(255))
    assert c.image_shape == (3, 4, 5) and ds.num_classes == 3 and ds.class_to_idx["b"] == 1


@pytest.mark.parametrize("make", [gray_dataset, color_dataset])
def test_get_batch_equals_stacked_samples(make):
    ds = make()
    idx = np.array([4, 0, 3, 3])
    images, labels = ds.get_batch(idx)
    assert images.dtype == np.float32 and labels.dtype == np.int64 and images.flags.c_contiguous
    np.testing.assert_array_equal(images, np.stack([ds[int(i)][0].numpy() for i in idx]))
    np.testing.assert_array_equal(labels, [ds[int(i)][1] for i in idx])


def test_normalize_per_channel():
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    ds = color_dataset(normalize=(mean, std))
    raw = color_dataset()
    x = ds[1][0].numpy()
    expected = (raw[1][0].numpy() - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[:, None, None]
    np.testing.assert_allclose(x, expected, rtol=1e-6)
    np.testing.assert_allclose(ds.get_batch(np.array([1]))[0][0], expected, rtol=1e-6)


def test_normalize_errors():
    with pytest.raises(ValueError, match=r"ArrayDataset: `normalize` mean must have 1 or 3 values .* Received mean=\(0.1, 0.2\)"):
        color_dataset(normalize=((0.1, 0.2), 1.0))
    with pytest.raises(ValueError, match=r"`normalize` std must be positive"):
        gray_dataset(normalize=(0.5, 0.0))
    with pytest.raises(ValueError, match=r"`normalize=True` needs published statistics"):
        gray_dataset(normalize=True)
    with pytest.raises(ValueError, match=r"`normalize` must be \(mean, std\)"):
        gray_dataset(normalize=0.5)


def test_transforms_are_per_sample_and_disable_the_fast_path():
    seen = []

    def transform(x):
        seen.append(x.shape)
        return x * 2

    ds = gray_dataset(transform=transform, target_transform=lambda y: y + 10)
    x, y = ds[0]
    assert seen == [(1, 4, 5)]
    np.testing.assert_allclose(x.numpy(), 2 * gray_dataset()[0][0].numpy())
    assert y == gray_dataset()[0][1] + 10
    assert not ds.batchable and gray_dataset().batchable


def test_array_dataset_errors():
    with pytest.raises(ValueError, match=r"`data` must be \(N, H, W\) or \(N, H, W, C\). Received shape \(3, 4\)"):
        ArrayDataset(np.zeros((3, 4), np.uint8), np.zeros(3, int))
    with pytest.raises(ValueError, match=r"`targets` must have one label per image, shape \(3,\). Received shape \(2,\)"):
        ArrayDataset(np.zeros((3, 4, 4), np.uint8), np.zeros(2, int))
    with pytest.raises(TypeError, match=r"`transform` must be callable or None"):
        ArrayDataset(np.zeros((3, 4, 4), np.uint8), np.zeros(3, int), transform=3)
    ds = gray_dataset()
    with pytest.raises(IndexError, match=r"ArrayDataset: index 6 is out of range for a dataset of 6 samples"):
        ds[6]
    with pytest.raises(TypeError, match=r"index must be an int. Received an object of type str"):
        ds["0"]


def test_tensor_dataset():
    x = np.arange(12.0).reshape(6, 2)
    y = np.arange(6)
    ds = TensorDataset(Tensor(x), y)
    assert len(ds) == 6
    a, b = ds[-1]
    np.testing.assert_array_equal(a.numpy(), x[5])
    assert b.item() == 5
    xb, yb = ds.get_batch(np.array([3, 1]))
    np.testing.assert_array_equal(xb, x[[3, 1]])
    with pytest.raises(ValueError, match=r"TensorDataset: all tensors must have the same first dimension. "
                                         r"Received sizes \[6, 5\]"):
        TensorDataset(x, y[:5])


def test_subset_and_concat():
    ds = gray_dataset(6)
    sub = Subset(ds, [5, 1, 3])
    assert len(sub) == 3 and sub.classes == ds.classes and sub.batchable
    np.testing.assert_array_equal(sub[1][0].numpy(), ds[1][0].numpy())
    np.testing.assert_array_equal(sub.get_batch(np.array([0, 2]))[1], ds.targets[[5, 3]])
    with pytest.raises(IndexError, match=r"Subset: indices must lie in \[-6, 6\)"):
        Subset(ds, [6])

    other = gray_dataset(4)
    cat = ds + other
    assert isinstance(cat, ConcatDataset) and len(cat) == 10
    np.testing.assert_array_equal(cat[7][0].numpy(), other[1][0].numpy())
    idx = np.array([9, 0, 6, 5, 2])
    images, labels = cat.get_batch(idx)
    np.testing.assert_array_equal(images, np.stack([cat[int(i)][0].numpy() for i in idx]))
    np.testing.assert_array_equal(labels, [cat[int(i)][1] for i in idx])


def test_base_dataset_needs_subclass_methods():
    with pytest.raises(NotImplementedError, match="must define __getitem__"):
        Dataset()[0]


# ---------------------------------------------------------------- random_split
@pytest.mark.parametrize("n,lengths", [(10, [3, 7]), (10, [0.5, 0.5]), (11, [0.3, 0.3, 0.4]), (7, [0.1, 0.9]),
                                       (5, [1 / 3, 1 / 3, 1 / 3]), (100, [0.8, 0.1, 0.1])])
def test_random_split_sizes_match_pytorch_and_parts_are_disjoint(n, lengths):
    import torch

    ds = TensorDataset(np.arange(n))
    parts = random_split(ds, lengths, seed=0)
    expected = [len(p) for p in torch.utils.data.random_split(range(n), lengths, torch.Generator().manual_seed(0))]
    assert [len(p) for p in parts] == expected
    union = np.concatenate([p.indices for p in parts])
    assert sorted(union.tolist()) == list(range(n))


def test_random_split_is_seeded():
    ds = TensorDataset(np.arange(50))
    a = random_split(ds, [20, 30], seed=3)
    b = random_split(ds, [20, 30], seed=3)
    c = random_split(ds, [20, 30], seed=4)
    np.testing.assert_array_equal(a[0].indices, b[0].indices)
    assert not np.array_equal(a[0].indices, c[0].indices)
    cnnlab.manual_seed(5)
    d = random_split(ds, [20, 30])
    cnnlab.manual_seed(5)
    e = random_split(ds, [20, 30])
    np.testing.assert_array_equal(d[1].indices, e[1].indices)
    f = random_split(ds, [20, 30], generator=np.random.default_rng(3))
    np.testing.assert_array_equal(f[0].indices, a[0].indices)


def test_random_split_errors():
    ds = TensorDataset(np.arange(10))
    with pytest.raises(ValueError, match=r"random_split: `lengths` must be non-negative and sum to the dataset size 10. "
                                         r"Received lengths=\[3, 3\] \(sum 6\)"):
        random_split(ds, [3, 3])
    with pytest.raises(ValueError, match=r"fractional `lengths` must lie in \[0, 1\] and sum to 1"):
        random_split(ds, [0.5, 0.6])
    with pytest.raises(TypeError, match=r"`lengths` must be ints or fractions"):
        random_split(ds, ["a"])
