"""Transfer learning: freeze layers, give layers their own learning rates, swap the classifier, fine-tune.

The lectures' recipe for a small dataset: start from a network trained on a large one, replace its last
layer with one for the new classes, train that layer alone (everything else frozen), or with more data
also fine-tune the top layers at a smaller learning rate (1/10 for the top layers, 1/100 for the
middle ones).

Example:
    >>> model = models.get("resnet18")
    >>> load_torch_state_dict(model, "resnet18.pth")          # cnnlab.interop: weights from elsewhere
    >>> replace_head(model, num_classes=10)                   # ['fc']: a new Linear(512, 10)
    >>> model.freeze("layer[1-3].*")                          # or freeze(model, ["conv1", "bn1"])
    >>> groups = param_groups_with_lr_mult(model, 0.01, {"layer4.*": 0.1, "fc.*": 1.0})
    >>> opt = optim.SGD(groups, lr=0.01, momentum=0.9)
"""

import copy
import os
from dataclasses import dataclass


from .. import backend, models, nn
from ..data import DataLoader, Subset
from ..data import transforms as T
from ..nn import init
from ..nn.freeze import freeze, unfreeze  # re-exported here
from ..nn.module import _matches, select_parameters  # select_parameters re-exported here
from ..runs import evaluation
from ..runs.rundir import (RunLock, check_output_dir, check_output_dir_creatable,
                           remove_orphaned_temp_files)
from ..runs.saved import load_trained, set_normalize
from ..validation import is_int, is_real
from .run import _check_val_split, _datasets, _split, channel_stats, make_optimizer
from .trainer import Trainer


_freeze = freeze   # finetune_job's `freeze` argument shadows the function


