"""A finished run read back: the model from a checkpoint, its test set standardised as in training,
and its evaluation there.

Below ``train`` (which writes runs) so that ``inspect`` (reports, visualisations) and the CLI read runs
without importing the job that writes them.
"""

import numpy as np

from .. import backend, models
from ..data import DataLoader, get_dataset
from ..data.scenes import labels_for
from ..data.resized import ResizedDataset
from .checkpoint import check_model_arrays, check_trained_state, load_checkpoint
from .tasks import get_task


def set_normalize(dataset, mean, std):
    """Make ``dataset`` (an array-backed dataset) standardise its images with per-channel ``mean``/``std``."""
    dtype = backend.get_default_dtype()
    dataset.normalize = (np.asarray(mean, dtype).reshape(-1, 1, 1), np.asarray(std, dtype).reshape(-1, 1, 1))


def load_trained(path):
    """Rebuild the model saved in checkpoint ``path``; returns ``(model, meta)`` with the model in eval mode."""
    state = load_checkpoint(path)
    meta = check_trained_state(state, path)
    try:
        net = models.get(meta["model"], **meta.get("config", {}))
    except TypeError as e:  # a config key the model does not take
        raise ValueError(f"load_trained: {path!r} cannot be used: its config does not fit model "
                         f"{meta['model']!r} ({e})") from None
    check_model_arrays(net, state["model"], path)
    net.load_state_dict(state["model"])
    net.eval()
    return net, meta


def eval_dataset(meta, dataset=None, data_dir=None):
    """The test split of the checkpoint's dataset (or ``dataset``), standardised as in training."""
    name = dataset or meta["dataset"]
    ds = get_dataset(name, root=data_dir, train=False,
                     **labels_for(name, meta.get("task", "classify"), meta.get("model", "the model"), "evaluate"))
    norm = meta.get("normalize")
    if norm:
        set_normalize(ds, norm["mean"], norm["std"])
    if meta.get("resize"):  # trained with --resize: images are resized as read, as in training
        ds = ResizedDataset(ds, meta["resize"])
    return ds


def evaluate_trained(model, meta, dataset, batch_size=500):
    """Evaluate a trained ``model`` on ``dataset`` as its task scores it (``Task.evaluate`` with the
    task's loss): the numbers ``cnnlab evaluate`` prints and the report shows."""
    task = get_task(meta.get("task", "classify"))
    return task.evaluate(model, DataLoader(dataset, batch_size=batch_size), task.make_loss(model), None)
