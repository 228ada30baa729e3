"""Boxes on arrays: pairwise IoU, non-maximum suppression, and PASCAL VOC's average precision.

What a detector's decoding and its evaluation share (``cnnlab.vision.ops`` wraps the first three in
torchvision's names for Tensors). Boxes are rows ``x_min, y_min, x_max, y_max`` ("xyxy") with the max
exclusive, so a box's area is ``(x_max - x_min) * (y_max - y_min)``.
"""

import numpy as np

from . import backend
from .validation import real_arg


def _boxes(fn, name, boxes):
    """``boxes`` as a float64 NumPy array (N, 4), or a one-line ValueError naming the shape received."""
    a = np.asarray(backend.asnumpy(boxes), np.float64)
    if a.size == 0:
        a = a.reshape(0, 4)
    if a.ndim != 2 or a.shape[1] != 4:
        raise ValueError(f"{fn}: `{name}` must be boxes (N, 4) x_min, y_min, x_max, y_max. "
                         f"Received shape {a.shape}")
    return a


def _scores(fn, name, scores, n):
    a = np.asarray(backend.asnumpy(scores), np.float64)
    if a.shape != (n,):
        raise ValueError(f"{fn}: `{name}` must hold one value per box, shape ({n},). Received shape {a.shape}")
    return a


