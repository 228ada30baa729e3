"""Classification metrics from logits or predicted labels: accuracy, top-k, confusion matrix, precision/recall/F1;
and segmentation's: the pixel confusion matrix, per-class IoU, mean IoU and pixel accuracy.

One place for ``train``, ``runs`` and ``inspect``: import them from here only.

Every function takes predictions as labels (N,) or scores (N, C) (logits or probabilities: the arg-max is
the prediction) and targets as labels (N,). Results agree with scikit-learn's ``accuracy_score``,
``top_k_accuracy_score``, ``confusion_matrix`` and ``precision_recall_fscore_support(labels=range(C),
zero_division=0)``.
"""

import numpy as np

from . import backend
from .validation import is_int


def _labels(values, name):
    a = backend.asnumpy(getattr(values, "data", values))
    if a.ndim == 2:  # logits or probabilities: take the arg-max class
        return a.argmax(axis=1)
    if a.ndim != 1:
        raise ValueError(f"metrics: `{name}` must be labels (N,) or scores (N, C). Received shape {a.shape}")
    if a.dtype.kind == "f" and not np.all(a == np.round(a)):
        raise TypeError(f"metrics: `{name}` holds non-integer values; pass integer labels or (N, C) scores")
    return a.astype(np.int64)


def _pair(y_pred, y_true):
    pred, true = _labels(y_pred, "y_pred"), _labels(y_true, "y_true")
    if pred.shape != true.shape:
        raise ValueError(f"metrics: `y_pred` has {pred.shape[0]} samples but `y_true` has {true.shape[0]}")
    return pred, true


def accuracy(y_pred, y_true):
    """Fraction of samples whose predicted class (arg-max of scores, or the label) equals the target."""
    pred, true = _pair(y_pred, y_true)
    return float((pred == true).mean()) if true.size else 0.0


def top_k_accuracy(scores, y_true, k=5):
    """Fraction of samples whose target is among the ``k`` highest scores (top-5 error = 1 - this)."""
    s = backend.asnumpy(getattr(scores, "data", scores))
    true = _labels(y_true, "y_true")
    if s.ndim != 2:
        raise ValueError(f"top_k_accuracy: `scores` must be (N, C). Received shape {s.shape}")
    if s.shape[0] != true.shape[0]:
        raise ValueError(f"top_k_accuracy: `scores` has {s.shape[0]} samples but `y_true` has {true.shape[0]}")
    if not is_int(k) or not 1 <= k <= s.shape[1]:
        raise ValueError(f"top_k_accuracy: `k` must be an int between 1 and the number of classes {s.shape[1]}. "
                         f"Received: k={k!r}")
    if true.size and (true.min() < 0 or true.max() >= s.shape[1]):
        raise ValueError(f"top_k_accuracy: `y_true` labels must lie in 0..{s.shape[1] - 1} (one score column per "
                         f"class). Received labels from {true.min()} to {true.max()}")
    top = np.argpartition(-s, k - 1, axis=1)[:, :k]
    return float((top == true[:, None]).any(axis=1).mean()) if true.size else 0.0


def top_k_error(scores, y_true, k=5):
    """Fraction of samples whose target is NOT among the ``k`` highest scores (ImageNet's top-5 error)."""
    return 1.0 - top_k_accuracy(scores, y_true, k)


