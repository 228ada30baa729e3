"""The one path of every compiled kernel: serial below the grain size, cnnlab's thread count above it,
and the settings behind both validated where they are read."""

import os
import subprocess
import sys

import numpy as np
import pytest
from numba import prange

from cnnlab import backend
from cnnlab.kernels.compiled import _numba, conv, elementwise, norm, pool
from cnnlab.kernels.compiled._numba import GRAIN, Kernel, kernel

import numba


@kernel(cache=False)
def _thread_ids(out):
    """out[i] = the Numba thread that ran iteration i."""
    for i in prange(out.size):
        out[i] = numba.get_thread_id()


@pytest.fixture
def threads_setting():
    """Restore cnnlab's thread setting after a test that changes it."""
    saved = backend._threads
    yield
    backend._threads = saved


def test_pytorch_grain_size():
    assert GRAIN == 32768


def test_small_work_runs_on_the_calling_thread():
    """Under the grain size no parallel region is opened: the serial variant runs every iteration on
    the calling thread (thread 0), and the parallel variant is never compiled for the call."""
    small = np.full(GRAIN - 1, -1, np.int64)
    _thread_ids(small)
    assert (small == 0).all()
    assert _thread_ids.serial.signatures and not _thread_ids.parallel.signatures


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="one core: nothing runs in parallel")
def test_large_work_is_spread_over_the_threads():
    large = np.full(64 * GRAIN, -1, np.int64)
    _thread_ids(large)
    assert _thread_ids.parallel.signatures
    _assert_spread(large, numba.config.NUMBA_NUM_THREADS)


def _assert_spread(ids, threads):
    """Every iteration ran on one of ``threads`` threads, and (with static scheduling: OpenMP,
    workqueue) on each of them; TBB's work stealing may leave a thread of a busy machine out."""
    assert ids.min() >= 0 and ids.max() < threads
    if numba.threading_layer() != "tbb":
        assert set(np.unique(ids)) == set(range(threads))


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="one core: nothing runs in parallel")
def test_one_thread_runs_everything_serially(threads_setting):
    backend.set_num_threads(1)
    large = np.full(64 * GRAIN, -1, np.int64)
    _thread_ids(large)
    assert (large == 0).all()


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="one core: nothing runs in parallel")
def test_the_thread_setting_is_at_most_the_pool_and_the_callers_setting_comes_back(threads_setting):
    backend.set_num_threads(10_000)
    assert _numba.num_threads() == numba.config.NUMBA_NUM_THREADS == backend.get_num_threads()
    numba.set_num_threads(1)       # the caller's own Numba setting
    try:
        backend.set_num_threads(2)
        large = np.full(64 * GRAIN, -1, np.int64)
        _thread_ids(large)
        _assert_spread(large, 2)
        assert numba.get_num_threads() == 1
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


def test_every_compiled_kernel_takes_the_one_path():
    """No module compiles a kernel of its own with bare ``@njit``: every parallel function of the
    compiled set is a ``Kernel`` (serial below the grain size, cnnlab's thread count above), alone or
    in a table of generated variants."""
    from cnnlab.kernels.compiled.conv import columns, depthwise, depthwise_nhwc, direct, layout, pixels
    from cnnlab.kernels.compiled.conv.machine import blas

    modules = (conv, elementwise, norm, pool, blas, columns, depthwise, depthwise_nhwc, direct, layout, pixels)
    kernels, bare = [], []
    for module in modules:
        for name, value in vars(module).items():
            variants = value.values() if isinstance(value, dict) else ()
            if variants and all(isinstance(v, Kernel) for v in variants):
                kernels.append(name)
            elif isinstance(value, Kernel):
                kernels.append(name)
            elif isinstance(value, numba.core.registry.CPUDispatcher) and value.targetoptions.get("parallel"):
                bare.append(f"{module.__name__}.{name}")
    assert bare == []
    assert {"_relu", "_affine_rows", "_max_forward_nhwc", "_tiled_convolution", "_direct",
            "_direct_wgrad", "_kernels_times_columns"} <= set(kernels)


@pytest.mark.parametrize("value", ["abc", "0", "-1", "", "2.5", "\u0662"])
def test_a_bad_thread_count_is_one_line_naming_the_variable(monkeypatch, threads_setting, value):
    monkeypatch.setenv("CNNLAB_NUM_THREADS", value)
    backend._threads = None
    with pytest.raises(backend.ConfigError) as caught:
        backend.thread_setting()
    message = str(caught.value)
    assert "\n" not in message
    assert f"CNNLAB_NUM_THREADS={value!r}" in message and "positive integer" in message


