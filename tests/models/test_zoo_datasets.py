"""Every zoo model x every dataset: ``build_model`` adapts the model (classes, channels, image size) and
one training step runs, or it refuses in one line that names the smallest input and ``--resize``.

No data files are needed: each dataset is stood in for by a few random images of its real shape and
class count. The step runs through ``Trainer`` at batch 2 at the pair's input size (the dataset's, or
for a refused pair the smallest ``--resize`` the message names). To keep the suite fast:
- pairs whose datasets share a shape (MNIST, Fashion-MNIST and its bundled subset are all 1x28x28 with
  10 classes) share one step, memoised by (model, channels, side): ``build_model`` sees nothing else;
- models are built without their random initialisation and filled with cheap pseudo-random weights,
  and layers over 4M weights are frozen after filling their first 1M entries: the forward and backward
  still run through them (every shape is checked), but no gradient of their size is allocated;
- the SLOW models (measured: over 10 s a step on a shared 2-core machine) run their training step once,
  at the smallest input any of their pairs gets (1 channel); each pair still builds its own model and
  checks that its first convolution takes the dataset's channels and its classifier gives its classes.
"""

import math

import numpy as np
import pytest

from cnnlab import Tensor, models, no_grad, optim
from cnnlab.data import ArrayDataset, DataLoader, list_datasets
from cnnlab.train import Trainer
from cnnlab.train.run import build_model

# The real datasets' shapes: name -> (channels, side, classes).
STAND_INS = {
    "mnist": (1, 28, 10),
    "fashion-mnist": (1, 28, 10),
    "fashion-mnist-mini": (1, 28, 10),
    "cifar10": (3, 32, 10),
    "digits": (1, 8, 10),
}
DATASETS = [d for d in STAND_INS if d in list_datasets()]
REFUSED = {"alphago_policy"}  # not a classifier: it predicts one of 361 board points
SLOW = {"resnet101", "resnet152", "wide_resnet50_2", "wide_resnet101_2", "wide_resnet", "densenet161"}
BIG, CHUNK = 4_000_000, 1_000_003


def stand_in(dataset, n=4):
    """``n`` random images shaped like ``dataset``'s, labels 0, 1, 2, ..."""
    c, side, classes = STAND_INS[dataset]
    shape = (n, side, side) if c == 1 else (n, side, side, c)
    data = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    return ArrayDataset(data, np.arange(n) % classes, classes=[f"class {i}" for i in range(classes)],
                        normalize=(0.5, 0.25))


