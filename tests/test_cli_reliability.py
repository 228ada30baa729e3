"""What the command line promises when things go wrong: interrupts, divergence, paths, locks."""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from cnnlab.cli import main
from cnnlab.train import Trainer
from cnnlab.runs.checkpoint import load_checkpoint

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

DIGITS = ["--dataset", "digits", "--no-progress", "--schedule", "none"]


@pytest.fixture
def digits_available():
    pytest.importorskip("sklearn")


def _one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _interrupt_at(monkeypatch, step, phase="forward", times=1):
    """Raise SIGINT ``times`` times when the trainer reaches ``phase`` with ``step`` steps done."""
    original = Trainer._phase

    def hook(self, name):
        at = name == phase and (self._epoch, self._batch) == (0, step)
        if at and not getattr(self, "_fired", False):
            self._fired = True
            for _ in range(times):
                signal.raise_signal(signal.SIGINT)
        original(self, name)

    monkeypatch.setattr(Trainer, "_phase", hook)


def test_ctrl_c_finishes_the_step_saves_and_exits_130(digits_available, tmp_path, capsys,
                                                       monkeypatch):
    _interrupt_at(monkeypatch, 3)
    assert main(["train", *DIGITS, "--epochs", "2", "--out", str(tmp_path)]) == 130
    out = capsys.readouterr().out
    assert "Interrupted (SIGINT) at epoch 1, batch 4; checkpoint saved to" in out
    state = load_checkpoint(tmp_path / "last.npz")
    assert (state["epoch"], state["batch"]) == (0, 4)
    assert not (tmp_path / ".lock").exists()


def test_a_second_ctrl_c_aborts_at_once_in_one_line(digits_available, tmp_path, capsys,
                                                     monkeypatch):
    _interrupt_at(monkeypatch, 3, times=2)
    assert main(["train", *DIGITS, "--epochs", "2", "--out", str(tmp_path)]) == 130
    line = _one_line(capsys.readouterr().err)
    assert line == ("cnnlab train: interrupted (second SIGINT: stopped at once; no checkpoint had "
                    "been written yet)")
    assert not (tmp_path / "last.npz").exists() and not (tmp_path / ".lock").exists()


def test_interrupt_during_start_up_is_one_line(digits_available, tmp_path, capsys, monkeypatch):
    import cnnlab.train.run as run

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "get_dataset", interrupted)
    assert main(["train", *DIGITS, "--out", str(tmp_path / "run")]) == 130
    assert _one_line(capsys.readouterr().err) == "cnnlab train: interrupted"


