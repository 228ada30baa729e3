"""GoogLeNet away from 224 pixels: the paper's auxiliary heads say which inputs they fit, ``input_size``
switches them to adaptive pooling, and the factorized Inception block takes even ``n``."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from cnnlab import Tensor, models, no_grad
from cnnlab.models import inception_module


def _training_forward(net, side):
    net.train()
    return net(Tensor(np.zeros((1, 3, side, side), np.float32)))


@pytest.mark.parametrize("side,expected", [
    (96, "googlenet: a 96x96 input is too small, needs at least 223 pixels for the paper's auxiliary heads "
         "(their 5x5/3 average pool needs a 14-16 pixel map after inception 4a; this input gives 6x6); build "
         "with input_size=96 (adaptive auxiliary pooling, as torchvision's) or aux_logits=False, or feed "
         "223-270 pixel inputs"),
    (222, "googlenet: a 222x222 input is too small, needs at least 223 pixels for the paper's auxiliary heads "
          "(their 5x5/3 average pool needs a 14-16 pixel map after inception 4a; this input gives 13x13)"),
    (272, "googlenet: a 272x272 input is too large, at most 270 pixels for the paper's auxiliary heads "
          "(their 5x5/3 average pool needs a 14-16 pixel map after inception 4a; this input gives 17x17)"),
])
def test_paper_auxiliary_heads_name_the_inputs_they_fit(side, expected):
    with models.skip_init():
        net = models.googlenet(num_classes=10)
    with pytest.raises(ValueError) as e:
        _training_forward(net, side)
    assert str(e.value).startswith(expected)


def test_input_size_gives_adaptive_auxiliary_heads_that_train_at_small_sides():
    with models.skip_init():
        net = models.googlenet(num_classes=10, input_size=64)
    out = _training_forward(net, 64)
    assert [o.shape for o in out] == [(1, 10)] * 3


def test_input_size_in_the_papers_range_keeps_the_papers_heads():
    with models.skip_init():
        assert not models.googlenet(input_size=224).aux_adaptive
        assert models.googlenet(input_size=222).aux_adaptive


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
@pytest.mark.parametrize("n", [2, 3, 4, 6, 7])
def test_factorized_inception_with_any_n_matches_pytorch(n):
    """1xn then nx1 'same' convolutions: an even n pads its odd pixel on the right/bottom, as PyTorch."""
    x = np.random.default_rng(n).standard_normal((2, 16, 9, 11))
    block = inception_module(16, 4, 5, 6, 3, 7, 5, batch_norm=False, factorized=True, n=n).double()  # no BN
    with no_grad():
        ours = block(Tensor(x)).numpy()

    def run(seq, t):  # every convolution keeps H and W: PyTorch's own padding="same" is the oracle
        for layer in seq:
            w, b = torch.from_numpy(layer.conv.weight.numpy()), torch.from_numpy(layer.conv.bias.numpy())
            t = torch.relu(TF.conv2d(t, w, b, padding="same"))
        return t

    t = torch.from_numpy(x)
    pooled = TF.max_pool2d(t, 3, stride=1, padding=1, ceil_mode=True)
    expected = torch.cat([run([block.branch1], t), run(block.branch2, t), run(block.branch3, t),
                          run(block.branch4[1:], pooled)], 1).numpy()
    assert ours.shape == (2, 4 + 6 + 7 + 5, 9, 11)
    np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-12)
