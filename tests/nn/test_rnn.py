"""LSTMCell and Embedding against PyTorch: values and every gradient, float64 and float32."""

import numpy as np
import pytest
import torch

import cnnlab
from cnnlab import nn
from helpers import assert_close, check_against_torch


def _twin_cells(input_size, hidden_size, bias, dtype):
    ours = nn.LSTMCell(input_size, hidden_size, bias=bias, dtype=dtype)
    theirs = torch.nn.LSTMCell(input_size, hidden_size, bias=bias, dtype=getattr(torch, dtype))
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            p.copy_(torch.tensor(getattr(ours, name).numpy()))
    return ours, theirs


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
def test_lstm_cell_matches_torch_over_several_steps(dtype, bias, batched):
    rng = np.random.default_rng(0)
    steps, n, i, h = 4, 3, 5, 6
    lead = (n,) if batched else ()
    xs = rng.standard_normal((steps,) + lead + (i,))
    h0, c0 = rng.standard_normal(lead + (h,)), rng.standard_normal(lead + (h,))
    ours, theirs = _twin_cells(i, h, bias, dtype)
    ox = cnnlab.tensor(xs.astype(dtype), requires_grad=True)
    oh, oc = (cnnlab.tensor(a.astype(dtype), requires_grad=True) for a in (h0, c0))
    tx = torch.tensor(xs.astype(dtype), requires_grad=True)
    th, tc = (torch.tensor(a.astype(dtype), requires_grad=True) for a in (h0, c0))
    state, tstate = (oh, oc), (th, tc)
    outs, touts = [], []
    for t in range(steps):
        state, tstate = ours(ox[t], state), theirs(tx[t], tstate)
        outs += list(state)
        touts += list(tstate)
    out, tout = cnnlab.stack(outs), torch.stack(touts)                 # (2 * steps, *lead, H)
    assert_close(out.numpy(), tout.detach().numpy(), dtype, "h and c of every step")
    g = rng.standard_normal(tout.shape).astype(dtype)                 # random: hides no transposition
    out.backward(g)
    tout.backward(torch.tensor(g))
    for what, a, b in [("input", ox, tx), ("h0", oh, th), ("c0", oc, tc)]:
        assert_close(a.grad.numpy(), b.grad.numpy(), dtype, f"gradient of {what}")
    for name, p in theirs.named_parameters():
        assert_close(getattr(ours, name).grad.numpy(), p.grad.numpy(), dtype, f"gradient of {name}")


