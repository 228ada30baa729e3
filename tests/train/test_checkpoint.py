import os
import zipfile

import numpy as np
import pytest

from cnnlab.runs.checkpoint import load_checkpoint, save_checkpoint


def test_round_trip_keeps_arrays_numbers_and_int_keys(tmp_path):
    state = {"model": {"fc.weight": np.arange(6, dtype=np.float32).reshape(2, 3)},
             "optimizer": {"state": {0: {"momentum_buffer": np.ones(3)}}, "param_groups": [{"lr": 0.1, "params": [0]}]},
             "epoch": 3, "name": "fashion_cnn", "nothing": None, "history": {"loss": [1.5, 0.5]},
             "best": float("inf")}
    path = save_checkpoint(tmp_path / "c.npz", state)
    back = load_checkpoint(path)
    np.testing.assert_array_equal(back["model"]["fc.weight"], state["model"]["fc.weight"])
    assert back["model"]["fc.weight"].dtype == np.float32
    assert list(back["optimizer"]["state"]) == [0]  # integer keys survive
    np.testing.assert_array_equal(back["optimizer"]["state"][0]["momentum_buffer"], np.ones(3))
    assert back["epoch"] == 3 and back["name"] == "fashion_cnn" and back["nothing"] is None
    assert back["history"] == {"loss": [1.5, 0.5]} and back["best"] == float("inf")


def test_file_is_npz_without_pickled_objects(tmp_path):
    path = save_checkpoint(tmp_path / "c.npz", {"w": np.zeros(2), "meta": {"a": 1}})
    with np.load(path, allow_pickle=False) as f:  # would raise if anything needed unpickling
        assert set(f.files) == {"__meta__.json", "/w"}


def test_unstorable_values_are_rejected(tmp_path):
    with pytest.raises(TypeError, match="cannot store a value of type object"):
        save_checkpoint(tmp_path / "c.npz", {"x": object()})
    assert not os.listdir(tmp_path)  # nothing half-written


def test_failed_write_leaves_the_old_checkpoint_intact(tmp_path):
    path = tmp_path / "c.npz"
    save_checkpoint(path, {"epoch": 1})
    with pytest.raises(TypeError):
        save_checkpoint(path, {"epoch": 2, "bad": object()})
    assert load_checkpoint(path)["epoch"] == 1
    assert os.listdir(tmp_path) == ["c.npz"]


def test_corrupt_and_foreign_files_get_clear_errors(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="is not a readable cnnlab checkpoint"):
        load_checkpoint(bad)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.zeros(2))
    with pytest.raises(ValueError, match="not a cnnlab checkpoint"):
        load_checkpoint(foreign)
    truncated = tmp_path / "trunc.npz"
    data = open(save_checkpoint(tmp_path / "ok.npz", {"w": np.zeros(1000)}), "rb").read()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="is not a readable cnnlab checkpoint"):
        load_checkpoint(truncated)
    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        load_checkpoint(tmp_path / "missing.npz")
    assert zipfile.is_zipfile(tmp_path / "ok.npz")