def box_area(boxes):
    """Areas (N,) of boxes (N, 4)."""
    b = _boxes("box_area", "boxes", boxes)
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def box_iou(boxes1, boxes2):
    """Intersection over union of every pair: boxes (N, 4) and (M, 4) -> (N, M).

    IoU = |A n B| / (|A| + |B| - |A n B|); boxes that only touch share no area (IoU 0).
    NOTE: two empty boxes (union 0) have IoU 0 here, where torchvision's 0 / 0 gives nan.

    Shape:
        (N, 4), (M, 4) -> (N, M)
    """
    a, b = _boxes("box_iou", "boxes1", boxes1), _boxes("box_iou", "boxes2", boxes2)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])                       # (N, M, 2)
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])                   # (N, M, 2)
    wh = np.clip(bottom_right - top_left, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def nms(boxes, scores, iou_threshold):
    """Indices of the boxes kept by greedy non-maximum suppression, by decreasing score.

    The best-scoring box is kept and every box overlapping it by IoU > ``iou_threshold`` is dropped;
    then the best of the rest, and so on (torchvision.ops.nms). Equal scores keep the lower index
    first (a stable sort).

    Shape:
        boxes (N, 4), scores (N,) -> kept indices (K,) int64
    """
    b = _boxes("nms", "boxes", boxes)
    s = _scores("nms", "scores", scores, len(b))
    threshold = real_arg("nms", "iou_threshold", iou_threshold, finite=True)
    order = np.argsort(-s, kind="stable")
    iou = box_iou(b[order], b[order])                                           # (N, N) in score order
    removed = np.zeros(len(b), bool)
    keep = []
    for i in range(len(b)):
        if removed[i]:
            continue
        keep.append(i)
        removed |= iou[i] > threshold
    return order[np.array(keep, np.int64)] if keep else np.zeros(0, np.int64)


def batched_nms(boxes, scores, idxs, iou_threshold):
    """``nms`` within each category ``idxs``: boxes of different categories never suppress each other.

    Each category's boxes are shifted by ``category * (largest coordinate + 1)`` so that no two
    categories overlap, then one ``nms`` runs over all (torchvision's coordinate trick).

    Shape:
        boxes (N, 4), scores (N,), idxs (N,) int -> kept indices (K,) int64, by decreasing score
    """
    b = _boxes("batched_nms", "boxes", boxes)
    s = _scores("batched_nms", "scores", scores, len(b))
    c = _scores("batched_nms", "idxs", idxs, len(b))
    if len(b) == 0:
        return np.zeros(0, np.int64)
    offset = c[:, None] * (b.max() - min(b.min(), 0) + 1)
    return nms(b + offset, s, iou_threshold)


def average_precision(scores, hits, num_positives):
    """PASCAL VOC's all-point interpolated average precision (VOC2010 on) of one ranked class.

    ``scores`` (K,) rank the detections; ``hits`` (K,) say which matched a ground truth; of the
    ``num_positives`` ground truths, those never matched lower the recall. Precision is made
    monotone (each value the best at any higher recall), then integrated over recall:
    AP = sum over recall steps of (r_i - r_{i-1}) * p_interp(r_i). No ground truth: nan.
    """
    s = np.asarray(scores, np.float64).reshape(-1)
    h = np.asarray(hits, bool).reshape(-1)
    if h.shape != s.shape:
        raise ValueError(f"average_precision: `hits` must be one flag per score, shape {s.shape}. "
                         f"Received shape {h.shape}")
    if num_positives <= 0:
        return float("nan")
    h = h[np.argsort(-s, kind="stable")]
    tp, fp = np.cumsum(h), np.cumsum(~h)
    recall = np.concatenate([[0.0], tp / num_positives, [1.0]])
    precision = np.concatenate([[0.0], tp / np.maximum(tp + fp, 1), [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]                    # the envelope
    step = np.flatnonzero(recall[1:] != recall[:-1])
    return float(np.sum((recall[step + 1] - recall[step]) * precision[step + 1]))


def match_detections(boxes, scores, true_boxes, iou_threshold=0.5):
    """Which detections of one class in one image are true positives (VOC's greedy matching).

    By decreasing score, each detection takes the ground truth it overlaps most; it is a hit if
    that IoU exceeds ``iou_threshold`` and the ground truth was not taken by a better detection
    (a duplicate is a false positive, as in VOC's devkit). Returns hits (K,) bool in input order.
    """
    hits = np.zeros(len(boxes), bool)
    if len(boxes) == 0 or len(true_boxes) == 0:
        return hits
    iou = box_iou(boxes, true_boxes)                                            # (K, G)
    taken = np.zeros(len(true_boxes), bool)
    for k in np.argsort(-np.asarray(scores, np.float64), kind="stable"):
        g = int(iou[k].argmax())
        if iou[k, g] > iou_threshold and not taken[g]:
            hits[k] = taken[g] = True
    return hits


def mean_average_precision(detections, ground_truths, num_classes, iou_threshold=0.5):
    """mAP over a set of images by PASCAL VOC's definition (AP per class, then the mean).

    Args:
        detections: per image ``(boxes (K, 4), scores (K,), labels (K,))``.
        ground_truths: per image ``(boxes (G, 4), labels (G,))``.
        num_classes: classes 0 .. num_classes - 1.
        iou_threshold: a detection matches a ground truth of its class when IoU exceeds it (0.5:
            mAP@0.5).

    Returns a dict: ``map`` (the mean of ``ap`` over the classes that have ground truth; nan if none
    has), ``ap`` (num_classes,) (nan for a class without ground truth) and ``support`` (num_classes,)
    ground-truth counts.
    """
    if len(detections) != len(ground_truths):
        raise ValueError(f"mean_average_precision: `detections` and `ground_truths` must list the same "
                         f"images. Received {len(detections)} and {len(ground_truths)} images")
    scores = [[] for _ in range(num_classes)]
    hits = [[] for _ in range(num_classes)]
    support = np.zeros(num_classes, np.int64)
    for (boxes, score, labels), (true_boxes, true_labels) in zip(detections, ground_truths):
        boxes, true_boxes = _boxes("mean_average_precision", "boxes", boxes), np.asarray(true_boxes)
        score, labels, true_labels = np.asarray(score), np.asarray(labels), np.asarray(true_labels)
        support += np.bincount(true_labels.astype(np.int64), minlength=num_classes)[:num_classes]
        for c in np.union1d(np.unique(labels), np.unique(true_labels)).astype(np.int64):
            mine = labels == c
            scores[c].append(score[mine])
            hits[c].append(match_detections(boxes[mine], score[mine],
                                            true_boxes[true_labels == c].reshape(-1, 4), iou_threshold))
    ap = np.array([average_precision(np.concatenate(scores[c] or [[]]), np.concatenate(hits[c] or [[]]),
                                     support[c]) for c in range(num_classes)])
    present = support > 0
    return {"map": float(ap[present].mean()) if present.any() else float("nan"), "ap": ap,
            "support": support}
