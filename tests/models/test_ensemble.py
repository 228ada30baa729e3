"""models.Ensemble against hand computations: mean of softmax outputs, majority vote, ties,
errors."""

import numpy as np
import pytest

import cnnlab
from cnnlab import Tensor, models, nn, no_grad
from helpers import assert_close


class Fixed(nn.Module):
    """A 'model' that returns fixed logits, whatever the input."""

    def __init__(self, logits):
        super().__init__()
        self.logits = np.asarray(logits, dtype=np.float64)

    def forward(self, x):
        return Tensor(self.logits)


# Three members, two samples, three classes.
LOGITS = [
    [[2.0, 1.0, 0.0], [0.0, 0.0, 3.0]],
    [[0.0, 3.0, 0.0], [1.0, 0.0, 0.0]],
    [[1.0, 2.0, 0.0], [0.0, 2.0, 0.0]],
]


def softmax_by_hand(row):
    e = [np.exp(v) for v in row]
    return [v / sum(e) for v in e]


def test_mean_of_softmax_by_hand():
    ens = models.Ensemble([Fixed(x) for x in LOGITS])
    out = ens(Tensor(np.zeros((2, 1))))
    expected = [
        [sum(softmax_by_hand(LOGITS[k][i])[c] for k in range(3)) / 3 for c in range(3)]
        for i in range(2)
    ]
    assert_close(np.exp(out.numpy()), expected)
    # sample 0: (0.665, 0.245, 0.090), (0.045, 0.909, 0.045), (0.245, 0.665, 0.090) -> mean (0.318,
    # 0.606, 0.075), class 1; sample 1: (0.045, 0.045, 0.909), (0.576, 0.212, 0.212), (0.107, 0.787,
    # 0.107) -> mean (0.243, 0.348, 0.409), class 2
    np.testing.assert_allclose(
        np.exp(out.numpy()), [[0.318, 0.606, 0.075], [0.243, 0.348, 0.409]], atol=6e-4
    )
    assert out.numpy().argmax(1).tolist() == [1, 2]
    # cross-entropy on the output is the ensemble's negative log-likelihood
    nll = cnnlab.functional.cross_entropy(out, Tensor(np.array([0, 2]))).item()
    assert nll == pytest.approx(-(np.log(expected[0][0]) + np.log(expected[1][2])) / 2)


def test_majority_vote_by_hand():
    # votes: sample 0 -> members say 0, 1, 1 -> class 1 (2 votes); sample 1 -> members say 2, 0, 1
    # -> a three-way tie, broken by the mean probability (class 2)
    ens = models.Ensemble([Fixed(x) for x in LOGITS], mode="vote")
    out = ens(Tensor(np.zeros((2, 1)))).numpy()
    assert out.argmax(1).tolist() == [1, 2]
    assert np.floor(out).tolist() == [[1, 2, 0], [1, 1, 1]]


def test_vote_overrules_confidence():
    # two members mildly prefer class 0, one is very sure of class 1: the mean picks 1, the vote
    # picks 0
    logits = [[[1.0, 0.0]], [[1.0, 0.0]], [[0.0, 20.0]]]
    x = Tensor(np.zeros((1, 1)))
    assert models.Ensemble([Fixed(v) for v in logits], "mean")(x).numpy().argmax() == 1
    assert models.Ensemble([Fixed(v) for v in logits], "vote")(x).numpy().argmax() == 0


def test_real_members_and_gradient():
    cnnlab.manual_seed(0)
    nets = [models.lenet5(num_classes=10) for _ in range(3)]
    ens = models.Ensemble(nets).eval()
    x = Tensor(np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32))
    with no_grad():
        probs = [np.exp(n(x).numpy() - n(x).numpy().max(1, keepdims=True)) for n in nets]
    expected = np.mean([p / p.sum(1, keepdims=True) for p in probs], axis=0)
    out = ens(x)
    assert_close(np.exp(out.numpy()), expected, "float32")
    out.sum().backward()
    assert all(p.grad is not None for p in ens.parameters())
    assert len(list(ens.parameters())) == 3 * len(list(nets[0].parameters()))
    assert "mode='mean'" in repr(ens)


def test_errors():
    with pytest.raises(
        ValueError, match=r"Ensemble: `members` must be a non-empty list of modules. Received: \[\]"
    ):
        models.Ensemble([])
    with pytest.raises(
        TypeError,
        match="Ensemble: member 1 must be a cnnlab.nn.Module. Received an object of type int",
    ):
        models.Ensemble([Fixed(LOGITS[0]), 3])
    with pytest.raises(
        ValueError, match=r"Ensemble: `mode` must be one of 'mean', 'vote'. Received: mode='max'"
    ):
        models.Ensemble([Fixed(LOGITS[0])], mode="max")
    ens = models.Ensemble([Fixed(LOGITS[0]), Fixed([[1.0, 2.0]])])
    with pytest.raises(ValueError, match="Ensemble: the members' outputs differ in shape"):
        ens(Tensor(np.zeros((1, 1))))
