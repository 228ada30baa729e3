"""DataLoader(pin_memory=...) is accepted as in PyTorch and changes nothing on the CPU."""

import numpy as np
import pytest

from cnnlab.data import DataLoader, TensorDataset


def _batches(loader):
    return [[t.numpy() for t in batch] for batch in loader]


def test_pin_memory_is_accepted_and_a_no_op():
    ds = TensorDataset(np.arange(20.0, dtype=np.float32).reshape(10, 2), np.arange(10))
    plain = _batches(DataLoader(ds, batch_size=4, shuffle=True, seed=3))
    pinned_loader = DataLoader(ds, batch_size=4, shuffle=True, seed=3, pin_memory=True)
    assert pinned_loader.pin_memory is True
    pinned = _batches(pinned_loader)
    assert len(plain) == len(pinned) == 3
    for a, b in zip(plain, pinned):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


def test_pin_memory_must_be_a_bool():
    ds = TensorDataset(np.zeros((2, 1), np.float32))
    with pytest.raises(TypeError, match=r"DataLoader: `pin_memory` must be a bool. Received: "
                                        r"pin_memory='yes'"):
        DataLoader(ds, pin_memory="yes")