def test_the_thread_count_is_read_from_the_environment(monkeypatch, threads_setting):
    monkeypatch.setenv("CNNLAB_NUM_THREADS", "1")
    backend._threads = None
    assert backend.thread_setting() == 1 and backend.get_num_threads() == 1


@pytest.mark.parametrize("value", [0, -2, 1.5, "2", True])
def test_set_num_threads_checks_its_argument(value):
    with pytest.raises(ValueError, match=r"set_num_threads: `n` must be a positive int\. Received: n="):
        backend.set_num_threads(value)


@pytest.mark.parametrize("value", ["bogus", "", "REFERENCE", " compiled"])
def test_a_bad_kernel_set_is_one_line_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("CNNLAB_KERNELS", value)
    monkeypatch.setattr(backend, "_kernels", None)
    with pytest.raises(backend.ConfigError) as caught:
        backend.get_kernels()
    assert "\n" not in str(caught.value) and f"CNNLAB_KERNELS={value!r}" in str(caught.value)


@pytest.mark.parametrize("variable, value", [("CNNLAB_KERNELS", "bogus"), ("CNNLAB_KERNELS", ""),
                                             ("CNNLAB_KERNELS", "REFERENCE"), ("CNNLAB_NUM_THREADS", "abc"),
                                             ("CNNLAB_NUM_THREADS", "0"), ("CNNLAB_NUM_THREADS", "-1"),
                                             ("CNNLAB_BLAS_THREADS", "all"), ("CNNLAB_MALLOC", "yes")])
@pytest.mark.parametrize("command", [["arith", "--input", "28", "--kernel", "3"], ["summary", "lenet5"]])
def test_the_command_reports_a_bad_setting_in_one_line(variable, value, command):
    env = dict(os.environ, **{variable: value})
    out = subprocess.run([sys.executable, "-m", "cnnlab.cli", *command], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0] and repr(value) in lines[0], out.stderr


LAYER_PROBE = r"""
import numpy as np, numba
import cnnlab
from cnnlab.kernels.compiled import elementwise
elementwise.relu_forward(np.ones(1 << 20, np.float32))     # a parallel region
print(numba.threading_layer())
"""


def _threading_layer(**env_changes):
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_THREADING_LAYER", "CNNLAB_KERNELS")}
    env.update(env_changes)
    out = subprocess.run([sys.executable, "-c", LAYER_PROBE], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_tbb_becomes_the_threading_layer_at_the_first_kernel_when_its_wheel_is_there():
    """The tbb wheel's library is loaded by path at the first kernel (never at import), so that Numba's
    default order picks TBB; a layer the user chose stays."""
    from importlib import metadata

    try:
        has_tbb = any(f.name == "libtbb.so.12" for f in metadata.files("tbb") or ())
    except metadata.PackageNotFoundError:
        has_tbb = False
    if not has_tbb:
        pytest.skip("the tbb wheel is not installed")
    assert _threading_layer() == "tbb"
    assert _threading_layer(NUMBA_THREADING_LAYER="workqueue") == "workqueue"


def test_an_address_space_limit_keeps_tbb_out():
    """Under ``ulimit -v`` TBB would end the process when a worker thread cannot start; OpenMP runs."""
    probe = "import resource\nresource.setrlimit(resource.RLIMIT_AS, (16 << 30, resource.RLIM_INFINITY))\n"
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_THREADING_LAYER", "CNNLAB_KERNELS")}
    out = subprocess.run([sys.executable, "-c", probe + LAYER_PROBE], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "omp"


def test_malloc_keeps_freed_memory_only_when_asked(monkeypatch):
    """The allocator setting is opt-in (``CNNLAB_MALLOC=keep``), applied at the first kernel."""
    calls = []
    monkeypatch.setattr(backend, "keep_freed_memory", lambda: calls.append("keep") or True)
    monkeypatch.setattr(_numba, "load_tbb", lambda: None)
    monkeypatch.setenv("CNNLAB_BLAS_THREADS", "keep")
    monkeypatch.delenv("CNNLAB_MALLOC", raising=False)
    monkeypatch.setattr(_numba, "_owned", False)
    assert _numba.own_threads()["malloc"] is False and calls == []
    monkeypatch.setenv("CNNLAB_MALLOC", "keep")
    monkeypatch.setattr(_numba, "_owned", False)
    assert _numba.own_threads()["malloc"] is True and calls == ["keep"]
    assert _numba.own_threads() is None          # once per process


def test_keep_freed_memory_steps_aside_for_the_users_malloc_variables(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
    assert backend.keep_freed_memory() is False
