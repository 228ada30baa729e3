"""cnnlab.save / cnnlab.load: data only (npz or safetensors), atomic; no file is ever unpickled."""

import os
import pickle

import numpy as np
import pytest
import torch

import cnnlab
from cnnlab import nn


def _small_net():
    cnnlab.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 4 * 4, 3))


@pytest.mark.parametrize("name", ["model.npz", "model.safetensors", "model.pt"])
def test_state_dict_round_trip_restores_the_model(tmp_path, name):
    net = _small_net()
    net(cnnlab.randn(2, 1, 6, 6))  # moves the batch-norm running statistics off their defaults
    path = tmp_path / name
    cnnlab.save(net.state_dict(), path)
    state = cnnlab.load(path)
    assert list(state) == list(net.state_dict())
    other = _small_net()
    for p in other.parameters():
        p.data[...] = 0
    other.load_state_dict(state)
    for (k, a), (_, b) in zip(net.state_dict().items(), other.state_dict().items()):
        assert a.dtype == b.dtype, k
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=k)


@pytest.mark.parametrize("name", ["ckpt.npz", "ckpt.safetensors"])
def test_nested_checkpoint_round_trip(tmp_path, name):
    w = cnnlab.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    ckpt = {"model": {"w": w, "steps": cnnlab.tensor(np.array(3, dtype=np.int64))},
            "optimizer": {"state": {0: {"momentum_buffer": np.ones((2, 3), np.float32)}},
                          "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "nesterov": False}]},
            "epoch": np.int64(7), "name": "resnet18", "best": None, "history": [1.5, float("inf")],
            "mask": np.array([True, False])}
    cnnlab.save(ckpt, tmp_path / name)
    back = cnnlab.load(tmp_path / name)
    assert isinstance(back["model"]["w"], cnnlab.Tensor) and back["model"]["w"].requires_grad
    np.testing.assert_array_equal(back["model"]["w"].numpy(), w.detach().numpy())
    assert back["model"]["steps"].dtype == np.int64 and int(back["model"]["steps"]) == 3
    buf = back["optimizer"]["state"][0]["momentum_buffer"]
    assert isinstance(buf, np.ndarray) and buf.dtype == np.float32 and buf.shape == (2, 3)
    groups = [{"lr": 0.1, "betas": (0.9, 0.999), "nesterov": False}]
    assert back["optimizer"]["param_groups"] == groups
    assert (back["epoch"], back["name"], back["best"]) == (7, "resnet18", None)
    assert back["history"] == [1.5, float("inf")]
    np.testing.assert_array_equal(back["mask"], [True, False])


def test_safetensors_file_is_read_by_the_safetensors_package_and_back(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    net = _small_net()
    cnnlab.save(net.state_dict(), tmp_path / "ours.safetensors")
    theirs = safetensors_numpy.load_file(str(tmp_path / "ours.safetensors"))
    shapes = sorted(t.shape for t in net.state_dict().values())
    assert sorted(a.shape for a in theirs.values()) == shapes
    # a file written by PyTorch's safetensors loads as a dict of tensors
    from safetensors.torch import save_file
    ref = {"weight": torch.randn(3, 2, dtype=torch.float64),
           "count": torch.tensor([1, 2], dtype=torch.int64)}
    save_file(ref, str(tmp_path / "torch.safetensors"))
    back = cnnlab.load(tmp_path / "torch.safetensors")
    for k, v in ref.items():
        assert back[k].dtype == np.dtype(str(v.dtype).replace("torch.", ""))
        np.testing.assert_array_equal(back[k].numpy(), v.numpy())


def test_plain_npz_of_arrays_loads_as_tensors(tmp_path):
    np.savez(tmp_path / "plain.npz", w=np.ones((2, 2)), b=np.zeros(2, np.float32))
    back = cnnlab.load(tmp_path / "plain.npz")
    assert set(back) == {"w", "b"} and isinstance(back["w"], cnnlab.Tensor)
    assert back["b"].dtype == np.float32


def test_a_torch_pickle_is_refused(tmp_path):
    torch.save({"w": torch.zeros(2)}, tmp_path / "model.pt")
    with pytest.raises(ValueError, match=r"load: '.*model.pt' is a PyTorch zip of pickles "
                                         r"\(torch.save\); cnnlab "
                                         r"never unpickles a file"):
        cnnlab.load(tmp_path / "model.pt")
    with open(tmp_path / "legacy.pkl", "wb") as f:
        pickle.dump({"w": [1.0]}, f)
    with pytest.raises(ValueError, match=r"load: '.*legacy.pkl' is a pickle .*cnnlab never "
                                         r"unpickles a file"):
        cnnlab.load(tmp_path / "legacy.pkl")


def test_an_npz_with_object_arrays_is_refused(tmp_path):
    np.savez(tmp_path / "objects.npz", w=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match=r"load: '.*objects.npz' holds object arrays, which need "
                                         r"unpickling; "
                                         r"cnnlab never unpickles a file"):
        cnnlab.load(tmp_path / "objects.npz")


def test_other_files_and_arguments_are_refused_with_a_message(tmp_path):
    (tmp_path / "junk.bin").write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match=r"load: '.*junk.bin' is neither an .npz archive nor a "
                                         r"safetensors file"):
        cnnlab.load(tmp_path / "junk.bin")
    with pytest.raises(FileNotFoundError, match=r"load: no such file: '.*missing.npz'"):
        cnnlab.load(tmp_path / "missing.npz")
    with pytest.raises(TypeError, match=r"save: `f` must be a file path \(str or os.PathLike\). "
                                        r"Received an object "
                                        r"of type BytesIO"):
        import io
        cnnlab.save({}, io.BytesIO())
    with pytest.raises(TypeError, match=r"save: cannot store a value of type object at '/a/0'; "
                                        r"expected tensors"):
        cnnlab.save({"a": [object()]}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match=r"save: dict keys must be str or int. Received key 1.5 at "
                                        r"'/'"):
        cnnlab.save({1.5: 1}, tmp_path / "x.npz")
    with pytest.raises(FileNotFoundError, match=r"save: the directory of '.*nowhere/x.npz' does "
                                                r"not exist"):
        cnnlab.save({}, tmp_path / "nowhere" / "x.npz")
    assert not (tmp_path / "x.npz").exists()


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "state.npz"
    cnnlab.save({"w": cnnlab.ones(2)}, path)

    def crash(out, **arrays):
        out.write(b"PK\x03\x04 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        cnnlab.save({"w": cnnlab.zeros(2)}, path)
    monkeypatch.undo()
    np.testing.assert_array_equal(cnnlab.load(path)["w"].numpy(), [1.0, 1.0])
    assert os.listdir(tmp_path) == ["state.npz"]


def test_map_location(tmp_path):
    cnnlab.save({"w": cnnlab.ones(2)}, tmp_path / "s.npz")
    assert cnnlab.load(tmp_path / "s.npz", map_location="cpu")["w"].device == "cpu"
    if cnnlab.backend.cuda_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match=r"load: device 'cuda' is not available"):
        cnnlab.load(tmp_path / "s.npz", map_location="cuda")


def test_load_accepts_torchs_map_location_forms_and_weights_only(tmp_path):
    cnnlab.save({"w": cnnlab.ones(2)}, tmp_path / "s.npz")
    for where in ({"cuda:0": "cpu"}, lambda storage, location: storage, cnnlab.device("cpu")):
        state = cnnlab.load(tmp_path / "s.npz", map_location=where, weights_only=True)
        assert state["w"].device == "cpu" and state["w"].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("name", ["checkpoint.pth.tar", "checkpoint.safetensors"])
def test_a_training_checkpoint_as_pytorch_programs_write_it(tmp_path, name):
    """The ImageNet example's checkpoint: epoch, arch, state dicts, best accuracy as a 0-d tensor."""
    net = _small_net()
    opt = cnnlab.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(cnnlab.randn(2, 1, 6, 6)).sum().backward()
    opt.step()
    state = {"epoch": 3, "arch": "small", "state_dict": net.state_dict(),
             "best_acc1": cnnlab.tensor(71.5), "optimizer": opt.state_dict(),
             "history": [{"loss": 0.5, "top5": (90.0, 91.0)}, None]}
    cnnlab.save(state, tmp_path / name)
    back = cnnlab.load(tmp_path / name, map_location="cpu", weights_only=True)
    assert back["epoch"] == 3 and back["arch"] == "small" and back["history"] == state["history"]
    assert f"{back['best_acc1']:.1f}" == "71.5"
    other = _small_net()
    other.load_state_dict(back["state_dict"])
    opt2 = cnnlab.optim.SGD(other.parameters(), lr=0.1, momentum=0.9)
    opt2.load_state_dict(back["optimizer"])
    for (k, a), (_, b) in zip(net.state_dict().items(), other.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


def _safetensors_bytes(header):
    import json
    import struct
    blob = json.dumps(header).encode()
    return struct.pack("<Q", len(blob)) + blob


def test_damaged_or_unsupported_safetensors_are_refused(tmp_path):
    from safetensors.torch import save_file
    save_file({"w": torch.zeros(2, dtype=torch.bfloat16)}, str(tmp_path / "bf16.safetensors"))
    with pytest.raises(ValueError, match=r"load: '.*bf16.safetensors': tensor 'w' has dtype "
                                         r"'BF16', which NumPy "
                                         r"cannot hold; expected one of F64, F32"):
        cnnlab.load(tmp_path / "bf16.safetensors")
    (tmp_path / "out.safetensors").write_bytes(
        _safetensors_bytes({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})
        + b"\0" * 8)
    with pytest.raises(ValueError, match=r"load: '.*out.safetensors': tensor 'w' points outside "
                                         r"the file's data"):
        cnnlab.load(tmp_path / "out.safetensors")
    damaged = _safetensors_bytes({"__metadata__": {"cnnlab": "{oops"}})
    (tmp_path / "meta.safetensors").write_bytes(damaged)
    with pytest.raises(ValueError, match=r"load: '.*meta.safetensors' has a damaged or unknown "
                                         r"cnnlab header; "
                                         r"expected format 'cnnlab-save/1'"):
        cnnlab.load(tmp_path / "meta.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"\x05\0\0\0\0\0\0\0{oops")
    with pytest.raises(ValueError, match=r"load: '.*bad.safetensors' has a damaged safetensors "
                                         r"header"):
        cnnlab.load(tmp_path / "bad.safetensors")
    with pytest.raises(TypeError, match=r"save: safetensors cannot hold dtype complex128 \(array "
                                        r"0\); save as .npz"):
        cnnlab.save({"z": np.zeros(2, complex)}, tmp_path / "z.safetensors")
