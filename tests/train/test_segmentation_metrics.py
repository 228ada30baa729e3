"""Segmentation metrics (pixel confusion, IoU per class, mean IoU, pixel accuracy) on hand-worked cases."""

import numpy as np
import pytest

from cnnlab import metrics as M
from cnnlab.runs.evaluation import evaluate


def test_hand_worked_two_images():
    # image 1: truth 0 0 / 1 1, prediction 0 1 / 1 1 ; image 2: truth 2 2 / 0 0, prediction 2 0 / 0 0
    true = np.array([[[0, 0], [1, 1]], [[2, 2], [0, 0]]])
    pred = np.array([[[0, 1], [1, 1]], [[2, 0], [0, 0]]])
    cm = M.segmentation_confusion(pred, true, 3)
    # rows: true class, columns: predicted class
    np.testing.assert_array_equal(cm, [[3, 1, 0], [0, 2, 0], [1, 0, 1]])
    # class 0: TP 3, FP 1 (a 2 called 0), FN 1 (a 0 called 1): 3 / 5; class 1: 2 / 3; class 2: 1 / 2
    np.testing.assert_allclose(M.iou_per_class(cm), [3 / 5, 2 / 3, 1 / 2])
    assert M.mean_iou(cm) == pytest.approx((3 / 5 + 2 / 3 + 1 / 2) / 3)
    assert M.pixel_accuracy(cm) == pytest.approx(6 / 8)


def test_scores_give_their_arg_max_and_absent_classes_are_left_out_of_the_mean():
    true = np.array([[[0, 1], [1, 0]]])
    scores = np.zeros((1, 4, 2, 2))
    scores[0, 1, 0, 1] = scores[0, 1, 1, 0] = 1.0     # class 1 where it is, class 0 (ties) elsewhere
    cm = M.segmentation_confusion(scores, true, 4)
    iou = M.iou_per_class(cm)
    np.testing.assert_allclose(iou[:2], [1.0, 1.0])
    assert np.isnan(iou[2]) and np.isnan(iou[3])      # in neither truth nor prediction
    assert M.mean_iou(cm) == 1.0 and M.pixel_accuracy(cm) == 1.0


def test_ignore_index_pixels_are_not_counted():
    true = np.array([[[0, 255], [1, 1]]])
    pred = np.array([[[0, 1], [1, 0]]])
    cm = M.segmentation_confusion(pred, true, 2, ignore_index=255)
    np.testing.assert_array_equal(cm, [[1, 0], [1, 1]])


def test_iou_matches_sklearn_jaccard():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    true, pred = rng.integers(0, 5, (3, 8, 8)), rng.integers(0, 5, (3, 8, 8))
    ref = sk.jaccard_score(true.ravel(), pred.ravel(), labels=range(5), average=None)
    np.testing.assert_allclose(M.iou_per_class(M.segmentation_confusion(pred, true, 5)), ref)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"segmentation_confusion: `y_pred` gives labels of shape \(1, 2, 2\) "
                                         r"but `y_true` has shape \(1, 2, 3\)"):
        M.segmentation_confusion(np.zeros((1, 2, 2), int), np.zeros((1, 2, 3), int), 2)
    with pytest.raises(ValueError, match=r"labels must lie in 0..1; found \[5\]"):
        M.segmentation_confusion(np.zeros((1, 2, 2), int), np.full((1, 2, 2), 5), 2)
    with pytest.raises(ValueError, match="`num_classes` must be a positive int. Received: num_classes=0"):
        M.segmentation_confusion(np.zeros((1, 2, 2), int), np.zeros((1, 2, 2), int), 0)


class _Fixed:
    """A 'model' returning given per-pixel scores, batch by batch."""

    training = False

    def __init__(self, scores):
        self.scores, self.i = scores, 0

    def eval(self):
        pass

    def train(self, mode=True):
        pass

    def __call__(self, x):
        import cnnlab

        out = self.scores[self.i:self.i + len(x)]
        self.i += len(x)
        return cnnlab.tensor(out)


def test_evaluate_reports_pixel_metrics_for_per_pixel_scores():
    rng = np.random.default_rng(1)
    scores = rng.standard_normal((5, 3, 4, 4))
    true = rng.integers(0, 3, (5, 4, 4))
    batches = [(np.zeros((2, 1, 4, 4)), true[:2]), (np.zeros((3, 1, 4, 4)), true[2:])]
    result = evaluate(_Fixed(scores), batches)
    pred = scores.argmax(axis=1)
    assert result["accuracy"] == pytest.approx((pred == true).mean())
    np.testing.assert_array_equal(result["predictions"], pred)
    inter = [((pred == c) & (true == c)).sum() for c in range(3)]
    union = [((pred == c) | (true == c)).sum() for c in range(3)]
    np.testing.assert_allclose(result["iou"], np.divide(inter, union))
    assert result["mean_iou"] == pytest.approx(np.mean(np.divide(inter, union)))
    assert result["scores"] is None