def test_sigterm_to_a_real_process_stops_at_a_step_boundary(digits_available, tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-u", "-m", "cnnlab.cli", "train", *DIGITS, "--epochs", "100",
               "--out", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:  # wait for an event, not for time: the first epoch's line
            if line.startswith("epoch 1/100"):
                break
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "Interrupted (SIGTERM)" in rest
    assert load_checkpoint(out / "last.npz")["epoch"] >= 1


def test_diverging_run_exits_3_keeps_the_last_finite_checkpoint(digits_available, tmp_path, capsys,
                                                                monkeypatch):
    import cnnlab.train.trainer as trainer_module

    original = Trainer._run_epoch

    def blow_up_in_epoch_2(self, *args):  # a sane first epoch, then a learning rate of 1e6
        if self._epoch == 1:
            for g in self.optimizer.param_groups:
                g["lr"] = 1e6
        return original(self, *args)

    monkeypatch.setattr(trainer_module.Trainer, "_run_epoch", blow_up_in_epoch_2)
    code = main(["train", *DIGITS, "--epochs", "3", "--optimizer", "sgd", "--out", str(tmp_path)])
    line = _one_line(capsys.readouterr().err)
    assert code == 3
    assert line.startswith("cnnlab train: error: training diverged at step ")
    assert "(epoch 2, batch " in line
    assert "try a lower learning rate than 1e+06 (e.g. --lr 100000)" in line
    assert f"the last finite checkpoint, {tmp_path / 'last.npz'}, is kept" in line
    state = load_checkpoint(tmp_path / "last.npz")
    assert state["epoch"] == 1
    assert all(np.isfinite(v).all() for v in state["model"].values())


def test_huge_learning_rate_exits_3_without_writing_a_checkpoint(digits_available, tmp_path,
                                                                 capsys):
    code = main(["train", *DIGITS, "--epochs", "2", "--optimizer", "sgd", "--lr", "1e3", "--out",
                 str(tmp_path)])
    line = _one_line(capsys.readouterr().err)
    assert code == 3 and "training diverged at step" in line and "lower learning rate" in line
    assert not (tmp_path / "last.npz").exists() and not (tmp_path / "best.npz").exists()


def test_a_non_finite_state_is_never_saved(tmp_path):
    from cnnlab import nn, optim
    from cnnlab.train.trainer import TrainingDiverged

    model = nn.Linear(2, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    trainer = Trainer(model, opt, checkpoint_dir=str(tmp_path), log=None)
    trainer.save()
    before = (tmp_path / "last.npz").read_bytes()
    model.weight.data[0, 0] = np.inf
    message = (r"model\.weight holds non-finite values, so no checkpoint was written to "
               r".*last\.npz \(the last finite checkpoint")
    with pytest.raises(TrainingDiverged, match=message):
        trainer.save()
    assert (tmp_path / "last.npz").read_bytes() == before


def test_epochs_0_writes_nothing_and_says_so(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *DIGITS, "--epochs", "0", "--out", str(out)]) == 0
    out_text = capsys.readouterr().out
    assert "--epochs 0: nothing to train; no data read and nothing written" in out_text
    assert not out.exists()


# ---------------------------------------------------------------------------- bad output paths
def _bad_paths(tmp_path):
    """(path, expected reason) for every kind of unwritable output location."""
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    locked = tmp_path / "read-only"
    locked.mkdir()
    locked.chmod(0o555)
    cases = [(str(a_file), "it is a file, not a directory"),
             (str(a_file / "under"), "is a file, not a directory")]
    if os.geteuid() != 0:  # root writes anywhere: no permission case to test
        cases.append((str(locked / "run"), "permission denied"))
    return cases


@pytest.mark.parametrize("case", range(2))
def test_train_bad_out_fails_at_once_in_one_line(tmp_path, capsys, monkeypatch, case):
    import cnnlab.train.run as run

    path, reason = _bad_paths(tmp_path)[case]
    monkeypatch.setattr(run, "get_dataset",
                        lambda *a, **k: pytest.fail("read data before checking --out"))
    assert main(["train", *DIGITS, "--out", path]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("cnnlab train: error: ") and reason in line and "a-file" in line


def test_read_only_directory_is_refused_before_training(tmp_path, monkeypatch):
    from cnnlab.runs.rundir import PathError, check_output_dir, check_output_dir_creatable

    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    with pytest.raises(PathError, match=r"train: cannot write to '.*': permission denied"):
        check_output_dir_creatable(tmp_path / "run", "train")

    def refuse(*args, **kwargs):
        raise OSError(30, "Read-only file system", str(tmp_path))

    import tempfile

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(PathError, match=r"train: cannot write to '.*': read-only file system"):
        check_output_dir(tmp_path, "train")


# ---------------------------------------------------------------------------- lock, resume settings
def test_a_second_training_into_a_locked_directory_is_refused(digits_available, tmp_path, capsys):
    holder = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                              stdin=subprocess.PIPE)
    try:
        (tmp_path / ".lock").write_text(f'{{"pid": {holder.pid}, "host": "{os.uname().nodename}"}}')
        assert main(["train", *DIGITS, "--epochs", "1", "--out", str(tmp_path)]) == 2
        line = _one_line(capsys.readouterr().err)
        assert f"is in use by process {holder.pid} (lock file {tmp_path / '.lock'})" in line
        assert "--force" in line
        assert main(["train", *DIGITS, "--epochs", "1", "--out", str(tmp_path), "--force"]) == 0
        assert "took over the lock" in capsys.readouterr().out
    finally:
        holder.communicate(b"")
    # The holder is gone now: its lock is stale and taken over without --force.
    (tmp_path / ".lock").write_text(f'{{"pid": {holder.pid}, "host": "{os.uname().nodename}"}}')
    assert main(["train", *DIGITS, "--epochs", "1", "--out", str(tmp_path)]) == 0
    assert f"its process {holder.pid} is gone" in capsys.readouterr().out
    assert not (tmp_path / ".lock").exists()


def test_resume_with_other_settings_says_which_differ(digits_available, tmp_path, capsys):
    first = ["train", *DIGITS, "--epochs", "1", "--out", str(tmp_path), "--batch-size", "64"]
    assert main(first) == 0
    capsys.readouterr()
    again = ["train", *DIGITS, "--epochs", "2", "--out", str(tmp_path), "--resume", "--batch-size",
             "32", "--lr", "0.01"]
    code = main(again)
    assert code == 2
    line = _one_line(capsys.readouterr().err)
    assert line == ("cnnlab train: error: train: --resume with settings that differ from the "
                    "checkpoint's: lr 0.001 -> 0.01, batch_size 64 -> 32; give the same settings, "
                    "or --allow-changes to continue with the new ones")
    assert main(again + ["--allow-changes"]) == 0
    out_text = capsys.readouterr().out
    assert "resuming with changed settings: lr 0.001 -> 0.01, batch_size 64 -> 32" in out_text
    assert load_checkpoint(tmp_path / "last.npz")["epoch"] == 2


def test_resume_with_another_optimizer(digits_available, tmp_path, capsys):
    assert main(["train", *DIGITS, "--epochs", "1", "--out", str(tmp_path), "--optimizer",
                 "sgd"]) == 0
    capsys.readouterr()
    args = ["train", *DIGITS, "--epochs", "2", "--out", str(tmp_path), "--resume", "--optimizer",
            "adam", "--lr", "0.01"]
    assert main(args) == 2
    assert "optimizer 'sgd' -> 'adam'" in _one_line(capsys.readouterr().err)
    assert main(args + ["--allow-changes"]) == 0
    out_text = capsys.readouterr().out
    assert "the adam optimizer starts from a fresh state (the checkpoint's is sgd)" in out_text
    assert load_checkpoint(tmp_path / "last.npz")["optimizer_type"] == "Adam"


def test_trainer_refuses_the_state_of_another_optimizer(tmp_path):
    from cnnlab import nn, optim

    model = nn.Linear(2, 2)
    sgd = Trainer(model, optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                  checkpoint_dir=str(tmp_path), log=None)
    state = sgd.state_dict()
    adam = Trainer(model, optim.Adam(model.parameters()), log=None)
    with pytest.raises(ValueError, match="resume: the checkpoint was trained with the SGD "
                                         "optimizer, not Adam"):
        adam.load(state)
    del state["optimizer_type"]  # as in checkpoints of older versions
    state["optimizer"]["state"] = {0: {"momentum_buffer": np.zeros((2, 2))}}
    with pytest.raises(ValueError, match="resume: the checkpoint's optimizer state does not fit "
                                         "Adam"):
        adam.load(state)


@pytest.fixture(scope="module")
def digits_checkpoint(tmp_path_factory):
    pytest.importorskip("sklearn")
    out = tmp_path_factory.mktemp("digits")
    assert main(["train", *DIGITS, "--epochs", "1", "--out", str(out)]) == 0
    return out / "last.npz"


def _command(name, ckpt, path, tmp_path):
    image = tmp_path / "img.png"
    if name == "filter":
        from PIL import Image

        Image.fromarray(np.zeros((8, 8), np.uint8)).save(image)
    return {"train": ["train", *DIGITS, "--out", path],
            "finetune": ["finetune", str(ckpt), "--dataset", "digits", "--no-progress", "--out",
                         path],
            "export": ["export", str(ckpt), "--format", "safetensors", "--out", path],
            "visualize": ["visualize", str(ckpt), "--what", "filters", "--out", path],
            "report": ["report", str(ckpt.parent), "--out", path],
            "report-png": ["report", str(ckpt.parent), "--png", path],
            "filter": ["filter", str(image), "--kernel", "sobel-x", "--out", path]}[name]


FILE_OUTPUTS = {"export", "report", "filter"}


@pytest.mark.parametrize("kind", ["file-as-folder", "under-a-file", "read-only", "folder-as-file"])
@pytest.mark.parametrize("name", ["train", "finetune", "export", "visualize", "report",
                                  "report-png", "filter"])
def test_every_write_path_fails_at_once_in_one_line(digits_checkpoint, tmp_path, capsys,
                                                    monkeypatch, name, kind):
    import tempfile

    import cnnlab.runs.rundir as rundir

    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    a_folder = tmp_path / "a-folder"
    a_folder.mkdir()
    if kind == "folder-as-file" and name not in FILE_OUTPUTS:
        pytest.skip("a folder is the right thing for a folder output")
    path, reason = {"file-as-folder": (a_file, "it is a file, not a directory"),
                    "under-a-file": (a_file / "sub" / ("x.out" if name in FILE_OUTPUTS else "run"),
                                     "is a file, not a directory"),
                    "read-only": (tmp_path / "ro" / ("x.out" if name in FILE_OUTPUTS else "run"),
                                  "read-only file system"),
                    "folder-as-file": (a_folder, "it is a directory, not a file")}[kind]
    if kind == "file-as-folder" and name in FILE_OUTPUTS:
        path, reason = a_file / "x.out", "it is a file, not a directory"
    args = _command(name, digits_checkpoint, str(path), tmp_path)
    if kind == "read-only":
        def read_only(*a, **k):
            raise OSError(30, "Read-only file system")

        monkeypatch.setattr(tempfile, "mkstemp", read_only)
        monkeypatch.setattr(rundir.os, "access", lambda *a, **k: False)
        monkeypatch.setattr(rundir, "_read_only_fs", lambda p: True)
    assert main(args) == 2
    captured = capsys.readouterr()
    line = _one_line(captured.err)
    command = name.split("-")[0]
    assert line.startswith(f"cnnlab {command}: error: {command}: cannot "), line
    assert reason in line and str(tmp_path) in line
    assert captured.out == ""  # nothing was done before the check
