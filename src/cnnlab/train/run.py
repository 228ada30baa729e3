"""The main job as one Python call: train a zoo model on a named dataset, checkpoint it, report accuracy.

``cnnlab train`` is a thin wrapper over ``train_job``; ``load_trained`` (in :mod:`cnnlab.runs.saved`)
rebuilds a model from a checkpoint for ``cnnlab evaluate`` and ``cnnlab predict``.
"""

import copy
import inspect
import os
from contextlib import nullcontext

import numpy as np

from .. import __version__, backend, distributed, optim
from ..validation import int_arg
from ..data import DATASETS, DataLoader, Subset, get_dataset
from ..data.download import DatasetNotFoundError, DownloadError, resolve_data_dir
from ..data.resized import ResizedDataset
from ..data.scenes import TASK_WORDS, labels_for
from ..models.registry import get_builder, task_of
from ..runs.tasks import get_task
from ..runs.checkpoint import check_model_arrays, check_trained_state, load_checkpoint
from ..runs.rundir import (RunLock, check_output_dir, check_output_dir_creatable,
                           remove_orphaned_temp_files)
from ..runs.saved import set_normalize
from .memory_plan import check_batches_fit
from .trainer import EarlyStopping, Trainer, check_monitor

# The default recipe: Adam with a cosine-annealed learning rate and inputs standardised by the
# training set's mean and std (see benchmarks/RESULTS.md for the accuracy it reaches).
DEFAULT_LR = {"adam": 1e-3, "adamw": 1e-3, "sgd": 0.01, "rmsprop": 1e-3}
# Bundled with the package (cnnlab.data.mini): what `cnnlab train` uses when its dataset cannot be had.
FALLBACK_DATASET = "fashion-mnist-mini"


def _datasets(name, data_dir, log, fallback, labels=None):
    """Train and test sets of ``name``; the bundled Fashion-MNIST subset instead when ``name`` cannot be had.

    ``labels``: keyword arguments choosing the labels (``labels_for``); a dataset chosen for them
    has no stand-in.
    """
    labels = labels or {}
    try:
        return (name, get_dataset(name, root=data_dir, train=True, **labels),
                get_dataset(name, root=data_dir, train=False, **labels))
    except (DatasetNotFoundError, DownloadError) as e:
        if not fallback or name == FALLBACK_DATASET or labels:
            raise
        log(fallback_message(name, e, data_dir))
        return (FALLBACK_DATASET, get_dataset(FALLBACK_DATASET, train=True),
                get_dataset(FALLBACK_DATASET, train=False))


def fallback_message(name, error, data_dir=None):
    """The one line said when ``name`` cannot be had and the bundled subset is used instead."""
    first_line = str(error).splitlines()[0]
    folder = getattr(DATASETS.get(name.lower()), "folder", None) or name
    where = os.path.join(resolve_data_dir(data_dir), folder)
    return (f"{name} is not available ({first_line}); training on the bundled {FALLBACK_DATASET} "
            f"(6,000 train / 1,000 test Fashion-MNIST images) instead. For {name} itself: run online "
            f"(it downloads), or put the official files in {where}, or point --data-dir / "
            f"$CNNLAB_DATA at them")


def channel_stats(dataset, indices=None):
    """Per-channel mean and std of a dataset's images (or those at ``indices``) in the [0, 1] scale."""
    data = dataset.data if indices is None else dataset.data[indices]
    data = data.astype(np.float64) / dataset.max_value
    axes = (0, 1, 2) if data.ndim == 4 else None
    mean = np.atleast_1d(data.mean(axis=axes))
    std = np.atleast_1d(data.std(axis=axes))
    return mean.tolist(), std.tolist()


def make_optimizer(name, params, lr=None, momentum=0.9, weight_decay=0.0):
    """Build ``sgd``, ``adam``, ``adamw`` or ``rmsprop`` with the recipe's default learning rate."""
    key = name.lower()
    if key not in DEFAULT_LR:
        raise ValueError(f"make_optimizer: unknown optimizer {name!r}. Known optimizers: {', '.join(DEFAULT_LR)}")
    lr = DEFAULT_LR[key] if lr is None else lr
    if key == "sgd":
        return optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if key == "adam":
        return optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if key == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    return optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


