"""The machine's limits, met with one line: long file names, special files, memory plans."""

import os
import stat
import threading

import numpy as np
import pytest

import cnnlab
from cnnlab import resources
from cnnlab.runs.checkpoint import load_checkpoint, save_checkpoint


# ---------------------------------------------------------------------- temporary names
def test_a_temporary_name_stays_within_the_name_limit(tmp_path):
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    for length in (1, 200, limit - 4, limit):
        target = tmp_path / ("n" * length)
        tmp = resources.temp_path(target)
        name = os.path.basename(tmp)
        assert len(name.encode()) <= limit and name.startswith(resources.TMP_PREFIX)
        assert os.path.dirname(tmp) == str(tmp_path)
    # a multi-byte name is cut on a character boundary, within the limit in bytes
    tmp = os.path.basename(resources.temp_path(tmp_path / ("é" * 127)))
    assert len(tmp.encode()) <= limit
    tmp.encode("utf-8")


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_save_to_a_250_character_name_works(tmp_path, suffix):
    path = tmp_path / ("w" * (250 - len(suffix)) + suffix)
    assert len(path.name) == 250
    cnnlab.save({"w": cnnlab.tensor(np.arange(6.0).reshape(2, 3))}, path)
    assert np.array_equal(cnnlab.load(path)["w"].numpy(), np.arange(6.0).reshape(2, 3))
    assert os.listdir(tmp_path) == [path.name]  # no temporary file left


def test_a_checkpoint_and_a_report_to_255_character_names(tmp_path):
    from cnnlab.runs.checkpoint import atomic_write

    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    path = tmp_path / ("c" * (limit - 4) + ".npz")
    save_checkpoint(path, {"a": np.ones(3)})
    assert load_checkpoint(path)["a"].tolist() == [1.0, 1.0, 1.0]
    page = tmp_path / ("r" * (limit - 5) + ".html")
    atomic_write(page, lambda f: f.write(b"<html></html>"))
    assert page.read_bytes() == b"<html></html>"
    assert sorted(os.listdir(tmp_path)) == sorted([path.name, page.name])


def test_onnx_export_to_a_long_name(tmp_path):
    pytest.importorskip("onnx")
    from cnnlab import nn
    from cnnlab.interop.onnx_export import export_onnx

    path = tmp_path / ("o" * 245 + ".onnx")
    export_onnx(nn.Sequential(nn.Conv2d(1, 2, 3)), path, (1, 8, 8))
    assert os.listdir(tmp_path) == [path.name] and path.stat().st_size > 0


def test_a_failed_write_names_the_file_and_leaves_the_old_one(tmp_path):
    path = tmp_path / "last.npz"
    path.write_bytes(b"old")

    def full(f):
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError) as info:
        resources.atomic_write(path, full)
    assert info.value.errno == 28 and info.value.filename == str(path)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["last.npz"]


# ---------------------------------------------------------------------- special files
@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe.png"
    os.mkfifo(path)
    return path


def _returns_within(fn, seconds=60):
    """Run ``fn`` on a thread; fail (instead of hanging the suite) if it blocks."""
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        # unblock the reader before failing (a writer opening the FIFO lets its open return)
        pytest.fail("the call blocked on a special file")
    return out


def test_special_file_kinds(tmp_path, fifo):
    assert resources.special_file_kind(fifo) == "a FIFO (named pipe)"
    assert resources.special_file_kind("/dev/null") == "a character device"
    assert resources.special_file_kind(tmp_path) == "a directory"
    (tmp_path / "f").write_text("x")
    assert resources.special_file_kind(tmp_path / "f") is None
    assert resources.special_file_kind(tmp_path / "missing") is None
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.fixture(scope="module")
def checkpoint(digits_checkpoint):
    return digits_checkpoint


