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


# ------------------------------------------------------------------ inference: Conv2d + BatchNorm2d (+ ReLU)
def _count_folds(monkeypatch):
    from cnnlab.functional import conv as Fconv

    calls = []
    original = Fconv.conv2d_batch_norm
    monkeypatch.setattr(Fconv, "conv2d_batch_norm", lambda *a, **k: calls.append(1) or original(*a, **k))
    return calls


@pytest.mark.parametrize("build,shape,folds", [
    (lambda: nn.Sequential(nn.Conv2d(2, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.Conv2d(16, 4, 3),
                           nn.BatchNorm2d(4), nn.Flatten()), (3, 2, 8, 8), 2),
    (lambda: models.get("resnet20"), (2, 3, 32, 32), 19 + 2),     # 19 conv-bn pairs, 2 shortcut conv-bn
    (lambda: models.get("resnet18"), (1, 3, 64, 64), 17 + 3),
    (lambda: models.get("resnet50"), (1, 3, 32, 32), 49 + 4),
    (lambda: models.get("preact_resnet"), (1, 3, 32, 32), 1 + 8),    # the stem, and each block's middle
])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_inference_folds_each_batch_norm_into_its_convolution(build, shape, folds, dtype, monkeypatch, rng):
    """Under no_grad in evaluation: one op per Conv2d-BatchNorm2d(-ReLU), and the very values of the
    layers run one by one."""
    cnnlab.manual_seed(0)
    model = build().to(dtype).eval()
    for m in model.modules():       # running statistics other than 0 and 1
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean._data[...] = rng.standard_normal(m.num_features) * 0.1
            m.running_var._data[...] = rng.uniform(0.5, 2.0, m.num_features)
    x = cnnlab.tensor(rng.standard_normal(shape).astype(dtype))
    calls = _count_folds(monkeypatch)
    with cnnlab.no_grad():
        folded = model(x).numpy()
        assert len(calls) == folds
        monkeypatch.setattr(fusion, "ENABLED", False)
        apart = model(x).numpy()
    assert len(calls) == folds and np.array_equal(folded, apart)


def test_no_fold_while_recording_in_training_or_under_a_hook(monkeypatch, rng):
    model = nn.Sequential(nn.Conv2d(3, 16, 3), nn.BatchNorm2d(16), nn.ReLU())
    x = cnnlab.tensor(rng.standard_normal((2, 3, 6, 6)).astype(np.float32))
    calls = _count_folds(monkeypatch)
    model.eval()
    model(x).sum().backward()                 # gradient recorded: the layers one by one
    assert calls == [] and model[0].weight.grad is not None
    model.train()
    with cnnlab.no_grad():                    # training mode: batch statistics, running ones updated
        before = model[1].running_mean.numpy().copy()
        model(x)
    assert calls == [] and not np.array_equal(before, model[1].running_mean.numpy())
    model.eval()
    seen = []
    model[0].register_forward_hook(lambda m, args, out: seen.append(out.shape))
    with cnnlab.no_grad():
        model(x)
    assert calls == [] and seen == [(2, 16, 4, 4)]


def test_conv2d_batch_norm_matches_torch_and_refuses_to_record(rng):
    import torch
    import torch.nn.functional as TF

    from cnnlab.functional.conv import conv2d_batch_norm

    x, w, b = rng.standard_normal((2, 4, 7, 7)), rng.standard_normal((8, 2, 3, 3)), rng.standard_normal(8)
    mean, var = rng.standard_normal(8), rng.uniform(0.5, 2.0, 8)
    gamma, beta = rng.standard_normal(8), rng.standard_normal(8)
    t = {k: torch.from_numpy(v) for k, v in dict(x=x, w=w, b=b, mean=mean, var=var, g=gamma, beta=beta).items()}
    expect = TF.relu(TF.batch_norm(TF.conv2d(t["x"], t["w"], t["b"], stride=2, padding=1, groups=2), t["mean"],
                                   t["var"], t["g"], t["beta"], training=False, eps=1e-3)).numpy()
    ours = [cnnlab.tensor(a) for a in (x, w, b, mean, var, gamma, beta)]
    with cnnlab.no_grad():
        out = conv2d_batch_norm(ours[0], ours[1], ours[2], 2, 1, 1, 2, *ours[3:], 1e-3, relu=True)
    assert_close(out.numpy(), expect)
    with cnnlab.no_grad():           # an empty batch, and one image without its batch axis
        empty = conv2d_batch_norm(ours[0][:0], ours[1], ours[2], 2, 1, 1, 2, *ours[3:], 1e-3, relu=True)
        single = conv2d_batch_norm(ours[0][1], ours[1], ours[2], 2, 1, 1, 2, *ours[3:], 1e-3, relu=True)
    assert empty.shape == (0, 8, 4, 4)
    assert_close(single.numpy(), expect[1])
    with pytest.raises(RuntimeError, match="no_grad"):
        conv2d_batch_norm(ours[0], ours[1], ours[2], 2, 1, 1, 2, *ours[3:], 1e-3)
