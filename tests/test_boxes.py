"""cnnlab.boxes and cnnlab.vision.ops: IoU, NMS and VOC average precision on hand-worked cases,
and against torchvision.ops where torchvision is installed."""

import numpy as np
import pytest

from cnnlab import Tensor, boxes
from cnnlab.vision import ops

SQUARE = [0, 0, 10, 10]


@pytest.mark.parametrize("other,iou", [
    (SQUARE, 1.0),                       # identical
    ([10, 0, 20, 10], 0.0),              # touching along an edge: no shared area
    ([10, 10, 20, 20], 0.0),             # touching at a corner
    ([2, 2, 4, 4], 4 / 100),             # nested: the small box's area over the large one's
    ([5, 0, 15, 10], 50 / 150),          # half overlapping: 50 / (100 + 100 - 50)
    ([30, 30, 40, 45], 0.0),             # disjoint
])
def test_box_iou_hand_worked(other, iou):
    got = boxes.box_iou(np.array([SQUARE]), np.array([other]))
    assert got.shape == (1, 1) and got[0, 0] == pytest.approx(iou, abs=1e-12)
    assert boxes.box_iou(np.array([other]), np.array([SQUARE]))[0, 0] == pytest.approx(iou, abs=1e-12)


def test_box_iou_is_pairwise():
    a = np.array([SQUARE, [5, 0, 15, 10]])
    b = np.array([SQUARE, [2, 2, 4, 4], [50, 50, 60, 60]])
    np.testing.assert_allclose(boxes.box_iou(a, b), [[1, 0.04, 0], [1 / 3, 0, 0]], atol=1e-12)
    assert boxes.box_iou(np.zeros((0, 4)), b).shape == (0, 3)


def test_empty_boxes_have_iou_zero_and_bad_shapes_are_refused():
    assert boxes.box_iou(np.array([[3, 3, 3, 3]]), np.array([[3, 3, 3, 3]]))[0, 0] == 0
    with pytest.raises(ValueError, match=r"box_iou: `boxes2` must be boxes \(N, 4\) x_min, y_min, x_max, "
                                         r"y_max. Received shape \(2, 3\)"):
        boxes.box_iou(np.zeros((1, 4)), np.zeros((2, 3)))


def test_nms_keeps_by_decreasing_score_and_suppresses_overlaps_above_the_threshold():
    b = np.array([SQUARE, [1, 0, 11, 10], [20, 20, 30, 30], [5, 0, 15, 10]])
    s = np.array([0.9, 0.8, 0.85, 0.7])
    # box 1 overlaps box 0 by 90 / 110; box 3 overlaps box 0 by 1/3 and box 1 by 60 / 140
    np.testing.assert_array_equal(boxes.nms(b, s, 0.5), [0, 2, 3])
    np.testing.assert_array_equal(boxes.nms(b, s, 0.3), [0, 2])
    np.testing.assert_array_equal(boxes.nms(b, s, 0.9), [0, 2, 1, 3])
    np.testing.assert_array_equal(boxes.nms(b, s, 1 / 3), [0, 2, 3])   # IoU equal to it: kept


def test_nms_ties_keep_the_lower_index_and_empty_input_is_empty():
    b = np.array([SQUARE, SQUARE, SQUARE])
    np.testing.assert_array_equal(boxes.nms(b, np.array([0.5, 0.7, 0.7]), 0.5), [1])
    kept = boxes.nms(np.zeros((0, 4)), np.zeros(0), 0.5)
    assert kept.dtype == np.int64 and kept.size == 0
    with pytest.raises(ValueError, match=r"nms: `scores` must hold one value per box, shape \(3,\). "
                                         r"Received shape \(2,\)"):
        boxes.nms(b, np.zeros(2), 0.5)


def test_batched_nms_suppresses_within_a_category_only():
    b = np.array([SQUARE, [1, 0, 11, 10], [0, 0, 10, 9]])
    s = np.array([0.6, 0.9, 0.8])
    np.testing.assert_array_equal(boxes.batched_nms(b, s, np.array([0, 1, 0]), 0.5), [1, 2])
    np.testing.assert_array_equal(boxes.batched_nms(b, s, np.array([0, 0, 0]), 0.5), [1])
    np.testing.assert_array_equal(boxes.batched_nms(b, s, np.array([0, 1, 2]), 0.5), [1, 2, 0])


