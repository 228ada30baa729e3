"""Inception-v3: parameter counts (torchvision's), Table 1's grid sizes, training outputs,
torchvision's state-dict names and a forward pass equal to a PyTorch twin loaded with the same
weights."""

import numpy as np
import pytest
import torch

from cnnlab import Tensor, models, no_grad
from cnnlab.cli import main
from cnnlab.interop import load_torch_state_dict
from cnnlab.models.inception import InceptionOutputs
from helpers import assert_close
from torch_twins_zoo import Inception3 as TorchInception3

# REFERENCE.md: torchvision's inception_v3 num_params, with and without the auxiliary head.
PARAMS_WITH_AUX, PARAMS_WITHOUT_AUX = 27_161_264, 23_834_568
# Szegedy et al. 2016, Table 1 at 299x299: (channels, side) after each grid.
GRIDS = {"maxpool2": (192, 35), "Mixed_5d": (288, 35), "Mixed_6e": (768, 17), "Mixed_7c": (2048, 8)}


def count(model):
    return sum(p.numel() for p in model.parameters())


def test_parameter_counts():
    with models.skip_init():
        assert count(models.inception_v3()) == PARAMS_WITH_AUX
        assert count(models.inception_v3(aux_logits=False)) == PARAMS_WITHOUT_AUX
        # 990 fewer classes: fc loses 990 x (2048 + 1), the auxiliary fc 990 x (768 + 1)
        assert count(models.get("inception_v3", num_classes=10)) == PARAMS_WITH_AUX - 990 * (
            2049 + 769
        )


def test_training_outputs_and_grid_sizes_at_299():
    with models.skip_init():
        model = models.inception_v3()
    seen = {}
    for name in GRIDS:
        getattr(model, name).register_forward_hook(
            lambda m, a, out, name=name: seen.__setitem__(name, (out.shape[1], out.shape[2]))
        )
    model.train()
    with no_grad():
        out = model(Tensor(np.random.default_rng(0).random((2, 3, 299, 299), dtype=np.float32)))
    assert isinstance(out, InceptionOutputs)
    assert out.logits.shape == (2, 1000) and out.aux_logits.shape == (2, 1000)
    assert seen == GRIDS


def test_eval_returns_logits_at_smallest_input():
    with models.skip_init():
        model = models.inception_v3(num_classes=7, aux_logits=False).eval()
    with no_grad():
        assert model(Tensor(np.zeros((1, 3, 75, 75), np.float32))).shape == (1, 7)


def test_state_dict_names_and_shapes_are_torchvisions():
    twin = TorchInception3()
    with models.skip_init():
        ours = models.inception_v3()
    theirs = {k: tuple(v.shape) for k, v in twin.state_dict().items()}
    mine = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert mine == theirs
    assert sum(p.numel() for p in twin.parameters()) == PARAMS_WITH_AUX


def test_loads_torch_weights_and_computes_the_same():
    torch.manual_seed(0)
    twin = TorchInception3(num_classes=10, aux_logits=False)
    with torch.no_grad():  # non-trivial BatchNorm statistics, so evaluation mode is tested
        for m in twin.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    twin.eval()
    with models.skip_init():
        ours = models.inception_v3(num_classes=10, aux_logits=False)
    report = load_torch_state_dict(ours, twin.state_dict())
    assert not report.missing_keys and not report.unexpected_keys
    ours.eval()
    x = np.random.default_rng(1).standard_normal((1, 3, 80, 80)).astype(np.float32)
    with no_grad():
        got = ours(Tensor(x)).numpy()
    with torch.no_grad():
        want = twin(torch.tensor(x)).numpy()
    assert_close(got, want, "float32", "inception_v3 logits")


def test_summary_command(capsys):
    assert main(["summary", "inception_v3"]) == 0
    out = capsys.readouterr().out
    assert "Mixed_7c" in out and "27,161,264" in out


def test_bad_arguments():
    with pytest.raises(
        ValueError,
        match=r"inception_v3: `num_classes` must be a positive int. "
        r"Received: num_classes=0",
    ):
        models.inception_v3(num_classes=0)
