"""The training side of the live view: a callback that publishes snapshots of a running training.

``LiveFeed`` records every batch's loss and accuracy (two floats) and the running confusion matrix
(one ``bincount``); at most every ``interval`` seconds, and at each epoch's end, it publishes them
as a new immutable snapshot. The pictures (first-layer filters, activation maps of one fixed test
image: a forward pass) are refreshed at most every ``image_interval`` seconds, as they change
slowly. Publishing is one assignment: a reader (the live server's thread) takes the latest snapshot
whenever it likes, and the trainer never waits for it.
"""

import base64
import time

import numpy as np

from .. import backend, nn
from ..autograd import no_grad
from ..tensor import Tensor

MAX_POINTS = 1000  # the per-batch curves are averaged down to at most this many points
MAX_CHANNELS = 16  # activation maps shown per layer
MAX_LAYERS = 12  # layers with activation maps


def _pixels(a):
    """Scale ``a`` to 0..255 over its own range; base64 of the uint8 bytes (C order)."""
    a = np.asarray(a, dtype=np.float64)
    lo, hi = float(a.min()), float(a.max())
    scaled = np.zeros(a.shape) if hi <= lo else (a - lo) / (hi - lo) * 255
    return base64.b64encode(np.round(scaled).astype(np.uint8).tobytes()).decode("ascii")


