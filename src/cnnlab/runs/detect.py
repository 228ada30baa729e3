"""The detection task: a grid detector trained with YOLO's loss and judged by PASCAL VOC's mAP@0.5."""

import numpy as np

from .. import backend, boxes
from ..models.detection import BOX, GridDetectionLoss, decode_detections
from .evaluation import evaluated_batches
from .task import Task


def detection_loss(model):
    return GridDetectionLoss(model.stride)


def count_hits(out, y):
    """``(right, None)``: the images whose count of confident cells (objectness logit > 0) equals
    their number of objects; a cheap running score that needs no decoding (mAP is the evaluation's)."""
    logits = backend.asnumpy(out._data)[:, 0]                                   # (N, S, S)
    found = (logits > 0).reshape(len(logits), -1).sum(axis=1)
    objects = (backend.asnumpy(y._data)[:, :, 4] >= 0).sum(axis=1)
    return int((found == objects).sum()), None


def ground_truth(rows):
    """Box rows (N, B, 5) -> per image ``(boxes (G, 4), labels (G,))``, empty slots dropped."""
    rows = np.asarray(rows, np.float64)
    return [(r[r[:, 4] >= 0, :4], r[r[:, 4] >= 0, 4].astype(np.int64)) for r in rows]


def detection_evaluation(model, loader, loss_fn, parallel=None):
    """Decode every image of ``loader`` and score the detections by mAP@0.5 (PASCAL VOC).

    Returns a dict: ``loss``, ``accuracy`` and ``map50`` (the mAP), ``ap`` per object class (nan
    without ground truth), ``support`` (ground truths per class) and ``detections`` /
    ``ground_truths`` per image. Under ``parallel`` every rank gets the whole set's figures.
    """
    found, truth, loss_sum, count = [], [], 0.0, 0
    for out, y, loss in evaluated_batches(model, loader, loss_fn):
        loss_sum += loss
        count += len(y)
        found += decode_detections(out, model.stride)
        truth += ground_truth(backend.asnumpy(y._data))
    classes = model.head.out_channels - BOX                              # object classes
    if parallel is not None:
        found, truth = _gathered(parallel, found, truth)
        loss_sum, count = parallel.sum(loss_sum, count)
    scored = boxes.mean_average_precision(found, truth, classes)
    return {"loss": loss_sum / count if (loss_fn is not None and count) else None,
            "accuracy": scored["map"], "map50": scored["map"], "ap": scored["ap"],
            "support": scored["support"], "detections": found, "ground_truths": truth}


def _flat(per_image, widths):
    """Per-image tuples of arrays -> one array (D, 1 + sum(widths)): image index, then the values."""
    rows = [np.column_stack([np.full(len(parts[0]), i)] + [np.asarray(p, np.float64).reshape(-1, w)
                                                          for p, w in zip(parts, widths)])
            for i, parts in enumerate(per_image)]
    return np.concatenate(rows) if rows else np.zeros((0, 1 + sum(widths)))


def _gathered(parallel, found, truth):
    """Every rank's detections and ground truths, in rank order (each rank's images numbered on)."""
    images = parallel.gather(np.array([len(found)]))
    offset = int(np.sum(images[:parallel.rank]))
    merged = []
    for per_image, widths in ((found, (4, 1, 1)), (truth, (4, 1))):
        flat = _flat(per_image, widths)
        flat[:, 0] += offset
        merged.append(parallel.gather(flat))
    images = np.arange(int(images.sum()) + 1)
    f, t = (np.split(m, np.searchsorted(m[:, 0], images[1:-1])) for m in merged)  # rows by image
    return ([(d[:, 1:5], d[:, 5], d[:, 6].astype(np.int64)) for d in f],
            [(g[:, 1:5], g[:, 5].astype(np.int64)) for g in t])


def map_line(result):
    return f"test mAP@0.5 {result['map50'] * 100:.1f}%"


DETECT = Task("detect", make_loss=detection_loss, hits=count_hits, evaluate=detection_evaluation,
              headline=map_line, result_keys=(("test_map50", "map50"),))
