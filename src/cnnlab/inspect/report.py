"""A training run as one self-contained HTML page: open ``report.html`` in any browser, offline.

Sections: the model summary table, training curves, final test metrics (the same
``train.metrics.precision_recall_f1`` that ``cnnlab evaluate`` prints), the confusion matrix,
misclassified test images with their top-3 predictions, the first-layer filters and activation maps
for a few test images. Every picture is a PNG embedded as a ``data:`` URI, so the file needs nothing
else: no network, no folder of images. Plots need matplotlib (the ``[plot]`` extra); without it their
sections say so and the numbers are still there as tables.
"""

import datetime
import html
import os

import numpy as np

from .. import backend
from .. import metrics
from . import images, visualize

SECTIONS = ("Model summary", "Training curves", "Final metrics", "Confusion matrix", "Misclassified examples",
            "First-layer filters", "Activation maps")

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1100px;
       padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; margin-top: 2.2rem; }
nav a { margin-right: 0.9rem; } .meta { color: #666; }
table { border-collapse: collapse; font-size: 0.9rem; margin: 0.6rem 0; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.55rem; text-align: right; }
th { background: #f4f4f4; } td.l, th.l { text-align: left; }
img { image-rendering: pixelated; max-width: 100%; }
img.plot { image-rendering: auto; }
.cards { display: flex; flex-wrap: wrap; gap: 0.8rem; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 0.4rem; font-size: 0.8rem; width: 150px; }
.card img { width: 140px; } .wrong { color: #b00; } .note { color: #8a6d00; background: #fff8dc; padding: 0.4rem; }
"""


def _esc(v):
    return html.escape(str(v))


def _img(picture, alt, cls=None):
    c = f' class="{cls}"' if cls else ""
    return f'<img{c} alt="{_esc(alt)}" src="{images.png_data_uri(picture)}">'


def _table(head, rows, left=1):
    """An HTML table; the first ``left`` columns are left-aligned (names), the rest right-aligned (numbers)."""
    def cells(tag, values):
        return "".join(f'<{tag}{" class=l" if i < left else ""}>{_esc(v)}</{tag}>' for i, v in enumerate(values))
    body = "".join(f"<tr>{cells('td', r)}</tr>" for r in rows)
    return f"<table><tr>{cells('th', head)}</tr>{body}</table>"


def _note(text):
    return f'<p class="note">{_esc(text)}</p>'


def _have_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


NO_PLOTS = "matplotlib is not installed, so this plot is skipped (pip install matplotlib)"


def _shape(shape):
    if shape and isinstance(shape[0], tuple):
        return ", ".join(_shape(s) for s in shape)
    return "(" + ", ".join(str(v) for v in shape) + ")"


def _summary_section(model, input_size):
    try:
        from .summary import summary
    except ImportError:  # pragma: no cover - the summary module ships with the package
        return _note("the summary module is not available")
    try:
        s = summary(model, tuple(input_size))
    except ValueError as e:
        return _note(f"summary failed: {e}")
    rows = [(r.name, r.type, _shape(r.output_shape), f"{r.params:,}", f"{r.macs:,}") for r in s.rows]
    rows.append(("total", "", "", f"{s.total_params:,}", f"{s.total_macs:,}"))
    return _table(["layer", "type", "output shape", "parameters", "multiply-adds"], rows, left=3)


def _history_section(history):
    if not history or not any(history.get("train_loss") or []):
        return _note("no training history in this checkpoint")
    parts = []
    if _have_matplotlib():
        from .plots import plot_history

        parts.append(_img(plot_history(history), "training curves", "plot"))
    else:
        parts.append(_note(NO_PLOTS))

    def fmt(v, pct=False):
        return "" if v is None else (f"{v * 100:.2f}%" if pct else f"{v:.4f}")

    n = len(history.get("train_loss", []))
    rows = []
    for i in range(n):
        get = lambda k: (history.get(k) or [None] * n)[i] if i < len(history.get(k) or []) else None  # noqa: E731
        rows.append((i + 1, fmt(get("train_loss")), fmt(get("train_acc"), True), fmt(get("val_loss")),
                     fmt(get("val_acc"), True), "" if get("lr") is None else f"{get('lr'):.3g}",
                     "" if get("time") is None else f"{get('time'):.1f}s"))
    parts.append(_table(["epoch", "train loss", "train accuracy", "val loss", "val accuracy", "lr", "time"], rows))
    return "".join(parts)


def _metrics_section(result, classes):
    scores, targets = result["scores"], result["targets"]
    c = len(classes)
    prf = metrics.precision_recall_f1(scores, targets, c)
    k = min(5, c)
    lines = [f"accuracy {metrics.accuracy(scores, targets) * 100:.2f}%",
             f"top-{k} accuracy {metrics.top_k_accuracy(scores, targets, k) * 100:.2f}%"]
    if result.get("loss") is not None:
        lines.insert(0, f"loss {result['loss']:.4f}")
    parts = [f"<p><b>{_esc(' | '.join(lines))}</b> on {len(targets):,} test images</p>"]
    rows = [(name, f"{prf['precision'][i]:.4f}", f"{prf['recall'][i]:.4f}", f"{prf['f1'][i]:.4f}",
             int(prf["support"][i])) for i, name in enumerate(classes)]
    for avg in ("macro", "weighted"):
        m = prf[avg]
        rows.append((f"{avg} avg", f"{m['precision']:.4f}", f"{m['recall']:.4f}", f"{m['f1']:.4f}",
                     int(prf["support"].sum())))
    parts.append(_table(["class", "precision", "recall", "F1", "support"], rows))
    if _have_matplotlib():
        from .plots import plot_precision_recall

        parts.append(_img(plot_precision_recall(prf, classes), "per-class precision and recall", "plot"))
    return "".join(parts), prf


def _confusion_section(result, classes):
    cm = metrics.confusion_matrix(result["scores"], result["targets"], len(classes))
    if _have_matplotlib():
        from .plots import plot_confusion_matrix

        return _img(plot_confusion_matrix(cm, classes), "confusion matrix", "plot")
    head = ["true \\ predicted"] + list(classes)
    return _note(NO_PLOTS) + _table(head, [[name] + list(map(int, row)) for name, row in zip(classes, cm)])


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _misclassified_section(result, classes, dataset, count):
    scores, targets = result["scores"], result["targets"]
    wrong = np.flatnonzero(scores.argmax(axis=1) != targets)
    if wrong.size == 0:
        return "<p>Every test image is classified correctly.</p>"
    probs = _softmax(scores.astype(np.float64))
    # The most confident mistakes first: they show what the network has really confused.
    wrong = wrong[np.argsort(-probs[wrong].max(axis=1), kind="stable")][:count]
    pictures = visualize._display_images(dataset, wrong)
    factor = images.fit_scale(max(pictures.shape[1:3]), 112)
    cards = []
    for idx, pic in zip(wrong, pictures):
        top = np.argsort(-probs[idx], kind="stable")[:3]
        preds = "<br>".join(f'<span class="{"wrong" if t != targets[idx] else ""}">{_esc(classes[t])} '
                            f"{probs[idx, t] * 100:.1f}%</span>" for t in top)
        cards.append(f'<div class="card">{_img(images.upscale(pic, factor), f"test image {idx}")}<br>'
                     f"#{idx} true: <b>{_esc(classes[targets[idx]])}</b><br>{preds}</div>")
    return (f"<p>{len(np.flatnonzero(scores.argmax(axis=1) != targets)):,} of {len(targets):,} test images are "
            f"misclassified; the {len(cards)} most confident mistakes, with the top-3 predictions:</p>"
            f'<div class="cards">{"".join(cards)}</div>')


def _activations_section(model, dataset, count):
    name, _ = visualize.first_conv(model)
    parts = [f"<p>Output of <code>{_esc(name)}</code> (every channel, one colour scale per image) for "
             f"{count} test images.</p>"]
    for i in range(min(count, len(dataset))):
        x = dataset[i][0]
        x = backend.asnumpy(getattr(x, "data", x))
        shown = visualize._display_images(dataset, [i])[0]
        maps = visualize.activation_maps(model, x, name)
        scale = max(1, maps.shape[0] // max(shown.shape[0], 1))
        parts.append(f"<p>{_img(images.side_by_side(images.upscale(shown, scale), maps), f'activations of {i}')}</p>")
    return "".join(parts)


def _evaluate(model, dataset, batch_size=500):
    from .. import nn
    from ..data import DataLoader
    from ..train import evaluate

    return evaluate(model, DataLoader(dataset, batch_size=batch_size), nn.CrossEntropyLoss())


def build_report(model, meta, history=None, dataset=None, evaluation=None, title=None, misclassified=16,
                 activation_images=3):
    """The report page as an HTML string.

    Args:
        model: the trained Module.
        meta: the checkpoint's metadata (``model``, ``dataset``, ``classes``, ``input_size``, ...).
        history: per-epoch lists (``History`` or dict) for the curves.
        dataset: the (standardised) test set for metrics, mistakes and activation maps; without it those
            sections say the test set was not available.
        evaluation: ``train.evaluate``'s result on ``dataset`` if already computed (``scores``, ``targets``,
            ``loss``); otherwise it is computed here.
        title: page title (default "<model> on <dataset>").
        misclassified: how many misclassified examples to show.
        activation_images: how many test images get activation maps.
    """
    classes = [str(c) for c in (meta.get("classes") or [])]
    name = meta.get("model", type(model).__name__)
    title = title or f"{name} on {meta.get('dataset', 'its dataset')}"
    n_params = sum(p.numel() for p in model.parameters())
    epochs = len((history or {}).get("train_loss") or [])
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    body = {}
    input_size = meta.get("input_size")
    body["Model summary"] = (_summary_section(model, input_size) if input_size
                             else _note("the checkpoint does not record the input size"))
    body["Training curves"] = _history_section(history)
    if dataset is not None:
        result = evaluation if evaluation is not None and "scores" in evaluation else _evaluate(model, dataset)
        if not classes:
            classes = [str(i) for i in range(result["scores"].shape[1])]
        body["Final metrics"], _ = _metrics_section(result, classes)
        body["Confusion matrix"] = _confusion_section(result, classes)
        body["Misclassified examples"] = _misclassified_section(result, classes, dataset, misclassified)
    else:
        missing = _note("the test set was not available, so there are no test metrics")
        for key in ("Final metrics", "Confusion matrix", "Misclassified examples"):
            body[key] = missing
    try:
        conv_name, conv = visualize.first_conv(model)
        body["First-layer filters"] = (f"<p><code>{_esc(conv_name)}</code>: {conv.weight.shape[0]} kernels of "
                                       f"{'x'.join(map(str, conv.weight.shape[1:]))}, each scaled to its own range "
                                       f"(dark = negative, light = positive weights).</p>"
                                       + _img(visualize.show_filters(conv), "first-layer filters"))
        body["Activation maps"] = (_activations_section(model, dataset, activation_images) if dataset is not None
                                   else _note("the test set was not available"))
    except ValueError as e:
        body["First-layer filters"] = body["Activation maps"] = _note(str(e))
    anchors = {s: s.lower().replace(" ", "-") for s in SECTIONS}
    nav = "".join(f'<a href="#{anchors[s]}">{_esc(s)}</a>' for s in SECTIONS)
    sections = "".join(f'<section id="{anchors[s]}"><h2>{_esc(s)}</h2>{body[s]}</section>' for s in SECTIONS)
    recipe = meta.get("recipe") or {}
    facts = [f"{n_params:,} parameters", f"{epochs} epochs"] + [f"{k} {v}" for k, v in recipe.items()
                                                                 if k in ("optimizer", "lr", "batch_size")]
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>'
            f"<body><h1>{_esc(title)}</h1><p class=meta>{_esc(' | '.join(facts))} | written {stamp} by cnnlab</p>"
            f"<nav>{nav}</nav>{sections}</body></html>\n")


def _find_checkpoint(run_dir, checkpoint):
    if checkpoint is not None:
        return checkpoint
    if os.path.isfile(run_dir):
        return run_dir
    for name in ("last.npz", "best.npz"):
        path = os.path.join(run_dir, name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"report: no checkpoint in {run_dir!r} (expected last.npz or best.npz written by "
                            f"cnnlab train)")


def write_plots(folder, history=None, evaluation=None, classes=None):
    """Write the report's plots as PNG files in ``folder``: ``training-curves.png`` (with a history),
    ``confusion-matrix.png`` and ``precision-recall.png`` (with an evaluation). Returns the paths."""
    from .plots import plot_confusion_matrix, plot_history, plot_precision_recall

    written = []
    if history and any(history.get("train_loss") or []):
        written.append(os.path.join(folder, "training-curves.png"))
        plot_history(history, written[-1])
    if evaluation is not None:
        scores, targets = evaluation["scores"], evaluation["targets"]
        c = scores.shape[1]
        classes = classes or [str(i) for i in range(c)]
        written.append(os.path.join(folder, "confusion-matrix.png"))
        plot_confusion_matrix(metrics.confusion_matrix(scores, targets, c), classes, path=written[-1])
        written.append(os.path.join(folder, "precision-recall.png"))
        plot_precision_recall(metrics.precision_recall_f1(scores, targets, c), classes, path=written[-1])
    return written


def write_report(run_dir, out=None, checkpoint=None, data_dir=None, dataset=None, png_dir=None, log=print,
                 **kwargs):
    """Write ``report.html`` for the run in ``run_dir`` (a folder from ``cnnlab train``) and return its path.

    Args:
        run_dir: the run folder (or a checkpoint file).
        out: where to write (default ``run_dir/report.html``).
        checkpoint: the checkpoint to report on (default ``run_dir/last.npz``, else ``best.npz``).
        data_dir: dataset directory for the test set.
        dataset: the test set to use instead of loading the checkpoint's.
        png_dir: also write the plots there as PNG files (see ``write_plots``; needs matplotlib).
        **kwargs: passed to ``build_report`` (``misclassified``, ``activation_images``, ``title``).
    """
    from ..train.checkpoint import load_checkpoint
    from ..train.saved import eval_dataset, load_trained

    path = _find_checkpoint(run_dir, checkpoint)
    model, meta = load_trained(path)
    history = load_checkpoint(path).get("history")
    if dataset is None:
        try:
            dataset = eval_dataset(meta, data_dir=data_dir)
        except (FileNotFoundError, OSError, ValueError) as e:
            log(f"report: test set unavailable ({str(e).splitlines()[0]}); metrics sections left out")
    evaluation = _evaluate(model, dataset) if dataset is not None else None
    if png_dir is not None:
        os.makedirs(png_dir, exist_ok=True)
        for png in write_plots(png_dir, history, evaluation, [str(c) for c in meta.get("classes") or []]):
            log(png)
    page = build_report(model, meta, history, dataset, evaluation, **kwargs)
    folder = run_dir if os.path.isdir(run_dir) else os.path.dirname(os.path.abspath(path))
    out = out or os.path.join(folder, "report.html")
    _write_text(out, page)
    return out


def _write_text(path, text):
    from ..train.checkpoint import atomic_write

    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)  # a page to open and share: readable like any new file, not private


def report_after_training(run_dir, model, meta, history, dataset=None, evaluation=None, log=print):
    """Write ``run_dir/report.html`` at the end of a training run; never raises (the run has already succeeded).

    A missing matplotlib only leaves out the plots (with a one-line note); any other failure is logged in
    one line. Returns the report's path, or None when it could not be written.
    """
    try:
        if not _have_matplotlib():
            log("report: matplotlib is not installed, so the report has no plots (pip install matplotlib)")
        out = os.path.join(run_dir, "report.html")
        _write_text(out, build_report(model, meta, dict(history or {}), dataset, evaluation))
        log(f"report: {out}")
        return out
    except Exception as e:  # noqa: BLE001 - a report problem must never fail a finished training run
        log(f"report: not written ({type(e).__name__}: {e})")
        return None


def report_for_job(result, log=print):
    """Write the report of a finished ``train_job`` (its ``TrainResult``) into its run directory; never raises.

    Returns the report's path, or None when the run was interrupted or the report could not be written.
    """
    if result.interrupted or result.evaluation is None:
        return None
    if (result.meta or {}).get("task", "classify") != "classify":
        return None  # the report's pages (confusion matrix, mistakes) are a classifier's
    return report_after_training(result.run_dir, result.model, result.meta, result.history,
                                 result.test_set, result.evaluation, log=log)
