"""Image retrieval by a trained network's features (Krizhevsky et al. 2012, Figure 4, right).

The images nearest a query in the space of the last hidden layer (the input of the final fully
connected layer) tend to share its class even when their pixels are far apart; ``precision_at_k``
measures it, beside the same measure on raw pixels.
"""

import numpy as np

from .. import backend, nn
from ..autograd import no_grad
from ..data import DataLoader
from ..tensor import Tensor
from .images import grid, to_rgb, upscale


def penultimate_features(model, dataset, batch_size=500):
    """The inputs of ``model``'s last ``Linear`` layer for every image of ``dataset``, (N, D) float32.

    Raises a ValueError for a model without a ``Linear`` layer (nothing to call penultimate).
    """
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"retrieval: {type(model).__name__} has no Linear layer, so no penultimate "
                         f"features; use a classifier that ends in one (e.g. fashion_cnn)")
    captured = []

    def keep(module, args):
        a = backend.asnumpy(args[0]._data)
        captured.append(a.reshape(len(a), -1).astype(np.float32))

    handle = linears[-1].register_forward_pre_hook(keep)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            for x, _ in DataLoader(dataset, batch_size=batch_size):
                model(x if isinstance(x, Tensor) else Tensor(x))
    finally:
        handle.remove()
        model.train(was_training)
    return np.concatenate(captured) if captured else np.zeros((0, 0), np.float32)


def _unit_rows(a):
    a = np.asarray(a, dtype=np.float32).reshape(len(a), -1)
    norm = np.linalg.norm(a, axis=1, keepdims=True)
    return a / np.maximum(norm, 1e-12)


def cosine_neighbours(queries, gallery, k, exclude_self=False, chunk=1024):
    """The ``k`` gallery rows nearest each query by cosine distance (1 - cosine similarity).

    Args:
        queries: (Q, ...) features; gallery: (G, ...) features (each row flattened).
        k: neighbours per query, at most G (G - 1 with ``exclude_self``).
        exclude_self: the queries ARE the gallery; a query is not its own neighbour.

    Returns:
        ``(indices (Q, k), distances (Q, k))``, nearest first.
    """
    q, g = _unit_rows(queries), _unit_rows(gallery)
    limit = len(g) - (1 if exclude_self else 0)
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= limit:
        raise ValueError(f"retrieval: `k` must be an int in 1..{limit} (the gallery's size"
                         f"{' less the query itself' if exclude_self else ''}). Received: k={k!r}")
    indices = np.empty((len(q), k), np.int64)
    distances = np.empty((len(q), k), np.float32)
    for start in range(0, len(q), chunk):
        sim = q[start:start + chunk] @ g.T                                      # (chunk, G)
        if exclude_self:
            rows = np.arange(sim.shape[0])
            sim[rows, start + rows] = -np.inf
        top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sim, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        indices[start:start + chunk] = top
        distances[start:start + chunk] = 1 - np.take_along_axis(sim, top, axis=1)
    return indices, distances


def precision_at_k(features, labels, k=8):
    """Mean share of each image's ``k`` nearest other images (cosine) that have its label."""
    labels = np.asarray(labels)
    idx, _ = cosine_neighbours(features, features, k, exclude_self=True)
    return float((labels[idx] == labels[:, None]).mean())


def retrieval_precision(model, dataset, k=8):
    """``{"features": p, "pixels": p, "dims": D}``: precision@k over ``dataset`` (each image queries
    all the others) by ``model``'s penultimate features and by the raw (standardised) pixels."""
    feats = penultimate_features(model, dataset)
    batches = [(backend.asnumpy(getattr(x, "_data", x)), backend.asnumpy(getattr(y, "_data", y)))
               for x, y in DataLoader(dataset, batch_size=1000)]
    images = np.concatenate([x for x, _ in batches])
    labels = np.concatenate([y for _, y in batches])
    return {"features": precision_at_k(feats, labels, k), "pixels": precision_at_k(images, labels, k),
            "dims": feats.shape[1], "k": k}


def neighbours_picture(queries, neighbours):
    """A grid picture: one row per query, the query (C, H, W) in [0, 1] then its neighbours (k, C, H, W)."""
    tiles = []
    for q, row in zip(queries, neighbours):
        for image in [q, *row]:
            tiles.append(upscale(to_rgb(image), 2))
    return grid(tiles, ncols=1 + len(neighbours[0]))
