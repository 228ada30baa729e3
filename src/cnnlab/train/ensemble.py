"""Evaluate several trained checkpoints alone and as an ensemble (``cnnlab evaluate CKPT1 CKPT2
...``).

Members read the same raw test images and each standardises them with its own training
statistics: runs that differ in seed (hence in validation split and statistics) ensemble.
"""

import os

import numpy as np

from .. import backend, nn
from ..data import DataLoader
from ..models import Ensemble
from .run import eval_dataset, load_trained
from ..runs.evaluation import evaluate


def _check_members(paths, metas):
    """Members must agree on what matters to combine them: the classes they predict and the
    images they read (input size, resizing). Their normalisation may differ: each applies its own."""
    first = metas[0]
    for path, meta in zip(paths[1:], metas[1:]):
        for key, what in (
            ("classes", "classes"),
            ("input_size", "input size"),
            ("resize", "resizing"),
        ):
            if meta.get(key) != first.get(key):
                raise ValueError(
                    f"evaluate: {path!r} was trained with other {what} than {paths[0]!r} "
                    f"({meta.get(key)!r} vs {first.get(key)!r}); ensemble members must share them"
                )


class Standardized(nn.Module):
    """``model`` fed with ``(x - mean) / std`` per channel: a member's own input scaling, applied
    to raw images (the same arithmetic as a dataset standardising them for that model alone)."""

    def __init__(self, model, normalize):
        super().__init__()
        self.model = model
        dtype = backend.get_default_dtype()
        self.stats = None if not normalize else tuple(
            np.asarray(normalize[k], dtype).reshape(-1, 1, 1) for k in ("mean", "std"))

    def forward(self, x):
        if self.stats is not None:
            xp = backend.get_array_module(x._data)
            mean, std = (xp.asarray(a, dtype=x.dtype) for a in self.stats)   # (C, 1, 1) each
            x = (x - mean) / std
        return self.model(x)


def evaluate_ensemble(paths, mode="mean", dataset=None, data_dir=None, batch_size=500):
    """Test accuracy and loss of each checkpoint in ``paths`` and of their ``Ensemble(mode=mode)``.

    Returns a dict: ``members`` (list of dicts with ``path``, ``model``, ``accuracy``, ``loss``),
    ``ensemble`` (``accuracy``, ``loss``: the negative log-likelihood of the averaged probabilities
    for ``"mean"``, None for ``"vote"``), ``gain_over_best`` and ``gain_over_mean`` (accuracy
    differences), ``dataset`` and ``size``.
    """
    if len(paths) < 2:
        raise ValueError(
            f"evaluate: an ensemble needs at least 2 checkpoints. Received {len(paths)}"
        )
    loaded = [load_trained(os.fspath(p)) for p in paths]
    metas = [meta for _, meta in loaded]
    _check_members([os.fspath(p) for p in paths], metas)
    # the raw images, as they are before any member's standardisation
    ds = eval_dataset(dict(metas[0], normalize=None), dataset, data_dir)
    if len(ds.classes) != len(metas[0]["classes"]):
        raise ValueError(
            f"evaluate: the checkpoints predict {len(metas[0]['classes'])} classes but dataset "
            f"{dataset or metas[0]['dataset']!r} has {len(ds.classes)}"
        )
    loader = DataLoader(ds, batch_size=batch_size)
    nets = [Standardized(model, meta.get("normalize")).eval() for model, meta in loaded]
    members = []
    for path, net, (_, meta) in zip(paths, nets, loaded):
        r = evaluate(net, loader, nn.CrossEntropyLoss())
        members.append(
            {
                "path": os.fspath(path),
                "model": meta["model"],
                "accuracy": r["accuracy"],
                "loss": r["loss"],
            }
        )
    ensemble = Ensemble(nets, mode=mode).eval()
    r = evaluate(ensemble, loader, nn.CrossEntropyLoss() if mode == "mean" else None)
    accuracies = [m["accuracy"] for m in members]
    return {
        "members": members,
        "ensemble": {"accuracy": r["accuracy"], "loss": r["loss"]},
        "mode": mode,
        "gain_over_best": r["accuracy"] - max(accuracies),
        "gain_over_mean": r["accuracy"] - float(np.mean(accuracies)),
        "dataset": dataset or metas[0]["dataset"],
        "size": len(ds),
    }


def format_ensemble(result):
    """The table ``cnnlab evaluate`` prints for several checkpoints."""
    how = "mean of the softmax outputs" if result["mode"] == "mean" else "majority vote"
    width = max(len("ensemble"), *(len(m["path"]) for m in result["members"]))
    lines = [
        f"{len(result['members'])} models on the {result['dataset']} test set "
        f"({result['size']:,} images), ensemble by {how}",
        f"{'checkpoint':<{width}}  {'model':<16} {'accuracy':>8}  {'loss':>7}",
    ]
    for m in result["members"]:
        lines.append(
            f"{m['path']:<{width}}  {m['model']:<16} {m['accuracy'] * 100:7.2f}%  {m['loss']:7.4f}"
        )
    e = result["ensemble"]
    loss = f"{e['loss']:7.4f}" if e["loss"] is not None else f"{'-':>7}"
    lines.append(f"{'ensemble':<{width}}  {result['mode']:<16} {e['accuracy'] * 100:7.2f}%  {loss}")
    lines.append(
        f"gain: {result['gain_over_best'] * 100:+.2f} points over the best member, "
        f"{result['gain_over_mean'] * 100:+.2f} over the members' average"
    )
    return "\n".join(lines)
