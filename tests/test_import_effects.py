"""Importing cnnlab changes nothing process-wide: no threads, no at-fork handlers, no malloc tuning,
no signal handlers, no environment variables (DESIGN.md, decision 13). Run in a fresh interpreter."""

import json
import os
import subprocess
import sys

import pytest

from cnnlab import backend

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


BLAS_PROBE = r"""
import json, sys
import numpy as np
import threadpoolctl
import cnnlab
from cnnlab import backend, kernels

def blas():
    return {i["filepath"]: i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"}

before = blas()                                  # NumPy's (libraries loaded later are not ours to judge)
backend.set_kernels(sys.argv[1])
x = cnnlab.tensor(np.ones((2, 3), np.float32))
cnnlab.functional.relu(x)                        # the first kernel call
mine = np.ones((64, 64)) @ np.ones((64, 64))    # a user's own product afterwards
after = blas()
print(json.dumps(dict(before=list(before.values()), after=[after[path] for path in before],
                      kernels=kernels.active())))
"""


def _blas_threads_around_first_kernel(kernels="compiled", **env_changes):
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "CNNLAB_BLAS_THREADS", "CNNLAB_KERNELS")}
    env.update(env_changes)
    out = subprocess.run([sys.executable, "-c", BLAS_PROBE, kernels], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_first_compiled_kernel_puts_numpys_blas_on_one_thread():
    """Not the import: the first kernel call. The kernels thread their own work and call the GEMM from
    each of their threads, so NumPy's BLAS pool would only spin beside them (README, "Threads")."""
    report = _blas_threads_around_first_kernel(OPENBLAS_NUM_THREADS="2")   # the user's setting wins
    assert report["after"] == report["before"]
    report = _blas_threads_around_first_kernel()
    if report["kernels"] != "compiled" or not report["before"]:
        pytest.skip("no compiled kernels or no BLAS that threadpoolctl sees")
    assert report["after"] and all(n == 1 for n in report["after"]), report


@pytest.mark.parametrize("kernels, env", [("reference", {}), ("compiled", {"CNNLAB_BLAS_THREADS": "keep"})])
def test_the_blas_keeps_its_threads_with_the_reference_kernels_or_when_asked(kernels, env):
    report = _blas_threads_around_first_kernel(kernels, **env)
    assert report["after"] == report["before"]


def test_a_blas_thread_count_can_be_chosen(monkeypatch):
    monkeypatch.setenv("CNNLAB_BLAS_THREADS", "3")
    assert backend.blas_threads() == 3
    monkeypatch.setenv("CNNLAB_BLAS_THREADS", "keep")
    assert backend.blas_threads() is None
    monkeypatch.delenv("CNNLAB_BLAS_THREADS")
    monkeypatch.setenv("MKL_NUM_THREADS", "4")
    assert backend.blas_threads() is None

