"""The training loop: epochs of forward, loss, backward and update, with history, checkpoints and resume.

A run can be interrupted at any batch (Ctrl-C): the trainer saves the model, the optimizer, the
scheduler, the history, the position inside the epoch and every random generator's state, so
``fit(..., resume=path)`` finishes with the same weights as a run that was never interrupted.
"""

import os
import time

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..optim.lr_scheduler import ReduceLROnPlateau
from ..tensor import Tensor
from .. import metrics
from .checkpoint import load_checkpoint, save_checkpoint


class History(dict):
    """Per-epoch lists: ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``, ``lr``, ``time``."""

    KEYS = ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "time")

    def __init__(self, data=None):
        super().__init__({k: [] for k in self.KEYS})
        if data:
            for k, v in data.items():
                self[k] = list(v)

    @property
    def epochs(self):
        return len(self["train_loss"])


# The metrics a run can be selected on, and the direction in which each improves.
MONITORS = {"val_loss": "min", "val_acc": "max"}


def check_monitor(fn, monitor, mode=None, owner="mode"):
    """``monitor``'s direction; a ValueError naming ``fn`` if it is unknown or ``mode`` points the other way."""
    if monitor not in MONITORS:
        raise ValueError(f"{fn}: `monitor` must be one of {', '.join(map(repr, MONITORS))}. "
                         f"Received: monitor={monitor!r}")
    want = MONITORS[monitor]
    if mode is not None and mode != want:
        trend = "falls" if want == "min" else "rises"
        other = next(m for m, d in MONITORS.items() if d == mode)
        raise ValueError(f"{fn}: monitor={monitor!r} improves when it {trend}, but {owner}={mode!r}; "
                         f"use mode={want!r} or monitor={other!r}")
    return want


class EarlyStopping:
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(self, monitor="val_loss", patience=3, mode=None, min_delta=0.0):
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        if mode is not None and mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: `mode` must be 'min' or 'max'. Received: mode={mode!r}")
        if monitor in MONITORS:
            check_monitor("EarlyStopping", monitor, mode)
        self.mode = mode or ("max" if monitor.endswith("acc") else "min")
        self.best, self.wait = None, 0

    def on_epoch_end(self, trainer, epoch, logs):
        value = logs.get(self.monitor)
        if value is None:
            raise ValueError(f"EarlyStopping: `monitor` {self.monitor!r} is not in the epoch logs "
                             f"{sorted(k for k, v in logs.items() if v is not None)}")
        better = (self.best is None or (value < self.best - self.min_delta if self.mode == "min"
                                        else value > self.best + self.min_delta))
        if better:
            self.best, self.wait = value, 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                trainer.stop_training = True
                log = getattr(trainer, "log", None)
                if log:
                    log(f"early stopping: {self.monitor} has not improved for {self.wait} epochs "
                        f"(best {self.best:.4f})")

    def state_dict(self):
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state):
        self.best, self.wait = state["best"], state["wait"]


def _progress(total, desc, enabled):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is an optional extra: fall back to one line per epoch
        return None
    return tqdm(total=total, desc=desc, unit="batch", leave=True, dynamic_ncols=True)


def _generator_state(gen):
    return gen.bit_generator.state if isinstance(gen, np.random.Generator) else None


def _set_generator_state(gen, state):
    if state is not None and isinstance(gen, np.random.Generator):
        gen.bit_generator.state = state


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def evaluate(model, loader, loss_fn=None, num_classes=None):
    """Run ``model`` over ``loader`` without gradients; return loss, accuracy and per-sample outputs.

    Returns a dict with ``loss`` (mean over samples, if ``loss_fn``), ``accuracy``, ``per_class_accuracy``,
    ``scores`` (N, C) logits and ``targets`` (N,).
    """
    was_training = model.training
    model.eval()
    scores, targets, loss_sum, count = [], [], 0.0, 0
    try:
        with no_grad():
            for x, y in loader:
                out = model(_as_tensor(x))
                y = _as_tensor(y)
                if loss_fn is not None:
                    loss_sum += float(loss_fn(out, y).item()) * len(y)
                count += len(y)
                scores.append(backend.asnumpy(out.data))
                targets.append(backend.asnumpy(y.data))
    finally:
        model.train(was_training)
    scores = np.concatenate(scores) if scores else np.zeros((0, num_classes or 0))
    targets = np.concatenate(targets) if targets else np.zeros(0, np.int64)
    num_classes = num_classes or scores.shape[1]
    return {
        "loss": loss_sum / count if (loss_fn is not None and count) else None,
        "accuracy": metrics.accuracy(scores, targets),
        "per_class_accuracy": metrics.per_class_accuracy(scores, targets, num_classes),
        "scores": scores,
        "targets": targets,
    }


