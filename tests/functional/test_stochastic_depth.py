"""stochastic_depth / nn.StochasticDepth with torchvision.ops semantics.

The draws cannot match PyTorch's generator, so each test reads our mask back from the output and
checks the forward and the gradient against PyTorch's ``input * noise`` with that same mask
(torchvision's definition), plus the mask's shape, values and drop rate.
"""

import numpy as np
import pytest
import torch

import cnnlab
import cnnlab.functional as F
from cnnlab import nn
from helpers import assert_close

R = np.random.default_rng(3)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode", ["row", "batch"])
def test_matches_torchvision_definition_with_the_same_mask(mode, dtype):
    p = 0.4
    x = R.uniform(0.5, 1.5, (6, 3, 4, 4)).astype(dtype)  # no zeros: the mask is out / x
    ours = cnnlab.tensor(x, requires_grad=True)
    out = F.stochastic_depth(ours, p, mode, generator=np.random.default_rng(0))
    mask = out.numpy() / x
    per_sample = mask.reshape(6, -1)
    assert np.allclose(per_sample, per_sample[:, :1]), "one draw per sample"
    if mode == "batch":
        assert np.allclose(per_sample, per_sample[0, 0]), "one draw for the batch"
    kept = mask[mask != 0]
    assert np.allclose(kept, 1 / (1 - p), rtol=1e-5), "kept values scaled by 1 / (1 - p)"
    noise = torch.tensor(mask[:, :1, :1, :1] if mode == "row" else mask[:1, :1, :1, :1])
    theirs = torch.tensor(x, requires_grad=True)
    ref = theirs * noise
    assert_close(out.numpy(), ref.detach().numpy(), dtype, "forward")
    g = R.standard_normal(x.shape).astype(dtype)
    out.backward(g)
    ref.backward(torch.tensor(g))
    assert_close(ours.grad.numpy(), theirs.grad.numpy(), dtype, "gradient")


def test_drop_rate_and_expectation():
    x = cnnlab.tensor(np.ones((20000, 2)))
    out = F.stochastic_depth(x, 0.25, "row", generator=np.random.default_rng(1)).numpy()
    dropped = (out[:, 0] == 0).mean()
    assert abs(dropped - 0.25) < 0.02
    assert abs(out.mean() - 1.0) < 0.03  # scaled by 1 / (1 - p): expectation kept


def test_eval_p0_and_p1():
    x = cnnlab.tensor(R.standard_normal((4, 3)))
    assert np.array_equal(F.stochastic_depth(x, 0.9, "row", training=False).numpy(), x.numpy())
    assert np.array_equal(F.stochastic_depth(x, 0.0, "batch").numpy(), x.numpy())
    assert not F.stochastic_depth(x, 1.0, "row").numpy().any()


def test_module_train_and_eval():
    layer = nn.StochasticDepth(0.5, "row")
    assert repr(layer) == "StochasticDepth(p=0.5, mode=row)"
    x = cnnlab.tensor(np.ones((64, 2)))
    cnnlab.manual_seed(0)
    out = layer(x).numpy()
    assert set(np.unique(out)) == {0.0, 2.0}
    layer.eval()
    assert np.array_equal(layer(x).numpy(), x.numpy())


def test_errors():
    x = cnnlab.tensor(np.ones((2, 2)))
    with pytest.raises(
        ValueError,
        match=r"stochastic_depth: `p` must be a probability in \[0, 1\]. "
        r"Received: p=1.5",
    ):
        F.stochastic_depth(x, 1.5, "row")
    with pytest.raises(
        ValueError,
        match=r"stochastic_depth: `mode` must be one of 'row', 'batch'. "
        r"Received: mode='col'",
    ):
        F.stochastic_depth(x, 0.5, "col")
    with pytest.raises(
        ValueError, match=r"StochasticDepth: `p` must be in \[0, 1\]. Received: p=-0.1"
    ):
        nn.StochasticDepth(-0.1, "row")
    with pytest.raises(
        ValueError,
        match="StochasticDepth: `mode` must be one of 'row', 'batch'. Received: mode='rows'",
    ):
        nn.StochasticDepth(0.1, "rows")
    with pytest.raises(ValueError, match="stochastic_depth: `input` must have a batch dimension"):
        F.stochastic_depth(cnnlab.tensor(1.0), 0.5, "row")
