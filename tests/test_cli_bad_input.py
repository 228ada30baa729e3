"""Bad input is one line with exit status 2; a defect of cnnlab is one line with exit status 70.

Every numeric option is checked as it is parsed, augmentation values and resumed checkpoints are
checked before training, and divergence (even from a huge learning rate) is exit status 3.
"""

import os

import numpy as np
import pytest

import cnnlab.cli as cli
from cnnlab.cli import main
from cnnlab.runs.checkpoint import load_checkpoint, save_checkpoint

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

DIGITS = ["--dataset", "digits", "--no-progress", "--schedule", "none"]


def run(argv):
    """``cnnlab argv`` in this process: its exit status (argparse's refusals exit from inside)."""
    try:
        return main(argv)
    except SystemExit as e:
        return e.code


def one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# ---------------------------------------------------------------------------- numeric options
TRAIN = ["train", *DIGITS]
VISUALIZE = ["visualize", "ckpt.npz", "--what", "filters", "--out", "o"]
NUMERIC_OPTIONS = [  # (command line before the option, option, a value refused, what is expected)
    (TRAIN, "--epochs", "-1", "a non-negative int"),
    (TRAIN, "--epochs", "1.5", "a non-negative int"),
    (TRAIN, "--batch-size", "0", "a positive int"),
    (TRAIN, "--batch-size", str(2 ** 63), "a positive int (at most 9223372036854775807)"),
    (TRAIN, "--lr", "inf", "a finite number >= 0"),
    (TRAIN, "--lr", "nan", "a finite number >= 0"),
    (TRAIN, "--lr", "-0.1", "a finite number >= 0"),
    (TRAIN, "--lr", "1e400", "a finite number >= 0"),
    (TRAIN, "--momentum", "-inf", "a finite number >= 0"),
    (TRAIN, "--weight-decay", "inf", "a finite number >= 0"),
    (TRAIN, "--seed", "-1", "a non-negative int"),
    (TRAIN, "--train-limit", "0", "a positive int"),
    (TRAIN, "--train-limit", "-5", "a positive int"),
    (TRAIN, "--live", "70000", "an int in [0, 65535]"),
    (TRAIN, "--val-split", "1", "a finite number in [0, 1)"),
    (TRAIN, "--val-split", "nan", "a finite number in [0, 1)"),
    (TRAIN, "--early-stop", "0", "a positive int"),
    (TRAIN, "--resize", "0", "a positive int"),
    (TRAIN, "--resize", "x", "a positive int"),
    (["evaluate", "ckpt.npz"], "--batch-size", "0", "a positive int"),
    (["predict", "ckpt.npz", "a.png"], "--top", "0", "a positive int"),
    (VISUALIZE, "--k", "0", "a positive int"),
    (VISUALIZE, "--limit", "0", "a positive int"),
    (VISUALIZE, "--target", "-1",
     "a non-negative int"),
    (VISUALIZE, "--patch", "0", "a positive int"),
    (VISUALIZE, "--stride", "0",
     "a positive int"),
    (["arith", "--kernel", "3"], "--input", "0", "a positive int"),
    (["arith", "--input", "7"], "--kernel", "nan", "a positive int"),
    (["arith", "--input", "7", "--kernel", "3"], "--stride", "0", "a positive int"),
    (["arith", "--input", "7", "--kernel", "3"], "--padding", "-1", "a non-negative int"),
    (["arith", "--input", "7", "--kernel", "3"], "--dilation", "0", "a positive int"),
    (["arith", "--input", "7", "--kernel", "3"], "--seed", "-1", "a non-negative int"),
    (["summary", "lenet5"], "--batch-size", "0", "a positive int"),
    (["finetune", "ckpt.npz"], "--epochs", "-1", "a non-negative int"),
    (["finetune", "ckpt.npz"], "--lr", "inf", "a finite number >= 0"),
    (["finetune", "ckpt.npz"], "--momentum", "nan", "a finite number >= 0"),
    (["finetune", "ckpt.npz"], "--weight-decay", "-1", "a finite number >= 0"),
    (["finetune", "ckpt.npz"], "--val-split", "-0.5", "a finite number in [0, 1)"),
    (["export", "ckpt.npz"], "--opset", "0", "a positive int"),
]


@pytest.mark.parametrize("before, option, value, expected", NUMERIC_OPTIONS,
                         ids=[f"{b[0]}{o}={v}" for b, o, v, _ in NUMERIC_OPTIONS])
