"""The training loop: epochs of forward, loss, backward and update, with history, checkpoints and resume.

A run can be interrupted at any moment (Ctrl-C, SIGTERM): the signal only sets a flag, the step
in progress is finished (or, if its batch was merely loaded, discarded) as a whole, and the trainer
saves the model, the optimizer, the scheduler, the history, the position inside the epoch and every
random generator's state, so ``fit(..., resume=path)`` finishes with the same weights as a run that
was never interrupted. A second interrupt stops at once, leaving the last checkpoint intact.

A non-finite loss, gradient norm or batch-norm statistic stops training with ``TrainingDiverged``;
a checkpoint holding non-finite values is never written.
"""

import math
import os
import time

import numpy as np

from .. import backend
from ..optim.lr_scheduler import ReduceLROnPlateau
from ..runs.evaluation import as_tensor
from ..runs.tasks import get_task
from .checkpoint import load_checkpoint, save_checkpoint
from .interrupt import Aborted, StopRequest


class TrainingDiverged(RuntimeError):
    """Training produced a non-finite loss, gradient norm or statistic (the CLI exits with 3)."""


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
        best, wait = (state or {}).get("best"), (state or {}).get("wait")
        finite = best is None or (isinstance(best, (int, float)) and math.isfinite(best))
        if not finite or isinstance(best, bool) or not isinstance(wait, int) or wait < 0:
            raise ValueError(f"EarlyStopping.load_state_dict: `best` must be None or a finite "
                             f"number and `wait` a non-negative int. Received: {state!r:.80}")
        self.best, self.wait = best, wait


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
        check_rng_state("rng_state", state)
        gen.bit_generator.state = state


def check_rng_state(field, state):
    """Refuse a saved bit-generator state that NumPy could not take, naming the checkpoint field:
    its numbers must be non-negative ints below 2**128, and a scratch generator of its kind must
    accept it (checked before anything is restored)."""
    def bad(path, why):
        return ValueError(f"resume: the checkpoint field {path} {why}; the checkpoint was not "
                          f"written by cnnlab or was edited")

    def walk(value, path):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{path}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]")
        elif isinstance(value, str):
            if not path.endswith(".bit_generator"):
                raise bad(path, f"must be a number. Received: {value!r:.60}")
        elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2 ** 128:
            raise bad(path, f"must be an int in [0, 2**128). Received: {value!r:.60}")

    if not isinstance(state, dict) or not isinstance(state.get("bit_generator"), str):
        raise bad(field, f"must be a random generator's state (a dict naming its bit_generator). "
                         f"Received: {state!r:.80}")
    walk(state, field)
    kind = getattr(np.random, state["bit_generator"], None)
    if not (isinstance(kind, type) and issubclass(kind, np.random.BitGenerator)):
        raise bad(f"{field}.bit_generator", f"must name a NumPy bit generator. Received: "
                                            f"{state['bit_generator']!r:.60}")
    try:
        kind().state = {k: (np.asarray(v, np.uint32) if k == "key" else v)
                        for k, v in state.items()}
    except (TypeError, ValueError, KeyError, OverflowError) as e:
        raise bad(field, f"is not a usable {state['bit_generator']} state ({e})") from None


def _grad_norm(params):
    """The global L2 norm of the parameters' gradients (inf or nan if a gradient is not finite)."""
    total = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        for p in params:
            g = p.grad
            if g is None:
                continue
            g = backend.asnumpy(getattr(g, "data", g)).ravel()
            total += float(np.dot(g, g))
    return total ** 0.5


def _first_non_finite(state, prefix=""):
    """The path of the first array in nested ``state`` holding a nan or inf, else None."""
    if isinstance(state, dict):
        items = state.items()
    elif isinstance(state, (list, tuple)):
        items = enumerate(state)
    else:
        data = getattr(state, "data", state) if hasattr(state, "requires_grad") else state
        if hasattr(data, "dtype") and np.dtype(data.dtype).kind in "fc":
            if not np.isfinite(backend.asnumpy(data)).all():
                return prefix
        return None
    for k, v in items:
        bad = _first_non_finite(v, f"{prefix}.{k}" if prefix else str(k))
        if bad is not None:
            return bad
    return None


