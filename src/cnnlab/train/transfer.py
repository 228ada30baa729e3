"""Transfer learning: freeze layers, give layers their own learning rates, swap the classifier, fine-tune.

The lectures' recipe for a small dataset: start from a network trained on a large one, replace its last
layer with one for the new classes, train that layer alone (everything else frozen), or with more data
also fine-tune the top layers at a smaller learning rate (1/10 for the top layers, 1/100 for the
middle ones).

Example:
    >>> model = models.get("resnet18")
    >>> load_torch_state_dict(model, "resnet18.pth")          # weights trained elsewhere
    >>> replace_head(model, num_classes=10)                   # ['fc']: a new Linear(512, 10)
    >>> model.freeze("layer[1-3].*")                          # or freeze(model, ["conv1", "bn1"])
    >>> groups = param_groups_with_lr_mult(model, 0.01, {"layer4.*": 0.1, "fc.*": 1.0})
    >>> opt = optim.SGD(groups, lr=0.01, momentum=0.9)
"""

import copy
import os

import numpy as np

from .. import backend, models, nn
from ..nn import init
from ..nn.freeze import freeze, unfreeze  # re-exported here
from ..nn.module import _matches, select_parameters  # select_parameters re-exported here
from ..validation import is_int, is_real


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
def load_pretrained(checkpoint, model=None, log=print):
    """A model and its metadata from a cnnlab checkpoint, or from a PyTorch/safetensors state dict.

    Args:
        checkpoint: a ``cnnlab train`` checkpoint (``.npz``), or a ``.pt``/``.pth``/``.safetensors``
            state dict of a torchvision-named model (then ``model`` names the zoo model to build).
        model: zoo model name for state-dict files; ignored for cnnlab checkpoints.
    """
    from .run import load_trained

    ext = os.path.splitext(str(checkpoint))[1].lower()
    if ext in (".pt", ".pth", ".bin", ".safetensors"):
        from ..interop import load_torch_state_dict

        if model is None:
            raise ValueError(f"finetune: {os.fspath(checkpoint)!r} is a state dict; name the architecture with --model "
                             f"(one of {', '.join(models.list_models())})")
        net = models.get(model)
        load_torch_state_dict(net, checkpoint)
        meta = {"model": model, "config": {}}
        first_conv = next((m for m in net.modules() if isinstance(m, nn.Conv2d)), None)
        if first_conv is not None:
            meta["input_size"] = [first_conv.in_channels]
        head, _ = find_head(net)
        if head is not None:
            layer = net.get_submodule(head)
            meta["config"]["num_classes"] = getattr(layer, "out_features", None) or layer.out_channels
        return net, meta
    net, meta = load_trained(checkpoint)
    return net, dict(meta)


