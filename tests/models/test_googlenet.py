"""GoogLeNet: the paper's Table 1 (module output sizes, per-module parameters), auxiliary heads, Inception blocks."""

import numpy as np
import pytest
import torch

from cnnlab import Tensor, models, nn, no_grad
from cnnlab.models import GoogLeNetOutputs, googlenet_loss, inception_module
from cnnlab.models.googlenet import INCEPTION_WIDTHS, Inception, InceptionFactorized

# Szegedy et al. 2014, Table 1: output size of each Inception module at 224x224 input (H, W, C).
MODULE_SIZES = {
    "3a": (28, 28, 256), "3b": (28, 28, 480), "4a": (14, 14, 512), "4b": (14, 14, 512), "4c": (14, 14, 512),
    "4d": (14, 14, 528), "4e": (14, 14, 832), "5a": (7, 7, 832), "5b": (7, 7, 1024),
}
# REFERENCE.md: per-module counts with biases, computed from the paper's widths.
MODULE_PARAMS = {
    "3a": 163_696, "3b": 388_736, "4a": 376_176, "4b": 449_160, "4c": 510_104, "4d": 605_376,
    "4e": 868_352, "5a": 1_043_456, "5b": 1_444_080,
}


@pytest.fixture(scope="module")
def paper():
    with models.skip_init():
        return models.googlenet()


def test_module_output_sizes(paper):
    sizes = {}
    handles = [getattr(paper, "inception" + k).register_forward_hook(
        lambda m, a, out, k=k: sizes.__setitem__(k, (out.shape[2], out.shape[3], out.shape[1])))
        for k in MODULE_SIZES]
    paper.eval()
    with no_grad():
        out = paper(Tensor(np.zeros((1, 3, 224, 224), dtype=np.float32)))
    for h in handles:
        h.remove()
    assert sizes == MODULE_SIZES
    assert out.shape == (1, 1000)


@pytest.mark.parametrize("name", sorted(MODULE_PARAMS))
def test_module_params(paper, name):
    block = getattr(paper, "inception" + name)
    assert sum(p.numel() for p in block.parameters()) == MODULE_PARAMS[name]


def test_module_weights_vs_the_papers_column(paper):
    # The paper's "params" column is weights only, in units of 1024: 3a has 163,328 weights = 159.5K
    # (printed 159K); 4c has 509,440 = 497.5K where the table prints 463K (the column is approximate).
    def weights(block):
        return sum(p.numel() for name, p in block.named_parameters() if name.endswith("weight"))

    assert weights(paper.inception3a) == 163_328
    assert weights(paper.inception4c) == 509_440


def test_inception_widths_are_the_papers_table():
    assert INCEPTION_WIDTHS["3a"] == (64, 96, 128, 16, 32, 32)
    assert INCEPTION_WIDTHS["5b"] == (384, 192, 384, 48, 128, 128)


def test_paper_layout(paper):
    branch3 = paper.inception3a.branch3
    assert branch3[1].conv.kernel_size == (5, 5) and branch3[1].conv.bias is not None
    assert "bn" not in paper.conv1._modules
    assert paper.dropout.p == 0.4
    assert isinstance(paper.aux1.avgpool, nn.AvgPool2d)


@pytest.fixture(scope="module")
def small_tv():
    # torchvision's variant pools the auxiliary inputs adaptively, so a 64x64 input runs in training mode.
    with models.skip_init():
        return models.googlenet(num_classes=7, variant="torchvision")


def test_aux_heads_in_training_and_not_in_eval(small_tv):
    x = Tensor(np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32))
    small_tv.train()
    out = small_tv(x)
    assert isinstance(out, GoogLeNetOutputs)
    assert [t.shape for t in out] == [(2, 7)] * 3
    small_tv.eval()
    with no_grad():
        out = small_tv(x)
    assert isinstance(out, Tensor) and out.shape == (2, 7)
    small_tv.train()


def test_no_aux_heads():
    with models.skip_init():
        model = models.googlenet(aux_logits=False, variant="torchvision")
    assert "aux1" not in model._modules
    out = model(Tensor(np.zeros((1, 3, 64, 64), dtype=np.float32)))
    assert isinstance(out, Tensor)


def test_paper_aux_head_shapes(paper):
    # 5x5/3 average pool on the 14x14x512 map of 4a -> 4x4x512, 1x1 conv to 128, FC 2048 -> 1024 -> classes.
    paper.train()
    x = Tensor(np.zeros((1, 512, 14, 14), dtype=np.float32))
    assert paper.aux1(x).shape == (1, 1000)
    assert paper.aux1.fc1.in_features == 4 * 4 * 128
    assert paper.aux1.dropout.p == 0.7


