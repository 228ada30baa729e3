"""Training curves, confusion heat map and per-class bars: pictures of the right shape, valid PNG files."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")

from cnnlab.inspect import plots  # noqa: E402
from cnnlab import metrics  # noqa: E402


def _check(pic, path, size):
    assert pic.ndim == 3 and pic.shape[2] == 3 and pic.dtype == np.float32
    assert pic.min() >= 0 and pic.max() <= 1 and pic.std() > 0.01          # not a blank canvas
    assert pic.shape[:2] == (size[1], size[0])                              # figure inches x 100 dpi
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size == size
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), np.round(pic * 255).astype(np.uint8))


def test_training_curves(tmp_path):
    history = {"train_loss": [1.2, 0.7, 0.5], "val_loss": [1.0, 0.8, 0.6], "train_acc": [0.5, 0.7, 0.8],
               "val_acc": [0.55, None, 0.75], "lr": [0.1, 0.1, 0.01]}
    _check(plots.plot_history(history, tmp_path / "h.png", title="run"), tmp_path / "h.png", (900, 340))
    only_train = {"train_loss": [1.0, 0.5], "train_acc": [0.4, 0.6]}
    assert plots.plot_history(only_train).shape == (340, 900, 3)
    with pytest.raises(ValueError, match="the history holds no epochs"):
        plots.plot_history({"train_loss": []})


def test_confusion_matrix_heat_map(tmp_path):
    rng = np.random.default_rng(0)
    cm = metrics.confusion_matrix(rng.integers(0, 4, 50), rng.integers(0, 4, 50), 4)
    pic = plots.plot_confusion_matrix(cm, ["cat", "dog", "bird", "frog"], path=tmp_path / "cm.png")
    _check(pic, tmp_path / "cm.png", (550, 450))
    assert plots.plot_confusion_matrix(cm, normalize=False).shape == (450, 550, 3)
    with pytest.raises(ValueError, match=r"`cm` must be square \(C, C\). Received shape \(2, 3\)"):
        plots.plot_confusion_matrix(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="3 class names for a 4x4 matrix"):
        plots.plot_confusion_matrix(cm, ["a", "b", "c"])


def test_precision_recall_bars(tmp_path):
    rng = np.random.default_rng(1)
    prf = metrics.precision_recall_f1(rng.standard_normal((60, 10)), rng.integers(0, 10, 60), 10)
    pic = plots.plot_precision_recall(prf, [f"class {i}" for i in range(10)], path=tmp_path / "pr.png")
    _check(pic, tmp_path / "pr.png", (900, 340))
    with pytest.raises(ValueError, match="`prf` needs key 'f1'"):
        plots.plot_precision_recall({"precision": [1], "recall": [1]})


def test_missing_matplotlib_is_named(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match=r"plot_history: plots need matplotlib: pip install matplotlib$"):
        plots.plot_history({"train_loss": [1.0]})