def _pair_counts(fn, true, pred, num_classes):
    """(C, C) counts of (true, predicted) label pairs; a label outside 0..C-1 is a ValueError."""
    both = np.concatenate([true, pred])
    bad = both[(both < 0) | (both >= num_classes)]
    if bad.size:
        raise ValueError(f"{fn}: labels must lie in 0..{num_classes - 1}; found {sorted(set(bad.tolist()))[:5]}")
    return np.bincount(true * num_classes + pred, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def confusion_matrix(y_pred, y_true, num_classes=None):
    """Counts ``C[i, j]`` of samples with true class i predicted as j (scikit-learn's orientation)."""
    pred, true = _pair(y_pred, y_true)
    if num_classes is None:
        num_classes = int(max(pred.max(initial=-1), true.max(initial=-1))) + 1
    elif not is_int(num_classes) or num_classes < 1:
        raise ValueError(f"confusion_matrix: `num_classes` must be a positive int or None. "
                         f"Received: num_classes={num_classes!r}")
    return _pair_counts("confusion_matrix", true, pred, num_classes)


def precision_recall_f1(y_pred, y_true, num_classes=None):
    """Per-class precision, recall, F1 and support, plus macro and weighted averages.

    Classes never predicted get precision 0 and classes with no samples recall 0 (scikit-learn's
    ``zero_division=0``).
    """
    cm = confusion_matrix(y_pred, y_true, num_classes).astype(np.float64)
    tp = np.diag(cm)
    predicted = cm.sum(axis=0)
    support = cm.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    total = support.sum()
    weights = support / total if total else np.zeros_like(support)
    return {
        "precision": precision, "recall": recall, "f1": f1, "support": support.astype(np.int64),
        "macro": {"precision": float(precision.mean()), "recall": float(recall.mean()), "f1": float(f1.mean())},
        "weighted": {"precision": float((precision * weights).sum()), "recall": float((recall * weights).sum()),
                     "f1": float((f1 * weights).sum())},
    }


def per_class_accuracy(y_pred, y_true, num_classes=None):
    """Accuracy within each true class (the recall of each class)."""
    return precision_recall_f1(y_pred, y_true, num_classes)["recall"]


# ---------------------------------------------------------------------------- segmentation
def _dense_labels(values, name):
    """Per-pixel labels (N, H, W) from labels (N, H, W) or scores (N, C, H, W) (arg-max over C)."""
    a = backend.asnumpy(getattr(values, "data", values))
    if a.dtype.kind == "f" and a.ndim == 4:
        return a.argmax(axis=1)
    if a.dtype.kind not in "iu":
        raise TypeError(f"segmentation metrics: `{name}` must be integer labels (N, H, W) or scores "
                        f"(N, C, H, W). Received dtype {a.dtype}, shape {a.shape}")
    return a.astype(np.int64, copy=False)


def segmentation_confusion(y_pred, y_true, num_classes, ignore_index=None):
    """Pixel counts ``C[i, j]`` of true class i predicted as j, over every pixel of every image.

    Args:
        y_pred: predicted labels (N, H, W) or scores (N, C, H, W).
        y_true: true labels (N, H, W); pixels equal to ``ignore_index`` are not counted.
        num_classes: C, background included.
    """
    if not is_int(num_classes) or num_classes < 1:
        raise ValueError(f"segmentation_confusion: `num_classes` must be a positive int. "
                         f"Received: num_classes={num_classes!r}")
    pred, true = _dense_labels(y_pred, "y_pred"), _dense_labels(y_true, "y_true")
    if pred.shape != true.shape:
        raise ValueError(f"segmentation_confusion: `y_pred` gives labels of shape {pred.shape} but "
                         f"`y_true` has shape {true.shape}; expected the same")
    keep = true != ignore_index if ignore_index is not None else np.ones(true.shape, bool)
    pred, true = pred[keep], true[keep]
    return _pair_counts("segmentation_confusion", true, pred, num_classes)


def iou_per_class(confusion):
    """Intersection over union of each class: TP / (TP + FP + FN); NaN for a class absent from both
    the prediction and the truth (its union is empty)."""
    cm = np.asarray(confusion, dtype=np.float64)
    tp = np.diag(cm)
    union = cm.sum(axis=0) + cm.sum(axis=1) - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def mean_iou(confusion):
    """Mean of the per-class IoUs over the classes present (background included, as PASCAL VOC)."""
    iou = iou_per_class(confusion)
    return float(np.nanmean(iou)) if np.isfinite(iou).any() else 0.0


def pixel_accuracy(confusion):
    """Share of pixels whose predicted class is the true one."""
    cm = np.asarray(confusion)
    total = cm.sum()
    return float(np.trace(cm) / total) if total else 0.0


__all__ = ["accuracy", "top_k_accuracy", "top_k_error", "confusion_matrix", "precision_recall_f1",
           "per_class_accuracy", "segmentation_confusion", "iou_per_class", "mean_iou", "pixel_accuracy"]
