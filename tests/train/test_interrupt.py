"""Interrupts land on step boundaries: interrupted and resumed, a run ends as if never stopped."""

import json
import os
import signal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlab
from cnnlab import nn, optim
from cnnlab.data import DataLoader, TensorDataset
from cnnlab.train import Trainer
from cnnlab.train.interrupt import Aborted, StopRequest

EPOCHS, BATCHES = 3, 5  # 40 samples in batches of 8


def _data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 40)
    x = (rng.standard_normal((40, 1, 6, 6)) + y[:, None, None, None]).astype(np.float32)
    return TensorDataset(cnnlab.tensor(x), cnnlab.tensor(y))


def _trainer(out, augment, seed=0):
    """A tiny network with batch norm and dropout, SGD with momentum, a step schedule."""
    from cnnlab.data import transforms as T

    cnnlab.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.Dropout(0.3), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    aug = T.Compose([T.RandomHorizontalFlip(), T.RandomCrop(6, padding=1)]) if augment else None
    loader = DataLoader(_data(), batch_size=8, shuffle=True, seed=7, batch_transform=aug)
    trainer = Trainer(model, opt, scheduler=sched, checkpoint_dir=str(out), progress=False,
                      log=None)
    return trainer, loader


def _contents(path):
    """Every array of a checkpoint file, and its JSON header without the wall-clock times."""
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    header = json.loads(arrays.pop("__meta__.json").tobytes())
    history = dict(header["state"]["__dict__"])["history"]
    for entry in history["__dict__"]:
        if entry[0] == "time":
            entry[1] = None
    return arrays, header


class _Interrupter:
    """Phase hook: SIGINT (twice if ``double``) at ``phase`` once ``after`` steps are done."""

    def __init__(self, after, phase, double):
        self.after, self.phase, self.double, self.fired = after, phase, double, False

    def __call__(self, phase, trainer):
        done = trainer._epoch * BATCHES + trainer._batch
        if not self.fired and phase == self.phase and done >= self.after:
            self.fired = True
            signal.raise_signal(signal.SIGINT)
            if self.double:
                signal.raise_signal(signal.SIGINT)


_reference = {}


def _reference_run(tmp_path_factory, augment):
    if augment not in _reference:
        out = tmp_path_factory.mktemp("reference")
        trainer, loader = _trainer(out, augment)
        trainer.fit(loader, epochs=EPOCHS)
        _reference[augment] = _contents(out / "last.npz")
    return _reference[augment]


@pytest.mark.parametrize("augment", [False, True])
@settings(max_examples=20, deadline=None, derandomize=True, database=None)
@given(after=st.integers(0, EPOCHS * BATCHES - 1),
       phase=st.sampled_from(["load", "forward", "backward", "checkpoint"]), double=st.booleans())
def test_interrupt_then_resume_is_bit_identical(tmp_path_factory, augment, after, phase, double):
    arrays, header = _reference_run(tmp_path_factory, augment)
    out = tmp_path_factory.mktemp("run")
    trainer, loader = _trainer(out, augment)
    trainer.phase_hook = hook = _Interrupter(after, phase, double)
    handler = signal.getsignal(signal.SIGINT)
    if double:
        with pytest.raises(Aborted):
            trainer.fit(loader, epochs=EPOCHS)
    else:
        trainer.fit(loader, epochs=EPOCHS)
    assert hook.fired and trainer.interrupted
    assert signal.getsignal(signal.SIGINT) is handler  # restored after training
    assert not [f for f in os.listdir(out) if f.startswith(".tmp-")]

    last = out / "last.npz"
    resume = str(last) if last.exists() else None  # aborted before the first checkpoint: afresh
    cnnlab.manual_seed(123)  # a fresh process starts from another random state; resume replaces it
    trainer, loader = _trainer(out, augment, seed=99 if resume else 0)
    trainer.fit(loader, epochs=EPOCHS, resume=resume)
    got_arrays, got_header = _contents(last)
    assert got_header == header
    assert sorted(got_arrays) == sorted(arrays)
    for k, v in arrays.items():
        assert got_arrays[k].dtype == v.dtype and got_arrays[k].tobytes() == v.tobytes(), k


def test_stop_request_restores_handlers_and_a_second_request_aborts():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with StopRequest() as stop:
        assert signal.getsignal(signal.SIGTERM) is not before[signal.SIGTERM]
        signal.raise_signal(signal.SIGTERM)
        assert stop.requested == "SIGTERM"
        with pytest.raises(Aborted, match="second SIGINT: stopped at once"):
            signal.raise_signal(signal.SIGINT)
    assert {s: signal.getsignal(s) for s in before} == before


def test_importing_cnnlab_installs_no_signal_handler():
    import subprocess
    import sys

    code = ("import signal; handlers = lambda: [signal.getsignal(s) for s in (2, 15)]; "
            "before = handlers(); import cnnlab, cnnlab.train, cnnlab.cli; "
            "assert handlers() == before")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_keyboard_interrupt_from_a_callback_between_steps_saves(tmp_path):
    class Stop:
        def on_batch_end(self, trainer, batch, logs):
            if batch == 2:
                raise KeyboardInterrupt

    trainer, loader = _trainer(tmp_path, False)
    trainer.callbacks.append(Stop())
    lines = []
    trainer.log = lines.append
    trainer.fit(loader, epochs=EPOCHS)
    assert trainer.interrupted and (trainer._epoch, trainer._batch) == (0, 3)
    assert "Interrupted (KeyboardInterrupt) at epoch 1, batch 3; checkpoint saved to" in lines[-1]


KILL_DURING_SECOND_WRITE = """
import os, signal, sys
import cnnlab.train.checkpoint as ck
from cnnlab.train.run import train_job

original, writes = ck.atomic_write, []

def atomic_write(path, write, before_rename=None):
    if str(path).endswith("last.npz"):
        writes.append(path)
        if len(writes) == 2:  # epoch 2's checkpoint: killed with its bytes on disk, not renamed
            before_rename = lambda: os.kill(os.getpid(), signal.SIGKILL)
    return original(path, write, before_rename)

ck.atomic_write = atomic_write
train_job(dataset="digits", epochs=3, train_limit=128, schedule="none", out=sys.argv[1],
          progress=False)
"""


def test_kill_9_during_a_checkpoint_write_keeps_the_previous_one_and_resume_finishes(tmp_path):
    import subprocess
    import sys

    pytest.importorskip("sklearn")
    from cnnlab.train.checkpoint import load_checkpoint
    from cnnlab.train.run import train_job

    common = dict(dataset="digits", epochs=3, train_limit=128, schedule="none", progress=False)
    whole = train_job(out=str(tmp_path / "whole"), log=lambda *a: None, **common).model
    whole = whole.state_dict()

    out = tmp_path / "killed"
    proc = subprocess.run([sys.executable, "-c", KILL_DURING_SECOND_WRITE, str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert [f for f in os.listdir(out) if f.startswith(".tmp-")]  # the unfinished write is left
    assert (out / ".lock").exists()                                # and the dead process's lock
    assert load_checkpoint(out / "last.npz")["epoch"] == 1         # the previous checkpoint loads

    lines = []
    resumed = train_job(out=str(out), resume=True, log=lines.append, **common).model.state_dict()
    assert any("its process " in line and "is gone" in line for line in lines)
    assert any("removed 1 unfinished temporary file(s)" in line for line in lines)
    assert not [f for f in os.listdir(out) if f.startswith(".tmp-")]
    assert not (out / ".lock").exists()
    for k, v in whole.items():
        assert resumed[k].numpy().tobytes() == v.numpy().tobytes(), k
