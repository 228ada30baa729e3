"""Honest validation: a class-balanced split carved from the training set chooses the model; the test set
is evaluated once, after training; ``monitor=`` and the plateau scheduler's mode agree."""

import numpy as np
import pytest

import cnnlab
from cnnlab import nn, optim
from cnnlab.data import DataLoader, TensorDataset, stratified_split
from cnnlab.train import EarlyStopping, Trainer, fit, load_checkpoint


# ---------------------------------------------------------------------------- the split
def test_stratified_split_holds_out_the_same_share_of_every_class():
    targets = np.repeat(np.arange(10), 600)          # Fashion-MNIST's class counts, scaled down
    train, val = stratified_split(targets, 0.1, seed=0)
    assert val.size == 600 and train.size == 5400
    assert np.bincount(targets[val]).tolist() == [60] * 10
    assert np.intersect1d(train, val).size == 0 and np.union1d(train, val).size == targets.size


def test_stratified_split_repeats_with_the_seed_and_changes_with_it():
    targets = np.random.default_rng(1).integers(0, 3, 300)
    a = stratified_split(targets, 0.2, seed=4)[1]
    assert np.array_equal(a, stratified_split(targets, 0.2, seed=4)[1])
    assert not np.array_equal(a, stratified_split(targets, 0.2, seed=5)[1])


def test_stratified_split_zero_gives_no_validation():
    train, val = stratified_split(np.arange(5) % 2, 0, seed=0)
    assert train.tolist() == [0, 1, 2, 3, 4] and val.size == 0


@pytest.mark.parametrize("fraction", [1, -0.1, 1.5])
def test_stratified_split_rejects_a_fraction_out_of_range(fraction):
    with pytest.raises(ValueError, match=r"stratified_split: `fraction` must be in \[0, 1\). "
                                         rf"Received: fraction={float(fraction)!r}"):
        stratified_split(np.zeros(10, int), fraction)


@pytest.mark.parametrize("fraction", ["0.1", True])
def test_stratified_split_rejects_a_fraction_that_is_not_a_number(fraction):
    with pytest.raises(TypeError, match=rf"stratified_split: `fraction` must be a real number. "
                                        rf"Received: fraction={fraction!r}"):
        stratified_split(np.zeros(10, int), fraction)


def test_stratified_split_refuses_an_empty_validation_set():
    with pytest.raises(ValueError, match="a 0.01 split of 20 samples leaves no validation samples"):
        stratified_split(np.arange(20) % 2, 0.01)


# ---------------------------------------------------------------------------- fit(monitor=...)
def _blobs(n=240, seed=0):
    centers = np.random.default_rng(42).standard_normal((3, 16)) * 3
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = (centers[y] + 2 * rng.standard_normal((n, 16))).astype(np.float32).reshape(n, 1, 4, 4)
    return TensorDataset(cnnlab.tensor(x), cnnlab.tensor(y))


def _setup():
    cnnlab.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 3))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return model, opt, DataLoader(_blobs(), batch_size=16, shuffle=True, seed=7), DataLoader(_blobs(seed=1),
                                                                                               batch_size=64)