def test_predict_on_a_fifo_is_refused_by_name(checkpoint, fifo, capsys):
    from cnnlab.cli import main

    out = _returns_within(lambda: main(["predict", str(checkpoint), str(fifo)]))
    assert out.get("value") == 2, out
    err = capsys.readouterr().err.strip()
    assert err == (f"cnnlab predict: error: predict: {str(fifo)!r} is a FIFO (named pipe), not a "
                   "regular file")
    out = _returns_within(lambda: main(["predict", str(fifo), str(fifo)]))
    assert out.get("value") == 2, out
    assert "is a FIFO (named pipe), not a regular file" in capsys.readouterr().err


def test_reading_special_files_never_blocks(tmp_path, fifo):
    from cnnlab.data.image_folder import ImageFolder, read_image_array
    from cnnlab.inspect.images import read_image

    for call in (lambda: read_image(fifo, fn="filter"),
                 lambda: read_image_array("/dev/zero", 1, fn="predict"),
                 lambda: load_checkpoint(fifo),
                 lambda: cnnlab.load(fifo)):
        error = _returns_within(call).get("error")
        assert isinstance(error, ValueError) and "not a regular file" in str(error), error
    (tmp_path / "cls").mkdir()
    os.mkfifo(tmp_path / "cls" / "a.png")
    error = _returns_within(lambda: ImageFolder(tmp_path)).get("error")
    assert isinstance(error, ValueError)
    assert str(error) == (f"ImageFolder: {str(tmp_path / 'cls' / 'a.png')!r} is a FIFO (named "
                          "pipe), not a regular file")


# ---------------------------------------------------------------------- memory
def test_format_bytes():
    assert resources.format_bytes(0) == "0 bytes"
    assert resources.format_bytes(1536) == "1.5 KiB"
    assert resources.format_bytes(3 * 2 ** 30) == "3.0 GiB"
    assert resources.format_bytes(745 * 2 ** 40) == "745.0 TiB"
    assert resources.format_bytes(2 ** 60) == "1,024.0 PiB"


def test_available_memory_is_positive_and_a_plan_beyond_it_is_refused():
    free = resources.available_memory()
    assert free is None or free > 0
    resources.check_fits_in_memory("f", 1024, "a small plan", "change nothing")
    with pytest.raises(ValueError, match=r"^f: a huge plan needs 1.0 PiB, but .* of memory is "
                                         r"available; make it smaller$"):
        resources.check_fits_in_memory("f", 2 ** 50, "a huge plan", "make it smaller")


# ---------------------------------------------------------------------- special files as outputs
def _device(tmp_path):
    """A character device node like /dev/null, inside the test's folder (needs root)."""
    path = tmp_path / "null"
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, AttributeError, OSError):
        pytest.skip("cannot make a device node here (needs root)")
    return path


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_an_atomic_write_never_replaces_a_special_file(tmp_path, kind):
    path = tmp_path / "pipe" if kind == "fifo" else _device(tmp_path)
    if kind == "fifo":
        os.mkfifo(path)
    with pytest.raises(ValueError, match=r"^cannot write to '.*': it is a (FIFO \(named pipe\)|"
                                         r"character device), not a regular file"):
        cnnlab.save({"w": cnnlab.zeros(2)}, path)
    with pytest.raises(ValueError, match="not a regular file"):
        save_checkpoint(path, {"a": np.ones(2)})
    mode = os.stat(path).st_mode
    assert stat.S_ISFIFO(mode) if kind == "fifo" else stat.S_ISCHR(mode)
    assert sorted(os.listdir(tmp_path)) == [path.name]


def test_an_output_file_that_is_a_device_is_one_line(checkpoint, tmp_path, capsys):
    from cnnlab.cli import main

    null = _device(tmp_path)
    for args in (["export", str(checkpoint), "--format", "safetensors", "--out", str(null)],
                 ["report", str(checkpoint.parent), "--out", str(null)]):
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert err.endswith(f"cannot write to {str(null)!r}: it is a character device, not a "
                            "regular file") and len(err.splitlines()) == 1, err
        assert stat.S_ISCHR(os.stat(null).st_mode)