def _check_training_state(state):
    """The entries ``Trainer.load`` reads, with their types; one line naming what is wrong."""
    def count(v):
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    checks = {"model": lambda v: isinstance(v, dict),
              "optimizer": lambda v: v is None or isinstance(v, dict),
              "history": lambda v: isinstance(v, dict) and all(isinstance(x, list)
                                                               for x in v.values()),
              "epoch": count, "batch": count,
              "partial": lambda v: isinstance(v, list) and len(v) == 3 and all(
                  isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)}
    if not isinstance(state, dict):
        raise ValueError(f"resume: a training state must be a dict. Received "
                         f"{type(state).__name__}")
    missing = [k for k in checks if k not in state]
    if missing:
        raise ValueError(f"resume: the checkpoint is not a complete training state (missing "
                         f"{', '.join(missing)})")
    bad = [k for k, ok in checks.items() if not ok(state[k])]
    if bad:
        raise ValueError(f"resume: these entries of the checkpoint have the wrong type: "
                         f"{', '.join(bad)}")
    # Every completed epoch appends one entry to each history list: the epoch must agree.
    lengths = {k: len(v) for k, v in state["history"].items()}
    if any(n != state["epoch"] for n in lengths.values()):
        raise ValueError(f"resume: the checkpoint field epoch ({state['epoch']}) does not match "
                         f"its history ({', '.join(f'{k}: {n}' for k, n in lengths.items())} "
                         f"epochs); "
                         f"the checkpoint was not written by cnnlab or was edited")
    loss_sum, correct, seen = state["partial"]
    if not (math.isfinite(loss_sum) and loss_sum >= 0 and 0 <= correct <= seen):
        raise ValueError(f"resume: the checkpoint field partial (loss sum, correct, seen) must be "
                         f"finite with 0 <= correct <= seen. Received: {state['partial']!r:.80}")
    if state.get("rng_state") is not None:
        check_rng_state("rng_state", state["rng_state"])
    loader = state.get("loader_state")
    if loader is not None:
        generator = loader.get("generator") if isinstance(loader, dict) else None
        if not isinstance(generator, dict):
            raise ValueError(f"resume: the checkpoint field loader_state must hold the data "
                             f"order's generator. Received: {loader!r:.80}")
        check_rng_state("loader_state.generator.bit_generator", generator.get("bit_generator"))


