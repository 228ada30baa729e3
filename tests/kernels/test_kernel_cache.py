"""The compiled kernels' disk cache heals: a corrupt entry is rebuilt, and with nowhere writable the
kernels compile in memory for the process, with one line saying why. Each case runs a copy of the
package in a fresh interpreter, so that the cache it reads and writes is its own."""

import glob
import os
import pickle
import shutil
import stat
import subprocess
import sys

import pytest

import cnnlab

PROBE = r"""
import numpy as np
from cnnlab.kernels.compiled import elementwise
small = np.linspace(-1, 1, 101, dtype=np.float32)
large = np.linspace(-1, 1, 100_001, dtype=np.float32)
assert (elementwise.relu_forward(small) == np.maximum(small, 0)).all()
assert (elementwise.relu_forward(large) == np.maximum(large, 0)).all()
print("ok")
"""


def _copy_package(tmp_path):
    root = tmp_path / "site"
    shutil.copytree(os.path.dirname(cnnlab.__file__), root / "cnnlab",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    return root


def _run(root, home):
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "CNNLAB_KERNELS")}
    env.update(PYTHONPATH=str(root), HOME=str(home))
    return subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=600)


def _cache_files(root):
    return sorted(glob.glob(str(root / "cnnlab" / "kernels" / "compiled" / "__pycache__" / "elementwise*.nb[ic]")))


def test_a_corrupt_cache_is_rebuilt(tmp_path):
    root, home = _copy_package(tmp_path), tmp_path / "home"
    home.mkdir()
    first = _run(root, home)
    assert first.returncode == 0, first.stderr
    files = _cache_files(root)
    assert any(f.endswith(".nbi") for f in files) and any(f.endswith(".nbc") for f in files)
    for path in files:                      # garbage where Numba expects its pickles
        with open(path, "wb") as f:
            f.write(b"\x80\x04garbage, not a pickle" * 3)
    second = _run(root, home)
    assert second.returncode == 0 and second.stdout.strip() == "ok", second.stderr
    assert "Traceback" not in second.stderr and "Error" not in second.stderr
    for path in _cache_files(root):        # written afresh: readable again
        if path.endswith(".nbi"):
            with open(path, "rb") as f:
                pickle.load(f)              # the index's version header
    third = _run(root, home)
    assert third.returncode == 0 and third.stderr == "", third.stderr


def _make_unwritable(directory, name):
    """``directory/name`` becomes unusable as a cache directory: read-only for a user, and (as the
    superuser ignores permissions) a plain file where a directory would go."""
    if os.geteuid() == 0:
        (directory / name).write_text("not a directory")
    else:
        directory.chmod(stat.S_IRUSR | stat.S_IXUSR)


def test_with_nowhere_writable_kernels_compile_in_memory_and_one_line_says_why(tmp_path):
    root, home = _copy_package(tmp_path), tmp_path / "home"
    home.mkdir()
    compiled_dir = root / "cnnlab" / "kernels" / "compiled"
    _make_unwritable(compiled_dir, "__pycache__")
    _make_unwritable(home, ".cache")
    try:
        out = _run(root, home)
    finally:
        compiled_dir.chmod(stat.S_IRWXU)
        home.chmod(stat.S_IRWXU)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("cnnlab: note: compiled kernels are not cached on disk")
    assert "NUMBA_CACHE_DIR" in lines[0]
    assert _cache_files(root) == []
