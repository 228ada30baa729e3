import numpy as np
import pytest

import cnnlab
from cnnlab import nn, optim
from cnnlab.data import DataLoader, TensorDataset
from cnnlab.train import EarlyStopping, Trainer, evaluate, fit, load_checkpoint


def _blobs(n=240, seed=0):
    """Three separable Gaussian blobs in 16 dimensions shaped as 1x4x4 images."""
    centers = np.random.default_rng(42).standard_normal((3, 16)) * 3
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = (centers[y] + rng.standard_normal((n, 16))).astype(np.float32).reshape(n, 1, 4, 4)
    return TensorDataset(cnnlab.tensor(x), cnnlab.tensor(y))


def _model():
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 3))


def _setup(seed=0, augment=False):
    from cnnlab.data import transforms as T

    cnnlab.manual_seed(seed)
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    augmentation = T.Compose([T.RandomHorizontalFlip(), T.RandomCrop(4, padding=1)]) if augment else None
    loader = DataLoader(_blobs(), batch_size=16, shuffle=True, seed=7, batch_transform=augmentation)
    return model, opt, sched, loader


def test_fit_learns_and_records_history(tmp_path):
    model, opt, sched, loader = _setup()
    val = DataLoader(_blobs(seed=1), batch_size=64)
    history = fit(model, loader, val, optimizer=opt, scheduler=sched, epochs=3, checkpoint_dir=tmp_path,
                  progress=False, log=None)
    assert history.epochs == 3
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["val_acc"][-1] > 0.9
    assert history["lr"] == [0.05, 0.025, 0.0125]
    state = load_checkpoint(tmp_path / "last.npz")
    assert state["epoch"] == 3 and (tmp_path / "best.npz").exists()


class _InterruptAt:
    def __init__(self, epoch, batch):
        self.epoch, self.batch = epoch, batch

    def on_batch_end(self, trainer, batch, logs):
        if trainer._epoch == self.epoch and batch == self.batch:
            raise KeyboardInterrupt


@pytest.mark.parametrize("augment", [False, True])
def test_interrupted_then_resumed_run_ends_with_the_same_weights(tmp_path, augment):
    model, opt, sched, loader = _setup(augment=augment)
    Trainer(model, opt, scheduler=sched, progress=False, log=None).fit(loader, epochs=3)
    reference = {k: v.numpy().copy() for k, v in model.state_dict().items()}

    model, opt, sched, loader = _setup(augment=augment)
    trainer = Trainer(model, opt, scheduler=sched, callbacks=[_InterruptAt(1, 5)], checkpoint_dir=tmp_path,
                      progress=False, log=None)
    trainer.fit(loader, epochs=3)
    assert trainer.interrupted
    saved = load_checkpoint(tmp_path / "last.npz")
    assert (saved["epoch"], saved["batch"]) == (1, 6)

    cnnlab.manual_seed(123)  # a fresh process would start from another random state
    model, opt, sched, loader = _setup(seed=99, augment=augment)
    trainer = Trainer(model, opt, scheduler=sched, progress=False, log=None)
    history = trainer.fit(loader, epochs=3, resume=tmp_path / "last.npz")
    assert history.epochs == 3
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), reference[k], err_msg=k)


def test_early_stopping_stops_when_the_metric_stalls():
    stopper = EarlyStopping(monitor="val_loss", patience=2)

    class T:
        stop_training = False

    t = T()
    for loss in [1.0, 0.9, 0.95, 0.91]:
        stopper.on_epoch_end(t, 0, {"val_loss": loss})
    assert t.stop_training
    with pytest.raises(ValueError, match="`monitor` 'val_acc' is not in the epoch logs"):
        EarlyStopping(monitor="val_acc").on_epoch_end(t, 0, {"val_loss": 1.0})


def test_evaluate_restores_training_mode():
    model, _, _, loader = _setup()
    model.train()
    result = evaluate(model, loader, nn.CrossEntropyLoss())
    assert model.training
    assert result["scores"].shape == (240, 3) and result["targets"].shape == (240,)
    assert 0.0 <= result["accuracy"] <= 1.0 and result["loss"] > 0


def test_manual_seed_makes_a_run_repeat_bit_for_bit():
    finals = []
    for _ in range(2):
        model, opt, sched, loader = _setup(seed=5)
        Trainer(model, opt, scheduler=sched, progress=False, log=None).fit(loader, epochs=2)
        finals.append(model.state_dict())
    for k in finals[0]:
        np.testing.assert_array_equal(finals[0][k], finals[1][k], err_msg=k)


def test_auxiliary_heads_add_their_weighted_loss():
    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.main, self.aux = nn.Linear(16, 3), nn.Linear(16, 3)

        def forward(self, x):
            x = x.reshape(x.shape[0], -1)
            return (self.main(x), self.aux(x)) if self.training else self.main(x)

    cnnlab.manual_seed(0)
    model = TwoHeads()
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), progress=False, log=None)
    x, y = cnnlab.tensor(np.ones((4, 1, 4, 4), np.float32)), cnnlab.tensor(np.array([0, 1, 2, 0]))
    out = model(x)
    expected = nn.CrossEntropyLoss()(out[0], y).item() + 0.3 * nn.CrossEntropyLoss()(out[1], y).item()
    assert abs(trainer._loss(out, y).item() - expected) < 1e-6
    trainer.fit(DataLoader(_blobs(), batch_size=16), epochs=1)
    assert model.aux.weight.grad is not None  # the auxiliary head was trained too


def test_train_job_with_augmentation_resumes_exactly(tmp_path):
    """`cnnlab train --augment ... --resume` ends with the weights of an uninterrupted run."""
    pytest.importorskip("sklearn")
    from cnnlab.train.run import train_job

    common = dict(dataset="digits", augment="flip,crop:1", seed=3, schedule="none", train_limit=256, progress=False,
                  log=lambda *a: None)
    whole = train_job(epochs=2, out=str(tmp_path / "whole"), **common).model.state_dict()
    train_job(epochs=1, out=str(tmp_path / "split"), **common)
    cnnlab.manual_seed(11)  # as a fresh process would be
    resumed = train_job(epochs=2, out=str(tmp_path / "split"), resume=True, **common).model.state_dict()
    for k, v in whole.items():
        np.testing.assert_array_equal(v, resumed[k], err_msg=k)