class _Spy(optim.lr_scheduler.ReduceLROnPlateau):
    """A plateau scheduler that records the metric it is stepped with."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = []

    def step(self, metrics, epoch=None):
        self.seen.append(float(metrics))
        super().step(metrics, epoch)


@pytest.mark.parametrize("mode,key", [("min", "val_loss"), ("max", "val_acc")])
def test_plateau_scheduler_is_stepped_with_the_metric_its_mode_implies(mode, key):
    model, opt, train, val = _setup()
    spy = _Spy(opt, mode=mode, patience=0)
    history = fit(model, train, val, optimizer=opt, scheduler=spy, epochs=3, progress=False, log=None)
    assert spy.seen == history[key]


def test_default_plateau_mode_does_not_cut_the_rate_while_the_loss_falls():
    """The defect: stepped with the accuracy, a mode='min' scheduler cut the rate as the model improved."""
    model, opt, train, val = _setup()
    opt.param_groups[0]["lr"] = 0.002                 # slow and steady
    sched = optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0)  # mode="min": a loss
    history = fit(model, train, val, optimizer=opt, scheduler=sched, epochs=3, progress=False, log=None)
    losses, accuracies = history["val_loss"], history["val_acc"]
    assert losses[0] > losses[1] > losses[2]          # improving every epoch ...
    assert opt.param_groups[0]["lr"] == 0.002         # ... so the rate stays
    assert accuracies[0] < accuracies[2]


@pytest.mark.parametrize("monitor,mode,expected", [
    ("val_acc", "min", "fit: monitor='val_acc' improves when it rises, but the ReduceLROnPlateau scheduler's "
                       "mode='min'; use mode='max' or monitor='val_loss'"),
    ("val_loss", "max", "fit: monitor='val_loss' improves when it falls, but the ReduceLROnPlateau scheduler's "
                        "mode='max'; use mode='min' or monitor='val_acc'"),
])
def test_monitor_against_the_plateau_mode_is_an_error(monitor, mode, expected):
    model, opt, train, val = _setup()
    sched = optim.lr_scheduler.ReduceLROnPlateau(opt, mode=mode)
    with pytest.raises(ValueError) as e:
        fit(model, train, val, optimizer=opt, scheduler=sched, monitor=monitor, progress=False, log=None)
    assert str(e.value) == expected


def test_unknown_monitor_is_an_error():
    model, opt, train, val = _setup()
    with pytest.raises(ValueError, match="fit: `monitor` must be one of 'val_loss', 'val_acc'. "
                                         "Received: monitor='accuracy'"):
        fit(model, train, val, optimizer=opt, monitor="accuracy", progress=False, log=None)


def test_early_stopping_mode_against_its_monitor_is_an_error():
    with pytest.raises(ValueError, match="EarlyStopping: monitor='val_acc' improves when it rises, but "
                                         "mode='min'; use mode='max' or monitor='val_loss'"):
        EarlyStopping(monitor="val_acc", mode="min")


@pytest.mark.parametrize("monitor", ["val_loss", "val_acc"])
def test_best_checkpoint_is_the_epoch_with_the_best_monitored_metric(tmp_path, monitor):
    model, opt, train, val = _setup()
    opt.param_groups[0]["lr"] = 0.5                  # a jumpy run, so loss and accuracy disagree sometimes
    trainer = Trainer(model, opt, checkpoint_dir=tmp_path, progress=False, log=None, monitor=monitor)
    history = trainer.fit(train, val, epochs=5)
    values = np.asarray(history[monitor])
    best = np.flatnonzero(values == (values.min() if monitor == "val_loss" else values.max()))[-1] + 1
    assert load_checkpoint(tmp_path / "best.npz")["epoch"] == best == trainer.best_epoch()


def test_without_validation_the_plateau_follows_the_training_metric_and_no_best_is_saved(tmp_path):
    model, opt, train, _ = _setup()
    spy = _Spy(opt, mode="min")
    history = fit(model, train, None, optimizer=opt, scheduler=spy, epochs=2, checkpoint_dir=tmp_path,
                  progress=False, log=None)
    assert spy.seen == history["train_loss"]
    assert (tmp_path / "last.npz").exists() and not (tmp_path / "best.npz").exists()


# ---------------------------------------------------------------------------- cnnlab train
@pytest.fixture
def job(monkeypatch):
    """``train_job`` on the bundled digits, quiet, with every test-set evaluation counted."""
    pytest.importorskip("sklearn")
    import dataclasses

    from cnnlab.runs.tasks import TASKS
    from cnnlab.train import run, trainer

    calls, lines = [], []
    classify = TASKS["classify"]

    def counting(model, loader, *args, **kwargs):
        calls.append(len(loader.dataset))
        return classify.evaluate(model, loader, *args, **kwargs)

    monkeypatch.setitem(TASKS, "classify", dataclasses.replace(classify, evaluate=counting))
    validating = trainer.Trainer._run_epoch

    def epoch_without_counting(self, *args):    # validation's evaluations are not counted
        before = len(calls)
        validating(self, *args)
        del calls[before:]

    monkeypatch.setattr(trainer.Trainer, "_run_epoch", epoch_without_counting)

    def call(**kwargs):
        kwargs = dict(dict(model="fashion_cnn", dataset="digits", epochs=2, progress=False, log=lines.append),
                      **kwargs)
        return run.train_job(**kwargs)

    call.calls, call.lines = calls, lines
    return call


def test_train_job_validates_on_a_held_out_split_and_tests_once(job, tmp_path):
    from cnnlab.data import get_dataset

    result = job(out=str(tmp_path))
    train = get_dataset("digits", train=True)
    split = result.split
    assert split["val"] == sum(int(round(0.1 * n)) for n in np.bincount(train.targets))
    assert split["train"] + split["val"] == len(train)
    assert job.calls == [len(get_dataset("digits", train=False))]     # the test set, once, at the end
    tested = [line for line in job.lines if line.startswith("test accuracy")]
    assert len(tested) == 1 and "(evaluated once, after training;" in tested[0]
    assert "of best.npz (epoch" in tested[0]
    assert any(line.endswith(f"{split['train']:,} train / {split['val']:,} validation / 359 test images")
               for line in job.lines)
    assert load_checkpoint(tmp_path / "last.npz")["meta"]["split"] == split
    assert (tmp_path / "best.npz").exists()


def test_train_job_with_val_split_zero_trains_on_everything_and_selects_nothing(job, tmp_path):
    result = job(out=str(tmp_path), val_split=0)
    assert result.split["val"] == 0 and result.tested == "the last epoch's model"
    assert any("--val-split 0: no validation set, so no model selection" in line for line in job.lines)
    assert not (tmp_path / "best.npz").exists()
    assert all(v is None for v in result.history["val_acc"])


def test_train_job_early_stop_stops_after_epochs_without_improvement(job, tmp_path):
    result = job(out=str(tmp_path), epochs=8, lr=1e-12, early_stop=2)   # next to nothing improves
    values = result.history["val_acc"]
    best, wait, stop = -1.0, 0, None
    for epoch, v in enumerate(values, 1):              # the rule, replayed on the recorded accuracies
        best, wait = (v, 0) if v > best else (best, wait + 1)
        if wait == 2:
            stop = epoch
            break
    assert stop is not None and len(values) == stop < 8
    assert any(line.startswith("early stopping: val_acc has not improved for 2 epochs") for line in job.lines)


def test_resume_draws_the_checkpoints_split_again(job, tmp_path):
    first = job(out=str(tmp_path), epochs=1, val_split=0.2).split
    resumed = job(out=str(tmp_path), epochs=2, val_split=0.1, resume=True)
    assert resumed.split == first
    assert "resuming with the checkpoint's validation split (0.2), not --val-split 0.1" in job.lines


@pytest.mark.parametrize("args,expected", [
    (["--val-split", "0", "--early-stop", "3"],
     "train: --early-stop needs a validation set to watch, but --val-split is 0; give --val-split (e.g. 0.1) "
     "or drop --early-stop"),
])
def test_cli_rejects_bad_validation_options(args, expected, capsys, tmp_path):
    from cnnlab.cli import main

    assert main(["train", "--dataset", "digits", "--out", str(tmp_path), "--no-progress"] + args) == 2
    assert capsys.readouterr().err.strip() == f"cnnlab train: error: {expected}"


@pytest.mark.parametrize("args,expected", [
    (["--val-split", "1"], "argument --val-split: must be a finite number in [0, 1). Received: '1'"),
    (["--early-stop", "0"], "argument --early-stop: must be a positive int. Received: '0'"),
])
def test_cli_parser_refuses_bad_validation_numbers(args, expected, capsys, tmp_path):
    from cnnlab.cli import main

    with pytest.raises(SystemExit) as exit_:   # the parser's one line, exit status 2
        main(["train", "--dataset", "digits", "--out", str(tmp_path), "--no-progress"] + args)
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == f"cnnlab train: error: {expected} (see cnnlab train --help)"


def test_finetune_validates_on_a_held_out_split_and_tests_once(tmp_path, monkeypatch):
    pytest.importorskip("sklearn")
    from cnnlab import models
    from cnnlab.data import get_dataset
    from cnnlab.runs import evaluation as evaluation_module
    from cnnlab.runs import task as task_module
    from cnnlab.train.transfer import finetune_job
    from cnnlab.train.checkpoint import save_checkpoint

    net = models.get("fashion_cnn", num_classes=10, in_channels=1, input_size=8)
    meta = {"model": "fashion_cnn", "config": {"num_classes": 10, "in_channels": 1, "input_size": 8},
            "input_size": [1, 8, 8], "classes": [str(i) for i in range(10)],
            "normalize": {"mean": [0.5], "std": [0.25]}}
    source = save_checkpoint(tmp_path / "src.npz", {"meta": meta, "model": dict(net.state_dict())})
    sizes, real = [], evaluation_module.evaluate

    def counting(model, loader, *args, **kwargs):
        sizes.append(len(loader.dataset))
        return real(model, loader, *args, **kwargs)

    monkeypatch.setattr(task_module, "evaluate", counting)          # validation
    monkeypatch.setattr(evaluation_module, "evaluate", counting)    # the test set
    lines = []
    result = finetune_job(source, dataset="digits", epochs=2, out=str(tmp_path / "ft"), progress=False,
                          log=lines.append)
    test_size = len(get_dataset("digits", train=False))
    split = load_checkpoint(tmp_path / "ft" / "last.npz")["meta"]["split"]
    assert sizes == [split["val"], split["val"], test_size]   # validation each epoch, the test set once
    assert split["val"] > 0 and split["train"] + split["val"] == len(get_dataset("digits", train=True))
    assert any("(evaluated once, after training;" in line for line in lines) and "test_accuracy" in result