def test_every_numeric_option_refuses_a_bad_value_in_one_line(before, option, value, expected,
                                                              capsys):
    assert run([*before, f"{option}={value}"]) == 2
    line = one_line(capsys.readouterr().err)
    assert line == (f"cnnlab {before[0]}: error: argument {option}: must be {expected}. "
                    f"Received: {value!r} (see cnnlab {before[0]} --help)")


def test_an_unknown_option_is_one_line_too(capsys):
    assert run(["train", "--learning-rate", "0.1"]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("cnnlab train: error: unrecognized arguments: --learning-rate 0.1")


@pytest.mark.parametrize("spec, expected", [
    ("rotate:nan", "'rotate' must be a finite number in [0, 360]. Received 'rotate:nan'"),
    ("flip,rotate:inf", "'rotate' must be a finite number in [0, 360]. Received 'rotate:inf'"),
    ("crop:-1", "'crop' must be an int in [0, 8]. Received 'crop:-1'"),
    ("erase:2", "'erase' must be a finite number in [0, 1]. Received 'erase:2'"),
])
def test_augment_values_are_finite_and_in_range(spec, expected, tmp_path, capsys):
    pytest.importorskip("sklearn")
    assert run(["train", *DIGITS, "--augment", spec, "--out", str(tmp_path)]) == 2
    line = one_line(capsys.readouterr().err)
    assert line == f"cnnlab train: error: parse_augment: the value of {expected}"
    assert not (tmp_path / "last.npz").exists()


# ---------------------------------------------------------------------------- divergence
def test_a_huge_finite_learning_rate_diverges_with_exit_3(tmp_path, capsys):
    pytest.importorskip("sklearn")
    for option in (["--lr", "1e30"], ["--weight-decay", "1e300", "--lr", "1"]):
        code = run(["train", *DIGITS, "--optimizer", "sgd", "--epochs", "1", "--train-limit", "300",
                    *option, "--out", str(tmp_path)])
        line = one_line(capsys.readouterr().err)
        assert code == 3, line
        assert line.startswith("cnnlab train: error: training diverged at step ")
        assert "lower learning rate" in line


def test_a_non_finite_output_stops_training_before_the_loss_refuses_it(tmp_path):
    from cnnlab import nn, optim
    from cnnlab.data import ArrayDataset, DataLoader
    from cnnlab.train import Trainer
    from cnnlab.train.trainer import TrainingDiverged

    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    model[1].weight.data[0, 0] = np.inf   # as a weight that overflowed in the last update
    data = ArrayDataset(np.ones((8, 1, 2, 2), np.float32), np.zeros(8, np.int64))
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), log=None, progress=False)
    with pytest.raises(TrainingDiverged, match=r"training diverged at step 1 \(epoch 1, batch 1\): "
                                               r"the model output is (nan|inf)"):
        trainer.fit(DataLoader(data, batch_size=4), epochs=1)


# ---------------------------------------------------------------------------- honest exit codes
def _fail_inside_numpy(*args, **kwargs):
    np.zeros(4).reshape(3)   # NumPy's ValueError: a defect, not the user's mistake


def _fail_with_a_wrong_call(*args, **kwargs):
    return len(1, 2)   # Python's TypeError


@pytest.mark.parametrize("defect, kind", [(_fail_inside_numpy, "ValueError"),
                                          (_fail_with_a_wrong_call, "TypeError"),
                                          (lambda *a, **k: {}["missing"], "KeyError")])
def test_an_internal_error_is_one_line_with_exit_70(defect, kind, capsys, monkeypatch):
    monkeypatch.setattr("cnnlab.functional.conv.explain_fit", defect)
    assert main(["arith", "--input", "7", "--kernel", "3"]) == cli.EXIT_SOFTWARE == 70
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"cnnlab arith: internal error (a bug in cnnlab, not in what was "
                           f"given): {kind}: ")
    assert "please report it" in line and "CNNLAB_DEBUG=1" in line
    monkeypatch.setenv("CNNLAB_DEBUG", "1")
    with pytest.raises(Exception) as e:
        main(["arith", "--input", "7", "--kernel", "3"])
    assert type(e.value).__name__ == kind


def test_errors_raised_on_purpose_stay_exit_2(capsys):
    from cnnlab.validation import int_arg, raised_on_purpose

    try:
        int_arg("conv2d", "stride", 0, minimum=1)
    except ValueError as e:
        assert raised_on_purpose(e)
    try:
        np.zeros(4).reshape(3)
    except ValueError as e:
        assert not raised_on_purpose(e)
    assert main(["summary", "lenet5", "--input", "0x0"]) == 2
    assert one_line(capsys.readouterr().err).startswith("cnnlab summary: error: summary: --input")