def test_average_precision_of_a_ranking_with_a_false_positive_and_a_missed_object():
    # 3 objects; ranked hits T, F, T (one object never found): precision 1, 1/2, 2/3 at recall
    # 1/3, 1/3, 2/3. Interpolated: 1 up to recall 1/3, 2/3 up to 2/3, nothing beyond.
    ap = boxes.average_precision([0.7, 0.9, 0.8], [True, True, False], 3)
    assert ap == pytest.approx(1 / 3 * 1 + 1 / 3 * 2 / 3)
    assert boxes.average_precision([0.9, 0.8], [True, True], 2) == pytest.approx(1.0)
    assert boxes.average_precision([0.9, 0.8], [False, True], 1) == pytest.approx(0.5)
    assert boxes.average_precision([], [], 2) == 0.0
    assert np.isnan(boxes.average_precision([0.5], [False], 0))


def test_mean_average_precision_hand_worked():
    found = [  # image 1: a hit, a duplicate of it (a false positive), a class-1 box in the wrong place
        (np.array([SQUARE, [1, 1, 11, 11], [40, 40, 50, 50]]), np.array([0.9, 0.8, 0.7]), np.array([0, 0, 1])),
        (np.array([[30, 30, 40, 40]]), np.array([0.95]), np.array([0])),   # image 2: a false positive
    ]
    truth = [(np.array([SQUARE, [20, 20, 30, 30]]), np.array([0, 1])), (np.array([SQUARE]), np.array([0]))]
    r = boxes.mean_average_precision(found, truth, num_classes=3)
    # class 0 ranks F (0.95), T (0.9), F (0.8) against 2 objects: precision 1/2 at recall 1/2 -> AP 1/4
    assert r["ap"][0] == pytest.approx(0.25) and r["ap"][1] == 0.0 and np.isnan(r["ap"][2])
    assert r["map"] == pytest.approx(0.125)
    np.testing.assert_array_equal(r["support"], [2, 1, 0])


def test_matching_needs_iou_above_the_threshold_and_each_object_once():
    hits = boxes.match_detections(np.array([SQUARE, SQUARE, [5, 0, 15, 10]]), np.array([0.5, 0.9, 0.8]),
                                  np.array([SQUARE, [6, 0, 16, 10]]))
    np.testing.assert_array_equal(hits, [False, True, True])
    # IoU 1/3 with its object: a miss at 0.5, a hit at 0.3
    one = (np.array([[5, 0, 15, 10]]), np.array([1.0]), np.array([0]))
    truth = [(np.array([SQUARE]), np.array([0]))]
    assert boxes.mean_average_precision([one], truth, 1)["map"] == 0.0
    assert boxes.mean_average_precision([one], truth, 1, iou_threshold=0.3)["map"] == 1.0


def test_vision_ops_take_and_give_tensors():
    b = Tensor(np.array([SQUARE, [1, 0, 11, 10], [20, 20, 30, 30]], np.float32))
    s = Tensor(np.array([0.9, 0.8, 0.85], np.float32))
    iou = ops.box_iou(b, b)
    assert isinstance(iou, Tensor) and iou.shape == (3, 3) and iou.dtype == np.float32
    np.testing.assert_array_equal(ops.nms(b, s, 0.5).numpy(), [0, 2])
    np.testing.assert_array_equal(ops.batched_nms(b, s, Tensor(np.array([0, 1, 0])), 0.5).numpy(), [0, 2, 1])
    np.testing.assert_allclose(ops.box_area(b).numpy(), [100, 100, 100])
    with pytest.raises(TypeError, match="nms: `boxes` must be a Tensor. Received an object of type list"):
        ops.nms([SQUARE], s, 0.5)


def test_against_torchvision_ops():
    torch = pytest.importorskip("torch")
    tv_ops = pytest.importorskip("torchvision.ops", reason="torchvision is not installed here")
    rng = np.random.default_rng(0)
    corner = rng.uniform(0, 50, (60, 2))
    b = np.concatenate([corner, corner + rng.uniform(1, 20, (60, 2))], axis=1)
    s = rng.permutation(60) / 60.0                                 # distinct scores: no tie order
    c = rng.integers(0, 3, 60)
    tb, ts = torch.from_numpy(b), torch.from_numpy(s)
    np.testing.assert_allclose(boxes.box_iou(b, b[:20]), tv_ops.box_iou(tb, tb[:20]).numpy(), atol=1e-12)
    for threshold in (0.1, 0.3, 0.5, 0.7):
        np.testing.assert_array_equal(boxes.nms(b, s, threshold), tv_ops.nms(tb, ts, threshold).numpy())
        np.testing.assert_array_equal(boxes.batched_nms(b, s, c, threshold),
                                      tv_ops.batched_nms(tb, ts, torch.from_numpy(c), threshold).numpy())
