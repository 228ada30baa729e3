import sys

import numpy as np
import pytest

from cnnlab.data import DataLoader, Digits, get_dataset


def test_digits_split_is_deterministic_disjoint_and_complete():
    datasets = pytest.importorskip("sklearn.datasets")
    ref = datasets.load_digits()
    train, test = Digits(train=True), Digits(train=False, test_fraction=0.2, seed=0)
    assert len(train) + len(test) == 1797 and len(test) == round(0.2 * 1797)
    both = np.concatenate([train.data, test.data]).reshape(1797, -1).astype(np.float64)
    # Every original sample lands in exactly one split (compare as sorted rows with their labels).
    ours = np.column_stack([both, np.concatenate([train.targets, test.targets])])
    theirs = np.column_stack([ref.data, ref.target])
    np.testing.assert_array_equal(ours[np.lexsort(ours.T[::-1])], theirs[np.lexsort(theirs.T[::-1])])
    np.testing.assert_array_equal(Digits(train=True).targets, train.targets)
    assert not np.array_equal(Digits(train=False, seed=1).targets, test.targets)


def test_digits_values_scaled_from_0_16():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits
    ref = load_digits()
    ds = Digits(train=True, test_fraction=0.5, seed=3)
    x, y = ds[0]
    assert x.shape == (1, 8, 8) and x.dtype == np.float32
    assert ds.classes == [str(i) for i in range(10)]
    images, labels = next(iter(DataLoader(ds, batch_size=len(ds))))
    assert float(images.numpy().max()) == 1.0 and float(images.numpy().min()) == 0.0
    # The first training sample is some original sample divided by 16.
    match = np.flatnonzero((ref.images == ds.data[0]).all(axis=(1, 2)) & (ref.target == y))
    assert match.size >= 1
    np.testing.assert_allclose(x.numpy()[0], ref.images[match[0]] / 16.0, rtol=1e-7)
    assert type(get_dataset("digits", train=False)) is Digits


def test_digits_errors_and_missing_sklearn(monkeypatch):
    with pytest.raises(ValueError, match=r"Digits: `test_fraction` must be a number in \(0, 1\). "
                                         r"Received: test_fraction=1.5"):
        Digits(test_fraction=1.5)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install scikit-learn \(or pip install 'cnnlab\[digits\]'\)"):
        Digits()
