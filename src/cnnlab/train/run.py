"""The main job as one Python call: train a zoo model on a named dataset, checkpoint it, report accuracy.

``cnnlab train`` is a thin wrapper over ``train_job``; ``load_trained`` (in :mod:`cnnlab.train.saved`)
rebuilds a model from a checkpoint for ``cnnlab evaluate`` and ``cnnlab predict``.
"""

import os

import numpy as np

from .. import backend, nn, optim
from ..data import DATASETS, DataLoader, get_dataset
from ..data.download import DatasetNotFoundError, DownloadError, resolve_data_dir
from ..models.registry import get_builder
from .checkpoint import load_checkpoint
from .saved import eval_dataset, load_trained, set_normalize  # re-exported: imported from here today
from .trainer import Trainer, evaluate

# The default recipe: Adam with a cosine-annealed learning rate and inputs standardised by the
# training set's mean and std (see benchmarks/RESULTS.md for the accuracy it reaches).
DEFAULT_LR = {"adam": 1e-3, "adamw": 1e-3, "sgd": 0.01, "rmsprop": 1e-3}
# Bundled with the package (cnnlab.data.mini): what `cnnlab train` uses when its dataset cannot be had.
FALLBACK_DATASET = "fashion-mnist-mini"


def _datasets(name, data_dir, log, fallback):
    """Train and test sets of ``name``; the bundled Fashion-MNIST subset instead when ``name`` cannot be had."""
    try:
        return name, get_dataset(name, root=data_dir, train=True), get_dataset(name, root=data_dir, train=False)
    except (DatasetNotFoundError, DownloadError) as e:
        if not fallback or name == FALLBACK_DATASET:
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


def channel_stats(dataset):
    """Per-channel mean and std of a dataset's images in the [0, 1] scale (for standardising inputs)."""
    data = dataset.data.astype(np.float64) / dataset.max_value
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


def build_model(name, dataset):
    """The zoo model ``name`` sized for ``dataset``'s images and classes."""
    c, h, w = dataset.image_shape
    config = {"num_classes": len(dataset.classes), "in_channels": c}
    builder = get_builder(name)
    expected = getattr(builder, "input_size", None)
    if expected is not None and tuple(expected[1:]) != (h, w):
        config["input_size"] = h
    return builder(**config), config


def train_job(model="fashion_cnn", dataset="fashion-mnist", epochs=10, batch_size=64, lr=None, optimizer="adam",
              momentum=0.9, weight_decay=0.0, schedule="cosine", seed=0, data_dir=None, out=None, resume=False,
              fallback=True, progress=True, log=print, train_limit=None, augment=None):
    """Train zoo model ``model`` on ``dataset`` and return a dict of results (accuracy, paths, history).

    The report (``cnnlab.inspect.report.report_for_job``) is written by the caller, ``cnnlab train``:
    ``train`` sits below ``inspect`` and never imports it.

    Checkpoints go to ``out`` (default ``runs/<model>-<dataset>``) after every epoch; ``resume=True``
    continues from ``out/last.npz``. ``train_limit`` trains on the first N shuffled samples only (tests).
    ``augment`` names the training augmentations, e.g. ``"flip,crop:4,pca"`` (see
    ``cnnlab.data.transforms.parse_augment``).
    """
    backend.manual_seed(seed)
    used, train_set, test_set = _datasets(dataset, data_dir, log, fallback)
    mean, std = channel_stats(train_set)
    for ds in (train_set, test_set):  # standardise with the *training* statistics
        set_normalize(ds, mean, std)
    if train_limit:
        from ..data import Subset

        train_set = Subset(train_set, np.random.default_rng(seed).permutation(len(train_set))[:train_limit])
    base = train_set.dataset if hasattr(train_set, "dataset") else train_set
    net, config = build_model(model, base)
    n_params = sum(p.numel() for p in net.parameters())
    log(f"{model}: {n_params:,} parameters | {used}: {len(train_set):,} train / {len(test_set):,} test images")
    opt = make_optimizer(optimizer, net.parameters(), lr, momentum, weight_decay)
    scheduler = None
    if schedule == "cosine":
        scheduler = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    elif schedule == "plateau":
        scheduler = optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.1, patience=2)
    elif schedule not in (None, "none"):
        raise ValueError(f"train_job: unknown `schedule` {schedule!r}. Expected 'cosine', 'plateau' or 'none'")
    out = out or os.path.join("runs", f"{model}-{used}")
    meta = {"model": model, "config": config, "dataset": used, "classes": list(base.classes),
            "input_size": list(base.image_shape), "normalize": {"mean": mean, "std": std},
            "recipe": {"optimizer": optimizer, "lr": opt.param_groups[0]["lr"], "batch_size": batch_size,
                       "epochs": epochs, "weight_decay": weight_decay, "schedule": schedule, "seed": seed}}
    batch_transform = None
    if augment:  # augment the [0, 1] images of each batch, then standardise (the fast batch path)
        from ..data.transforms import training_pipeline

        batch_transform = training_pipeline(augment, train_set, mean, std)
        meta["recipe"]["augment"] = augment
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, seed=seed,
                              batch_transform=batch_transform)
    test_loader = DataLoader(test_set, batch_size=500)
    trainer = Trainer(net, opt, nn.CrossEntropyLoss(), scheduler, checkpoint_dir=out, meta=meta,
                      progress=progress, log=log)
    last = os.path.join(out, "last.npz")
    start = None
    if resume:
        if not os.path.isfile(last):
            raise FileNotFoundError(f"train: --resume found no checkpoint at {last!r}")
        start = last
        check_compatible(load_checkpoint(last), model, used)
    history = trainer.fit(train_loader, test_loader, epochs=epochs, resume=start)
    result = {"checkpoint": last, "history": dict(history), "interrupted": trainer.interrupted,
              "parameters": n_params, "dataset": used, "model": net, "run_dir": out, "meta": meta,
              "test_set": test_set}
    if not trainer.interrupted:
        final = evaluate(net, test_loader, nn.CrossEntropyLoss())
        result.update(test_accuracy=final["accuracy"], test_loss=final["loss"], evaluation=final)
        log(f"test accuracy {final['accuracy'] * 100:.2f}% (loss {final['loss']:.4f}) | checkpoint: {last}")
    return result


def check_compatible(state, model, dataset):
    meta = state.get("meta", {})
    if meta.get("model") != model or meta.get("dataset") != dataset:
        raise ValueError(f"train: the checkpoint to resume holds {meta.get('model')!r} on {meta.get('dataset')!r}, "
                         f"not {model!r} on {dataset!r}")
