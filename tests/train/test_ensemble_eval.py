"""``cnnlab evaluate CKPT1 CKPT2 ...``: every member, the ensemble and the gain, checked by hand."""

import numpy as np
import pytest

from cnnlab.cli import main
from cnnlab.data import DataLoader
from cnnlab.runs.evaluation import evaluate
from cnnlab.runs.checkpoint import load_checkpoint, save_checkpoint
from cnnlab.runs.ensemble import evaluate_ensemble
from cnnlab.runs.saved import eval_dataset, load_trained
from cnnlab.train.run import train_job


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three short real runs that differ only in ``--seed``, trained from the command line: each
    holds out another validation split, so each standardises with other statistics."""
    pytest.importorskip("sklearn")
    root = tmp_path_factory.mktemp("runs")
    paths = []
    for seed in (0, 1, 2):
        out = root / f"seed{seed}"
        args = ["train", "--model", "fashion_cnn", "--dataset", "digits", "--epochs", "1",
                "--train-limit", "400", "--seed", str(seed), "--out", str(out)]
        assert main(args) == 0
        paths.append(str(out / "last.npz"))
    return paths


def test_seeds_give_members_with_other_input_scaling(runs):
    """The case an ensemble must handle: equal classes and input size, unequal statistics."""
    metas = [load_trained(p)[1] for p in runs]
    assert len({str(m["normalize"]) for m in metas}) == 3
    assert len({str(m["classes"]) + str(m["input_size"]) for m in metas}) == 1


def by_hand(paths, mode):
    """Accuracy of the ensemble computed with NumPy from each member's logits on the test set
    standardised for that member alone (its own statistics)."""
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


def test_members_must_share_classes_and_input_size(runs, tmp_path, capsys):
    state = load_checkpoint(runs[1])
    state["meta"]["classes"] = [str(c) for c in range(9)] + ["ten"]
    other = str(save_checkpoint(tmp_path / "other.npz", state))
    assert main(["evaluate", runs[0], other, "--mode", "vote"]) == 2
    err = capsys.readouterr().err
    assert "was trained with other classes than" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(
        ValueError, match="evaluate: an ensemble needs at least 2 checkpoints. Received 1"
    ):
        evaluate_ensemble(runs[:1])
