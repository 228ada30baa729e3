"""Classification metrics against scikit-learn on the same inputs."""

import numpy as np
import pytest

import cnnlab
from cnnlab import metrics as M

sk = pytest.importorskip("sklearn.metrics")

# Seeded (samples, classes) cases, including tiny ones where classes go missing from targets or predictions.
CASES = [(n, c, seed) for seed, (n, c) in enumerate([(1, 2), (5, 3), (12, 4), (40, 5), (100, 10), (7, 6),
                                                      (3, 8), (64, 2), (250, 7)])]


def _draw(n, c, seed):
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((n, c))
    y = rng.integers(0, c, n)
    return scores, y, scores.argmax(axis=1)


@pytest.mark.parametrize("n,c,seed", CASES)
def test_precision_recall_f1_and_averages_match_sklearn(n, c, seed):
    scores, y, pred = _draw(n, c, seed)
    ours = M.precision_recall_f1(scores, y, num_classes=c)
    p, r, f, s = sk.precision_recall_fscore_support(y, pred, labels=range(c), zero_division=0)
    np.testing.assert_allclose(ours["precision"], p, atol=1e-12)
    np.testing.assert_allclose(ours["recall"], r, atol=1e-12)
    np.testing.assert_allclose(ours["f1"], f, atol=1e-12)
    np.testing.assert_array_equal(ours["support"], s)
    for avg in ("macro", "weighted"):
        ref = sk.precision_recall_fscore_support(y, pred, labels=range(c), zero_division=0, average=avg)
        got = ours[avg]
        np.testing.assert_allclose([got["precision"], got["recall"], got["f1"]], ref[:3], atol=1e-12,
                                   err_msg=avg)
    # The same numbers from predicted labels as from scores.
    np.testing.assert_allclose(M.precision_recall_f1(pred, y, num_classes=c)["f1"], f, atol=1e-12)
    np.testing.assert_allclose(M.per_class_accuracy(scores, y, c), r, atol=1e-12)


@pytest.mark.parametrize("n,c,seed", CASES)
def test_confusion_matrix_and_accuracy_match_sklearn(n, c, seed):
    scores, y, pred = _draw(n, c, seed)
    np.testing.assert_array_equal(M.confusion_matrix(scores, y, num_classes=c),
                                  sk.confusion_matrix(y, pred, labels=range(c)))
    assert M.accuracy(scores, y) == pytest.approx(sk.accuracy_score(y, pred))
    assert M.accuracy(cnnlab.tensor(scores), cnnlab.tensor(y)) == pytest.approx(sk.accuracy_score(y, pred))


@pytest.mark.parametrize("n,c,seed", [case for case in CASES if case[1] > 2])
def test_top_k_accuracy_matches_sklearn(n, c, seed):
    scores, y, _ = _draw(n, c, seed)
    for k in range(1, c):
        ref = sk.top_k_accuracy_score(y, scores, k=k, labels=range(c))
        assert M.top_k_accuracy(scores, y, k) == pytest.approx(ref)
        assert M.top_k_error(scores, y, k) == pytest.approx(1 - ref)
    assert M.top_k_accuracy(scores, y, c) == 1.0


def test_hand_computed_example():
    # true:  0 0 1 1 2 ; predicted: 0 1 1 1 0
    y = [0, 0, 1, 1, 2]
    pred = [0, 1, 1, 1, 0]
    cm = M.confusion_matrix(pred, y)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 2, 0], [1, 0, 0]])
    prf = M.precision_recall_f1(pred, y)
    np.testing.assert_allclose(prf["precision"], [1 / 2, 2 / 3, 0])
    np.testing.assert_allclose(prf["recall"], [1 / 2, 1, 0])
    np.testing.assert_allclose(prf["f1"], [1 / 2, 0.8, 0])
    assert prf["weighted"]["recall"] == pytest.approx(3 / 5)   # = accuracy
    assert M.accuracy(pred, y) == pytest.approx(3 / 5)


def test_class_absent_everywhere_counts_zero_in_macro_average():
    prf = M.precision_recall_f1([0, 1], [0, 1], num_classes=3)
    np.testing.assert_allclose(prf["f1"], [1, 1, 0])
    assert prf["macro"]["f1"] == pytest.approx(2 / 3)
    assert prf["weighted"]["f1"] == pytest.approx(1.0)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="`y_pred` has 3 samples but `y_true` has 2"):
        M.accuracy([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match=r"labels \(N,\) or scores \(N, C\)"):
        M.accuracy(np.zeros((2, 2, 2)), [0, 1])
    with pytest.raises(TypeError, match="non-integer"):
        M.accuracy([0.5, 1.0], [0, 1])
    with pytest.raises(ValueError, match="`k` must be an int between 1 and the number of classes 3"):
        M.top_k_accuracy(np.zeros((2, 3)), [0, 1], k=4)
    with pytest.raises(ValueError, match="top_k_accuracy: `scores` has 2 samples but `y_true` has 3"):
        M.top_k_accuracy(np.zeros((2, 3)), [0, 1, 2], k=1)
    with pytest.raises(ValueError, match=r"`y_true` labels must lie in 0..2"):
        M.top_k_accuracy(np.zeros((2, 3)), [0, 5], k=1)
    with pytest.raises(ValueError, match=r"labels must lie in 0..1; found \[2\]"):
        M.confusion_matrix([0, 2], [0, 1], num_classes=2)
    with pytest.raises(ValueError, match="`num_classes` must be a positive int"):
        M.confusion_matrix([0, 1], [0, 1], num_classes=0)


def test_cnnlab_metrics_is_the_same_module_surface():
    from cnnlab import metrics as top

    assert top.precision_recall_f1 is M.precision_recall_f1 and top.top_k_error is M.top_k_error
    assert set(top.__all__) <= set(dir(M))
