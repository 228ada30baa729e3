"""Plots of a training run with matplotlib (the optional ``[plot]`` extra): curves, confusion matrix, per-class bars.

Each function draws on its own ``Figure`` with the Agg canvas (no pyplot, no window, no global backend
change), returns the rendered picture as an (H, W, 3) float32 array in [0, 1] and, given ``path``,
writes it as PNG.
"""

import numpy as np

from . import images


def _matplotlib(fn):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(f"{fn}: plots need matplotlib: pip install matplotlib") from None
    return Figure, FigureCanvasAgg


def _render(fig, canvas_cls, path):
    canvas = canvas_cls(fig)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    picture = rgba[..., :3].astype(np.float32) / 255.0
    if path is not None:
        images.write_png(path, picture)
    return picture


def _series(history, key):
    values = [v for v in history.get(key, []) or []]
    points = [(i + 1, float(v)) for i, v in enumerate(values) if v is not None]
    return [p[0] for p in points], [p[1] for p in points]


def plot_history(history, path=None, title=None):
    """Loss and accuracy per epoch, training and validation, side by side.

    Args:
        history: a ``History`` or dict with lists ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``
            (missing keys and None entries are skipped).
        path: also write the picture there as PNG.
        title: optional figure title.
    """
    Figure, Canvas = _matplotlib("plot_history")
    if not any(_series(history, k)[0] for k in ("train_loss", "val_loss", "train_acc", "val_acc")):
        raise ValueError("plot_history: the history holds no epochs (expected lists train_loss, train_acc, "
                         "val_loss, val_acc)")
    fig = Figure(figsize=(9, 3.4), dpi=100, layout="constrained")
    for ax, what, label in zip(fig.subplots(1, 2), ("loss", "acc"), ("loss", "accuracy")):
        for split, style in (("train", "o-"), ("val", "s--")):
            x, y = _series(history, f"{split}_{what}")
            if x:
                ax.plot(x, y, style, label="validation" if split == "val" else "training", markersize=4)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
        ax.xaxis.get_major_locator().set_params(integer=True)
    if title:
        fig.suptitle(title)
    return _render(fig, Canvas, path)


def plot_confusion_matrix(cm, classes=None, normalize=True, path=None, title=None):
    """The confusion matrix as a heat map: rows true classes, columns predicted classes.

    Args:
        cm: (C, C) counts, ``cm[i, j]`` = samples of class i predicted as j (``metrics.confusion_matrix``).
        classes: C class names (default 0..C-1).
        normalize: colour by the share of each true class (the row), and print the counts.
        path: also write the picture there as PNG.
    """
    Figure, Canvas = _matplotlib("plot_confusion_matrix")
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"plot_confusion_matrix: `cm` must be square (C, C). Received shape {cm.shape}")
    c = cm.shape[0]
    classes = [str(i) for i in range(c)] if classes is None else [str(n) for n in classes]
    if len(classes) != c:
        raise ValueError(f"plot_confusion_matrix: {len(classes)} class names for a {c}x{c} matrix")
    rows = cm.sum(axis=1, keepdims=True)
    shade = np.divide(cm, rows, out=np.zeros(cm.shape, np.float64), where=rows > 0) if normalize else cm
    side = max(4.0, 0.5 * c + 2.5)
    fig = Figure(figsize=(side + 1, side), dpi=100, layout="constrained")
    ax = fig.subplots()
    im = ax.imshow(shade, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    fig.colorbar(im, ax=ax, label="share of true class" if normalize else "count", shrink=0.8)
    ax.set_xticks(range(c), classes, rotation=45, ha="right")
    ax.set_yticks(range(c), classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if c <= 30:
        top = 1.0 if normalize else max(float(shade.max()), 1.0)
        for i in range(c):
            for j in range(c):
                ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=8,
                        color="white" if shade[i, j] > 0.5 * top else "black")
    ax.set_title(title or "confusion matrix")
    return _render(fig, Canvas, path)


def plot_precision_recall(prf, classes=None, path=None, title=None):
    """Per-class precision, recall and F1 as grouped bars (from ``metrics.precision_recall_f1``)."""
    Figure, Canvas = _matplotlib("plot_precision_recall")
    for key in ("precision", "recall", "f1"):
        if key not in prf:
            raise ValueError(f"plot_precision_recall: `prf` needs key {key!r} (use metrics.precision_recall_f1)")
    p, r, f = (np.asarray(prf[k], np.float64) for k in ("precision", "recall", "f1"))
    c = len(p)
    classes = [str(i) for i in range(c)] if classes is None else [str(n) for n in classes]
    x = np.arange(c)
    fig = Figure(figsize=(max(6.0, 0.7 * c + 2), 3.4), dpi=100, layout="constrained")
    ax = fig.subplots()
    for offset, values, label in ((-0.27, p, "precision"), (0.0, r, "recall"), (0.27, f, "F1")):
        ax.bar(x + offset, values, width=0.27, label=label)
    ax.set_xticks(x, classes, rotation=45 if c > 6 else 0, ha="right" if c > 6 else "center")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower right", ncols=3)
    ax.set_title(title or "per-class precision, recall and F1")
    return _render(fig, Canvas, path)