def build_model(name, dataset, resize=None, dataset_name=None):
    """The zoo model ``name`` adapted to ``dataset``: its classes, its channels and its image size.

    ``num_classes`` and ``in_channels`` always follow the dataset; the image size (``resize``, else the
    dataset's) reaches builders that take ``input_size``; the others pool adaptively before their
    classifier; an auxiliary head that does not fit the smaller input (``aux_min_size``) is left out.
    A model that cannot shrink that far, or that does not classify, is refused with a
    ValueError naming the smallest input it accepts and ``--resize``. Returns ``(model, config)``.
    """
    builder = get_builder(name)
    label = dataset_name or "the dataset"
    task, offered = getattr(builder, "task", "classify"), getattr(dataset, "task", "classify")
    if task != offered:
        what = ("has one class per image; use --dataset mnist-scenes" if offered == "classify"
                else "has no single class per image; train a segmentation model on it (unet, fcn)")
        raise ValueError(f"train: {name} cannot be trained on {label}: it {TASK_WORDS[task]}, but "
                         f"{label} {what}")
    params = inspect.signature(builder).parameters
    if "num_classes" not in params:
        what = (builder.__doc__ or "").strip().split(":")[0].splitlines()[0].rstrip(".")
        raise ValueError(f"train: {name} cannot be trained on {label}: it has no `num_classes` to predict the "
                         f"dataset's {len(dataset.classes)} classes" + (f" ({name} is {what})" if what else ""))
    c, h, w = dataset.image_shape
    if resize is not None:
        h = w = resize
    config = {"num_classes": len(dataset.classes), "in_channels": c}
    smallest = getattr(builder, "min_size", None)
    default = getattr(builder, "input_size", None)
    designed = f"; it was designed for {default[1]}x{default[2]}" if default else ""
    if smallest is not None and min(h, w) < smallest:
        given = (f"--resize {resize} makes the {label} images {h}x{w}" if resize is not None
                 else f"the {label} images are {h}x{w}")
        raise ValueError(f"train: {name} needs inputs of at least {smallest}x{smallest} pixels, but {given}; "
                         f"use --resize {smallest} (or larger{designed})")
    if "input_size" in params and (default is None or tuple(default[1:]) != (h, w)):
        config["input_size"] = h
    aux_smallest = getattr(builder, "aux_min_size", None)
    if aux_smallest is not None and "aux_logits" in params and min(h, w) < aux_smallest:
        config["aux_logits"] = False   # the auxiliary head only fits the designed input size
    net = builder(**config)
    if smallest is None:
        _check_forward(name, net, (c, h, w), default)
    return net, config


def _check_forward(name, net, shape, default):
    """One forward pass at ``shape`` for a model that declares no smallest input: refuse if it fails."""
    from .. import Tensor, no_grad

    was_training = net.training
    net.eval()
    try:
        with no_grad():
            net(Tensor(np.zeros((1,) + tuple(shape), backend.get_default_dtype())))
    except ValueError as e:
        hint = f"use --resize {default[1]} (its default input size)" if default else "use --resize"
        raise ValueError(f"train: {name} cannot take {'x'.join(map(str, shape))} inputs "
                         f"({str(e).splitlines()[0]}); {hint}") from None
    finally:
        net.train(was_training)


def _check_val_split(val_split, early_stop):
    if isinstance(val_split, bool) or not isinstance(val_split, (int, float)) or not 0 <= val_split < 1:
        raise ValueError(f"train: --val-split must be a fraction in [0, 1), e.g. 0.1. Received: {val_split!r}")
    if early_stop is not None:
        if isinstance(early_stop, bool) or not isinstance(early_stop, int) or early_stop < 1:
            raise ValueError(f"train: --early-stop must be a positive number of epochs. Received: {early_stop!r}")
        if val_split == 0:
            raise ValueError("train: --early-stop needs a validation set to watch, but --val-split is 0; "
                             "give --val-split (e.g. 0.1) or drop --early-stop")


