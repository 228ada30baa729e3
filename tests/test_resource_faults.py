"""Running out of disk or memory is one line naming what ran out and what to change, exit status
1, with the last checkpoint intact; a training that cannot fit is refused before it starts."""

import os
import resource
import shutil
import subprocess
import sys
from types import SimpleNamespace

import pytest

from cnnlab.cli import EXIT_RESOURCES, main, resource_message
from cnnlab.runs.checkpoint import load_checkpoint

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

DIGITS = ["--dataset", "digits", "--no-progress", "--schedule", "none"]

# Runs the CLI in a child whose address space is limited to what it uses after importing
# cnnlab plus argv[1] GiB (RLIMIT_AS, i.e. `ulimit -v`), or whose files may not grow beyond
# argv[1] bytes (RLIMIT_FSIZE, `ulimit -f`; SIGXFSZ is left at its default, which kills).
CHILD = """
import os, resource, sys
import cnnlab.cli
kind, amount = sys.argv[1], float(sys.argv[2])
if kind == "as":
    with open("/proc/self/statm") as f:
        used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (used + int(amount * 2 ** 30), resource.RLIM_INFINITY))
else:
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(amount), resource.RLIM_INFINITY))
sys.exit(cnnlab.cli.main(sys.argv[3:]))
"""


@pytest.fixture
def digits_available():
    pytest.importorskip("sklearn")


def _child(kind, amount, args):
    return subprocess.run([sys.executable, "-c", CHILD, kind, str(amount), *args],
                          capture_output=True, text=True, timeout=600)


def _one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _intact(folder):
    """Every checkpoint left in ``folder`` loads; no temporary file and no lock is left."""
    names = os.listdir(folder)
    assert not [n for n in names if n.startswith(".tmp-") or n == ".lock"], names
    return {n: load_checkpoint(os.path.join(folder, n))["epoch"] for n in names
            if n.endswith(".npz")}


# ---------------------------------------------------------------------- disk full
@pytest.fixture
def small_tmpfs(tmp_path):
    """A 300 KB tmpfs (needs root); a checkpoint of fashion_cnn on digits is 191 KB, so the
    first one fits and the second does not."""
    folder = tmp_path / "tmpfs"
    folder.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_a_full_disk_is_one_line_and_the_last_checkpoint_is_intact(digits_available, small_tmpfs,
                                                                   capsys):
    out = small_tmpfs / "run"
    code = main(["train", *DIGITS, "--epochs", "3", "--out", str(out)])
    line = _one_line(capsys.readouterr().err)
    assert code == EXIT_RESOURCES == 1
    assert line.startswith(f"cnnlab train: error: no space left on the device writing "
                           f"'{out}{os.sep}"), line
    assert line.endswith(": free some space there or choose another --out; the last checkpoint "
                         "written is intact")
    saved = _intact(out)
    assert saved and all(epoch >= 1 for epoch in saved.values())


def test_a_file_size_limit_is_one_line_and_the_checkpoint_before_is_intact(digits_available,
                                                                           tmp_path):
    out = tmp_path / "run"
    assert main(["train", *DIGITS, "--epochs", "1", "--out", str(out)]) == 0
    size = (out / "last.npz").stat().st_size
    before = (out / "last.npz").read_bytes()
    done = _child("fsize", size // 2, ["train", *DIGITS, "--epochs", "2", "--resume",
                                       "--out", str(out)])
    line = _one_line(done.stderr)
    assert done.returncode == 1, done.stderr  # not killed by SIGXFSZ: the CLI ignores it
    assert line.startswith(f"cnnlab train: error: file too large writing '{out}{os.sep}")
    assert "(ulimit -f)" in line and "the last checkpoint written is intact" in line
    assert (out / "last.npz").read_bytes() == before
    assert _intact(out)["last.npz"] == 1


@pytest.mark.parametrize("errno_, start", [(28, "no space left on the device writing 'x.npz'"),
                                           (122, "disk quota exceeded writing 'x.npz'"),
                                           (27, "file too large writing 'x.npz'"),
                                           (5, "input/output error writing 'x.npz'")])
def test_resource_messages(errno_, start):
    args = SimpleNamespace(command="export", out="x.npz")
    line = resource_message(args, OSError(errno_, os.strerror(errno_), "x.npz"))
    assert line.startswith(start) and "\n" not in line
    if errno_ != 5:
        assert line.endswith("choose another --out; files already in place are intact")


def test_out_of_memory_messages_name_the_settings():
    args = SimpleNamespace(command="train", batch_size=64, resize=None)
    line = resource_message(args, MemoryError("Unable to allocate 1.37 GiB for an array"))
    assert line == ("out of memory (unable to allocate 1.37 GiB for an array); lower --batch-size "
                    "(now 64), or free memory for it")
    assert resource_message(SimpleNamespace(command="predict"), MemoryError()) == (
        "out of memory; use smaller inputs, or free memory for it")


# ---------------------------------------------------------------------- out of memory
def test_out_of_memory_in_train_is_one_line_with_a_hint(digits_available, tmp_path):
    # 2 GiB beyond start-up: the batch (92 MB) fits the plan; the first convolution's 1.4 GB
    # output, with the copies around it, does not.
    out = tmp_path / "run"
    done = _child("as", 2, ["train", *DIGITS, "--resize", "600", "--epochs", "1",
                            "--out", str(out)])
    line = _one_line(done.stderr)
    assert done.returncode == 1, done.stderr
    assert line.startswith("cnnlab train: error: out of memory (unable to allocate ")
    assert line.endswith("; lower --batch-size (now 64) or --resize (now 600), or free memory "
                         "for it")
    assert _intact(out) == {}


def test_a_batch_that_cannot_fit_is_refused_up_front_with_the_numbers(digits_available, tmp_path,
                                                                      capsys):
    out = tmp_path / "run"
    assert main(["train", *DIGITS, "--resize", "100000", "--out", str(out)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("cnnlab train: error: train: one batch of 64 images of "
                           "1x100000x100000 float32 needs 2.3 TiB, but ")
    assert line.endswith(" of memory is available; use a smaller --resize (now 100000) or "
                         "--batch-size (now 64)")
    assert not out.exists()


def test_the_plan_follows_an_address_space_limit(digits_available, tmp_path):
    # 1 GiB beyond start-up: a training batch of 16 images of 1x800x800 (41 MB) fits, but the
    # evaluation batch (359 test images: 919 MB) does not fit what is left of the limit.
    done = _child("as", 1, ["train", *DIGITS, "--resize", "800", "--batch-size", "16",
                            "--out", str(tmp_path / "run")])
    line = _one_line(done.stderr)
    assert done.returncode == 2, done.stderr
    assert line.startswith("cnnlab train: error: train: one evaluation batch of 359 images of "
                           "1x800x800 float32 needs 876.5 MiB, but ")
    assert line.endswith(" of memory is available; use a smaller --resize (now 800)")
    assert resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY  # parent untouched
