"""PyTorch programs run on cnnlab with only their imports renamed (issue 22's rule).

Each program in this folder is written in PyTorch's habits. It runs here renamed by ``rename.py``
on small subsets, and, where PyTorch (and torchvision, for the programs that import it) is
installed, unchanged on PyTorch too; the two final accuracies are compared loosely: the random
numbers differ, so both must learn, not agree to a digit.
"""

import importlib.util
import os
import re
import subprocess
import sys

import pytest

from rename import rename_imports, rename_line

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", "..", "src"))
HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_TORCHVISION = importlib.util.find_spec("torchvision") is not None


def _run(program, args, lib, cwd, timeout=1500):
    """Run ``program`` (renamed for cnnlab, as it is for PyTorch) and return its final accuracy."""
    path = os.path.join(HERE, program)
    if lib == "cnnlab":
        with open(path, encoding="utf-8") as f:
            source = rename_imports(f.read())
        path = os.path.join(cwd, "renamed_" + program)
        with open(path, "w", encoding="utf-8") as f:
            f.write(source)
    env = dict(os.environ, PYTHONPATH=SRC, MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, path, *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, \
        f"{program} on {lib} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    found = re.findall(r"^FINAL accuracy=([\d.]+)", done.stdout, re.M)
    assert found, f"{program} on {lib} printed no final accuracy:\n{done.stdout[-2000:]}"
    return float(found[-1]), done.stdout


def _on_torch(program, args, cwd, needs_torchvision=True):
    if not HAS_TORCH:
        pytest.skip("PyTorch is not installed")
    if needs_torchvision and not HAS_TORCHVISION:
        pytest.skip("torchvision is not installed: the unchanged program cannot run on PyTorch")
    return _run(program, args, "torch", cwd)


# ---------------------------------------------------------------------- the renaming helper
@pytest.mark.parametrize("line,expected", [
    ("import torch", "import cnnlab as torch"),
    ("import torch.nn as nn", "import cnnlab.nn as nn"),
    ("import torch.nn.functional as F", "import cnnlab.nn.functional as F"),
    ("import torchvision", "import cnnlab.vision as torchvision"),
    ("import torchvision.transforms as T", "import cnnlab.vision.transforms as T"),
    ("import torch.optim", "import cnnlab.optim; import cnnlab as torch"),
    ("from torch.utils.data import DataLoader", "from cnnlab.utils.data import DataLoader"),
    ("from torchvision import datasets, models", "from cnnlab.vision import datasets, models"),
    ("from torch import nn, optim", "from cnnlab import nn, optim"),
    ("    import torch  # late", "    import cnnlab as torch  # late"),
    ("import os, torch", "import os; import cnnlab as torch"),
    ("import torchaudio", "import torchaudio"),
    ("x = torch.max(y, 1)  # import torch", "x = torch.max(y, 1)  # import torch"),
    ("from mytorch import thing", "from mytorch import thing"),
])
def test_rename_touches_import_lines_only(line, expected):
    assert rename_line(line) == expected


def test_rename_keeps_every_other_line():
    with open(os.path.join(HERE, "imagenet_like.py"), encoding="utf-8") as f:
        source = f.read()
    renamed = rename_imports(source)
    changed = [(a, b) for a, b in zip(source.splitlines(), renamed.splitlines()) if a != b]
    assert changed and all(a.lstrip().startswith(("import ", "from ")) for a, _ in changed)
    assert len(source.splitlines()) == len(renamed.splitlines())


# ---------------------------------------------------------------------- data for the programs
@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """train/ and val/ class folders of CIFAR-10 PNGs (from $CNNLAB_DATA), as ImageFolder reads."""
    data = os.environ.get("CNNLAB_DATA")
    if not data or not os.path.isdir(data):
        pytest.skip("CNNLAB_DATA is not set to the shared datasets directory")
    from cnnlab.vision import datasets

    root = tmp_path_factory.mktemp("folder")
    for split, train, per_class in (("train", True, 24), ("val", False, 12)):
        ds = datasets.CIFAR10(data, train=train)
        counts = {c: 0 for c in (0, 1, 6, 8)}            # airplane, automobile, frog, ship
        for i, c in enumerate(ds.targets):
            if c in counts and counts[c] < per_class:
                folder = root / split / ds.classes[c]
                folder.mkdir(parents=True, exist_ok=True)
                ds[i][0].save(folder / f"{i}.png")
                counts[c] += 1
    return root


@pytest.fixture
def data_root():
    data = os.environ.get("CNNLAB_DATA")
    if not data or not os.path.isdir(data):
        pytest.skip("CNNLAB_DATA is not set to the shared datasets directory")
    return data


# ---------------------------------------------------------------------- the programs
def test_fashion_tensors_learns_alike_on_cnnlab_and_pytorch(tmp_path, data_root):
    args = [os.path.join(data_root, "fashion-mnist"), 2000, 2]
    ours, _ = _run("fashion_tensors.py", args, "cnnlab", tmp_path)
    assert ours > 70, f"cnnlab reached {ours}% (10% is chance)"
    theirs, _ = _on_torch("fashion_tensors.py", args, tmp_path, needs_torchvision=False)
    assert theirs > 70 and abs(ours - theirs) < 8, f"cnnlab {ours}% vs PyTorch {theirs}%"


def test_mnist_adadelta_program(tmp_path, data_root):
    args = ["--data", tmp_path / "data", "--epochs", 1, "--train-size", 1000, "--test-size", 500,
            "--batch-size", 32, "--log-interval", 10, "--save-model"]
    ours, out = _run("mnist_adadelta.py", args, "cnnlab", tmp_path)
    assert ours > 60, f"cnnlab reached {ours}%"
    assert "lr=0.7000" in out                                   # StepLR's gamma after one epoch
    assert os.path.isfile(tmp_path / "mnist_cnn.pt")
    theirs, _ = _on_torch("mnist_adadelta.py", args, tmp_path)
    assert theirs > 60 and abs(ours - theirs) < 15, f"cnnlab {ours}% vs PyTorch {theirs}%"


def test_cifar_tutorial_program(tmp_path, data_root):
    args = [tmp_path / "data", 2000, 500, 1]
    ours, out = _run("cifar_tutorial.py", args, "cnnlab", tmp_path)
    assert ours > 15, f"cnnlab reached {ours}% (10% is chance)"
    assert "Accuracy for class: plane" in out and os.path.isfile(tmp_path / "cifar_net.pth")
    theirs, _ = _on_torch("cifar_tutorial.py", args, tmp_path)
    assert theirs > 15 and abs(ours - theirs) < 15, f"cnnlab {ours}% vs PyTorch {theirs}%"


def test_transfer_learning_program(tmp_path, image_folder):
    # From scratch on 96 images in one epoch nothing is sure to be learnt: the program itself
    # checks that frozen layers stay put and that the best weights reload.
    args = [image_folder, 1, 32]
    ours, out = _run("transfer_learning.py", args, "cnnlab", tmp_path)
    assert 0 <= ours <= 100 and "train Loss:" in out and "val Loss:" in out
    theirs, _ = _on_torch("transfer_learning.py", args, tmp_path)
    assert 0 <= theirs <= 100


def test_imagenet_like_program_trains_saves_and_resumes(tmp_path, image_folder):
    args = [image_folder, "-a", "resnet18", "--epochs", 2, "-b", 16, "--lr", 0.05, "-j", 2,
            "--image-size", 32, "--seed", 0, "-p", 2]
    ours, out = _run("imagenet_like.py", args, "cnnlab", tmp_path)
    assert "Acc@1" in out and "Acc@5" in out and 0 <= ours <= 100
    assert os.path.isfile(tmp_path / "checkpoint.pth.tar")
    assert os.path.isfile(tmp_path / "model_best.pth.tar")
    # Resume from the last checkpoint and only evaluate: the same weights give the same accuracy.
    resumed, out = _run("imagenet_like.py", [image_folder, "--resume", "checkpoint.pth.tar",
                                             "--evaluate", "-b", 16, "--image-size", 32, "-j", 2],
                        "cnnlab", tmp_path)
    assert "=> loaded checkpoint 'checkpoint.pth.tar' (epoch 2)" in out
    assert resumed == pytest.approx(ours, abs=1e-6)
    theirs, _ = _on_torch("imagenet_like.py", args, tmp_path)
    assert 0 <= theirs <= 100