# ---------------------------------------------------------------------------- resume
@pytest.fixture(scope="module")
def one_epoch(tmp_path_factory):
    pytest.importorskip("sklearn")
    out = tmp_path_factory.mktemp("run")
    args = ["train", *DIGITS, "--schedule", "cosine", "--epochs", "1", "--train-limit", "300",
            "--out", str(out)]
    assert main(args) == 0
    return out, args


def _edited(one_epoch, tmp_path, edit, epochs=2):
    """A copy of the one-epoch run whose checkpoint ``edit`` changed; the resume command for it."""
    out, args = one_epoch
    state = load_checkpoint(out / "last.npz")
    edit(state)
    save_checkpoint(tmp_path / "last.npz", state)
    return [*args[:-1], str(tmp_path), "--epochs", str(epochs), "--resume"]


def _set(path, value):
    def edit(state):
        *parents, last = path.split(".")
        node = state
        for key in parents:
            node = node[key]
        node[last] = value
    return edit


@pytest.mark.parametrize("path, value, expected", [
    ("scheduler.T_max", 0, "`T_max` must be a positive int. Received: T_max=0"),
    ("scheduler.T_max", "10", "`T_max` must be a number. Received: T_max='10'"),
    ("scheduler.last_epoch", 1.5, "`last_epoch` must be an int. Received: last_epoch=1.5"),
    ("scheduler.base_lrs", [float("nan")], "`base_lrs[0]` must be a finite number"),
    ("scheduler.eta_min", [], "`eta_min` must be a number"),
    ("scheduler.gamma", 0.5, "`gamma` must be one of the scheduler's own entries"),
    ("rng_state.state.state", -1, "rng_state.state.state must be an int in [0, 2**128). "
                                  "Received: -1"),
    ("rng_state.state.inc", "x", "rng_state.state.inc must be a number. Received: 'x'"),
    ("rng_state.bit_generator", "os", "rng_state.bit_generator must name a NumPy bit generator"),
    ("rng_state.has_uint32", 2 ** 200, "rng_state.has_uint32 must be an int in [0, 2**128)"),
    ("loader_state.generator.bit_generator.state.state", -1,
     "loader_state.generator.bit_generator.state.state must be an int in [0, 2**128)"),
    ("epoch", 10 ** 9, "the checkpoint field epoch (1000000000) does not match its history"),
    ("partial", [float("nan"), 0, 0], "the checkpoint field partial"),
])
def test_resume_validates_every_scheduler_and_rng_field(one_epoch, tmp_path, capsys, path, value,
                                                        expected):
    args = _edited(one_epoch, tmp_path, _set(path, value))
    before = (tmp_path / "last.npz").read_bytes()
    assert main(args) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("cnnlab train: error: ") and expected in line, line
    assert (tmp_path / "last.npz").read_bytes() == before


def test_resume_prints_the_path_and_says_when_nothing_is_left_to_train(one_epoch, tmp_path,
                                                                      capsys):
    args = _edited(one_epoch, tmp_path, lambda state: None, epochs=1)   # the run is complete
    capsys.readouterr()
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"Resumed from {tmp_path / 'last.npz'} at epoch 2, batch 0\n" in out
    assert "nothing to train: the checkpoint is at epoch 1 of 1 (ask for more epochs" in out
    assert len(out.splitlines()) < 10 and "array(" not in out
    assert load_checkpoint(tmp_path / "last.npz")["epoch"] == 1


# ---------------------------------------------------------------------------- limits, empty data
def test_a_limit_of_0_is_refused_in_the_library_too(tmp_path):
    from cnnlab.train.run import train_job

    with pytest.raises(ValueError, match=r"train: `train_limit` must be a positive int. "
                                         r"Received: train_limit=0"):
        train_job(dataset="digits", epochs=1, train_limit=0, out=str(tmp_path), log=None,
                  progress=False)


def test_fit_on_an_empty_dataset_is_one_line_not_a_loss_of_0(tmp_path):
    from cnnlab import nn
    from cnnlab.data import ArrayDataset, DataLoader
    from cnnlab.train import fit

    empty = ArrayDataset(np.zeros((0, 1, 2, 2), np.float32), np.zeros(0, np.int64))
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    with pytest.raises(ValueError, match=r"^fit: the training data gave no batch in epoch 1 .*"
                                         r"there is nothing to train on$"):
        fit(model, DataLoader(empty, batch_size=4), epochs=1, progress=False, log=None,
            checkpoint_dir=str(tmp_path))
    assert os.listdir(tmp_path) == []