def test_googlenet_loss_weights_aux_by_0_3():
    rng = np.random.default_rng(0)
    logits, a2, a1 = (rng.standard_normal((4, 5)) for _ in range(3))
    target = rng.integers(0, 5, size=4)
    out = GoogLeNetOutputs(Tensor(logits), Tensor(a2), Tensor(a1))
    loss = googlenet_loss(out, Tensor(target), nn.CrossEntropyLoss()).item()
    ce = torch.nn.functional.cross_entropy
    t = torch.tensor(target)
    expected = ce(torch.tensor(logits), t) + 0.3 * (ce(torch.tensor(a1), t) + ce(torch.tensor(a2), t))
    assert loss == pytest.approx(expected.item(), rel=1e-9)
    assert googlenet_loss(Tensor(logits), Tensor(target), nn.CrossEntropyLoss()).item() == pytest.approx(
        ce(torch.tensor(logits), t).item(), rel=1e-9)


def test_inception_module_matches_torch():
    # The block computed by hand in PyTorch: four branches on the same input, concatenated.
    rng = np.random.default_rng(0)
    block = inception_module(8, 4, 3, 5, 2, 3, 2)
    block.eval()
    tconv = {}
    for name, p in block.named_parameters():
        tconv[name] = torch.tensor(p.numpy().astype(np.float64))
    x = rng.standard_normal((2, 8, 9, 9))
    F = torch.nn.functional
    tx = torch.tensor(x)

    def c(name, inp, pad=0):
        return F.relu(F.conv2d(inp, tconv[name + ".conv.weight"], tconv[name + ".conv.bias"], padding=pad))

    b1 = c("branch1", tx)
    b2 = c("branch2.1", c("branch2.0", tx), pad=1)
    b3 = c("branch3.1", c("branch3.0", tx), pad=2)
    b4 = c("branch4.1", F.max_pool2d(tx, 3, stride=1, padding=1))
    expected = torch.cat([b1, b2, b3, b4], 1).numpy()
    block.double()
    with no_grad():
        out = block(Tensor(x)).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)
    assert out.shape == (2, 4 + 5 + 3 + 2, 9, 9)


def test_factorized_inception():
    # Szegedy et al. 2015: 5x5 -> two 3x3 (Figure 5); n x n -> 1xn then nx1 (Figure 6).
    fig5 = inception_module(16, 8, 8, 12, 4, 6, 4, factorized=True)
    assert isinstance(fig5, InceptionFactorized)
    assert [m.conv.kernel_size for m in fig5.branch3] == [(1, 1), (3, 3), (3, 3)]
    fig6 = inception_module(16, 8, 8, 12, 4, 6, 4, factorized=True, n=7)
    assert [m.conv.kernel_size for m in fig6.branch2] == [(1, 1), (1, 7), (7, 1)]
    assert [m.conv.kernel_size for m in fig6.branch3] == [(1, 1), (1, 7), (7, 1), (1, 7), (7, 1)]
    x = Tensor(np.zeros((1, 16, 17, 17), dtype=np.float32))
    for block in (fig5, fig6):
        block.eval()
        with no_grad():
            assert block(x).shape == (1, 8 + 12 + 6 + 4, 17, 17)
    # The 3x3 branch at n = 7: 1x1 (16 -> 8), 1x7 (8 -> 12), 7x1 (12 -> 12), each with biases; with BatchNorm
    # the biases go and each convolution gets gamma and beta.
    assert sum(p.numel() for p in fig6.branch2.parameters()) == (16 * 8 + 8) + (8 * 12 * 7 + 12) + (12 * 12 * 7 + 12)
    bn = inception_module(16, 8, 8, 12, 4, 6, 4, factorized=True, n=7, batch_norm=True)
    assert sum(p.numel() for p in bn.branch2.parameters()) == 16 * 8 + 8 * 12 * 7 + 12 * 12 * 7 + 2 * (8 + 12 + 12)


def test_inception_module_bad_arguments():
    with pytest.raises(ValueError, match=r"inception_module: `ch3x3` must be a positive int. Received: ch3x3=0"):
        inception_module(8, 4, 3, 0, 2, 3, 2)
    with pytest.raises(ValueError, match=r"inception_module: `n` .* needs factorized=True. Received: n=7"):
        inception_module(8, 4, 3, 5, 2, 3, 2, n=7)
    with pytest.raises(ValueError, match=r"googlenet: `variant` must be one of 'paper', 'torchvision'. "
                                         r"Received: variant='v3'"):
        models.googlenet(variant="v3")
    assert isinstance(inception_module(8, 4, 3, 5, 2, 3, 2), Inception)
