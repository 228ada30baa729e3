"""The main job as one Python call: train a zoo model on a named dataset, checkpoint it, report accuracy.

``cnnlab train`` is a thin wrapper over ``train_job``; ``load_trained`` (in :mod:`cnnlab.runs.saved`)
rebuilds a model from a checkpoint for ``cnnlab evaluate`` and ``cnnlab predict``.
"""

import copy
import inspect
import os
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from .. import backend, optim
from ..validation import int_arg
from ..data import DATASETS, Subset, get_dataset
from ..data.download import DatasetNotFoundError, DownloadError, resolve_data_dir
from ..data.resized import ResizedDataset
from ..data.scenes import SCENE_MODELS, TASK_WORDS, labels_for
from ..models.registry import default_recipe, get_builder, task_of
from ..runs.result import TrainResult
from ..runs.tasks import get_task
from ..runs.checkpoint import check_model_arrays, check_trained_state, load_checkpoint
from ..runs.rundir import check_output_dir_creatable
from ..runs.saved import set_normalize
from .memory_plan import check_batches_fit
from .strategy import choose_strategy
from .trainer import EarlyStopping, Trainer, check_monitor

# The default recipe: Adam with a cosine-annealed learning rate and inputs standardised by the
# training set's mean and std (see benchmarks/RESULTS.md for the accuracy it reaches).
DEFAULT_LR = {"adam": 1e-3, "adamw": 1e-3, "sgd": 0.01, "rmsprop": 1e-3}
# What a model without a recipe of its own (``default_recipe``) trains with; lr None: DEFAULT_LR's.
FALLBACK_RECIPE = {"epochs": 10, "batch_size": 64, "lr": None}
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
                else f"has no single class per image; {SCENE_MODELS}")
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


def train_job(model="fashion_cnn", dataset="fashion-mnist", epochs=None, batch_size=None, lr=None,
              optimizer="adam", momentum=0.9, weight_decay=0.0, schedule="cosine", seed=0, data_dir=None,
              out=None, resume=False, fallback=True, progress=True, log=print, train_limit=None,
              augment=None, force=False, allow_changes=False, val_split=0.1, early_stop=None,
              monitor="val_acc", resize=None, callbacks=()):
    """Train zoo model ``model`` on ``dataset``; return a ``TrainResult`` (accuracy, paths, history).

    The recipe: data, model, loaders, resume, fit, test (a function each, below). ``cnnlab train`` writes
    the report (``inspect.report.report_for_job``): ``train`` sits below ``inspect``.
    ``epochs``, ``batch_size`` and ``lr`` left None take the model's recipe
    (``models.registry.default_recipe``), else 10 epochs, batches of 64 and the optimizer's rate.

    Checkpoints go to ``out`` (default ``runs/<model>-<dataset>``) after every epoch; ``resume=True``
    continues from ``out/last.npz``, refusing a recorded recipe that differs unless ``allow_changes``.
    ``out`` is created, probed and locked before training (``force`` takes over a lock).
    ``train_limit`` trains on N shuffled samples only (tests); ``augment`` names the training
    augmentations (``"flip,crop:4,pca"``, see ``data.transforms.parse_augment``); ``resize`` (a side in
    pixels) resizes images as read; ``callbacks`` go to the ``Trainer`` (e.g. a ``LiveFeed``).
    Raises ``TrainingDiverged`` when the loss, a gradient or a statistic stops being finite.

    Under ``mpiexec -n N`` the job trains data-parallel (``cnnlab.train.strategy``): ``batch_size``
    stays the global batch, each rank takes ``batch_size / N`` of it, rank 0 alone logs and writes.

    Honest evaluation: ``val_split`` of the training set (class-balanced, drawn with ``seed``) is held
    out; on it ``monitor`` (``"val_acc"`` or ``"val_loss"``) chooses ``best.npz`` and drives the plateau
    schedule and ``early_stop`` (epochs without improvement). The test set is evaluated once, after
    training, on the best checkpoint's weights (``val_split=0``: no selection, the last epoch's).
    """
    job = SimpleNamespace(**locals())   # the arguments, by name, for the steps below
    strategy = choose_strategy()
    job.log, job.progress = strategy.quiet(log, progress)
    job.log = job.log or (lambda *a, **k: None)
    job.epochs, job.batch_size, job.lr = recipe_settings(model, epochs, batch_size, lr, job.log)
    strategy.check_batch_size(job.batch_size)
    want = _check_arguments(job)
    if job.epochs == 0:
        job.log("--epochs 0: nothing to train; no data read and nothing written")
        return TrainResult()
    job.task = task_of(model)
    data = _data(job)
    net, config, parameters = _model(job, data, strategy, want)
    opt, scheduler = _optimization(job, net, want)
    job.out = out or os.path.join("runs", f"{model}-{data.name}")
    strategy.check_output_dir(job.out)  # rank 0 alone writes there (stale temp files cleared)
    meta = _meta(job, data, config, opt, strategy)
    loaders = _loaders(job, data, strategy)
    task = get_task(job.task)
    trainer = _trainer(job, net, opt, scheduler, task, meta, strategy)
    history = _fit(job, trainer, loaders, strategy, data, config, meta)
    result = TrainResult(checkpoint=trainer.last_path, history=dict(history),
                         interrupted=trainer.interrupted, parameters=parameters,
                         dataset=data.name, model=net, run_dir=job.out, meta=meta,
                         test_set=data.test_set, split=data.split)
    if not trainer.interrupted:
        _test(trainer, task, loaders.test, data.val_set is not None, result, job.log)
    return result


