"""Every zoo model x every dataset: ``build_model`` adapts the model (classes, channels, image size) and
one training step runs, or it refuses in one line that names the smallest input and ``--resize``.

No data files are needed: each dataset is stood in for by a few random images of its real shape and
class count. To keep the suite fast (a full training step of every pair took minutes):
- every pair builds its model with ``build_model`` (the function ``cnnlab train`` calls) and runs a
  forward pass of a batch of 2 at the pair's input size (the dataset's, or for a refused pair the
  smallest ``--resize`` its message names); pairs whose datasets share a shape (MNIST, Fashion-MNIST
  and its bundled subset are all 1x28x28 with 10 classes) share that pass, memoised by (model,
  channels, side), since ``build_model`` sees nothing else;
- the training step (forward, backward, update through ``Trainer``, batch 2) runs once per model, at
  the smallest input any of its pairs gets;
- the SLOW models (measured: over 10 s a step on a shared 2-core machine) skip the per-pair forward:
  each pair checks that its first convolution takes the dataset's channels and its classifier gives
  its classes, and their one training step updates the classifier only (the forward pass still runs
  through, and checks the shapes of, the whole network);
- models are built without their random initialisation and filled with cheap pseudo-random weights,
  and layers over 4M weights are frozen after filling their first 1M entries: the forward and backward
  still run through them, but no gradient of their size is allocated.
"""

import inspect
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
SEGMENT = {"unet", "fcn"}     # a class per pixel: refused on datasets of one class per image
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
        flat = p.data.numpy().reshape(-1)   # shares the parameter's memory
        end = min(flat.size, CHUNK)
        reps = -(-end // CHUNK)
        flat[:end] = np.tile(base, reps)[:end] / np.float32(math.sqrt(int(np.prod(p.shape[1:]))))
        if flat.size > BIG:
            p.requires_grad = False


_STEPS, _FORWARDS = {}, {}


def _built(name, dataset, resize):
    with models.skip_init():
        net, config = build_model(name, stand_in(dataset), resize, dataset)
    fill(net)
    return net, config


def _batch(dataset, resize):
    loader = DataLoader(stand_in(dataset), batch_size=2)
    if resize:
        from cnnlab.data.resized import ResizedDataset

        loader = DataLoader(ResizedDataset(stand_in(dataset), resize), batch_size=2)
    return loader


def _input(name, dataset):
    """The input side ``build_model`` is given for ``dataset``: its own, or the smallest --resize."""
    side, smallest = STAND_INS[dataset][1], models.min_input_size(name)
    return smallest if side < smallest else None


def forward(name, dataset, resize):
    """``(config, input shape, output shape)`` of one evaluation-mode forward pass; memoised by shape."""
    c, side, _ = STAND_INS[dataset]
    key = (name, c, resize or side)
    if key not in _FORWARDS:
        net, config = _built(name, dataset, resize)
        x, _ = next(iter(_batch(dataset, resize)))
        net.eval()
        with no_grad():
            out = net(Tensor(x))
        _FORWARDS[key] = (config, tuple(x.shape), out.shape)
    return _FORWARDS[key]


def train_once(name):
    """One training step at the smallest input of ``name``'s pairs: ``(dataset, output shape, loss, changed)``."""
    if name not in _STEPS:
        dataset = min(DATASETS, key=lambda d: max(STAND_INS[d][1], models.min_input_size(name)))
        resize = _input(name, dataset)
        net, _ = _built(name, dataset, resize)
        # Only the classifier learns for the SLOW models, and for BatchNorm models: their last stages see
        # 1x1 maps at these sizes, BatchNorm over a batch of 2 normalises two values, and the gradient
        # through dozens of such layers overflows (the trainer stops: "training diverged").
        if name in SLOW or any(type(m).__name__ == "BatchNorm2d" for m in net.modules()):
            for p in list(net.parameters())[:-2]:
                p.requires_grad = False
        trainable = [p for p in net.parameters() if p.requires_grad]
        watched = trainable[-1]                     # the classifier's last parameter
        before = watched._data.copy()
        loader = _Once(_batch(dataset, resize))
        history = Trainer(net, optim.SGD(trainable, lr=0.01), progress=False, log=None).fit(loader, epochs=1)
        net.eval()
        with no_grad():
            out = net(Tensor(loader.batch[0]))
        _STEPS[name] = (dataset, out.shape, history["train_loss"][0], not np.array_equal(before, watched.data))
    return _STEPS[name]


class _Once:
    """The first batch of a loader, as a one-batch loader (``batch`` holds it)."""

    def __init__(self, loader):
        self.batch = next(iter(loader))

    def __iter__(self):
        return iter([self.batch])

    def __len__(self):
        return 1


CLASSIFIERS = [m for m in models.list_models() if models.registry.task_of(m) == "classify"]
PAIRS = [(m, d) for m in CLASSIFIERS for d in DATASETS]


SEGMENTATION = {"mnist-scenes"}   # scenes with a mask per image: tested with the segmentation models


def test_every_dataset_has_a_stand_in():
    assert set(list_datasets()) - SEGMENTATION <= set(STAND_INS)


@pytest.mark.parametrize("name,dataset", [(m, d) for m in SEGMENT for d in DATASETS])
def test_segmentation_models_are_refused_on_classification_datasets(name, dataset):
    with pytest.raises(ValueError) as e:
        build_model(name, stand_in(dataset), None, dataset)
    assert str(e.value) == (f"train: {name} cannot be trained on {dataset}: it segments images (a class "
                            f"per pixel), but {dataset} has one class per image; use --dataset mnist-scenes")


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
        resize = smallest      # the advice works: the same pair runs at that size
    if name in SLOW:
        net, config = _built(name, dataset, resize)
        weights = [p for p in net.parameters() if p.ndim >= 2]
        assert weights[0].shape[1] == c and weights[-1].shape[0] == classes
    else:
        config, x_shape, out_shape = forward(name, dataset, resize)
        assert x_shape == (2, c, resize or side, resize or side)
        assert out_shape == (2, classes)
    assert config["num_classes"] == classes and config["in_channels"] == c
    trained_on, out_shape, loss, changed = train_once(name)
    assert out_shape == (2, STAND_INS[trained_on][2])
    assert math.isfinite(loss) and changed


@pytest.mark.parametrize("name", sorted(set(CLASSIFIERS) - REFUSED))
def test_declared_smallest_input_is_the_smallest_that_runs(name):
    """The registry's ``min_size`` is checked against a forward pass at that side and one pixel less."""
    smallest = models.min_input_size(name)
    assert smallest is not None, f"{name} declares no min_size"
    c = models.input_size(name)[0]

    def runs(side):
        with models.skip_init():
            builder = models.registry.get_builder(name)
            kwargs = {"num_classes": 10, "in_channels": c}
            if "input_size" in inspect.signature(builder).parameters:
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
    from cnnlab.runs.checkpoint import load_checkpoint

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

    with pytest.raises(SystemExit) as exit_:   # the parser's one line, exit status 2
        main(["train", "--dataset", "digits", "--resize", resize, "--out", str(tmp_path), "--no-progress"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == (f"cnnlab train: error: argument --resize: must be a positive "
                                               f"int. Received: {resize!r} (see cnnlab train --help)")
