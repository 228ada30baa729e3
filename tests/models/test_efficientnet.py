"""EfficientNet-B0..B7: torchvision's parameter counts, B1-B7 scaled from B0's table, forward
shapes, stochastic depth in training, torchvision's state-dict names and a forward equal to a
PyTorch twin with the same weights."""

import numpy as np
import pytest
import torch

from cnnlab import Tensor, models, nn, no_grad
from cnnlab.cli import main
from cnnlab.interop import load_torch_state_dict
from cnnlab.models.efficientnet import MBConv, make_divisible, scaled_stages
from helpers import assert_close
from torch_twins_zoo import EfficientNet as TorchEfficientNet

# REFERENCE.md: torchvision 0.28 builders, 1000 classes.
COUNTS = {
    "b0": 5_288_548,
    "b1": 7_794_184,
    "b2": 9_109_994,
    "b3": 12_233_232,
    "b4": 19_341_616,
    "b5": 30_389_784,
    "b6": 43_040_704,
    "b7": 66_347_960,
}
# Tan & Le 2019, Table 1: B0's stage outputs (channels, side at 224x224) after the stem and each
# stage.
B0_STAGE_OUTPUTS = [
    (32, 112),
    (16, 112),
    (24, 56),
    (40, 28),
    (80, 14),
    (112, 14),
    (192, 7),
    (320, 7),
    (1280, 7),
]


@pytest.mark.parametrize("variant", sorted(COUNTS))
def test_parameter_counts(variant):
    with models.skip_init():
        model = models.get(f"efficientnet_{variant}")
    assert sum(p.numel() for p in model.parameters()) == COUNTS[variant]


def test_scaling_by_hand():
    # B4 (width 1.4, depth 1.8): stage 2 has 16 * 1.4 = 22.4 -> 24 input channels, 24 * 1.4 = 33.6
    # -> 32 outputs and ceil(2 * 1.8) = 4 layers; the last stage 192 * 1.4 = 268.8 -> 272 inputs,
    # 320 * 1.4 = 448 outputs and ceil(1.8) = 2 layers.
    stages = scaled_stages(1.4, 1.8)
    assert stages[1] == (6, 3, 2, 24, 32, 4)
    assert stages[6] == (6, 3, 1, 272, 448, 2)
    # nearest multiple of 8, at least 8; 11.9 rounds to 8, more than 10% below, so it becomes 16
    assert [make_divisible(v) for v in (22.4, 33.6, 35.2, 4.0, 11.9, 12.0)] == [
        24,
        32,
        32,
        8,
        16,
        16,
    ]


def test_b0_stage_outputs_match_table_1():
    with models.skip_init():
        model = models.efficientnet_b0().eval()
    seen = []
    for layer in model.features:
        layer.register_forward_hook(lambda m, a, out: seen.append((out.shape[1], out.shape[2])))
    with no_grad():
        assert model(Tensor(np.zeros((1, 3, 224, 224), np.float32))).shape == (1, 1000)
    assert seen == B0_STAGE_OUTPUTS


@pytest.mark.parametrize("variant, side", [("b1", 240), ("b2", 260), ("b3", 300)])
def test_forward_shapes_at_their_resolutions(variant, side):
    assert models.input_size(f"efficientnet_{variant}") == (3, side, side)
    with models.skip_init():
        model = models.get(f"efficientnet_{variant}", num_classes=10).eval()
    final = []
    model.features.register_forward_hook(lambda m, a, out: final.append(out.shape[2:]))
    with no_grad():
        assert model(Tensor(np.zeros((1, 3, side, side), np.float32))).shape == (1, 10)
    assert final == [(-(-side // 32),) * 2]  # five stride-2 stages: ceil(side / 32)


def test_stochastic_depth_grows_with_depth_and_drops_in_training():
    model = models.efficientnet_b0(stochastic_depth_prob=0.2)
    blocks = [m for m in model.modules() if isinstance(m, MBConv)]
    assert [b.stochastic_depth.p for b in blocks] == pytest.approx(
        [0.2 * i / 16 for i in range(16)]
    )
    block = blocks[2]  # stage 2's second block: a residual one
    assert block.use_res_connect
    block.stochastic_depth.p = 1.0  # always dropped: the block returns its input
    x = Tensor(np.random.default_rng(0).standard_normal((2, 24, 8, 8)).astype(np.float32))
    block.train()
    assert np.array_equal(block(x).numpy(), x.numpy())
    block.eval()
    assert not np.array_equal(block(x).numpy(), x.numpy())


def test_state_dict_names_are_torchvisions_and_forward_matches():
    torch.manual_seed(0)
    twin = TorchEfficientNet(1.0, 1.0, num_classes=10)
    with torch.no_grad():
        for m in twin.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    twin.eval()
    assert sum(p.numel() for p in TorchEfficientNet(1.0, 1.0).parameters()) == COUNTS["b0"]
    with models.skip_init():
        ours = models.efficientnet_b0(num_classes=10)
    theirs = {k: tuple(v.shape) for k, v in twin.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == theirs
    load_torch_state_dict(ours, twin.state_dict())
    ours.eval()
    x = np.random.default_rng(2).standard_normal((2, 3, 64, 64)).astype(np.float32)
    with no_grad():
        got = ours(Tensor(x)).numpy()
    with torch.no_grad():
        want = twin(torch.tensor(x)).numpy()
    assert_close(got, want, "float32", "efficientnet_b0 logits")


def test_b5_uses_the_released_batch_norm_settings():
    with models.skip_init():
        bn = [m for m in models.efficientnet_b5().modules() if isinstance(m, nn.BatchNorm2d)]
    assert {(m.eps, m.momentum) for m in bn} == {(0.001, 0.01)}


def test_models_family_prints_the_scaling_table(capsys):
    assert main(["models", "--family", "efficientnet"]) == 0
    out = capsys.readouterr().out
    assert "efficientnet_b7" in out and "66,347,960" in out and "600" in out and "3.1" in out
    assert "googlenet" not in out
    assert main(["models", "--family", "nosuch"]) == 2


def test_bad_arguments():
    with pytest.raises(
        ValueError, match=r"efficientnet: `variant` must be one of 'b0', .* Received: variant='b9'"
    ):
        models.efficientnet("b9")
    with pytest.raises(
        ValueError,
        match=r"efficientnet: `stochastic_depth_prob` must be in \[0, 1\]. "
        r"Received: stochastic_depth_prob=2",
    ):
        models.efficientnet_b0(stochastic_depth_prob=2)