def fill(model, seed=0):
    """Cheap pseudo-random weights scaled by 1/sqrt(fan_in); layers over BIG weights are frozen."""
    base = np.random.default_rng(seed).standard_normal(CHUNK).astype(np.float32)
    for p in model.parameters():
        if p.ndim < 2:
            continue
        flat = p.data.reshape(-1)
        end = min(flat.size, CHUNK)
        reps = -(-end // CHUNK)
        flat[:end] = np.tile(base, reps)[:end] / np.float32(math.sqrt(int(np.prod(p.shape[1:]))))
        if flat.size > BIG:
            p.requires_grad = False


_STEPS = {}


def one_step(name, dataset, resize):
    """Build ``name`` for ``dataset`` (resized to ``resize``) and train one batch of 2; memoised by shape."""
    ds = stand_in(dataset)
    c, side, _ = STAND_INS[dataset]
    key = (name, c, resize or side)
    if key not in _STEPS:
        with models.skip_init():
            net, config = build_model(name, ds, resize, dataset)
        fill(net)
        trainable = [p for p in net.parameters() if p.requires_grad]
        watched = trainable[-1]                     # the classifier's last parameter
        before = watched.data.copy()
        loader = DataLoader(ds, batch_size=2, batch_transform=None)
        if resize:
            from cnnlab.data.resized import ResizedDataset

            loader = DataLoader(ResizedDataset(ds, resize), batch_size=2)
        x, _ = next(iter(loader))
        trainer = Trainer(net, optim.SGD(trainable, lr=0.01), progress=False, log=None)
        history = trainer.fit(_Once(loader), epochs=1)
        net.eval()
        with no_grad():
            out = net(Tensor(x))
        changed = not np.array_equal(before, watched.data)
        _STEPS[key] = (config, tuple(x.shape), out.shape, history["train_loss"][0], changed)
    return _STEPS[key]


class _Once:
    """The first batch of a loader, as a one-batch loader."""

    def __init__(self, loader):
        self.batch = next(iter(loader))

    def __iter__(self):
        return iter([self.batch])

    def __len__(self):
        return 1


PAIRS = [(m, d) for m in models.list_models() for d in DATASETS]


def test_every_dataset_has_a_stand_in():
    assert set(list_datasets()) <= set(STAND_INS)


@pytest.mark.parametrize("name,dataset", PAIRS)
def test_model_trains_on_dataset_or_refuses_clearly(name, dataset):
    c, side, classes = STAND_INS[dataset]
    if name in REFUSED:
        with pytest.raises(ValueError) as e:
            build_model(name, stand_in(dataset), None, dataset)
        assert str(e.value).startswith(f"train: {name} cannot be trained on {dataset}: it has no `num_classes` "
                                       f"to predict the dataset's {classes} classes")
        return
    smallest = models.min_input_size(name)
    resize = None
    if side < smallest:
        with pytest.raises(ValueError) as e, models.skip_init():
            build_model(name, stand_in(dataset), None, dataset)
        assert str(e.value).startswith(f"train: {name} needs inputs of at least {smallest}x{smallest} pixels, "
                                       f"but the {dataset} images are {side}x{side}; use --resize {smallest} ")
        resize = smallest      # the advice works: the same pair trains at that size
    if name in SLOW:
        with models.skip_init():
            net, config = build_model(name, stand_in(dataset), resize, dataset)
        weights = [p for p in net.parameters() if p.ndim >= 2]
        assert weights[0].shape[1] == c and weights[-1].shape[0] == classes
        dataset = min(DATASETS, key=lambda d: max(STAND_INS[d][1], smallest))  # its one step, below
        c, side, classes = STAND_INS[dataset]
        resize = smallest if side < smallest else None
    config, x_shape, out_shape, loss, changed = one_step(name, dataset, resize)
    assert config["num_classes"] == classes and config["in_channels"] == c
    assert x_shape == (2, c, resize or side, resize or side)
    assert out_shape == (2, classes)
    assert math.isfinite(loss) and changed


@pytest.mark.parametrize("name", sorted(set(models.list_models()) - REFUSED))
def test_declared_smallest_input_is_the_smallest_that_runs(name):
    """The registry's ``min_size`` is checked against a forward pass at that side and one pixel less."""
    smallest = models.min_input_size(name)
    assert smallest is not None, f"{name} declares no min_size"
    c = models.input_size(name)[0]

    def runs(side):
        with models.skip_init():
            builder = models.registry.get_builder(name)
            kwargs = {"num_classes": 10, "in_channels": c}
            if "input_size" in builder.__code__.co_varnames[:builder.__code__.co_argcount]:
                kwargs["input_size"] = side
            try:
                net = builder(**kwargs)
            except ValueError:
                return False
        net.eval()
        try:
            with no_grad():
                net(Tensor(np.zeros((1, c, side, side), np.float32)))
        except ValueError:
            return False
        return True

    assert runs(smallest)
    if smallest > 1:
        assert not runs(smallest - 1)


def test_cli_refuses_a_model_too_big_for_the_images_and_names_resize(capsys, tmp_path):
    from cnnlab.cli import main

    code = main(["train", "--model", "vgg11", "--dataset", "digits", "--out", str(tmp_path), "--no-progress"])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        "cnnlab train: error: train: vgg11 needs inputs of at least 32x32 pixels, but the digits images are 8x8; "
        "use --resize 32 (or larger; it was designed for 224x224)")


def test_cli_trains_with_resize_and_evaluates_the_checkpoint_at_that_size(capsys, tmp_path):
    pytest.importorskip("sklearn")
    from cnnlab.cli import main
    from cnnlab.train import load_checkpoint

    assert main(["train", "--model", "lenet5", "--dataset", "digits", "--resize", "16", "--epochs", "1",
                 "--out", str(tmp_path), "--no-progress"]) == 0
    meta = load_checkpoint(tmp_path / "last.npz")["meta"]
    assert meta["input_size"] == [1, 16, 16] and meta["resize"] == 16 and meta["config"]["input_size"] == 16
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "best.npz")]) == 0
    assert "lenet5 on digits test set (359 images)" in capsys.readouterr().out


@pytest.mark.parametrize("resize", ["0", "-3"])
def test_cli_rejects_a_bad_resize(resize, capsys, tmp_path):
    from cnnlab.cli import main

    assert main(["train", "--dataset", "digits", "--resize", resize, "--out", str(tmp_path), "--no-progress"]) == 2
    assert capsys.readouterr().err.strip() == (f"cnnlab train: error: train: --resize must be a positive number "
                                               f"of pixels. Received: {int(resize)}")
