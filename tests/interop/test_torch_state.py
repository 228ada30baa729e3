"""PyTorch state dicts: a random torchvision-shaped state dict loaded into the zoo model gives the same forward
as the torch twin; the way back loads into the twin; wrong architectures are reported key by key."""

import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import cnnlab  # noqa: E402
from cnnlab import Tensor, models  # noqa: E402
from cnnlab.interop import (load_torch_state_dict, read_state_dict, save_torch_state_dict,  # noqa: E402
                            to_torch_state_dict)
from cnnlab.nn import LoadStateDictError  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import torch_twins as twins  # noqa: E402
from helpers import assert_close  # noqa: E402

# (zoo name, zoo config, torch twin, input shape)
CASES = [
    ("lenet5", {}, twins.lenet5, (2, 1, 28, 28)),
    ("fashion_cnn", {}, twins.fashion_cnn, (2, 1, 28, 28)),
    ("resnet18", {}, twins.resnet18, (2, 3, 32, 32)),
    ("alexnet_owt", {"num_classes": 10}, lambda: twins.AlexNet(10), (1, 3, 64, 64)),
    ("squeezenet1_1", {}, twins.SqueezeNet, (1, 3, 64, 64)),
    ("googlenet", {"variant": "torchvision"}, twins.GoogLeNet, (1, 3, 64, 64)),
    ("densenet121", {}, twins.densenet121, (1, 3, 32, 32)),
]


def build_pair(name, config, twin, seed=0):
    torch.manual_seed(seed)
    theirs = twin()
    state = twins.randomize(theirs, seed)
    cnnlab.manual_seed(seed)
    ours = models.get(name, **config)
    return ours, theirs, state


def forward_both(ours, theirs, shape, seed=1):
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    ours.eval()
    with cnnlab.no_grad():
        out = ours(Tensor(x)).numpy()
    with torch.no_grad():
        ref = theirs(torch.tensor(x)).numpy()
    return out, ref


@pytest.mark.parametrize("name,config,twin,shape", CASES, ids=[c[0] for c in CASES])
def test_torchvision_state_dict_gives_torchs_forward_and_round_trips(name, config, twin, shape):
    ours, theirs, state = build_pair(name, config, twin)
    report = load_torch_state_dict(ours, state)
    assert report.missing_keys == [] and report.unexpected_keys == [] and report.filled_keys == []
    out, ref = forward_both(ours, theirs, shape)
    assert_close(out, ref, "float32", f"{name} forward")
    # The way back: our state dict loads strictly into a fresh twin and gives the same forward.
    back = to_torch_state_dict(ours)
    assert list(back) == list(state)
    assert all(isinstance(v, torch.Tensor) and v.dtype == state[k].dtype for k, v in back.items())
    fresh = twin()
    fresh.load_state_dict(back, strict=True)
    fresh.eval()
    _, ref2 = forward_both(ours, fresh, shape)
    assert_close(ref2, ref, "float32", f"{name} round trip")


def test_files_pt_safetensors_and_npz(tmp_path):
    ours, theirs, state = build_pair("fashion_cnn", {}, twins.fashion_cnn)
    torch.save(state, tmp_path / "w.pth")
    torch.save({"epoch": 3, "state_dict": {"module." + k: v for k, v in state.items()}}, tmp_path / "nested.pt")
    save_torch_state_dict(theirs_as_ours := models.get("fashion_cnn"), tmp_path / "x.safetensors")
    load_torch_state_dict(theirs_as_ours, state)
    save_torch_state_dict(theirs_as_ours, tmp_path / "w.safetensors")
    save_torch_state_dict(theirs_as_ours, tmp_path / "w.pt")
    np.savez(tmp_path / "w.npz", **{k: v.numpy() for k, v in state.items()})
    for f in ("w.pth", "nested.pt", "w.safetensors", "w.pt", "w.npz"):
        model = models.get("fashion_cnn")
        load_torch_state_dict(model, tmp_path / f)
        out, ref = forward_both(model, theirs, (2, 1, 28, 28))
        assert_close(out, ref, "float32", f)
    assert torch.load(tmp_path / "w.pt", weights_only=True).keys() == state.keys()


