"""``cnnlab export`` when an optional package is missing: one line naming the pip command, exit status 1
(the command line's status for a missing optional package)."""

import sys

import pytest

from cnnlab import models
from cnnlab.cli import main
from cnnlab.runs.checkpoint import save_checkpoint


@pytest.fixture
def checkpoint(tmp_path):
    net = models.get("lenet5", num_classes=10, in_channels=1)
    meta = {"model": "lenet5", "config": {"num_classes": 10, "in_channels": 1}, "input_size": [1, 28, 28],
            "classes": [str(i) for i in range(10)], "normalize": {"mean": [0.5], "std": [0.25]}}
    return save_checkpoint(tmp_path / "last.npz", {"meta": meta, "model": dict(net.state_dict())})


def test_export_safetensors_without_the_package_names_the_pip_command(checkpoint, monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "safetensors", None)          # `import safetensors` now fails
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    out = tmp_path / "model.safetensors"
    assert main(["export", str(checkpoint), "--format", "safetensors", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err == ("cnnlab export: error: save_torch_state_dict: writing .safetensors needs the safetensors "
                   "package, which is not installed: pip install safetensors\n")
    assert not out.exists()


def test_export_safetensors_writes_the_file_when_the_package_is_there(checkpoint, capsys, tmp_path):
    pytest.importorskip("safetensors")
    out = tmp_path / "model.safetensors"
    assert main(["export", str(checkpoint), "--format", "safetensors", "--out", str(out)]) == 0
    assert out.exists() and capsys.readouterr().out.startswith(f"wrote {out} (lenet5, input 1x28x28)")