def recipe_settings(model, epochs=None, batch_size=None, lr=None, log=None):
    """``(epochs, batch_size, lr)``: those given, else the model's recipe's, else 10, 64 and None
    (the optimizer's own rate, ``DEFAULT_LR``). ``log`` hears which ones the recipe chose."""
    given = {"epochs": epochs, "batch_size": batch_size, "lr": lr}
    recipe = model_recipe(model) if None in given.values() else {}
    chosen = {k: recipe[k] for k, v in given.items() if v is None and recipe.get(k) is not None}
    if chosen and log:
        log(f"{model}'s recipe: " + ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in chosen.items()))
    settings = {**FALLBACK_RECIPE, **{k: v for k, v in given.items() if v is not None}, **chosen}
    return settings["epochs"], settings["batch_size"], settings["lr"]


def model_recipe(model):
    """The registered model's recipe; {} for a name the registry does not know (refused later, in
    the order the arguments are checked)."""
    try:
        return default_recipe(model)
    except ValueError:
        return {}


def _check_arguments(job):
    """Refuse bad settings before any data is read; return the monitored metric's direction."""
    if not isinstance(job.epochs, int) or isinstance(job.epochs, bool) or job.epochs < 0:
        raise ValueError(f"train: `epochs` must be a non-negative int. Received: epochs={job.epochs!r}")
    if job.epochs == 0:
        return None
    if job.out is not None:  # fail at once on a bad --out; created and probed once the data is read
        check_output_dir_creatable(job.out, "train")
    _check_val_split(job.val_split, job.early_stop)
    resize = job.resize
    if resize is not None and (isinstance(resize, bool) or not isinstance(resize, int) or resize < 1):
        raise ValueError(f"train: --resize must be a positive number of pixels. Received: {resize!r}")
    return check_monitor("train", job.monitor)


@dataclass
class _Data:
    """The job's images: train / validation / test sets standardised by the training images' statistics."""

    name: str
    base: object
    train_set: object
    val_set: object
    test_set: object
    split: dict
    mean: list
    std: list