def test_safetensors_needs_no_torch(tmp_path):
    ours, theirs, state = build_pair("lenet5", {}, twins.lenet5)
    load_torch_state_dict(ours, state)
    save_torch_state_dict(ours, tmp_path / "w.safetensors")
    expected = ours.state_dict()["classifier.5.bias"]
    code = ("import sys; sys.modules['torch'] = None\n"
            "import numpy as np, cnnlab, cnnlab.models\n"
            "from cnnlab.interop import load_torch_state_dict, to_torch_state_dict\n"
            "m = cnnlab.models.get('lenet5')\n"
            f"load_torch_state_dict(m, {str(tmp_path / 'w.safetensors')!r})\n"
            "sd = to_torch_state_dict(m)\n"
            "assert isinstance(sd['classifier.5.bias'], np.ndarray)\n"
            "print(' '.join(repr(float(v)) for v in sd['classifier.5.bias']))\n"
            "try:\n"
            f"    load_torch_state_dict(m, {str(tmp_path / 'w.pt')!r})\n"
            "except (ImportError, FileNotFoundError) as e:\n"
            "    print(type(e).__name__)\n")
    torch.save(state, tmp_path / "w.pt")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    np.testing.assert_array_equal(np.array([float(v) for v in lines[0].split()], np.float32), expected)
    assert lines[1] == "ImportError"


def test_missing_batch_counters_are_filled():
    ours, theirs, state = build_pair("fashion_cnn", {}, twins.fashion_cnn)
    old = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    report = load_torch_state_dict(ours, old)
    assert report.filled_keys == ["features.1.num_batches_tracked", "features.5.num_batches_tracked"]
    assert int(ours.state_dict()["features.1.num_batches_tracked"]) == 0


def test_another_architecture_lists_missing_unexpected_and_misshaped_keys():
    ours = models.get("resnet18")
    before = ours.state_dict()
    state = twins.randomize(twins.resnet34(num_classes=10))
    with pytest.raises(LoadStateDictError) as info:
        load_torch_state_dict(ours, state)
    msg = str(info.value)
    assert "load_torch_state_dict: the state dict does not fit ResNet (122 keys in the model, 218 given); " \
           "nothing was loaded" in msg
    assert "unexpected keys (96): layer1.2.conv1.weight, layer1.2.bn1.weight" in msg
    assert "shape mismatches (2): fc.weight: state dict (10, 512) vs model (1000, 512), fc.bias: state dict (10,) " \
           "vs model (1000,)" in msg
    assert all(np.array_equal(v, ours.state_dict()[k]) for k, v in before.items())     # nothing changed
    with pytest.raises(LoadStateDictError, match=r"missing keys \(102\): conv1.weight, bn1.weight"):
        load_torch_state_dict(ours, twins.randomize(twins.lenet5()))
    with pytest.raises(LoadStateDictError, match=r"unexpected keys \(10\): features.0.weight") as info:
        load_torch_state_dict(ours, twins.randomize(twins.lenet5()))
    assert "renamed?" not in str(info.value)              # no far-fetched hints
    renamed = {k.replace("bn1", "norm1"): v for k, v in twins.randomize(twins.resnet18()).items()}
    with pytest.raises(LoadStateDictError, match=r"renamed\? 'norm1.weight' -> 'bn1.weight'\?") as info:
        load_torch_state_dict(ours, renamed)


def test_non_strict_loads_the_common_keys_only():
    ours = models.get("resnet18")
    state = twins.randomize(twins.resnet18())
    partial = {k: v for k, v in state.items() if not k.startswith("fc.")}
    partial["extra.weight"] = torch.zeros(3)
    report = load_torch_state_dict(ours, partial, strict=False)
    assert report.missing_keys == ["fc.weight", "fc.bias"] and report.unexpected_keys == ["extra.weight"]
    np.testing.assert_array_equal(ours.state_dict()["conv1.weight"], state["conv1.weight"].numpy())


def test_bad_sources_are_explained(tmp_path):
    m = models.get("lenet5")
    with pytest.raises(FileNotFoundError, match="load_torch_state_dict: no such file"):
        load_torch_state_dict(m, tmp_path / "none.pth")
    (tmp_path / "w.txt").write_text("x")
    with pytest.raises(ValueError, match=r"unknown file type '.txt'.*Expected .safetensors"):
        load_torch_state_dict(m, tmp_path / "w.txt")
    (tmp_path / "bad.pth").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="cannot read .*bad.pth' as a PyTorch state dict with weights_only=True"):
        load_torch_state_dict(m, tmp_path / "bad.pth")
    with pytest.raises(TypeError, match="expected a state dict .* Received an object of type list"):
        load_torch_state_dict(m, [1, 2])
    with pytest.raises(TypeError, match="`model` must be a cnnlab.nn.Module"):
        load_torch_state_dict("lenet5", {})
    assert list(read_state_dict(m)) == list(m.state_dict())