class Trainer:
    """Trains ``model`` with ``optimizer`` on a classification loss, keeping history and checkpoints.

    Args:
        model: a ``cnnlab.nn.Module`` returning (N, C) scores.
        optimizer: a ``cnnlab.optim`` optimizer over the model's parameters.
        loss_fn: callable(scores, targets) -> scalar Tensor (default: cross-entropy).
        scheduler: optional LR scheduler, stepped once per epoch (``ReduceLROnPlateau`` gets the
            monitored metric; without a validation set, its training counterpart).
        callbacks: objects with optional ``on_epoch_end(trainer, epoch, logs)`` / ``on_batch_end(trainer,
            batch, logs)``; set ``trainer.stop_training = True`` to stop.
        checkpoint_dir: where ``last.npz`` (every epoch and on interrupt) and ``best.npz`` go.
        meta: JSON-able facts stored in every checkpoint (model name and config, normalisation, classes).
        monitor: ``"val_loss"`` or ``"val_acc"``: the validation metric that chooses ``best.npz`` and
            drives ``ReduceLROnPlateau``. Default: the one a ``ReduceLROnPlateau`` scheduler's ``mode``
            implies (``"min"``: the loss, ``"max"``: the accuracy), else ``"val_acc"``. A plateau
            scheduler whose mode points the other way is an error.
    """

    def __init__(self, model, optimizer, loss_fn=None, scheduler=None, callbacks=(), checkpoint_dir=None,
                 meta=None, progress=True, log=print, monitor=None):
        if loss_fn is None:
            from ..functional.loss import cross_entropy as loss_fn
        self.model, self.optimizer, self.loss_fn, self.scheduler = model, optimizer, loss_fn, scheduler
        self.callbacks = list(callbacks)
        self.checkpoint_dir = checkpoint_dir
        self.meta = dict(meta or {})
        self.progress, self.log = progress, log or (lambda *a, **k: None)
        self.aux_weight = 0.3
        plateau_mode = scheduler.mode if isinstance(scheduler, ReduceLROnPlateau) else None
        if monitor is None:
            monitor = {"min": "val_loss", "max": "val_acc"}.get(plateau_mode, "val_acc")
        self.monitor = monitor
        self.monitor_mode = check_monitor("fit", monitor, plateau_mode, "the ReduceLROnPlateau scheduler's mode")
        self.history = History()
        self.stop_training = False
        self.interrupted = False
        self._epoch = 0            # completed epochs
        self._batch = 0            # completed batches in the current epoch
        self._loader = None
        self._loader_state = None  # loader position to restore on resume
        self._partial = (0.0, 0, 0)  # loss sum, correct, seen in the current epoch

    # ------------------------------------------------------------------ checkpoints
    @property
    def last_path(self):
        return os.path.join(self.checkpoint_dir, "last.npz") if self.checkpoint_dir else None

    def state_dict(self):
        return {
            "meta": self.meta,
            "model": dict(self.model.state_dict()),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "callbacks": [c.state_dict() if hasattr(c, "state_dict") else None for c in self.callbacks],
            "history": dict(self.history),
            "epoch": self._epoch,
            "batch": self._batch,
            "partial": list(self._partial),
            "loader_state": self._current_loader_state(),
            "rng_state": _generator_state(backend.get_rng()),
        }

    def _current_loader_state(self):
        if self._loader is None or not hasattr(self._loader, "state_dict"):
            return None
        state = dict(self._loader.state_dict())
        state["batch_index"] = self._batch  # batches whose update is complete, not merely delivered
        return state

    def save(self, path=None):
        path = path or self.last_path
        if path:
            save_checkpoint(path, self.state_dict())
        return path

    def load(self, path_or_state):
        state = load_checkpoint(path_or_state) if isinstance(path_or_state, (str, os.PathLike)) else path_or_state
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        for c, s in zip(self.callbacks, state.get("callbacks") or []):
            if s is not None and hasattr(c, "load_state_dict"):
                c.load_state_dict(s)
        self.history = History(state["history"])
        self._epoch, self._batch = int(state["epoch"]), int(state["batch"])
        self._partial = tuple(state["partial"])
        self._loader_state = state.get("loader_state")
        _set_generator_state(backend.get_rng(), state.get("rng_state"))
        return state

    def _loss(self, out, y):
        """The loss of the main output, plus ``aux_weight`` x the loss of each auxiliary head.

        Models with auxiliary classifiers (GoogLeNet) return a tuple in training mode: main logits
        first, then the auxiliary logits; the paper weights each auxiliary loss by 0.3.
        """
        if not isinstance(out, tuple):
            return self.loss_fn(out, y)
        loss = self.loss_fn(out[0], y)
        for aux in out[1:]:
            if aux is not None:
                loss = loss + self.aux_weight * self.loss_fn(aux, y)
        return loss

    # ------------------------------------------------------------------ loop
    def fit(self, train_loader, val_loader=None, epochs=1, resume=None):
        """Train until ``epochs`` epochs are complete (counting those done before a resume)."""
        if resume is not None:
            self.load(resume)
            self.log(f"Resumed from {resume} at epoch {self._epoch + 1}, batch {self._batch}")
        self.stop_training = False
        self.interrupted = False
        try:
            while self._epoch < epochs and not self.stop_training:
                self._run_epoch(train_loader, val_loader, epochs)
        except KeyboardInterrupt:
            self.interrupted = True
            path = self.save()
            self.log(f"\nInterrupted at epoch {self._epoch + 1}, batch {self._batch}"
                     + (f"; checkpoint saved to {path} (continue with resume)" if path else ""))
        return self.history

    def _run_epoch(self, train_loader, val_loader, epochs):
        self._loader = train_loader
        if self._loader_state is not None and hasattr(train_loader, "load_state_dict"):
            # Resuming: replay this epoch's shuffle and skip the batches already trained on.
            train_loader.load_state_dict(self._loader_state)
        self._loader_state = None
        if self._batch == 0:
            self._partial = (0.0, 0, 0)
        loss_sum, correct, seen = self._partial
        self.model.train()
        start = time.perf_counter()
        total = len(train_loader)
        bar = _progress(total, f"epoch {self._epoch + 1}/{epochs}", self.progress)
        if bar is not None and self._batch:
            bar.update(self._batch)
        try:
            for i, (x, y) in enumerate(train_loader, start=self._batch):
                x, y = _as_tensor(x), _as_tensor(y)
                self.optimizer.zero_grad()
                out = self.model(x)
                loss = self._loss(out, y)
                if isinstance(out, tuple):
                    out = out[0]  # main logits; the rest are auxiliary heads
                loss.backward()
                self.optimizer.step()
                n = len(y)
                batch_loss = float(loss.item())
                loss_sum += batch_loss * n
                correct += int((out.data.argmax(axis=1) == y.data).sum())
                seen += n
                self._batch = i + 1
                self._partial = (loss_sum, correct, seen)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.4f}")
                for c in self.callbacks:
                    if hasattr(c, "on_batch_end"):
                        c.on_batch_end(self, i, {"loss": batch_loss})
        finally:
            if bar is not None:
                bar.close()
        logs = {"train_loss": loss_sum / max(seen, 1), "train_acc": correct / max(seen, 1),
                "val_loss": None, "val_acc": None,
                "lr": float(self.optimizer.param_groups[0]["lr"]), "time": time.perf_counter() - start}
        if val_loader is not None:
            result = evaluate(self.model, val_loader, self.loss_fn)
            logs["val_loss"], logs["val_acc"] = result["loss"], result["accuracy"]
        for k in History.KEYS:
            self.history[k].append(logs[k])
        self._epoch += 1
        self._batch = 0
        self._partial = (0.0, 0, 0)
        if self.scheduler is not None:
            if isinstance(self.scheduler, ReduceLROnPlateau):
                self.scheduler.step(self._monitored(logs))
            else:
                self.scheduler.step()
        line = (f"epoch {self._epoch}/{epochs}: train loss {logs['train_loss']:.4f} acc {logs['train_acc']:.4f}")
        if logs["val_acc"] is not None:
            line += f" | val loss {logs['val_loss']:.4f} acc {logs['val_acc']:.4f}"
        self.log(line + f" | {logs['time']:.1f}s")
        for c in self.callbacks:
            if hasattr(c, "on_epoch_end"):
                c.on_epoch_end(self, self._epoch, logs)
        self.save()
        if self.checkpoint_dir and self._is_best(logs):
            self.save(os.path.join(self.checkpoint_dir, "best.npz"))

    def _monitored(self, logs):
        """The monitored metric of an epoch; without a validation set, its training counterpart."""
        value = logs[self.monitor]
        return value if value is not None else logs["train" + self.monitor[3:]]

    def _is_best(self, logs):
        """Whether this epoch's monitored validation metric ties or beats every earlier epoch's."""
        value = logs[self.monitor]
        if value is None:
            return False
        earlier = [v for v in self.history[self.monitor][:-1] if v is not None]
        if not earlier:
            return True
        return value <= min(earlier) if self.monitor_mode == "min" else value >= max(earlier)

    def best_epoch(self):
        """The 1-based epoch whose monitored validation metric is best (the latest on ties), or None."""
        values = self.history[self.monitor]
        best = None
        for i, v in enumerate(values):
            if v is not None and (best is None or (v <= values[best] if self.monitor_mode == "min"
                                                   else v >= values[best])):
                best = i
        return None if best is None else best + 1


def fit(model, train_loader, val_loader=None, optimizer=None, loss_fn=None, scheduler=None, epochs=1,
        callbacks=(), checkpoint_dir=None, resume=None, meta=None, progress=True, log=print, monitor=None):
    """Train ``model`` for ``epochs`` epochs and return its ``History`` (see ``Trainer``).

    ``monitor`` (``"val_loss"`` or ``"val_acc"``) is the validation metric that picks ``best.npz`` and
    drives a ``ReduceLROnPlateau`` scheduler, whose ``mode`` must agree with it.
    """
    if optimizer is None:
        from ..optim import SGD

        optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)
    trainer = Trainer(model, optimizer, loss_fn, scheduler, callbacks, checkpoint_dir, meta, progress, log,
                      monitor=monitor)
    return trainer.fit(train_loader, val_loader, epochs, resume)