def _split(train_set, val_split, seed, train_limit, resume_meta, log):
    """``(train indices, validation indices, split record)``: a class-balanced split drawn with ``seed``.

    With ``train_limit`` the split is carved from the first N shuffled samples. On resume the split
    recorded in the checkpoint is drawn again (its fraction wins over ``val_split``) and checked.
    """
    from ..data.split import split_digest, stratified_split

    recorded = (resume_meta or {}).get("split")
    recorded = recorded if isinstance(recorded, dict) and "val_split" in recorded else None
    if recorded is not None and recorded["val_split"] != val_split:
        log(f"resuming with the checkpoint's validation split ({recorded['val_split']:g}), "
            f"not --val-split {val_split:g}")
        val_split = recorded["val_split"]
    pool = np.arange(len(train_set))
    if train_limit is not None:   # 0 would train on nothing: refused, not read as "no limit"
        int_arg("train", "train_limit", train_limit, minimum=1)
        pool = np.random.default_rng(seed).permutation(len(train_set))[:train_limit]
    train_idx, val_idx = stratified_split(train_set.targets[pool], val_split, seed)
    train_idx, val_idx = pool[train_idx], pool[val_idx]
    record = {"val_split": val_split, "seed": seed, "train": int(train_idx.size), "val": int(val_idx.size),
              "val_digest": split_digest(val_idx)}
    return train_idx, val_idx, record


def _check_split(state, split):
    """Refuse to resume when the checkpoint's validation split cannot be drawn again."""
    recorded = (state.get("meta") or {}).get("split")
    if isinstance(recorded, dict) and recorded.get("val_digest") != split["val_digest"]:
        raise ValueError(f"train: the checkpoint's validation split ({recorded.get('val')} images, seed "
                         f"{recorded.get('seed')}) cannot be drawn again from this training set (seed "
                         f"{split['seed']}); resume with the same dataset and --seed")