def _downsample(values, limit=MAX_POINTS):
    """``values`` averaged over equal runs so at most ``limit`` remain; returns (first index of each
    run, means)."""
    n = len(values)
    if n <= limit:
        return list(range(n)), list(values)
    step = -(-n // limit)  # ceil(n / limit) values per point
    usable = n // step * step
    means = np.asarray(values[:usable], dtype=np.float64).reshape(-1, step).mean(axis=1)
    steps = list(range(0, usable, step))
    if usable < n:
        steps.append(usable)
        means = np.append(means, np.mean(values[usable:]))
    return steps, means.tolist()


def _finite(v):
    return None if v is None or not np.isfinite(v) else float(v)


class LiveFeed:
    """Callback for ``Trainer``: keeps the latest snapshot of the training in ``self.latest``.

    Args:
        interval: at most one snapshot every ``interval`` seconds between epoch ends (0: after every
            batch, for tests). Default: 1 (the page polls once a second).
        image_interval: at most one refresh of the filters and activation maps every
            ``image_interval`` seconds (and at every epoch's end). Default: 2.
        probe: a fixed input image (C, H, W) whose activation maps are shown; default the first
            image of the validation loader's dataset.

    ``latest`` is ``(version, snapshot)``; ``version`` grows by one per snapshot. The snapshot is a
    dict of plain numbers, lists and strings (JSON-ready) that is never modified after publishing.
    """

    def __init__(self, interval=1.0, probe=None, image_interval=2.0):
        self.interval = float(interval)
        self.image_interval = float(image_interval)
        self._images = (0, None, [])  # (version, filters, activations)
        self._last_images = float("-inf")
        self.probe = None if probe is None else np.asarray(probe)
        self.probe_label = None
        self.latest = (0, None)
        self.status = "starting"
        self._losses, self._accs = [], []
        self._confusion = None
        self._new_epoch = False
        self._last_publish = float("-inf")
        self._started = time.perf_counter()
        self._epochs = None
        self._batches = None
        self._first_conv = None

    # ------------------------------------------------------------------ trainer hooks
    def on_train_begin(self, trainer, train_loader, val_loader=None, epochs=None):
        self._epochs = epochs
        self._batches = len(train_loader) if hasattr(train_loader, "__len__") else None
        self._first_conv = next(
            (m for m in trainer.model.modules() if isinstance(m, nn.Conv2d)), None
        )
        if self.probe is None and val_loader is not None and hasattr(val_loader, "dataset"):
            try:
                x, y = val_loader.dataset[0]
                self.probe = backend.asnumpy(getattr(x, "data", x))
                self.probe_label = int(backend.asnumpy(getattr(y, "data", y)))
            except (IndexError, TypeError, ValueError):
                self.probe = None
        self.status = "training"
        self._publish(trainer, images=True)

    def on_batch_end(self, trainer, batch, logs):
        self._losses.append(float(logs["loss"]))
        pred, target = logs.get("predictions"), logs.get("targets")
        if pred is not None and target is not None:
            pred, target = backend.asnumpy(pred).ravel(), backend.asnumpy(target).ravel()
            self._accs.append(float((pred == target).mean()) if len(target) else 0.0)
            self._count(pred, target, trainer)
        now = time.perf_counter()
        if now - self._last_publish >= self.interval:
            self._publish(trainer, now)

    def on_epoch_end(self, trainer, epoch, logs):
        self._publish(trainer, images=True)
        self._new_epoch = True  # the running matrix restarts with the next epoch's first batch

    def on_train_end(self, trainer):
        self.status = "interrupted" if trainer.interrupted else "finished"
        self._publish(trainer, images=True)

    # ------------------------------------------------------------------ snapshot
    def _count(self, pred, target, trainer):
        k = len(self._labels(trainer)) or int(max(pred.max(), target.max())) + 1
        if self._new_epoch:
            self._confusion, self._new_epoch = None, False
        if self._confusion is None or self._confusion.shape[0] < k:
            grown = np.zeros((k, k), np.int64)
            if self._confusion is not None:
                n = self._confusion.shape[0]
                grown[:n, :n] = self._confusion
            self._confusion = grown
        inside = (pred < k) & (target < k) & (pred >= 0) & (target >= 0)
        self._confusion += np.bincount(target[inside] * k + pred[inside], minlength=k * k).reshape(
            k, k
        )

    @staticmethod
    def _labels(trainer):
        """Names of the confusion matrix's rows: the dataset's classes, or what the task predicts."""
        classes = list(trainer.meta.get("classes") or [])
        task = getattr(trainer, "task", None)
        return task.labels(classes) if task is not None and classes else classes

    def _filters(self):
        conv = self._first_conv
        if conv is None:
            return None
        w = backend.asnumpy(conv.weight._data)  # (O, C, kH, kW)
        return {"shape": list(w.shape), "data": _pixels(w)}

    def _activations(self, model):
        if self.probe is None:
            return []
        leaves = [(name, m) for name, m in model.named_modules() if name and not m._modules]
        seen, handles = [], []
        for name, m in leaves:

            def keep(module, args, out, name=name):
                if isinstance(out, Tensor) and out.ndim == 4 and len(seen) < MAX_LAYERS:
                    seen.append((name, backend.asnumpy(out._data[0, :MAX_CHANNELS])))

            handles.append(m.register_forward_hook(keep))
        was_training = model.training
        model.eval()  # running BN statistics; no dropout, no RNG draws
        try:
            with no_grad():
                model(Tensor(self.probe[None].astype(backend.get_default_dtype(), copy=False)))
        finally:
            model.train(was_training)
            for h in handles:
                h.remove()
        return [{"name": name, "shape": list(a.shape), "data": _pixels(a)} for name, a in seen]

    def _publish(self, trainer, now=None, images=False):
        now = time.perf_counter() if now is None else now
        self._last_publish = now
        if images or now - self._last_images >= self.image_interval:
            self._last_images = now
            self._images = (self._images[0] + 1, self._filters(), self._activations(trainer.model))
        images_version, filters, activations = self._images
        steps, losses = _downsample(self._losses)
        _, accs = _downsample(self._accs)
        history = trainer.history
        meta = trainer.meta
        probe = None
        if self.probe is not None and self.probe.ndim == 3:
            probe = {
                "shape": list(self.probe.shape),
                "data": _pixels(self.probe),
                "label": self.probe_label,
            }
        snapshot = {
            "status": self.status,
            "model": meta.get("model"),
            "dataset": meta.get("dataset"),
            "classes": self._labels(trainer),
            "epoch": trainer._epoch,
            "epochs": self._epochs,
            "batch": trainer._batch,
            "batches_per_epoch": self._batches,
            "batches_seen": len(self._losses),
            "lr": float(trainer.optimizer.param_groups[0]["lr"]),
            "elapsed": time.perf_counter() - self._started,
            "batch_curve": {"step": steps, "loss": [_finite(v) for v in losses], "acc": accs},
            "epoch_curve": {
                k: [_finite(v) for v in history[k]]
                for k in ("train_loss", "train_acc", "val_loss", "val_acc", "lr")
            },
            "confusion": None if self._confusion is None else self._confusion.tolist(),
            "images_version": images_version,
            "filters": filters,
            "activations": activations,
            "probe": probe,
        }
        self.latest = (self.latest[0] + 1, snapshot)
