"""A missing optional package is named in one line with the pip command that installs it."""

import numpy as np
import pytest

from cnnlab import backend


def test_cuda_without_cupy_names_the_pip_command(monkeypatch):
    monkeypatch.setattr(backend, "_cupy", None)
    with pytest.raises(ValueError, match=r"to_device: `device` 'cuda' needs CuPy, which is not installed "
                                         r"\(pip install 'cnnlab\[cuda\]'\)\. Expected 'cpu'\.$"):
        backend.to_device(np.zeros(2), "cuda")


def test_safetensors_missing_is_one_line_on_the_command_line(monkeypatch, tmp_path, capsys):
    import builtins

    from cnnlab.cli import main

    real_import = builtins.__import__

    def no_safetensors(name, *args, **kwargs):
        if name.startswith("safetensors"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"")
    monkeypatch.setattr(builtins, "__import__", no_safetensors)
    code = main(["finetune", str(weights), "--model", "lenet5", "--dataset", "fashion-mnist-mini"])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err == ("cnnlab finetune: error: this needs the safetensors package, which is not installed: "
                   "pip install safetensors")