def train_job(model="fashion_cnn", dataset="fashion-mnist", epochs=10, batch_size=64, lr=None, optimizer="adam",
              momentum=0.9, weight_decay=0.0, schedule="cosine", seed=0, data_dir=None, out=None, resume=False,
              fallback=True, progress=True, log=print, train_limit=None, augment=None, force=False,
              allow_changes=False, val_split=0.1, early_stop=None, monitor="val_acc", resize=None,
              callbacks=()):
    """Train zoo model ``model`` on ``dataset`` and return a dict of results (accuracy, paths, history).

    The report (``cnnlab.inspect.report.report_for_job``) is written by the caller, ``cnnlab train``:
    ``train`` sits below ``inspect`` and never imports it.

    Checkpoints go to ``out`` (default ``runs/<model>-<dataset>``) after every epoch; ``resume=True``
    continues from ``out/last.npz``. ``train_limit`` trains on the first N shuffled samples only (tests).
    ``augment`` names the training augmentations, e.g. ``"flip,crop:4,pca"`` (see
    ``cnnlab.data.transforms.parse_augment``). ``callbacks`` go to the ``Trainer`` (e.g. a ``LiveFeed``).

    Before any data is read, ``out`` is created and probed for writing and locked against a second
    training (``force`` takes over a lock). ``resume`` compares the checkpoint's recorded recipe
    with the given one and refuses differences unless ``allow_changes``. Raises
    ``TrainingDiverged`` when the loss, a gradient or a statistic stops being finite.

    Under ``mpiexec -n N`` the job trains data-parallel (see ``cnnlab.distributed``): ``batch_size``
    stays the global batch, each rank takes ``batch_size / N`` of it, rank 0 alone logs and writes.

    Honest evaluation: ``val_split`` of the training set (class-balanced, drawn with ``seed``) is held
    out as the validation set, on which ``monitor`` (``"val_acc"`` or ``"val_loss"``) chooses
    ``best.npz``, drives the plateau schedule and ``early_stop`` (stop after that many epochs without
    improvement). The test set is evaluated once, after training, on the best checkpoint's weights.
    ``val_split=0`` trains on every training image and selects nothing: the last epoch is tested.

    ``resize`` (a side in pixels) resizes every image as it is read, for models that need larger inputs
    than the dataset's (``build_model`` says which).
    """
    ranks = distributed.init()
    if ranks > 1:
        if not distributed.is_main():
            log, progress = None, False
        if batch_size % ranks:
            raise ValueError(f"train: --batch-size {batch_size} is the global batch and must be a "
                             f"multiple of the {ranks} ranks "
                             f"(each rank takes batch_size / {ranks})")
    log = log or (lambda *a, **k: None)
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 0:
        raise ValueError(f"train: `epochs` must be a non-negative int. Received: epochs={epochs!r}")
    if epochs == 0:
        log("--epochs 0: nothing to train; no data read and nothing written")
        return {"checkpoint": None, "history": {}, "interrupted": False, "parameters": None,
                "dataset": None, "model": None}
    if out is not None:  # fail at once on a bad --out; created and probed once the data is read
        check_output_dir_creatable(out, "train")
    _check_val_split(val_split, early_stop)
    if resize is not None and (isinstance(resize, bool) or not isinstance(resize, int) or resize < 1):
        raise ValueError(f"train: --resize must be a positive number of pixels. Received: {resize!r}")
    want = check_monitor("train", monitor)
    task = task_of(model)
    labels = labels_for(dataset, task, model)
    if augment and task != "classify":
        raise ValueError(f"train: --augment transforms the images only, so {model}'s per-pixel or box labels "
                         f"would no longer match them; train {model} without --augment")
    backend.manual_seed(seed)
    used, base, test_set = _datasets(dataset, data_dir, log, fallback, labels)
    last = os.path.join(out or os.path.join("runs", f"{model}-{used}"), "last.npz")
    # A resumed run draws the checkpoint's split again (the checkpoint is fully checked below).
    saved_meta = load_checkpoint(last).get("meta") if resume and os.path.isfile(last) else None
    train_idx, val_idx, split = _split(base, val_split, seed, train_limit, saved_meta, log)
    mean, std = channel_stats(base, train_idx)
    # The validation images get their own dataset object (sharing the array): augmentation switches off
    # the training set's standardisation to do it after augmenting, which must not touch validation.
    val_base = copy.copy(base)
    for ds in (base, val_base, test_set):  # standardise with the statistics of the images trained on
        set_normalize(ds, mean, std)
    train_set = Subset(base, train_idx)
    val_set = Subset(val_base, val_idx) if val_idx.size else None
    check_batches_fit(base.image_shape, resize, batch_size, len(train_idx), len(test_set))
    net, config = build_model(model, base, resize, used)
    parallel = None
    if ranks > 1:
        distributed.check_consistent({
            "model": model, "model_fingerprint": distributed.model_fingerprint(net), "seed": seed,
            "dataset": used, "train_length": len(train_set), "test_length": len(test_set),
            "world_size": ranks, "batch_size": batch_size, "epochs": epochs, "optimizer": optimizer,
            "lr": lr, "augment": augment, "resume": bool(resume), "cnnlab": __version__})
        net = distributed.convert_sync_batchnorm(net)   # batch statistics of the global batch
        parallel = distributed.Synchronizer(net)        # rank 0's initial weights on every rank
    n_params = sum(p.numel() for p in net.parameters())
    sizes = f"{len(train_set):,} train / {len(val_idx):,} validation / {len(test_set):,} test images"
    log(f"{model}: {n_params:,} parameters | {used}: {sizes}")
    if val_set is None:
        log("--val-split 0: no validation set, so no model selection (no best checkpoint, no early stopping; "
            "a plateau schedule follows the training " + ("loss" if want == "min" else "accuracy")
            + "); the last epoch's model is tested")
    opt = make_optimizer(optimizer, net.parameters(), lr, momentum, weight_decay)
    scheduler = None
    if schedule == "cosine":
        scheduler = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    elif schedule == "plateau":
        scheduler = optim.lr_scheduler.ReduceLROnPlateau(opt, mode=want, factor=0.1, patience=2)
    elif schedule not in (None, "none"):
        raise ValueError(f"train_job: unknown `schedule` {schedule!r}. Expected 'cosine', 'plateau' or 'none'")
    out = out or os.path.join("runs", f"{model}-{used}")
    if distributed.is_main():  # rank 0 alone writes there (and clears stale temp files, probes included)
        check_output_dir(out, "train")
    input_size = list(base.image_shape[:1]) + [resize, resize] if resize else list(base.image_shape)
    meta = {"model": model, "task": task, "config": config, "dataset": used, "classes": list(base.classes),
            "input_size": input_size, "resize": resize, "normalize": {"mean": mean, "std": std}, "split": split,
            "recipe": {"optimizer": optimizer, "lr": opt.param_groups[0]["lr"], "batch_size": batch_size,
                       "epochs": epochs, "weight_decay": weight_decay, "schedule": schedule, "seed": seed,
                       "monitor": monitor, "early_stop": early_stop}}
    batch_transform = None
    if augment:  # augment the [0, 1] images of each batch, then standardise (the fast batch path)
        from ..data.transforms import training_pipeline

        batch_transform = training_pipeline(augment, train_set, mean, std)
        meta["recipe"]["augment"] = augment
    if resize:  # resized as read, before the loader's augmentation
        train_set, test_set = ResizedDataset(train_set, resize), ResizedDataset(test_set, resize)
        val_set = ResizedDataset(val_set, resize) if val_set is not None else None
    if ranks > 1:
        # One global shuffle (the one a single process draws), each rank its shard of every batch;
        # the test set in contiguous unpadded shards, so every test image is counted once.
        meta["world_size"] = ranks
        sampler = distributed.DistributedSampler(train_set, seed=seed)
        train_loader = DataLoader(train_set, batch_size=batch_size // ranks, sampler=sampler,
                                  seed=seed + distributed.rank(), batch_transform=batch_transform)
        test_shard = Subset(test_set, distributed.shard_indices(len(test_set)))
        test_loader = DataLoader(test_shard, batch_size=500)
        val_loader = (DataLoader(Subset(val_set, distributed.shard_indices(len(val_set))), batch_size=500)
                      if val_set is not None else None)
    else:
        train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, seed=seed,
                                  batch_transform=batch_transform)
        test_loader = DataLoader(test_set, batch_size=500)
        val_loader = DataLoader(val_set, batch_size=500) if val_set is not None else None
    callbacks = list(callbacks)
    if early_stop:
        callbacks.append(EarlyStopping(monitor, patience=early_stop))
    job_task = get_task(task)
    loss_fn = job_task.make_loss(net)
    trainer = Trainer(net, opt, loss_fn, scheduler, callbacks, checkpoint_dir=out, meta=meta,
                      progress=progress, log=log, parallel=parallel, monitor=monitor, task=job_task)
    last = os.path.join(out, "last.npz")
    # Under mpiexec rank 0 alone writes into ``out``, so it alone holds the lock.
    lock = RunLock(out, "train", force=force, log=log) if distributed.is_main() else nullcontext()
    with lock:
        if distributed.is_main():
            remove_orphaned_temp_files(out, log)
        start = None
        if resume:
            if not os.path.isfile(last):
                raise FileNotFoundError(f"train: --resume found no checkpoint at {last!r}")
            start = load_checkpoint(last)
            check_trained_state(start, last, "train")
            check_compatible(start, model, used, config, list(base.classes))
            check_model_arrays(net, start["model"], last, "train")
            _check_split(start, split)
            saved_ranks = int((start.get("meta") or {}).get("world_size", 1))
            if saved_ranks != ranks:
                raise ValueError(f"train: the checkpoint to resume was written by a run on "
                                 f"{saved_ranks} rank(s); resume it with {saved_ranks} "
                                 f"(mpiexec -n {saved_ranks}), not {ranks}")
            start = resume_state(start, meta["recipe"], allow_changes, log)
        trainer.resume_source = last if resume else None
        history = trainer.fit(train_loader, val_loader, epochs=epochs, resume=start)
    result = {"checkpoint": last, "history": dict(history), "interrupted": trainer.interrupted,
              "parameters": n_params, "dataset": used, "model": net, "run_dir": out, "meta": meta,
              "test_set": test_set, "split": split}
    if not trainer.interrupted:
        tested = _select_best(trainer, net, out, log) if val_set is not None else "the last epoch's model"
        final = job_task.evaluate(net, test_loader, loss_fn, parallel)
        result.update(test_accuracy=final["accuracy"], test_loss=final["loss"], evaluation=final, tested=tested)
        result.update({key: final[source] for key, source in job_task.result_keys})
        log(f"{job_task.headline(final)} (evaluated once, after training; loss {final['loss']:.4f}) "
            f"of {tested} | checkpoint: {last}")
    return result


