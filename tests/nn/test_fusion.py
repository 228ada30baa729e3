"""BatchNorm + ReLU and residual sum + ReLU run as one op in Sequential and ResNet blocks: the same
values and gradients as the separate layers, and no fusion where a hook watches a layer."""

import numpy as np
import pytest

import cnnlab
import cnnlab.functional as F
from cnnlab import models, nn
from cnnlab.nn import fusion
from helpers import assert_close


def step(model, x, y):
    """Loss, output and every parameter gradient of one training step."""
    for p in model.parameters():
        p.grad = None
    out = model(x)
    loss = F.cross_entropy(out.reshape(out.shape[0], -1), y)
    loss.backward()
    return [out.numpy()] + [p.grad.numpy() for p in model.parameters()]


@pytest.mark.parametrize("build,shape", [
    (lambda: nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                           nn.Linear(4 * 3 * 3, 3)), (5, 2, 8, 8)),
    (lambda: models.get("resnet20"), (3, 3, 32, 32)),
])
@pytest.mark.parametrize("training", [True, False])
def test_fused_layers_match_separate_layers(build, shape, training, monkeypatch, rng):
    model = build().double()
    model.train(training)
    x = cnnlab.tensor(rng.standard_normal(shape))
    y = cnnlab.tensor(rng.integers(0, 3, shape[0]))
    state = {k: np.array(v) for k, v in model.state_dict().items()}
    fused = step(model, x, y)
    fused_state = {k: np.array(v) for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    monkeypatch.setattr(fusion, "ENABLED", False)
    separate = step(model, x, y)
    for a, b in zip(fused, separate):
        assert_close(a, b)
    for k, v in model.state_dict().items():   # running statistics updated alike
        assert_close(fused_state[k], np.asarray(v), what=k)


def test_a_hook_on_the_relu_sees_its_output_and_stops_the_fusion(rng, monkeypatch):
    model = nn.Sequential(nn.BatchNorm2d(3), nn.ReLU())
    calls = []
    monkeypatch.setattr(nn.BatchNorm2d, "forward_relu", lambda self, x: calls.append("fused"))
    seen = []
    model[1].register_forward_hook(lambda m, args, out: seen.append(out.shape))
    out = model(cnnlab.tensor(rng.standard_normal((2, 3, 4, 4)).astype(np.float32)))
    assert seen == [(2, 3, 4, 4)] and calls == [] and out.min().item() >= 0


def test_the_fusion_runs_when_nothing_watches(rng, monkeypatch):
    model = nn.Sequential(nn.BatchNorm2d(3), nn.ReLU())
    calls = []
    original = nn.BatchNorm2d.forward_relu
    monkeypatch.setattr(nn.BatchNorm2d, "forward_relu", lambda self, x: calls.append(1) or original(self, x))
    model(cnnlab.tensor(rng.standard_normal((2, 3, 4, 4)).astype(np.float32)))
    assert calls == [1]


def test_a_batch_norm_with_its_own_forward_is_not_fused():
    """A subclass that overrides forward (as SyncBatchNorm does) must run that forward, never the fused op."""
    calls = []

    class CountingBatchNorm(cnnlab.nn.BatchNorm2d):
        def forward(self, input):
            calls.append(1)
            return super().forward(input)

    bn, relu = CountingBatchNorm(3), cnnlab.nn.ReLU()
    assert fusion.fusable(cnnlab.nn.BatchNorm2d(3), relu)
    assert not fusion.fusable(bn, relu)
    fusion.bn_relu(bn, relu, cnnlab.randn(2, 3, 4, 4))
    assert calls == [1]