def test_lstm_cell_zero_state_parameters_and_init_follow_torch():
    cell = nn.LSTMCell(7, 4)
    theirs = torch.nn.LSTMCell(7, 4)
    assert list(cell.state_dict()) == list(theirs.state_dict())
    assert {k: tuple(v.shape) for k, v in cell.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    bound = 1 / np.sqrt(4)
    for p in cell.parameters():
        assert np.abs(p.numpy()).max() <= bound and p.numpy().std() > bound / 4
    x = np.random.default_rng(1).standard_normal((2, 7))
    _, torch_twin = _twin_cells(7, 4, True, "float64")
    ours = nn.LSTMCell(7, 4, dtype="float64")
    ours.load_state_dict({k: v.detach().numpy() for k, v in torch_twin.state_dict().items()})
    h, c = ours(cnnlab.tensor(x))
    th, tc = torch_twin(torch.tensor(x))
    assert_close(h.numpy(), th.detach().numpy())
    assert_close(c.numpy(), tc.detach().numpy())
    assert "LSTMCell(7, 4)" in repr(cell) and "bias=False" in repr(nn.LSTMCell(7, 4, bias=False))


@pytest.mark.parametrize("call,message", [
    (lambda c: c(cnnlab.zeros(2, 3)), "LSTMCell: input has 3 features but the cell expects input_size=5"),
    (lambda c: c(cnnlab.zeros(2, 2, 5)), "LSTMCell: `input` must be 1-D or 2-D"),
    (lambda c: c(cnnlab.zeros(2, 5), (cnnlab.zeros(3, 4), cnnlab.zeros(2, 4))),
     "LSTMCell: `h` must have shape (2, 4) for input of shape (2, 5). Received h shape (3, 4)"),
    (lambda c: c(cnnlab.zeros(5), (cnnlab.zeros(4),)), "LSTMCell: `hx` must be a pair (h, c) of tensors or "
                                                       "None. Received a tuple of length 1"),
    (lambda c: nn.LSTMCell(0, 4), "LSTMCell: `input_size` must be a positive int. Received: input_size=0"),
])
def test_lstm_cell_refuses_bad_input_in_one_line(call, message):
    with pytest.raises((ValueError, TypeError)) as info:
        call(nn.LSTMCell(5, 4))
    assert str(info.value).startswith(message)


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_matches_torch_padding_row_gets_no_gradient(padding_idx):
    rng = np.random.default_rng(2)
    table = rng.standard_normal((6, 3))
    tokens = np.array([[0, 2, 5, 2], [5, 5, 1, 3]])                 # repeats add their gradients
    check_against_torch(
        lambda w, t: cnnlab.functional.embedding(t, w, padding_idx),
        lambda w, t: torch.nn.functional.embedding(t, w, padding_idx), [table, tokens])
    emb = nn.Embedding(6, 3, padding_idx=padding_idx)
    theirs = torch.nn.Embedding(6, 3, padding_idx=padding_idx)
    assert emb.padding_idx == theirs.padding_idx
    assert emb.weight.shape == tuple(theirs.weight.shape)
    if padding_idx is not None:
        assert not emb.weight.numpy()[padding_idx].any()
        emb(cnnlab.tensor(tokens)).sum().backward()
        assert not emb.weight.grad.numpy()[padding_idx].any()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_scale_grad_by_freq_matches_torch(dtype, padding_idx):
    rng = np.random.default_rng(3)
    table = rng.standard_normal((6, 3)).astype(dtype)
    tokens = np.array([[0, 2, 5, 2], [5, 5, 1, 3]])                 # 5 three times, 2 twice
    check_against_torch(
        lambda w, t: cnnlab.functional.embedding(t, w, padding_idx, scale_grad_by_freq=True, sparse=True),
        lambda w, t: torch.nn.functional.embedding(t, w, padding_idx, scale_grad_by_freq=True),
        [table, tokens])


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5])
def test_embedding_max_norm_renormalises_the_picked_rows_in_place_as_torch(norm_type):
    rng = np.random.default_rng(4)
    table = 3 * rng.standard_normal((7, 4))
    tokens = np.array([[0, 2, 2], [6, 1, 0]])                       # rows 3, 4 and 5 are not looked up
    ours = nn.Embedding(7, 4, max_norm=1.5, norm_type=norm_type, dtype="float64")
    theirs = torch.nn.Embedding(7, 4, max_norm=1.5, norm_type=norm_type, dtype=torch.float64)
    with torch.no_grad():
        ours.weight._data[...] = table
        theirs.weight.copy_(torch.tensor(table))
    out, tout = ours(cnnlab.tensor(tokens)), theirs(torch.tensor(tokens))
    assert_close(out.numpy(), tout.detach().numpy())
    assert_close(ours.weight.numpy(), theirs.weight.detach().numpy())   # the table changed alike
    assert np.array_equal(ours.weight.numpy()[3:6], table[3:6])
    (out * out).sum().backward()
    (tout * tout).sum().backward()
    assert_close(ours.weight.grad.numpy(), theirs.weight.grad.numpy())
    assert ours.extra_repr() == theirs.extra_repr()


def test_embedding_from_pretrained_shares_the_table_and_freezes_it_as_torch():
    table = cnnlab.tensor(np.arange(12.0).reshape(4, 3))
    frozen = nn.Embedding.from_pretrained(table)
    theirs = torch.nn.Embedding.from_pretrained(torch.tensor(table.numpy()))
    assert not frozen.weight.requires_grad and not theirs.weight.requires_grad
    assert np.shares_memory(frozen.weight.numpy(), table.numpy())             # no copy, as PyTorch
    assert np.array_equal(frozen(cnnlab.tensor([[3, 1]])).numpy(), theirs(torch.tensor([[3, 1]])).numpy())
    learnt = nn.Embedding.from_pretrained(table, freeze=False, padding_idx=0, sparse=True)
    assert learnt.weight.requires_grad and learnt.extra_repr() == "4, 3, padding_idx=0, sparse=True"
    assert list(learnt.state_dict()) == ["weight"]


@pytest.mark.parametrize("call,message", [
    (lambda: nn.Embedding(4, 2, max_norm=-1)(cnnlab.tensor([1])), "embedding: `max_norm` must be > 0"),
    (lambda: nn.Embedding(4, 2, _weight=cnnlab.zeros(3, 2)), "Embedding: `_weight` must have shape (4, 2)"),
    (lambda: nn.Embedding.from_pretrained(cnnlab.zeros(4)), "Embedding.from_pretrained: `embeddings` must"),
    (lambda: nn.Embedding(4, 2, sparse="yes"), "Embedding: `sparse` must be a bool"),
    (lambda: nn.Embedding(4, 2)(cnnlab.tensor([4])), "embedding: indices must be in 0..3"),
    (lambda: nn.Embedding(4, 2)(cnnlab.tensor([0.5])), "embedding: `input` must hold integer indices"),
    (lambda: nn.Embedding(4, 2, padding_idx=4), "Embedding: `padding_idx` must be an int in [-4, 3]"),
])
def test_embedding_refuses_bad_input_in_one_line(call, message):
    with pytest.raises((ValueError, TypeError, IndexError)) as info:
        call()
    assert str(info.value).startswith(message)
