"""Every zoo model runs a forward pass, a backward pass and an SGD step on a small batch.

Big models are built without their (slow) random initialisation and filled with cheap pseudo-random
weights; inputs are reduced where the architecture allows, to keep the suite fast.
"""

import math

import numpy as np
import pytest

from cnnlab import Tensor, models, nn, optim
from cnnlab.models import GoogLeNetOutputs, googlenet_loss
from cnnlab.runs.tasks import get_task

# name -> (input side, batch, extra config); None side = the registered size.
CASES = {
    "lenet5": (None, 4, {}),
    "fashion_cnn": (None, 4, {}),
    "alexnet": (99, 2, {}),
    "alexnet_owt": (99, 2, {}),
    "zfnet": (99, 2, {}),
    "vgg11": (32, 2, {}), "vgg11_bn": (32, 2, {}), "vgg11_lrn": (32, 2, {}), "vgg13": (32, 2, {}),
    "vgg13_bn": (32, 2, {}), "vgg16_c": (32, 2, {}), "vgg16_c_bn": (32, 2, {}), "vgg16": (32, 2, {}),
    "vgg16_bn": (32, 2, {}), "vgg19": (32, 2, {}), "vgg19_bn": (32, 2, {}),
    "googlenet": (224, 1, {}),  # the paper's auxiliary heads pool 14x14 maps with a fixed 5x5/3 window
    "resnet18": (32, 2, {}), "resnet34": (32, 2, {}), "resnet50": (32, 2, {}), "resnet101": (32, 2, {}),
    "resnet152": (32, 2, {}), "wide_resnet50_2": (32, 2, {}), "wide_resnet101_2": (32, 2, {}),
    "resnet20": (None, 2, {}), "resnet32": (None, 2, {}), "resnet44": (None, 2, {}), "resnet56": (None, 2, {}),
    "resnet110": (None, 2, {}),
    "preact_resnet": (32, 2, {}),
    "wide_resnet": (16, 1, {}),
    "densenet121": (32, 2, {}), "densenet161": (32, 2, {}), "densenet169": (32, 2, {}), "densenet201": (32, 2, {}),
    "mobilenet_v1": (32, 2, {}),
    "squeezenet1_0": (64, 2, {}), "squeezenet1_1": (64, 2, {}),
    "alphago_policy": (None, 2, {}),
    "inception_v3": (75, 2, {"aux_logits": False}),  # 75x75 is the smallest input; the aux head needs ~299
    **{f"efficientnet_b{i}": (32 if i < 4 else 8, 2, {}) for i in range(8)},  # B4-B7: time goes to depth
    "unet": (32, 2, {}), "fcn": (32, 2, {}),     # segmentation: a class per pixel
    "grid_detector": (32, 2, {}),                # detection: boxes
    "captioner": (None, 2, {}),                   # tokens (N, T) per image, teacher-forced
}


# Layers over BIG elements are where the time goes: this machine takes ~0.6 s to first touch 400 MB.
# Outside FULL they are filled only in their first 1M entries (the forward and backward still run
# through them) and frozen, so no gradient of their size is allocated. FULL models train every weight.
BIG = 4_000_000
FULL = {"alexnet", "vgg16"}
CHUNK = 1_000_003


def fill(model, full=True, seed=0):
    """Cheap pseudo-random weights: a tiled block of normal draws, scaled by 1/sqrt(fan_in)."""
    base = np.random.default_rng(seed).standard_normal(CHUNK).astype(np.float32)
    for p in model.parameters():
        if p.ndim < 2:
            continue
        flat = p._data.reshape(-1)  # a view: parameters are contiguous
        end = flat.size if full or flat.size <= BIG else CHUNK
        for start in range(0, end, CHUNK):
            stop = min(start + CHUNK, end)
            flat[start:stop] = base[:stop - start]
        flat[:end] *= np.float32(1.0 / math.sqrt(int(np.prod(p.shape[1:]))))
        if end < flat.size:
            p.requires_grad = False


def test_cases_cover_the_registry():
    assert set(CASES) == set(models.list_models())


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_backward_step(name):
    side, batch, config = CASES[name]
    classes = 361 if name == "alphago_policy" else 10
    if name != "alphago_policy":
        config = dict(config, num_classes=10)
    with models.skip_init():
        model = models.get(name, **config)
    fill(model, full=name in FULL)
    c, h, w = models.input_size(name)
    if side is not None:
        h = w = side
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((batch, c, h, w)).astype(np.float32))
    task = get_task(models.task_of(name))
    model.train()
    if task.name == "detect":                    # one box per image (x0, y0, x1, y1, class)
        target = Tensor(np.array([[[2, 3, 20, 25, 4]]] * batch, np.float32))
    else:
        label_shape = {"segment": (batch, h, w), "caption": (batch, 5)}.get(task.name, (batch,))
        target = Tensor(rng.integers(0, classes, size=label_shape))
    out = task.forward(model, x, target)
    if task.name == "detect":                    # objectness, box and classes per grid cell
        assert out.shape == (batch, 5 + classes - 1, h // model.stride, w // model.stride)
    else:
        logits = out.logits if isinstance(out, GoogLeNetOutputs) else out
        assert logits.shape == {"segment": (batch, classes, h, w), "caption": (batch, 5, classes)}.get(
            task.name, (batch, classes))
    loss = googlenet_loss(out, target, task.make_loss(model))
    assert np.isfinite(loss.item())
    loss.backward()
    params = [p for p in model.parameters() if p.requires_grad]
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"no gradient for {missing[:5]}"
    for p in params:
        assert p.grad.shape == p.shape
        assert np.isfinite(p.grad.numpy()).all()
    first = params[0]
    assert np.abs(first.grad.numpy()).sum() > 0
    before = first.numpy().copy()
    optim.SGD(params, lr=0.01).step()
    assert not np.array_equal(before, first.numpy())


@pytest.mark.parametrize("name,config", [
    ("resnet20", {}), ("preact_resnet", {"depth": 20, "stem": "cifar"}), ("wide_resnet", {"depth": 10}),
    ("googlenet", {}), ("densenet121", {}), ("mobilenet_v1", {"width_mult": 0.25}), ("squeezenet1_1", {}),
])
def test_every_weight_is_initialised(name, config):
    # Models that re-initialise their layers build them without the default draw first (built_for_init):
    # no weight may be left at zero.
    model = models.get(name, **config)
    zero = [n for n, p in model.named_parameters() if p.ndim > 1 and not np.any(p.numpy())]
    assert not zero


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_model_prints_its_table(name):
    from cnnlab.inspect import summary

    side, _, _ = CASES[name]
    with models.skip_init():
        model = models.get(name)
    c, h, w = models.input_size(name)
    if side is not None:
        h = w = side
    table = summary(model, (c, h, w))
    n = sum(p.numel() for p in model.parameters())
    assert f"Total params: {n:,}" in str(table)
    assert sum(r.params for r in table.rows) + table.unused_params == n
