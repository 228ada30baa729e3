"""The captioner: shapes, teacher forcing against greedy decoding, generated tokens stopping at END."""

import numpy as np
import pytest

import cnnlab
from cnnlab import models
from cnnlab.models.captioning import tokens_of

PAD, END = -100, 10


@pytest.fixture(scope="module")
def model():
    cnnlab.manual_seed(0)
    net = models.get("captioner")
    net.eval()
    return net


def test_registered_as_a_captioner_for_64x64_scenes(model):
    assert models.task_of("captioner") == "caption" and models.input_size("captioner") == (1, 64, 64)
    assert (model.vocab_size, model.end, model.start, model.max_length) == (11, 10, 11, 5)
    assert model.embed.weight.shape == (12, 32)      # ten digits, END and START
    assert model.cell.weight_ih.shape == (4 * 256, 32 + 128 + 2)     # token, attended features, x, y


def test_encoder_grid_carries_each_place_position(model):
    grid = model.encode(cnnlab.randn(2, 1, 64, 64)).numpy()
    assert grid.shape == (2, 64, 130)                                # an 8x8 grid of 128 + 2 values
    x, y = grid[0, :, -2].reshape(8, 8), grid[0, :, -1].reshape(8, 8)
    np.testing.assert_allclose(x[0], np.linspace(-1, 1, 8), rtol=1e-6)  # x grows along a row
    np.testing.assert_allclose(y[:, 0], np.linspace(-1, 1, 8), rtol=1e-6)


def test_teacher_forcing_and_greedy_give_logits_per_step(model):
    x = cnnlab.randn(3, 1, 64, 64)
    captions = cnnlab.tensor(np.array([[4, 1, 7, END, PAD], [2, END, PAD, PAD, PAD], [1, 2, 3, 4, END]]))
    assert model(x, captions).shape == (3, 5, 11)
    assert model(x).shape == (3, 5, 11)
    tokens = model.generate(x)
    assert tokens.shape == (3, 5) and tokens.dtype == np.int64


def test_greedy_decoding_is_teacher_forcing_on_its_own_tokens(model):
    """Fed its own greedy tokens as the captions, teacher forcing repeats the greedy logits exactly;
    fed other tokens, the steps after the first differ (the decoder reads its input)."""
    x = cnnlab.randn(2, 1, 64, 64)
    greedy = model(x)
    own = greedy.numpy().argmax(axis=2)
    np.testing.assert_allclose(model(x, cnnlab.tensor(own)).numpy(), greedy.numpy(), rtol=1e-6, atol=1e-6)
    other = (own + 1) % 10
    forced = model(x, cnnlab.tensor(other)).numpy()
    np.testing.assert_allclose(forced[:, 0], greedy.numpy()[:, 0], rtol=1e-6, atol=1e-6)
    assert not np.allclose(forced[:, 1:], greedy.numpy()[:, 1:])


def test_padding_in_the_captions_is_never_read_as_a_token(model):
    """After END the inputs are irrelevant to the loss; PAD must not reach the embedding as -100."""
    x = cnnlab.randn(1, 1, 64, 64)
    a = model(x, cnnlab.tensor([[3, END, PAD, PAD, PAD]])).numpy()
    b = model(x, cnnlab.tensor([[3, END, END, END, END]])).numpy()
    np.testing.assert_array_equal(a, b)


def test_tokens_stop_at_the_first_end():
    logits = np.full((2, 5, 11), -1.0)
    for row, seq in enumerate([[4, 1, END, 7, END], [5, 6, 7, 8, 9]]):
        logits[row, np.arange(5), seq] = 1.0
    np.testing.assert_array_equal(tokens_of(logits, END), [[4, 1, END, PAD, PAD], [5, 6, 7, 8, 9]])


def test_gradients_reach_encoder_and_decoder(model):
    model.train()
    x = cnnlab.randn(2, 1, 64, 64)
    out = model(x, cnnlab.tensor([[1, END, PAD, PAD, PAD], [2, 3, END, PAD, PAD]]))
    out.sum().backward()
    for name in ("features.0.weight", "init_h.weight", "init_c.weight", "attend_features.weight",
                 "attend_state.weight", "attend_score.weight", "embed.weight", "cell.weight_hh",
                 "classifier.weight"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and np.abs(grad.numpy()).sum() > 0, name
    model.zero_grad()
    model.eval()


def test_bad_arguments_are_one_line():
    with pytest.raises(ValueError, match=r"captioner: `num_classes` must be at least 2"):
        models.get("captioner", num_classes=1)
    with pytest.raises(ValueError, match=r"captioner: `max_length` must be a positive int"):
        models.get("captioner", max_length=0)


def test_parameters_counted_layer_by_layer(model):
    conv_bn = lambda i, o: 9 * i * o + 2 * o                          # noqa: E731  (no conv bias)
    linear = lambda i, o, bias=True: i * o + (o if bias else 0)       # noqa: E731
    d = 128 + 2                                                       # a place's features, its x and y
    encoder = conv_bn(1, 16) + conv_bn(16, 32) + conv_bn(32, 64) + conv_bn(64, 128)
    start = 2 * linear(d, 256)                                        # h0 and c0 from the mean place
    attention = linear(d, 64) + linear(256, 64, False) + linear(64, 1, False)
    lstm = 4 * 256 * (32 + d) + 4 * 256 * 256 + 2 * 4 * 256           # weight_ih, weight_hh, two biases
    total = encoder + start + attention + 12 * 32 + lstm + linear(256 + d, 11)
    assert sum(p.numel() for p in model.parameters()) == total == 624_017


def test_refused_on_a_dataset_of_one_class_per_image():
    from cnnlab.data import TensorDataset
    from cnnlab.train.run import build_model

    images = TensorDataset(np.zeros((4, 1, 28, 28), np.float32), np.zeros(4, np.int64))
    images.classes = [str(d) for d in range(10)]
    with pytest.raises(ValueError) as info:
        build_model("captioner", images, None, "mnist")
    assert str(info.value) == ("train: captioner cannot be trained on mnist: it captions images (a sequence "
                               "of tokens), but mnist has one class per image; use --dataset mnist-scenes")
