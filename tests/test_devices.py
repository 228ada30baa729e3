"""Layers, one optimizer step and a short training loop on every device, against PyTorch on the CPU.

conftest's ``device`` fixture runs each test on "cpu" and, when CuPy sees a GPU, on "cuda".
"""

import numpy as np
import pytest
import torch

import cnnlab
from cnnlab import backend, nn, optim
from helpers import assert_close


def _copy_to_torch(ours, theirs):
    state = {k: torch.tensor(backend.asnumpy(v)) for k, v in ours.state_dict().items()}
    theirs.load_state_dict(state)


def _on(device, array, requires_grad=False):
    return cnnlab.tensor(backend.to_device(array, device), requires_grad=requires_grad)


LAYERS = {  # name: (cnnlab layer, torch layer, input shape)
    "conv": (lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1, groups=1),
             lambda: torch.nn.Conv2d(3, 4, 3, stride=2, padding=1), (2, 3, 7, 7)),
    "conv_groups_dilation": (lambda: nn.Conv2d(4, 6, 3, padding=2, dilation=2, groups=2),
                             lambda: torch.nn.Conv2d(4, 6, 3, padding=2, dilation=2, groups=2),
                             (2, 4, 6, 6)),
    "conv_transpose": (lambda: nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1),
                       lambda: torch.nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1,
                                                        output_padding=1),
                       (2, 4, 4, 4)),
    "linear": (lambda: nn.Linear(5, 3), lambda: torch.nn.Linear(5, 3), (4, 5)),
    "batch_norm": (lambda: nn.BatchNorm2d(3), lambda: torch.nn.BatchNorm2d(3), (4, 3, 5, 5)),
    "max_pool": (lambda: nn.MaxPool2d(3, stride=2, padding=1),
                 lambda: torch.nn.MaxPool2d(3, stride=2, padding=1), (2, 2, 7, 7)),
    "avg_pool": (lambda: nn.AvgPool2d(2), lambda: torch.nn.AvgPool2d(2), (2, 2, 6, 6)),
    "adaptive_avg_pool": (lambda: nn.AdaptiveAvgPool2d((2, 3)),
                          lambda: torch.nn.AdaptiveAvgPool2d((2, 3)), (2, 2, 7, 8)),
    "relu": (lambda: nn.ReLU(), lambda: torch.nn.ReLU(), (3, 4)),
    "gelu_tanh": (lambda: nn.GELU("tanh"), lambda: torch.nn.GELU("tanh"), (3, 4)),
    "upsample": (lambda: nn.Upsample(scale_factor=2, mode="bilinear"),
                 lambda: torch.nn.Upsample(scale_factor=2, mode="bilinear"), (1, 2, 3, 4)),
    "local_response_norm": (lambda: nn.LocalResponseNorm(3), lambda: torch.nn.LocalResponseNorm(3),
                            (2, 5, 3, 3)),
    "softmax": (lambda: nn.LogSoftmax(dim=1), lambda: torch.nn.LogSoftmax(dim=1), (3, 6)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_forward_and_gradients_on_device(device, rng, name):
    make_ours, make_theirs, shape = LAYERS[name]
    cnnlab.manual_seed(0)
    ours, theirs = make_ours().double(), make_theirs().double()
    _copy_to_torch(ours, theirs)
    ours.to(device)
    x = rng.standard_normal(shape)
    xs, xt = _on(device, x, True), torch.tensor(x, requires_grad=True)
    out, ref = ours(xs), theirs(xt)
    assert out.device == device
    assert_close(out.numpy(), ref.detach().numpy(), "float64", "forward")
    g = rng.standard_normal(ref.shape)
    out.backward(g)
    ref.backward(torch.tensor(g))
    assert_close(xs.grad.numpy(), xt.grad.numpy(), "float64", "input gradient")
    for (k, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert_close(p.grad.numpy(), q.grad.numpy(), "float64", f"gradient of {k}")
    for (k, b), (_, c) in zip(ours.named_buffers(), theirs.named_buffers()):
        assert_close(backend.asnumpy(b.data), c.numpy(), "float64", f"buffer {k}")


OPTIMIZERS = {
    "sgd_momentum_nesterov": (
        lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2)),
    "adam": (lambda p: optim.Adam(p, lr=0.01, weight_decay=1e-3),
             lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=1e-3)),
    "adamw_amsgrad": (lambda p: optim.AdamW(p, lr=0.01, amsgrad=True),
                      lambda p: torch.optim.AdamW(p, lr=0.01, amsgrad=True)),
    "rmsprop": (lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
                lambda p: torch.optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True)),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_steps_on_device(device, rng, name):
    make_ours, make_theirs = OPTIMIZERS[name]
    values = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    ours = [_on(device, v.copy(), True) for v in values]
    theirs = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    opt_ours, opt_theirs = make_ours(ours), make_theirs(theirs)
    for _ in range(2):  # the second step reads the state the first one left
        grads = [rng.standard_normal(v.shape) for v in values]
        for p, q, g in zip(ours, theirs, grads):
            p.grad = _on(device, g)
            q.grad = torch.tensor(g)
        opt_ours.step()
        opt_theirs.step()
    for p, q in zip(ours, theirs):
        assert p.device == device
        assert_close(p.numpy(), q.detach().numpy(), "float64", "parameter after two steps")


def _small_cnn(lib):
    return lib.nn.Sequential(lib.nn.Conv2d(1, 4, 3, padding=1), lib.nn.BatchNorm2d(4),
                             lib.nn.ReLU(), lib.nn.MaxPool2d(2), lib.nn.Flatten(),
                             lib.nn.Linear(4 * 4 * 4, 3))


def test_short_training_loop_on_device(device, rng):
    """Five SGD steps with momentum on a conv-BN-ReLU-pool-linear net: every loss and final weight
    equal to PyTorch's (float64), with the batches moved to the device as a training loop does."""
    cnnlab.manual_seed(0)
    ours, theirs = _small_cnn(cnnlab).double(), _small_cnn(torch).double()
    _copy_to_torch(ours, theirs)
    ours.to(device)
    opt_ours = optim.SGD(ours.parameters(), lr=0.05, momentum=0.9)
    opt_theirs = torch.optim.SGD(theirs.parameters(), lr=0.05, momentum=0.9)
    images, labels = rng.standard_normal((5, 8, 1, 8, 8)), rng.integers(0, 3, (5, 8))
    losses = []
    for x, y in zip(images, labels):
        xs, ys = cnnlab.tensor(x).to(device), cnnlab.tensor(y).to(device)
        loss = nn.CrossEntropyLoss()(ours(xs), ys)
        opt_ours.zero_grad()
        loss.backward()
        opt_ours.step()
        ref = torch.nn.CrossEntropyLoss()(theirs(torch.tensor(x)), torch.tensor(y))
        opt_theirs.zero_grad()
        ref.backward()
        opt_theirs.step()
        losses.append((float(loss), float(ref.detach())))
    np.testing.assert_allclose([a for a, _ in losses], [b for _, b in losses], rtol=1e-8)
    assert losses[-1][0] < losses[0][0]
    for (k, a), (_, b) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert_close(backend.asnumpy(a), b.numpy(), "float64", k)


def test_the_device_fixture_points_the_oracle_helpers_at_the_device(device):
    import helpers

    assert helpers.DEVICE == device
    assert helpers._to_ours(np.zeros(2), "float32", False).device == device
