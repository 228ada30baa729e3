"""``Task``: what one kind of model is trained and judged on (its loss, batch score, evaluation, headline).

The trainer and the recipe read a task instead of branching on the model kind; ``cnnlab.runs.tasks``
holds one per kind. Every task's evaluation returns ``accuracy``: the score that validation monitors
(``val_acc``) and that chooses the best checkpoint.
"""

from dataclasses import dataclass
from typing import Callable

from .. import nn
from .evaluation import evaluate


def model_output(model, x, y):
    """The training forward pass of most models: the images alone (the targets are for the loss)."""
    return model(x)


def argmax_hits(out, y):
    """``(right samples, predictions)`` of a batch of scores (N, C) or per-pixel scores (N, C, H, W).

    A class per pixel: each image counts its share of right pixels.
    """
    predictions = out._data.argmax(axis=1)
    hits = predictions == y._data
    right = int(hits.sum()) if hits.ndim == 1 else float(hits.reshape(len(hits), -1).mean(axis=1).sum())
    return right, predictions


def cross_entropy_loss(model):
    return nn.CrossEntropyLoss()


def scores_evaluation(model, loader, loss_fn, parallel):
    """Scores (N, C) or per-pixel scores (N, C, H, W) against a class per image or per pixel."""
    return evaluate(model, loader, loss_fn, parallel=parallel)


def class_labels(classes):
    """The names of the running training score's predictions: the dataset's classes."""
    return list(classes)


def accuracy_line(result):
    return f"test accuracy {result['accuracy'] * 100:.2f}%"


def miou_line(result):
    return f"test mIoU {result['mean_iou'] * 100:.1f}% | pixel accuracy {result['accuracy'] * 100:.2f}%"


@dataclass(frozen=True)
class Task:
    """How one kind of model learns and is scored.

    name: what the model's registry entry declares (``register_model(task=...)``).
    make_loss: ``model -> loss_fn(output, targets)`` (a scalar Tensor).
    forward: ``(model, images, targets) -> output`` in training (a captioner sees its targets:
        teacher forcing); evaluation calls the model on the images alone.
    hits: ``(output, targets) -> (right samples, predictions or None)``, the running training score.
    evaluate: ``(model, loader, loss_fn, parallel) -> dict`` with ``loss`` and ``accuracy`` (the task's
        headline score) and its own metrics.
    headline: ``result -> "test ... NN.N%"``, the line a finished run prints.
    result_keys: ``((key in the job's result, key in the evaluation), ...)`` of extra figures.
    labels: ``dataset classes -> names`` of what ``hits`` predicts, index by index (the live view's
        confusion matrix); a captioner predicts tokens, not the dataset's classes.
    """

    name: str
    make_loss: Callable = cross_entropy_loss
    forward: Callable = model_output
    hits: Callable = argmax_hits
    evaluate: Callable = scores_evaluation
    headline: Callable = accuracy_line
    result_keys: tuple = ()
    labels: Callable = class_labels
