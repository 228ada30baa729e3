"""DeepDream: the objective rises, the run repeats from its seed, and the arguments are checked."""

import numpy as np
import pytest

import cnnlab
from cnnlab import models
from cnnlab.inspect import dream


@pytest.fixture(scope="module")
def net():
    cnnlab.manual_seed(0)
    return models.get("fashion_cnn").eval()


@pytest.fixture(scope="module")
def noise():
    return (0.1 * np.random.default_rng(0).standard_normal((1, 28, 28))).astype(np.float32)


def test_layer_activations_grow_and_the_run_repeats(net, noise):
    a = dream(net, noise, layer="features.6", steps=4, octaves=2, seed=1)
    assert a.image.shape == (1, 1, 28, 28) and len(a.objectives) == 8
    assert a.end > 2 * a.start
    b = dream(net, noise, layer="features.6", steps=4, octaves=2, seed=1)
    np.testing.assert_array_equal(a.image, b.image)
    # the model is left as it was: evaluation mode, no parameter gradients
    assert not net.training and all(p.grad is None for p in net.parameters())


def test_class_score_rises_without_jitter(net, noise):
    before = net(cnnlab.tensor(noise[None])).numpy()[0, 3]
    d = dream(net, noise, target=3, steps=5, octaves=1, jitter=0)
    assert d.start == pytest.approx(float(before), rel=1e-5)
    assert d.end > d.start and all(b > a for a, b in zip(d.objectives, d.objectives[1:]))
    assert net(cnnlab.tensor(d.image)).numpy()[0, 3] == pytest.approx(d.end, rel=1e-5)


def test_exactly_one_objective_is_required(net, noise):
    with pytest.raises(ValueError, match=r"dream: give `layer` .* or `target` .*, exactly one. "
                                         r"Received: layer=None, target=None"):
        dream(net, noise)
    with pytest.raises(ValueError, match="dream: the model has no layer 'nope'"):
        dream(net, noise, layer="nope")
