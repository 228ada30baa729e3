"""Evaluating a model over a loader without gradients: the numbers a run is judged by."""

import contextlib

import numpy as np

from .. import backend, metrics
from ..autograd import no_grad
from ..tensor import Tensor


def as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def evaluate(model, loader, loss_fn=None, num_classes=None, parallel=None):
    """Run ``model`` over ``loader`` without gradients; return loss, accuracy and per-sample outputs.

    With ``parallel`` (a ``cnnlab.distributed.Synchronizer``) each rank evaluates its own shard of
    the data (``loader`` over ``distributed.shard_indices``) and the results are gathered in rank
    order, so every rank returns the whole set's numbers.

    Returns a dict with ``loss`` (mean over samples, if ``loss_fn``), ``accuracy``, ``per_class_accuracy``,
    ``scores`` (N, C) logits and ``targets`` (N,). A model that scores every pixel (N, C, H, W) gets
    ``predictions`` (N, H, W) instead of ``scores`` (their C-fold size is not kept), pixel
    ``accuracy``, the pixel ``confusion`` matrix, ``iou`` per class and ``mean_iou``.
    Other kinds of output (boxes, captions) are scored by their task's ``evaluate``
    (``cnnlab.runs.tasks``).
    """
    scores, targets, loss_sum, count = [], [], 0.0, 0
    for out, y, loss in evaluated_batches(model, loader, loss_fn):
        loss_sum += loss
        count += len(y)
        num_classes = num_classes or out.shape[1]
        data = backend.asnumpy(out._data)
        scores.append(data.argmax(axis=1).astype(np.int16) if data.ndim > 2 else data)
        targets.append(backend.asnumpy(y._data))
    scores = np.concatenate(scores) if scores else np.zeros((0, num_classes or 0))
    targets = np.concatenate(targets) if targets else np.zeros(0, np.int64)
    if parallel is not None:
        scores, targets = parallel.gather(scores), parallel.gather(targets)
        loss_sum, count = parallel.sum(loss_sum, count)
    num_classes = num_classes or scores.shape[1]
    loss = loss_sum / count if (loss_fn is not None and count) else None
    if targets.ndim > 1:  # a class per pixel
        return _dense_results(scores, targets, num_classes, loss)
    return {
        "loss": loss,
        "accuracy": metrics.accuracy(scores, targets),
        "per_class_accuracy": metrics.per_class_accuracy(scores, targets, num_classes),
        "scores": scores,
        "targets": targets,
    }


def _dense_results(predictions, targets, num_classes, loss):
    """``evaluate``'s results for per-pixel predictions (N, H, W): pixel accuracy, IoU per class."""
    cm = metrics.segmentation_confusion(predictions, targets, num_classes)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(cm.sum(axis=1) > 0, np.diag(cm) / cm.sum(axis=1), 0.0)
    return {"loss": loss, "accuracy": metrics.pixel_accuracy(cm), "per_class_accuracy": recall,
            "confusion": cm, "iou": metrics.iou_per_class(cm), "mean_iou": metrics.mean_iou(cm),
            "scores": None, "predictions": predictions, "targets": targets}


def evaluated_batches(model, loader, loss_fn=None):
    """``(output, targets, loss times batch size)`` of each batch of ``loader``, the model in eval mode
    and without gradients (``loss`` 0.0 without ``loss_fn``)."""
    with evaluating(model):
        for x, y in loader:
            out, y = model(as_tensor(x)), as_tensor(y)
            yield out, y, float(loss_fn(out, y).item()) * len(y) if loss_fn is not None else 0.0


@contextlib.contextmanager
def evaluating(model):
    """``model`` in eval mode and without gradients inside the block; its mode is restored after."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            yield model
    finally:
        model.train(was_training)
