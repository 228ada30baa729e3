"""Test-time crop averaging (AlexNet's ten-crop evaluation)."""

import numpy as np
import pytest

from cnnlab import Tensor
from cnnlab.data import transforms as T
from cnnlab.train.evaluation import average_crop_predictions


def close(a, b, tol=1e-10):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=tol, atol=tol)


def first_three_pixels(t):
    """A stand-in model whose scores are the first three pixels of each crop."""
    return Tensor(t.numpy().reshape(t.shape[0], -1)[:, :3])


def test_average_crop_predictions_averages_scores_or_probabilities_over_the_crops():
    x = np.random.default_rng(0).random((2, 1, 6, 7))
    ten = T.TenCrop(4)(x)
    avg = average_crop_predictions(first_three_pixels, ten)
    close(avg.numpy(), ten.reshape(2, 10, -1)[:, :, :3].mean(axis=1))
    probs = average_crop_predictions(first_three_pixels, Tensor(ten[0]), softmax=True)
    z = ten[0].reshape(10, -1)[:, :3]
    close(probs.numpy(), (np.exp(z) / np.exp(z).sum(1, keepdims=True)).mean(0), 1e-9)


def test_average_crop_predictions_rejects_crops_of_the_wrong_rank():
    with pytest.raises(ValueError, match=r"average_crop_predictions: `crops` must be \(N, crops, C, h, w\)"):
        average_crop_predictions(first_three_pixels, np.zeros((3, 4, 4)))
