"""``cnnlab evaluate CKPT1 CKPT2 ...``: every member, the ensemble and the gain, checked by hand."""

import numpy as np
import pytest

from cnnlab.cli import main
from cnnlab.data import DataLoader
from cnnlab.train import evaluate
from cnnlab.train.checkpoint import load_checkpoint, save_checkpoint
from cnnlab.train.ensemble import evaluate_ensemble
from cnnlab.train.run import eval_dataset, load_trained, train_job


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One short real run and two members made from it by perturbing its weights (different
    mistakes)."""
    pytest.importorskip("sklearn")
    out = tmp_path_factory.mktemp("run")
    train_job(
        model="fashion_cnn",
        dataset="digits",
        epochs=1,
        out=str(out),
        progress=False,
        log=lambda *a: None,
        train_limit=600,
    )
    paths = [str(out / "last.npz")]
    state = load_checkpoint(paths[0])
    for seed in (1, 2):
        rng = np.random.default_rng(seed)
        member = dict(
            state,
            model={
                k: v + 0.3 * v.std() * rng.standard_normal(v.shape).astype(v.dtype)
                if v.dtype.kind == "f" and v.ndim > 1
                else v
                for k, v in state["model"].items()
            },
        )
        paths.append(str(save_checkpoint(out / f"member{seed}.npz", member)))
    return paths


def by_hand(paths, mode):
    """Accuracy of the ensemble computed from each member's logits with NumPy."""
    logits, targets = [], None
    for p in paths:
        model, meta = load_trained(p)
        r = evaluate(model, DataLoader(eval_dataset(meta), batch_size=500))
        logits.append(r["scores"].astype(np.float64))
        targets = r["targets"]
    probs = [np.exp(z - z.max(1, keepdims=True)) for z in logits]
    probs = np.stack([p / p.sum(1, keepdims=True) for p in probs])  # (K, N, C)
    if mode == "mean":
        pred = probs.mean(0).argmax(1)
    else:
        votes = np.stack([np.bincount(row, minlength=probs.shape[2]) for row in probs.argmax(2).T])
        pred = (votes + 0.5 * probs.mean(0)).argmax(1)
    members = [float((z.argmax(1) == targets).mean()) for z in logits]
    return float((pred == targets).mean()), members


@pytest.mark.parametrize("mode", ["mean", "vote"])
def test_ensemble_accuracy_and_gain_by_hand(runs, mode):
    result = evaluate_ensemble(runs, mode=mode)
    accuracy, members = by_hand(runs, mode)
    assert result["ensemble"]["accuracy"] == pytest.approx(accuracy)
    assert [m["accuracy"] for m in result["members"]] == pytest.approx(members)
    assert result["gain_over_best"] == pytest.approx(accuracy - max(members))
    assert result["gain_over_mean"] == pytest.approx(accuracy - np.mean(members))


def test_cli_prints_members_ensemble_and_gain(runs, capsys):
    assert main(["evaluate", *runs]) == 0
    out = capsys.readouterr().out
    assert "3 models on the digits test set" in out and "mean of the softmax outputs" in out
    assert all(p in out for p in runs)
    assert "points over the best member" in out
    result = evaluate_ensemble(runs)
    assert f"{result['ensemble']['accuracy'] * 100:7.2f}%" in out


def test_members_must_share_classes(runs, tmp_path, capsys):
    state = load_checkpoint(runs[1])
    state["meta"]["normalize"] = {"mean": [0.0], "std": [1.0]}
    other = str(save_checkpoint(tmp_path / "other.npz", state))
    assert main(["evaluate", runs[0], other, "--mode", "vote"]) == 2
    err = capsys.readouterr().err
    assert "was trained with other input scaling than" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(
        ValueError, match="evaluate: an ensemble needs at least 2 checkpoints. Received 1"
    ):
        evaluate_ensemble(runs[:1])