def _select_best(trainer, net, out, log):
    """Load ``best.npz``'s weights into ``net`` (the model selection's choice); describe what is tested."""
    epoch = trainer.best_epoch()
    best = os.path.join(out, "best.npz")
    if epoch is None or not os.path.isfile(best):
        return "the last epoch's model"
    net.load_state_dict(load_checkpoint(best)["model"])
    value = trainer.history[trainer.monitor][epoch - 1]
    name = trainer.monitor.replace("_", " ")
    log(f"best checkpoint: epoch {epoch} ({name} {value:.4f}) -> {best}")
    return f"best.npz (epoch {epoch}, chosen on the validation set)"


# Recipe entries whose change on --resume needs --allow-changes ("epochs" only lengthens a run).
RESUME_SETTINGS = ("optimizer", "lr", "batch_size", "weight_decay", "schedule", "seed", "augment")


def recipe_differences(saved, given):
    """``["lr 0.001 -> 0.01", ...]``: each resume setting whose recorded and given values differ."""
    saved, given = saved or {}, given or {}
    return [f"{k} {saved.get(k)!r} -> {given.get(k)!r}" for k in RESUME_SETTINGS
            if saved.get(k) != given.get(k)]


def resume_state(state, recipe, allow_changes, log):
    """The checkpoint ``state`` to resume with ``recipe``: refused when settings differ, unless
    ``allow_changes``; then another optimizer starts from a fresh state and new hyper-parameters
    replace the saved ones, and another batch size restarts the interrupted epoch."""
    saved = (state.get("meta") or {}).get("recipe") or {}
    changes = recipe_differences(saved, recipe)
    if saved.get("epochs") not in (None, recipe["epochs"]):
        log(f"resuming to {recipe['epochs']} epochs (the checkpoint's run planned "
            f"{saved['epochs']})")
    if not changes:
        return state
    if not allow_changes:
        raise ValueError(f"train: --resume with settings that differ from the checkpoint's: "
                         f"{', '.join(changes)}; give the same settings, or --allow-changes to "
                         "continue with the new ones")
    log(f"resuming with changed settings: {', '.join(changes)}")
    state = dict(state)
    if saved.get("optimizer") != recipe["optimizer"]:
        state["optimizer"] = None  # Trainer.load keeps the new optimizer's fresh state
        log(f"the {recipe['optimizer']} optimizer starts from a fresh state (the checkpoint's is "
            f"{saved.get('optimizer')})")
    else:  # the new base rate, at the same point of the schedule
        ratio = recipe["lr"] / saved["lr"] if saved.get("lr") else 1.0
        for g in state["optimizer"]["param_groups"]:
            for key in ("lr", "initial_lr"):
                if key in g:
                    g[key] *= ratio
            g["weight_decay"] = recipe["weight_decay"]
        if isinstance(state.get("scheduler"), dict) and "base_lrs" in state["scheduler"]:
            state["scheduler"]["base_lrs"] = [lr * ratio for lr in state["scheduler"]["base_lrs"]]
    if saved.get("batch_size") != recipe["batch_size"] and state.get("batch", 0):
        log(f"batch size changed: epoch {state['epoch'] + 1} restarts from its first batch")
        state["batch"], state["partial"], state["loader_state"] = 0, [0.0, 0, 0], None
    if saved.get("schedule") != recipe["schedule"]:
        state["scheduler"] = None
    return state


def check_compatible(state, model, dataset, config=None, classes=None):
    """Refuse to resume a checkpoint of another model, dataset, model config or class list."""
    meta = state.get("meta", {})
    if meta.get("model") != model or meta.get("dataset") != dataset:
        raise ValueError(f"train: the checkpoint to resume holds {meta.get('model')!r} on {meta.get('dataset')!r}, "
                         f"not {model!r} on {dataset!r}")
    if config is not None and meta.get("config") != config:
        raise ValueError(f"train: the checkpoint to resume was built with config "
                         f"{meta.get('config')!r:.120}, this run with {config!r:.120}")
    if classes is not None and meta.get("classes") != classes:
        raise ValueError(f"train: the checkpoint to resume names other classes than {dataset!r}")

