"""Importing cnnlab changes nothing process-wide: no threads, no at-fork handlers, no malloc tuning,
no signal handlers, no environment variables (DESIGN.md, decision 13). Run in a fresh interpreter."""

import json
import os
import subprocess
import sys

import pytest

PROBE = r"""
import ctypes, json, os, signal, sys
at_fork, libraries = [], []
real_at_fork = os.register_at_fork

def spy_at_fork(**handlers):
    at_fork.extend(getattr(h, "__module__", None) or repr(h) for h in handlers.values())
    real_at_fork(**handlers)

os.register_at_fork = spy_at_fork
real_cdll = ctypes.CDLL
class SpyCDLL(real_cdll):
    def __init__(self, name, *args, **kwargs):
        libraries.append(str(name))
        super().__init__(name, *args, **kwargs)
ctypes.CDLL = SpyCDLL

def threads():
    return len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else None

import numpy, numba               # the dependencies' own import effects (OpenBLAS's threads) are not ours
signals = (signal.SIGINT, signal.SIGTERM)
before = dict(threads=threads(), env=dict(os.environ), handlers=[signal.getsignal(s) for s in signals])
import cnnlab, cnnlab.functional, cnnlab.nn, cnnlab.kernels
cnnlab.kernels.active()          # imports the compiled kernels (Numba) when available
after = dict(threads=threads(), env=dict(os.environ), handlers=[signal.getsignal(s) for s in signals])
print(json.dumps(dict(
    threads=[before["threads"], after["threads"]],
    env_changed=sorted(k for k in set(before["env"]) | set(after["env"])
                       if before["env"].get(k) != after["env"].get(k)),
    handlers_same=before["handlers"] == after["handlers"],
    at_fork=[m for m in at_fork if "cnnlab" in m],
    libc=[name for name in libraries if "libc.so" in name or "openblas" in name.lower()],
    kernels=cnnlab.kernels.active())))
"""


def test_importing_cnnlab_changes_nothing_process_wide():
    env = dict(os.environ)
    env.pop("CNNLAB_KERNELS", None)
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["threads"][0] == report["threads"][1], f"import started threads: {report['threads']}"
    assert report["env_changed"] == [], f"import changed the environment: {report['env_changed']}"
    assert report["handlers_same"], "import installed signal handlers"
    assert report["at_fork"] == [], f"import registered at-fork handlers: {report['at_fork']}"
    assert report["libc"] == [], f"import loaded libc/BLAS through ctypes (malloc or thread tuning): {report['libc']}"
    assert report["kernels"] in ("compiled", "reference")


def test_tune_process_is_explicit_and_can_be_declined(monkeypatch):
    """``backend.tune_process`` is what the CLI calls; it steps aside when the user set malloc variables."""
    from cnnlab import backend

    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")   # the user's BLAS setting is left alone
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
    assert backend.tune_process() == {"blas_one_thread": False, "malloc": False}
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    monkeypatch.setenv("CNNLAB_MALLOC", "system")
    assert backend.tune_process() == {"blas_one_thread": False, "malloc": False}


@pytest.mark.parametrize("kernels, one_thread", [("compiled", True), ("reference", False)])
def test_tune_process_puts_blas_on_one_thread_only_for_the_compiled_kernels(kernels, one_thread):
    """In a fresh process (the setting is process-wide): NumPy's OpenBLAS drops to one thread when the
    compiled kernels thread the work themselves, and keeps its threads for the reference kernels."""
    code = ("import numpy, cnnlab; from cnnlab import backend; backend.set_kernels(%r); "
            "print(backend.tune_process()['blas_one_thread'])" % kernels)
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == str(one_thread)