def _data(job):
    """The data step: the datasets (or the stand-in), the validation split (a resumed run's own),
    the standardisation, and the check that a batch fits in memory."""
    labels = labels_for(job.dataset, job.task, job.model)
    if job.augment and job.task != "classify":
        raise ValueError(f"train: --augment transforms the images only, so {job.model}'s per-pixel or box "
                         f"labels would no longer match them; train {job.model} without --augment")
    backend.manual_seed(job.seed)
    used, base, test_set = _datasets(job.dataset, job.data_dir, job.log, job.fallback, labels)
    last = os.path.join(job.out or os.path.join("runs", f"{job.model}-{used}"), "last.npz")
    # A resumed run draws the checkpoint's split again (the checkpoint is fully checked on resume).
    saved_meta = load_checkpoint(last).get("meta") if job.resume and os.path.isfile(last) else None
    train_idx, val_idx, split = _split(base, job.val_split, job.seed, job.train_limit, saved_meta, job.log)
    mean, std = channel_stats(base, train_idx)
    # The validation images get their own dataset object (sharing the array): augmentation switches off
    # the training set's standardisation to do it after augmenting, which must not touch validation.
    val_base = copy.copy(base)
    for ds in (base, val_base, test_set):  # standardise with the statistics of the images trained on
        set_normalize(ds, mean, std)
    check_batches_fit(base.image_shape, job.resize, job.batch_size, len(train_idx), len(test_set))
    return _Data(used, base, Subset(base, train_idx), Subset(val_base, val_idx) if val_idx.size else None,
                 test_set, split, mean, std)


def _model(job, data, strategy, want):
    """The model step: the zoo model fitted to the data, made ready for the strategy; says its size.
    Returns ``(model, its config, its parameter count)``."""
    net, config = build_model(job.model, data.base, job.resize, data.name)
    net = strategy.prepare(net, {
        "model": job.model, "seed": job.seed, "dataset": data.name, "train_length": len(data.train_set),
        "test_length": len(data.test_set), "batch_size": job.batch_size, "epochs": job.epochs,
        "optimizer": job.optimizer, "lr": job.lr, "augment": job.augment, "resume": bool(job.resume)})
    parameters = sum(p.numel() for p in net.parameters())
    val = len(data.val_set) if data.val_set is not None else 0
    sizes = f"{len(data.train_set):,} train / {val:,} validation / {len(data.test_set):,} test images"
    job.log(f"{job.model}: {parameters:,} parameters | {data.name}: {sizes}")
    if data.val_set is None:
        job.log("--val-split 0: no validation set, so no model selection (no best checkpoint, no early "
                "stopping; a plateau schedule follows the training " + ("loss" if want == "min" else "accuracy")
                + "); the last epoch's model is tested")
    return net, config, parameters


def _optimization(job, net, want):
    """The optimizer and the learning-rate schedule (None for ``"none"``)."""
    opt = make_optimizer(job.optimizer, net.parameters(), job.lr, job.momentum, job.weight_decay)
    if job.schedule == "cosine":
        return opt, optim.lr_scheduler.CosineAnnealingLR(opt, T_max=job.epochs)
    if job.schedule == "plateau":
        return opt, optim.lr_scheduler.ReduceLROnPlateau(opt, mode=want, factor=0.1, patience=2)
    if job.schedule not in (None, "none"):
        raise ValueError(f"train_job: unknown `schedule` {job.schedule!r}. Expected 'cosine', 'plateau' or 'none'")
    return opt, None


def _meta(job, data, config, opt, strategy):
    """The facts every checkpoint of the run records: what was trained, on what, and how."""
    shape = list(data.base.image_shape)
    input_size = shape[:1] + [job.resize, job.resize] if job.resize else shape
    meta = {"model": job.model, "task": job.task, "config": config, "dataset": data.name,
            "classes": list(data.base.classes), "input_size": input_size, "resize": job.resize,
            "normalize": {"mean": data.mean, "std": data.std}, "split": data.split,
            "recipe": {"optimizer": job.optimizer, "lr": opt.param_groups[0]["lr"],
                       "batch_size": job.batch_size, "epochs": job.epochs, "weight_decay": job.weight_decay,
                       "schedule": job.schedule, "seed": job.seed, "monitor": job.monitor,
                       "early_stop": job.early_stop}}
    if job.augment:
        meta["recipe"]["augment"] = job.augment
    strategy.record(meta)
    return meta


