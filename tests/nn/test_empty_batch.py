"""A batch of 0 samples in evaluation mode gives an empty output of PyTorch's shape."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cnnlab import Tensor, nn, no_grad  # noqa: E402

LAYERS = {  # name: (cnnlab layer, the same PyTorch layer, input shape with a batch of 0)
    "conv": (lambda: nn.Conv2d(3, 16, 3, padding=1), lambda: torch.nn.Conv2d(3, 16, 3, padding=1),
             (0, 3, 8, 8)),
    "linear": (lambda: nn.Linear(5, 2), lambda: torch.nn.Linear(5, 2), (0, 5)),
    "flatten": (lambda: nn.Flatten(), lambda: torch.nn.Flatten(), (0, 2, 3, 3)),
    "batchnorm2d": (lambda: nn.BatchNorm2d(4), lambda: torch.nn.BatchNorm2d(4), (0, 4, 3, 3)),
    "batchnorm1d": (lambda: nn.BatchNorm1d(4), lambda: torch.nn.BatchNorm1d(4), (0, 4)),
    "maxpool": (lambda: nn.MaxPool2d(2), lambda: torch.nn.MaxPool2d(2), (0, 2, 4, 4)),
    "avgpool": (lambda: nn.AvgPool2d(2), lambda: torch.nn.AvgPool2d(2), (0, 2, 4, 4)),
    "adaptive": (lambda: nn.AdaptiveAvgPool2d(1), lambda: torch.nn.AdaptiveAvgPool2d(1),
                 (0, 2, 4, 4)),
    "relu": (lambda: nn.ReLU(), lambda: torch.nn.ReLU(), (0, 2, 4, 4)),
    "dropout": (lambda: nn.Dropout(), lambda: torch.nn.Dropout(), (0, 5)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", LAYERS)
def test_an_empty_batch_in_eval_mode_gives_an_empty_output(name, dtype):
    ours, theirs, shape = LAYERS[name]
    expected = theirs().eval().to(torch.float64 if dtype == np.float64 else torch.float32)(
        torch.zeros(shape, dtype=torch.float64 if dtype == np.float64 else torch.float32))
    layer = ours().eval()
    if dtype == np.float64:
        layer = layer.double()
    with no_grad():
        out = layer(Tensor(np.zeros(shape, dtype)))
    assert tuple(out.shape) == tuple(expected.shape) and out.dtype == dtype


def test_a_zoo_model_with_batch_norm_takes_an_empty_batch():
    from cnnlab import models

    model = models.get("fashion_cnn").eval()
    with no_grad():
        out = model(Tensor(np.zeros((0, 1, 28, 28), np.float32)))
    assert out.shape == (0, 10)