class Trainer:
    """Trains ``model`` with ``optimizer`` on a classification loss, keeping history and checkpoints.

    Args:
        model: a ``cnnlab.nn.Module`` returning (N, C) scores.
        optimizer: a ``cnnlab.optim`` optimizer over the model's parameters.
        loss_fn: callable(scores, targets) -> scalar Tensor (default: cross-entropy).
        scheduler: optional LR scheduler, stepped once per epoch (``ReduceLROnPlateau`` gets the
            monitored metric; without a validation set, its training counterpart).
        callbacks: objects with optional ``on_epoch_end(trainer, epoch, logs)`` / ``on_batch_end(trainer,
            batch, logs)``; set ``trainer.stop_training = True`` to stop. Also optional
            ``on_train_begin(trainer, train_loader, val_loader, epochs)`` and ``on_train_end(trainer)``.
        checkpoint_dir: where ``last.npz`` (every epoch and on interrupt) and ``best.npz`` go.
        meta: JSON-able facts stored in every checkpoint (model name and config, normalisation, classes).
        handle_signals: while ``fit`` runs, SIGINT and SIGTERM stop training at the next step
            boundary (with a checkpoint) and a second one aborts at once; the previous handlers
            are restored after.
        monitor: ``"val_loss"`` or ``"val_acc"``: the validation metric that chooses ``best.npz`` and
            drives ``ReduceLROnPlateau``. Default: the one a ``ReduceLROnPlateau`` scheduler's ``mode``
            implies (``"min"``: the loss, ``"max"``: the accuracy), else ``"val_acc"``. A plateau
            scheduler whose mode points the other way is an error.
    """

    def __init__(self, model, optimizer, loss_fn=None, scheduler=None, callbacks=(), checkpoint_dir=None,
                 meta=None, progress=True, log=print, handle_signals=True, parallel=None, monitor=None,
                 task="classify"):
        if loss_fn is None:
            from ..functional.loss import cross_entropy as loss_fn
        self.model, self.optimizer, self.loss_fn, self.scheduler = model, optimizer, loss_fn, scheduler
        self.task = get_task(task)
        self.callbacks = list(callbacks)
        self.checkpoint_dir = checkpoint_dir
        self.meta = dict(meta or {})
        self.progress, self.log = progress, log or (lambda *a, **k: None)
        self.parallel = parallel   # a distributed.Synchronizer: averages gradients, rank 0 writes
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
        self.handle_signals = handle_signals  # SIGINT/SIGTERM: stop at the next step boundary
        self.phase_hook = None     # callable(phase, trainer): load, forward, backward, checkpoint
        self._stop = None          # the active StopRequest while fit runs
        self._in_step = False      # True between the first and the last change a step makes
        self.resume_source = None  # the file a state given to fit(resume=...) was read from

    # ------------------------------------------------------------------ checkpoints
    @property
    def last_path(self):
        return os.path.join(self.checkpoint_dir, "last.npz") if self.checkpoint_dir else None

    def state_dict(self):
        return {
            "meta": self.meta,
            "model": dict(self.model.state_dict()),
            "optimizer": self.optimizer.state_dict(),
            "optimizer_type": type(self.optimizer).__name__,
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
        """Write the state to ``path`` (default ``last.npz``); TrainingDiverged if not finite."""
        path = path or self.last_path
        if path and (self.parallel is None or self.parallel.is_main):
            state = self.state_dict()
            bad = _first_non_finite({"model": state["model"], "optimizer": state["optimizer"]})
            if bad is not None:
                raise TrainingDiverged(f"training diverged: {bad} holds non-finite values, so no "
                                       f"checkpoint was written to {path}{self._kept_note(path)}; "
                                       f"{self._lr_advice()}")
            save_checkpoint(path, state, before_rename=lambda: self._phase("checkpoint"))
        return path

    def _phase(self, phase):
        if self.phase_hook is not None:
            self.phase_hook(phase, self)

    def _kept_note(self, path=None):
        path = path or self.last_path
        if path and os.path.isfile(path):
            return f" (the last finite checkpoint, {path}, is kept)"
        return " (no checkpoint had been written yet)" if path else ""

    def _lr_advice(self):
        lr = float(self.optimizer.param_groups[0]["lr"])
        return f"try a lower learning rate than {lr:g} (e.g. --lr {lr / 10:g})"

    def load(self, path_or_state):
        state = load_checkpoint(path_or_state) if isinstance(path_or_state, (str, os.PathLike)) else path_or_state
        _check_training_state(state)
        self.model.load_state_dict(state["model"])
        if state.get("optimizer") is not None:  # None: the optimizer keeps its fresh state
            kind, saved_kind = type(self.optimizer).__name__, state.get("optimizer_type")
            advice = ("use the same optimizer (or, with cnnlab train, --allow-changes to start the "
                      "new one from a fresh state)")
            if saved_kind not in (None, kind):
                raise ValueError(f"resume: the checkpoint was trained with the {saved_kind} "
                                 f"optimizer, not {kind}; {advice}")
            try:
                self.optimizer.load_state_dict(state["optimizer"])
            except (KeyError, TypeError, IndexError) as e:
                raise ValueError(f"resume: the checkpoint's optimizer state does not fit {kind} "
                                 f"(no {e}); {advice}") from None
        if self.scheduler is not None and state.get("scheduler") is not None:
            try:
                self.scheduler.load_state_dict(state["scheduler"])
            except (TypeError, ValueError) as e:
                raise ValueError(f"resume: the checkpoint field scheduler does not fit "
                                 f"{type(self.scheduler).__name__}: {e}") from None
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
        """Train until ``epochs`` epochs are complete (counting those done before a resume).

        Returns the ``History``; ``self.interrupted`` tells whether a signal (or a KeyboardInterrupt
        raised between steps) stopped it early. Raises ``Aborted`` on a second interrupt and
        ``TrainingDiverged`` when the loss, the gradient norm or a batch-norm statistic is not
        finite.
        """
        if resume is not None:
            self.load(resume)
            source = (resume if isinstance(resume, (str, os.PathLike))
                      else self.resume_source or "the given state")
            self.log(f"Resumed from {source} at epoch {self._epoch + 1}, batch {self._batch}")
            if self._epoch >= epochs:
                self.log(f"nothing to train: the checkpoint is at epoch {self._epoch} of {epochs} "
                         f"(ask for more epochs to continue)")
        self.stop_training = False
        self.interrupted = False
        for c in self.callbacks:
            if hasattr(c, "on_train_begin"):
                c.on_train_begin(self, train_loader, val_loader, epochs)
        with StopRequest(self.handle_signals) as stop:
            self._stop = stop
            try:
                while self._epoch < epochs and not self.stop_training and not self._stop_requested():
                    self._run_epoch(train_loader, val_loader, epochs)
                reason = stop.requested
                if self._ranks() > 1:  # a request after the last step: every rank hears of it
                    reason = self.parallel.agree_stop(stop.requested)
                if reason is not None:
                    self._interrupted(reason)
            except Aborted as e:
                self.interrupted = True
                raise Aborted(f"{e}{self._abort_note()}") from None
            except KeyboardInterrupt:
                if self._ranks() > 1:  # one rank alone cannot stop between steps: stop them all
                    raise
                if self._in_step:  # raised mid-step: the state is half-updated, not to be saved
                    self.interrupted = True
                    raise Aborted(f"interrupted in the middle of a step: stopped without saving"
                                  f"{self._abort_note()}") from None
                self._interrupted("KeyboardInterrupt")
            finally:
                self._stop, self._in_step = None, False
        for c in self.callbacks:
            if hasattr(c, "on_train_end"):
                c.on_train_end(self)
        return self.history

    def _interrupted(self, reason):
        self.interrupted = True
        path = self.save()
        self.log(f"\nInterrupted ({reason}) at epoch {self._epoch + 1}, batch {self._batch}"
                 + (f"; checkpoint saved to {path} (continue with resume)" if path else ""))

    def _abort_note(self):
        path = self.last_path
        if path and os.path.isfile(path):
            return f"; the last checkpoint, {path}, is intact"
        return "; no checkpoint had been written yet"

    def _ranks(self):
        return getattr(self.parallel, "size", 1) if self.parallel is not None else 1

    def _stop_requested(self):
        if self._ranks() > 1:  # under MPI, only a request the ranks agreed on in a step's all-reduce
            return self.parallel.stop_reason is not None
        return self._stop is not None and self._stop.requested is not None

    def _check_finite(self, what, value, step):
        if not np.isfinite(value):
            raise TrainingDiverged(f"training diverged at step {step} (epoch {self._epoch + 1}, "
                                   f"batch "
                                   f"{self._batch + 1}): the {what} is {value}{self._kept_note()}; "
                                   f"{self._lr_advice()}")

    def _check_output(self, out, step, what="model output"):
        """Divergence, not bad input: non-finite logits stop the run before a loss refuses them."""
        for t in (out if isinstance(out, tuple) else (out,)):
            if t is None:
                continue
            data = backend.asnumpy(t._data)
            if data.size and not np.isfinite(data.sum()):   # one sum decides; the cheap case
                bad = data[~np.isfinite(data)]
                if bad.size:
                    self._check_finite(what, float(bad[0]), step)

    def _checked_loss(self, step):
        """The loss function for validation, refusing a non-finite output as divergence."""
        def loss(out, y):
            self._check_output(out, step, "model output on the validation set")
            return self.loss_fn(out, y)
        return loss

    def _check_buffers(self, buffers, step):
        for name, b in buffers:
            data = backend.asnumpy(b._data)
            if not np.isfinite(data).all():
                first = float(data[~np.isfinite(data)][0])
                self._check_finite(f"batch-norm statistic {name}", first, step)

    def _run_epoch(self, train_loader, val_loader, epochs):
        """One epoch: its batches (from where a resumed epoch stopped), then its end (validation,
        history, schedule, log line, checkpoints) unless a stop was requested."""
        self._start_epoch(train_loader)
        start = time.perf_counter()
        loss_sum, correct, seen = self._train_batches(train_loader, epochs)
        if self._stop_requested():
            return
        if seen == 0:
            raise ValueError(f"fit: the training data gave no batch in epoch {self._epoch + 1} "
                             f"(an empty dataset, or fewer samples than a batch with "
                             f"drop_last); there is nothing to train on")
        logs = {"train_loss": loss_sum / seen, "train_acc": correct / seen,
                "val_loss": None, "val_acc": None,
                "lr": float(self.optimizer.param_groups[0]["lr"]), "time": time.perf_counter() - start}
        if val_loader is not None:
            step = self._epoch * len(train_loader) + self._batch
            result = self.task.evaluate(self.model, val_loader, self._checked_loss(step), self.parallel)
            logs["val_loss"], logs["val_acc"] = result["loss"], result["accuracy"]
        self._end_epoch(logs, epochs)

    def _start_epoch(self, train_loader):
        """Point the loader at this epoch: a resumed one replays its shuffle and skips the batches
        already trained on; a distributed sampler draws this epoch's order."""
        self._loader = train_loader
        if self._loader_state is not None and hasattr(train_loader, "load_state_dict"):
            train_loader.load_state_dict(self._loader_state)
        self._loader_state = None
        sampler = getattr(train_loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(self._epoch)
        if self._batch == 0:
            self._partial = (0.0, 0, 0)

    def _train_batches(self, train_loader, epochs):
        """Train on the epoch's remaining batches until they end or a stop is requested; return the
        epoch's running ``(loss sum, correct, seen)``."""
        self.model.train()
        total = len(train_loader)
        params = [p for p in self.model.parameters()]
        buffers = [(n, b) for n, b in self.model.named_buffers() if np.dtype(b.dtype).kind == "f"]
        bar = _progress(total, f"epoch {self._epoch + 1}/{epochs}", self.progress)
        if bar is not None and self._batch:
            bar.update(self._batch)
        batches = iter(train_loader)
        try:
            while not self._stop_requested():
                self._phase("load")
                try:
                    x, y = next(batches)
                except StopIteration:
                    break
                if self._stop_requested():
                    break  # the batch was only loaded: discarding it leaves the state untouched
                i, step = self._batch, self._epoch * total + self._batch + 1
                x, y = as_tensor(x), as_tensor(y)
                self._in_step = True
                batch_loss, batch_correct, n, predictions = self._step(x, y, step, params, buffers)
                loss_sum, correct, seen = self._partial
                self._partial = (loss_sum + batch_loss * n, correct + batch_correct, seen + n)
                self._batch = i + 1
                self._in_step = False
                self._after_batch(bar, i, batch_loss, predictions, y)
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()
            if bar is not None:
                bar.close()
        return self._partial

    def _step(self, x, y, step, params, buffers):
        """One training step on a batch, every result checked for divergence; under MPI the
        gradients are averaged and the global batch's numbers returned. Returns
        ``(mean loss, right samples, batch size, predictions)``."""
        # Overflow is checked explicitly (and stops the run) instead of warned about.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            self.optimizer.zero_grad()
            self._phase("forward")
            out = self.task.forward(self.model, x, y)
            self._check_output(out, step)   # before the loss, which refuses nan input
            loss = self._loss(out, y)
            if isinstance(out, tuple):
                out = out[0]  # main logits; the rest are auxiliary heads
            batch_loss = float(loss.item())
            self._check_finite("loss", batch_loss, step)
            self._check_buffers(buffers, step)
            self._phase("backward")
            loss.backward()
            n = len(y)
            batch_correct, predictions = self.task.hits(out, y)
            if self.parallel is not None:  # average the gradients; the global batch's numbers
                batch_loss, batch_correct, n = self.parallel.after_backward(
                    batch_loss * n, batch_correct, n,
                    stop=self._stop.requested if self._stop is not None else None)
                batch_loss /= n
            self._check_finite("gradient norm", _grad_norm(params), step)
            self.optimizer.step()
        return batch_loss, batch_correct, n, predictions

    def _after_batch(self, bar, i, batch_loss, predictions, y):
        """The progress bar's running numbers, and the callbacks' ``on_batch_end``."""
        if bar is not None:
            loss_sum, correct, seen = self._partial
            bar.update(1)
            bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.4f}")
        for c in self.callbacks:
            if hasattr(c, "on_batch_end"):
                c.on_batch_end(self, i, {"loss": batch_loss, "predictions": predictions,
                                         "targets": y._data})

    def _end_epoch(self, logs, epochs):
        """Record the finished epoch: history, the schedule's step, the log line, the callbacks'
        ``on_epoch_end``, ``last.npz`` and, when the monitored metric is the best yet, ``best.npz``."""
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
        if self.parallel is not None:
            line += " | " + self.parallel.epoch_report(logs["time"])
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