def _loaders(job, data, strategy):
    """The loaders step: augmentation of each training batch, images resized as read, the strategy's
    loaders (``.train``, ``.val`` or None, ``.test``)."""
    batch_transform = None
    if job.augment:  # augment the [0, 1] images of each batch, then standardise (the fast batch path)
        from ..data.transforms import training_pipeline

        batch_transform = training_pipeline(job.augment, data.train_set, data.mean, data.std)
    if job.resize:  # resized as read, before the loader's augmentation
        data.train_set = ResizedDataset(data.train_set, job.resize)
        data.test_set = ResizedDataset(data.test_set, job.resize)
        data.val_set = ResizedDataset(data.val_set, job.resize) if data.val_set is not None else None
    train, val, test = strategy.loaders(data.train_set, data.val_set, data.test_set, job.batch_size,
                                        job.seed, batch_transform)
    return SimpleNamespace(train=train, val=val, test=test)


def _trainer(job, net, opt, scheduler, task, meta, strategy):
    """The ``Trainer`` of the job: the task's loss, early stopping when asked, checkpoints in ``out``."""
    callbacks = list(job.callbacks)
    if job.early_stop:
        callbacks.append(EarlyStopping(job.monitor, patience=job.early_stop))
    return Trainer(net, opt, task.make_loss(net), scheduler, callbacks, checkpoint_dir=job.out, meta=meta,
                   progress=job.progress, log=job.log, parallel=strategy.parallel, monitor=job.monitor,
                   task=task)


def _fit(job, trainer, loaders, strategy, data, config, meta):
    """The fit step: inside the run directory's lock, resume (when asked) and train; the ``History``."""
    with strategy.lock(job.out, job.force, job.log):
        strategy.tidy(job.out, job.log)
        start = _resume(job, trainer.model, data, config, meta, strategy)
        trainer.resume_source = trainer.last_path if job.resume else None
        return trainer.fit(loaders.train, loaders.val, epochs=job.epochs, resume=start)


def _resume(job, net, data, config, meta, strategy):
    """The resume step: the checked checkpoint state to continue from, or None for a fresh run."""
    if not job.resume:
        return None
    last = os.path.join(job.out, "last.npz")
    if not os.path.isfile(last):
        raise FileNotFoundError(f"train: --resume found no checkpoint at {last!r}")
    start = load_checkpoint(last)
    check_trained_state(start, last, "train")
    check_compatible(start, job.model, data.name, config, list(data.base.classes))
    check_model_arrays(net, start["model"], last, "train")
    _check_split(start, data.split)
    saved_ranks = int((start.get("meta") or {}).get("world_size", 1))
    if saved_ranks != strategy.ranks:
        raise ValueError(f"train: the checkpoint to resume was written by a run on "
                         f"{saved_ranks} rank(s); resume it with {saved_ranks} "
                         f"(mpiexec -n {saved_ranks}), not {strategy.ranks}")
    return resume_state(start, meta["recipe"], job.allow_changes, job.log)


def _test(trainer, task, test_loader, selected, result, log):
    """The test step: the test set, evaluated once, on the chosen weights; the figures go to ``result``."""
    net = result.model
    tested = _select_best(trainer, net, result.run_dir, log) if selected else "the last epoch's model"
    final = task.evaluate(net, test_loader, trainer.loss_fn, trainer.parallel)
    result.test_accuracy, result.test_loss, result.evaluation = final["accuracy"], final["loss"], final
    result.tested = tested
    result.figures = {key: final[source] for key, source in task.result_keys}
    log(f"{task.headline(final)} (evaluated once, after training; loss {final['loss']:.4f}) "
        f"of {tested} | checkpoint: {result.checkpoint}")


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

