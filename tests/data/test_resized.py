"""ResizedDataset: every image resized as it is read, one by one or a batch at a time, the same way."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from cnnlab.data import ArrayDataset, Subset
from cnnlab.data.resized import ResizedDataset


def _dataset():
    data = np.random.default_rng(0).integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)
    return ArrayDataset(data, np.arange(5), normalize=((0.5, 0.4, 0.3), (0.2, 0.25, 0.3)))


def test_batch_and_sample_agree_and_match_pytorchs_antialiased_bilinear():
    base = _dataset()
    ds = ResizedDataset(Subset(base, [4, 1, 2]), 5)
    images, labels = ds.get_batch(np.array([0, 2]))
    assert images.shape == (2, 3, 5, 5) and labels.tolist() == [4, 2]
    np.testing.assert_allclose(ds[2][0].data, images[1], rtol=1e-6, atol=1e-6)
    original = torch.from_numpy(base.get_batch(np.array([4, 2]))[0])
    expected = TF.interpolate(original, size=(5, 5), mode="bilinear", antialias=True, align_corners=False)
    np.testing.assert_allclose(images, expected.numpy(), rtol=1e-5, atol=1e-5)
    assert ds.image_shape == (3, 5, 5) and len(ds) == 3 and ds.batchable


@pytest.mark.parametrize("size", [0, -2])
def test_size_must_be_a_positive_int(size):
    with pytest.raises(ValueError, match=rf"ResizedDataset: `size` must be a positive int. Received: size={size}"):
        ResizedDataset(_dataset(), size)