def finetune_job(checkpoint, dataset="cifar10", model=None, epochs=5, batch_size=64, lr=0.01, optimizer="sgd",
                 momentum=0.9, weight_decay=0.0, freeze=None, lr_mult=None, new_head=None, augment=None, seed=0,
                 data_dir=None, out=None, progress=True, log=print, train_limit=None,
                 fallback=False, force=False, val_split=0.1):
    """Fine-tune a trained model on ``dataset``: new head if the classes differ, frozen layers, per-layer rates.

    Args:
        checkpoint: a cnnlab checkpoint, or a PyTorch/safetensors state dict (with ``model`` naming the
            architecture).
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
    from ..data import DataLoader, Subset
    from ..data import transforms as T
    from .run import _check_val_split, _datasets, _split, channel_stats, make_optimizer, set_normalize
    from ..runs.evaluation import evaluate
    from .trainer import Trainer

    from .rundir import (RunLock, check_output_dir, check_output_dir_creatable,
                         remove_orphaned_temp_files)

    _check_val_split(val_split, None)
    if out is not None:  # fail at once on a bad --out; created and probed once the data is read
        check_output_dir_creatable(out, "finetune")
    backend.manual_seed(seed)
    net, meta = load_pretrained(checkpoint, model, log)
    name = meta.get("model", model)
    used, train_set, test_set = _datasets(dataset, data_dir, log, fallback)
    base = train_set
    c, h, w = base.image_shape
    expected_c = meta.get("input_size", [c])[0]
    if expected_c != c:
        raise ValueError(f"finetune: {name} takes {expected_c}-channel images but {used} has {c} channels")
    norm = meta.get("normalize")
    mean, std = (norm["mean"], norm["std"]) if norm else channel_stats(base)
    for ds in (train_set, test_set):
        set_normalize(ds, mean, std)
    num_classes = len(base.classes)
    replaced = []
    old_classes = meta.get("config", {}).get("num_classes")
    if new_head or (new_head is None and old_classes != num_classes):
        replaced = replace_head(net, num_classes)
        log(f"new classifier for {num_classes} classes: {', '.join(replaced)}")
    frozen = []
    if freeze:
        patterns = [p.strip() for p in freeze.split(",")] if isinstance(freeze, str) else list(freeze)
        frozen = _freeze(net, patterns)
    mults = parse_lr_mult(lr_mult) if isinstance(lr_mult, str) else dict(lr_mult or {})
    groups = param_groups_with_lr_mult(net, lr, mults)
    counts = trainable_summary(net)
    train_idx, val_idx, split = _split(base, val_split, seed, train_limit, None, log)
    val_base = copy.copy(base)   # its own standardisation: augmentation switches the training set's off
    set_normalize(val_base, mean, std)
    train_set = Subset(base, train_idx)
    val_set = Subset(val_base, val_idx) if val_idx.size else None
    log(f"{name}: {counts['trainable']:,} trainable / {counts['frozen']:,} frozen parameters | "
        f"{used}: {len(train_set):,} train / {len(val_idx):,} validation / {len(test_set):,} test images")
    batch_transform = None
    if augment:
        batch_transform = T.training_pipeline(augment, train_set, mean, std)
    opt = make_optimizer(optimizer, groups, lr, momentum, weight_decay)
    config = dict(meta.get("config", {}))
    config["num_classes"] = num_classes
    new_meta = {"model": name, "config": config, "dataset": used, "classes": list(base.classes),
                "input_size": [c, h, w], "normalize": {"mean": list(mean), "std": list(std)},
                "finetuned_from": str(checkpoint), "split": split,
                "recipe": {"optimizer": optimizer, "lr": lr, "lr_mult": mults, "freeze": freeze, "epochs": epochs,
                           "batch_size": batch_size, "augment": augment, "seed": seed}}
    out = out or os.path.join("runs", f"{name}-{used}-finetune")
    check_output_dir(out, "finetune")
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, seed=seed,
                              batch_transform=batch_transform)
    test_loader = DataLoader(test_set, batch_size=500)
    trainer = Trainer(net, opt, nn.CrossEntropyLoss(), None, checkpoint_dir=out, meta=new_meta, progress=progress,
                      log=log)
    val_loader = DataLoader(val_set, batch_size=500) if val_set is not None else None
    with RunLock(out, "finetune", force=force, log=log):
        remove_orphaned_temp_files(out, log)
        history = trainer.fit(train_loader, val_loader, epochs=epochs)
    result = {"checkpoint": os.path.join(out, "last.npz"), "history": dict(history), "model": net,
              "interrupted": trainer.interrupted, "frozen": frozen, "replaced": replaced, "dataset": used}
    if not trainer.interrupted:
        final = evaluate(net, test_loader, nn.CrossEntropyLoss())
        result.update(test_accuracy=final["accuracy"], test_loss=final["loss"])
        log(f"test accuracy {final['accuracy'] * 100:.2f}% (evaluated once, after training; loss "
            f"{final['loss']:.4f}) | checkpoint: {result['checkpoint']}")
    return result


__all__ = ["freeze", "unfreeze", "select_parameters", "trainable_summary", "param_groups_with_lr_mult",
           "parse_lr_mult", "find_head", "replace_head", "load_pretrained", "finetune_job"]