def trainable_summary(model):
    """``{"trainable": n, "frozen": m}`` scalar-weight counts, each shared parameter once."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"trainable": trainable, "frozen": sum(p.numel() for p in model.parameters()) - trainable}


def param_groups_with_lr_mult(model, base_lr, multipliers=None, default_mult=1.0):
    """Optimizer parameter groups whose learning rates are ``base_lr`` times a per-layer multiplier.

    Args:
        model: a Module; frozen parameters (``requires_grad=False``) are left out.
        base_lr: the learning rate a multiplier of 1 stands for.
        multipliers: ``{pattern: multiplier}``; the first pattern (in order) that matches a parameter's name
            or one of its modules' names decides (globs as in :func:`select_parameters`).
        default_mult: multiplier of the parameters no pattern matches.

    Returns:
        a list of dicts ``{"params": [...], "lr": base_lr * mult, "lr_mult": mult}``, one per multiplier
        in use, in the model's parameter order; pass it to any optimizer.

    Example:
        >>> groups = param_groups_with_lr_mult(model, 0.01, {"features.*": 0.01, "classifier.0": 0.1})
        >>> opt = optim.SGD(groups, lr=0.01, momentum=0.9)
    """
    fn = "param_groups_with_lr_mult"
    for name, value in (("base_lr", base_lr), ("default_mult", default_mult)):
        if not is_real(value) or value < 0:
            raise ValueError(f"{fn}: `{name}` must be a non-negative number. Received: {name}={value!r}")
    multipliers = dict(multipliers or {})
    for pat, mult in multipliers.items():
        if not isinstance(pat, str):
            raise TypeError(f"{fn}: multiplier keys must be glob strings. Received {pat!r}")
        if not is_real(mult) or mult < 0:
            raise ValueError(f"{fn}: the multiplier of {pat!r} must be a non-negative number. Received {mult!r}")
        select_parameters(model, pat, fn)   # a pattern that matches nothing is a typo: say so
    groups = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        mult = next((float(m) for pat, m in multipliers.items() if _matches(name, pat)), float(default_mult))
        groups.setdefault(mult, []).append(p)
    if not groups:
        raise ValueError(f"{fn}: every parameter of {type(model).__name__} is frozen; nothing to optimize")
    return [{"params": params, "lr": float(base_lr) * mult, "lr_mult": mult} for mult, params in groups.items()]


def parse_lr_mult(text):
    """``"features.*=0.01,classifier.*=0.1"`` -> ``{"features.*": 0.01, "classifier.*": 0.1}`` (for the CLI)."""
    out = {}
    for item in (s.strip() for s in (text or "").split(",")):
        if not item:
            continue
        pat, sep, value = item.rpartition("=")
        try:
            if not sep or not pat:
                raise ValueError
            out[pat.strip()] = float(value)
        except ValueError:
            raise ValueError(f"parse_lr_mult: each item must be PATTERN=MULTIPLIER, e.g. 'features.*=0.01'. "
                             f"Received {item!r}") from None
    return out


# ------------------------------------------------------------------------------------------------ new head
# Where each family keeps its final classifier (torchvision's attribute names), tried in order.
HEAD_ATTRIBUTES = ("fc", "classifier", "head")
# Auxiliary classifiers that predict the classes too (GoogLeNet's), replaced along with the main one.
AUX_HEADS = ("aux1.fc2", "aux2.fc2", "AuxLogits.fc")


def _is_head_layer(m):
    return isinstance(m, nn.Linear) or (isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1))


def _new_layer(old, num_classes):
    """A freshly initialised layer like ``old`` with ``num_classes`` outputs (same dtype)."""
    if isinstance(old, nn.Linear):
        new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
    else:
        new = nn.Conv2d(old.in_channels, num_classes, 1, bias=old.bias is not None)
        init.normal_(new.weight, mean=0.0, std=0.01)        # torchvision's SqueezeNet final convolution
        if new.bias is not None:
            init.zeros_(new.bias)
    dtype = old.weight.dtype
    return new.to(dtype) if dtype != new.weight.dtype else new


def find_head(model):
    """The dotted name of the layer that produces the class scores (plus GoogLeNet's auxiliary ones).

    Looks for ``fc``, ``classifier`` (a layer, or the last Linear / 1x1 convolution inside it, e.g.
    ``classifier.6`` for VGG, ``classifier.1`` for SqueezeNet) and ``head``, then falls back to the last
    Linear layer of the model.

    Returns:
        ``(name, extra)``: the main head's name, and the auxiliary heads' names.
    """
    main = None
    for attr in HEAD_ATTRIBUTES:
        m = model._modules.get(attr)
        if m is None:
            continue
        if _is_head_layer(m):
            main = attr
            break
        layers = [(n, sub) for n, sub in m.named_modules(prefix=attr) if _is_head_layer(sub)]
        if layers:
            name, layer = layers[-1]
            # Only parameter-free layers (activation, pooling, flatten, dropout) may follow the head layer.
            walk = list(m.named_modules(prefix=attr))
            position = [n for n, _ in walk].index(name)
            after = [sub for _, sub in walk[position + 1:]]
            if not any(list(sub.parameters(recurse=False)) for sub in after):
                main = name
                break
    if main is None:
        linears = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
        if linears:
            main = linears[-1]
    extra = []
    for name in AUX_HEADS:
        try:
            if isinstance(model.get_submodule(name), nn.Linear):
                extra.append(name)
        except AttributeError:
            continue
    return main, extra


def _set_submodule(model, name, module):
    parent_name, _, attr = name.rpartition(".")
    parent = model.get_submodule(parent_name)
    setattr(parent, attr, module)


def replace_head(model, num_classes):
    """Swap the final classifier of ``model`` for a new, randomly initialised one with ``num_classes`` outputs.

    Works for every zoo model: ``fc`` (ResNet, GoogLeNet and its auxiliary ``aux1.fc2``/``aux2.fc2``),
    ``classifier`` (DenseNet, MobileNet), the last Linear of ``classifier`` (AlexNet, VGG, LeNet-5), the
    1x1 convolution of SqueezeNet's ``classifier.1``. A model whose last layer is not a classifier
    (AlphaGo's policy head ends in a per-position bias) gets a Linear layer appended to its ``head``,
    from its outputs to ``num_classes``.

    Returns:
        the names of the new layers, e.g. ``["fc"]``.
    """
    fn = "replace_head"
    if not is_int(num_classes) or num_classes < 1:
        raise ValueError(f"{fn}: `num_classes` must be a positive int. Received: num_classes={num_classes!r}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"{fn}: `model` must be a cnnlab.nn.Module. Received an object of type {type(model).__name__}")
    main, extra = find_head(model)
    head = model._modules.get("head")
    if head is not None and isinstance(head, nn.Sequential) and (main is None or not main.startswith("head")):
        # AlphaGo-style head: the outputs are positions, not classes; map them to the classes.
        outputs = getattr(model, "board_size", None)
        if outputs is None:
            raise ValueError(f"{fn}: cannot tell how many outputs {type(model).__name__}.head has")
        layer = nn.Linear(outputs * outputs, int(num_classes))
        head.add_module(str(len(head._modules)), layer)
        names = [f"head.{len(head._modules) - 1}"]
    elif main is None:
        raise ValueError(f"{fn}: found no classifier layer in {type(model).__name__} (looked for "
                         f"{', '.join(HEAD_ATTRIBUTES)} and any Linear layer)")
    else:
        names = [main] + extra
        for name in names:
            _set_submodule(model, name, _new_layer(model.get_submodule(name), int(num_classes)))
    if "num_classes" in model.__dict__:
        model.num_classes = int(num_classes)
    return names


# ------------------------------------------------------------------------------------------------ fine-tuning job
# State-dict files: the CLI reads them through cnnlab.interop and hands finetune_job their arrays.
STATE_DICT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors")


def load_pretrained(checkpoint, model=None, weights=None):
    """A model and its metadata from a cnnlab checkpoint, or from state-dict ``weights`` already read.

    Args:
        checkpoint: a ``cnnlab train`` checkpoint (``.npz``); with ``weights``, only the file's name
            (recorded as where the run started).
        model: zoo model name that ``weights`` are for; ignored for cnnlab checkpoints.
        weights: ``{name: array}`` under the model's own names (the CLI reads a PyTorch or safetensors
            file through ``cnnlab.interop``, so training never imports interop).
    """
    if weights is None and os.path.splitext(str(checkpoint))[1].lower() in STATE_DICT_SUFFIXES:
        raise ValueError(f"finetune: {os.fspath(checkpoint)!r} is a state dict; read it with "
                         f"cnnlab.interop.load_torch_state_dict and pass its arrays as `weights` "
                         f"(as cnnlab finetune does)")
    if weights is None:
        net, meta = load_trained(checkpoint)
        return net, dict(meta)
    if model is None:
        raise ValueError(f"finetune: {os.fspath(checkpoint)!r} is a state dict; name the architecture with --model "
                         f"(one of {', '.join(models.list_models())})")
    net = models.get(model)
    net.load_state_dict(weights)
    meta = {"model": model, "config": {}}
    first_conv = next((m for m in net.modules() if isinstance(m, nn.Conv2d)), None)
    if first_conv is not None:
        meta["input_size"] = [first_conv.in_channels]
    head, _ = find_head(net)
    if head is not None:
        layer = net.get_submodule(head)
        meta["config"]["num_classes"] = getattr(layer, "out_features", None) or layer.out_channels
    return net, meta


@dataclass
class FinetuneData:
    """The new dataset, split and standardised with the pretrained model's statistics (or its own)."""

    name: str
    train_set: object
    val_set: object
    test_set: object
    classes: list
    image_shape: tuple
    mean: list
    std: list
    split: dict


def finetune_data(meta, dataset, data_dir, log, fallback, val_split, seed, train_limit):
    """Read ``dataset``, check its channels against the model's, standardise and split it."""
    used, train_set, test_set = _datasets(dataset, data_dir, log, fallback)
    c, h, w = train_set.image_shape
    expected_c = meta.get("input_size", [c])[0]
    if expected_c != c:
        raise ValueError(f"finetune: {meta['model']} takes {expected_c}-channel images but {used} has {c} channels")
    norm = meta.get("normalize")
    mean, std = (norm["mean"], norm["std"]) if norm else channel_stats(train_set)
    for ds in (train_set, test_set):
        set_normalize(ds, mean, std)
    train_idx, val_idx, split = _split(train_set, val_split, seed, train_limit, None, log)
    val_base = copy.copy(train_set)   # its own standardisation: augmentation switches the training set's off
    set_normalize(val_base, mean, std)
    val_set = Subset(val_base, val_idx) if val_idx.size else None
    return FinetuneData(used, Subset(train_set, train_idx), val_set, test_set, list(train_set.classes), (c, h, w),
                        list(mean), list(std), split)


def adapt_model(net, meta, num_classes, new_head=None, freeze=None, log=print):
    """A new classifier when asked or when the class count differs, then the frozen layers;
    returns ``(replaced layer names, frozen parameter names)``."""
    replaced = []
    if new_head or (new_head is None and meta.get("config", {}).get("num_classes") != num_classes):
        replaced = replace_head(net, num_classes)
        log(f"new classifier for {num_classes} classes: {', '.join(replaced)}")
    frozen = []
    if freeze:
        patterns = [p.strip() for p in freeze.split(",")] if isinstance(freeze, str) else list(freeze)
        frozen = _freeze(net, patterns)
    return replaced, frozen


def finetuned_meta(meta, data, checkpoint, recipe):
    """The fine-tuned run's checkpoint metadata: the model with its new classes, data and recipe."""
    config = dict(meta.get("config", {}), num_classes=len(data.classes))
    return {"model": meta["model"], "config": config, "dataset": data.name, "classes": data.classes,
            "input_size": list(data.image_shape), "normalize": {"mean": data.mean, "std": data.std},
            "finetuned_from": str(checkpoint), "split": data.split, "recipe": recipe}


def fit_and_test(trainer, data, epochs, batch_size, seed, batch_transform, out, force, log):
    """Fit under the run lock, then evaluate the test set once; returns ``(history, test result or None)``."""
    train_loader = DataLoader(data.train_set, batch_size=batch_size, shuffle=True, seed=seed,
                              batch_transform=batch_transform)
    val_loader = DataLoader(data.val_set, batch_size=500) if data.val_set is not None else None
    with RunLock(out, "finetune", force=force, log=log):
        remove_orphaned_temp_files(out, log)
        history = trainer.fit(train_loader, val_loader, epochs=epochs)
    if trainer.interrupted:
        return history, None
    return history, evaluation.evaluate(trainer.model, DataLoader(data.test_set, batch_size=500),
                                        nn.CrossEntropyLoss())


def finetune_job(checkpoint, dataset="cifar10", model=None, epochs=5, batch_size=64, lr=0.01, optimizer="sgd",
                 momentum=0.9, weight_decay=0.0, freeze=None, lr_mult=None, new_head=None, augment=None, seed=0,
                 data_dir=None, out=None, progress=True, log=print, train_limit=None,
                 fallback=False, force=False, val_split=0.1, weights=None):
    """Fine-tune a trained model on ``dataset``: new head if the classes differ, frozen layers, per-layer rates.

    Args:
        checkpoint: a cnnlab checkpoint, or the name of the state-dict file ``weights`` were read from.
        model, weights: the architecture and its ``{name: array}`` weights from a PyTorch/safetensors
            state dict (``load_pretrained``).
        dataset: the new dataset's name.
        freeze: glob(s) of layers to freeze (e.g. ``"features.*"``).
        lr_mult: ``{pattern: multiplier}`` or ``"pattern=mult,..."``: per-layer learning rates.
        new_head: replace the classifier (default: when the class count differs from the model's).
        augment: augmentation names as ``cnnlab train --augment``.
        train_limit: fine-tune on the first N shuffled training samples only.
        force: take over the run directory's lock even if another training seems to hold it.
        val_split: share of the training set held out (class-balanced, drawn with ``seed``) as the
            validation set of the epoch log and ``best.npz``; the test set is evaluated once, at the end.

    Returns:
        a dict like ``train_job``'s: ``test_accuracy``, ``checkpoint``, ``history``, ``model``, plus
        ``frozen`` and ``replaced`` (layer names).
    """
    _check_val_split(val_split, None)
    if out is not None:  # fail at once on a bad --out; created and probed once the data is read
        check_output_dir_creatable(out, "finetune")
    backend.manual_seed(seed)
    net, meta = load_pretrained(checkpoint, model, weights)
    meta.setdefault("model", model)
    data = finetune_data(meta, dataset, data_dir, log, fallback, val_split, seed, train_limit)
    replaced, frozen = adapt_model(net, meta, len(data.classes), new_head, freeze, log)
    mults = parse_lr_mult(lr_mult) if isinstance(lr_mult, str) else dict(lr_mult or {})
    counts = trainable_summary(net)
    log(f"{meta['model']}: {counts['trainable']:,} trainable / {counts['frozen']:,} frozen parameters | "
        f"{data.name}: {len(data.train_set):,} train / {data.split['val']:,} validation / "
        f"{len(data.test_set):,} test images")
    batch_transform = T.training_pipeline(augment, data.train_set, data.mean, data.std) if augment else None
    opt = make_optimizer(optimizer, param_groups_with_lr_mult(net, lr, mults), lr, momentum, weight_decay)
    recipe = {"optimizer": optimizer, "lr": lr, "lr_mult": mults, "freeze": freeze, "epochs": epochs,
              "batch_size": batch_size, "augment": augment, "seed": seed}
    out = out or os.path.join("runs", f"{meta['model']}-{data.name}-finetune")
    check_output_dir(out, "finetune")
    trainer = Trainer(net, opt, nn.CrossEntropyLoss(), None, checkpoint_dir=out,
                      meta=finetuned_meta(meta, data, checkpoint, recipe), progress=progress, log=log)
    history, final = fit_and_test(trainer, data, epochs, batch_size, seed, batch_transform, out, force, log)
    result = {"checkpoint": os.path.join(out, "last.npz"), "history": dict(history), "model": net,
              "interrupted": trainer.interrupted, "frozen": frozen, "replaced": replaced, "dataset": data.name}
    if final is not None:
        result.update(test_accuracy=final["accuracy"], test_loss=final["loss"])
        log(f"test accuracy {final['accuracy'] * 100:.2f}% (evaluated once, after training; loss "
            f"{final['loss']:.4f}) | checkpoint: {result['checkpoint']}")
    return result


__all__ = ["freeze", "unfreeze", "select_parameters", "trainable_summary", "param_groups_with_lr_mult",
           "parse_lr_mult", "find_head", "replace_head", "load_pretrained", "finetune_data", "adapt_model",
           "finetuned_meta", "fit_and_test", "finetune_job"]
