"""The compiled kernels' reused output arrays: an array comes back only once nothing holds it."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from cnnlab.kernels.compiled import buffers

LARGE = (256, 256)                  # 256 KiB of float32: above MIN_BYTES


@pytest.fixture(autouse=True)
def fresh_pool(monkeypatch):
    monkeypatch.setattr(buffers, "_pool", {})
    monkeypatch.setattr(buffers, "_enabled", True)


def test_an_array_is_handed_out_again_only_when_nothing_holds_it():
    a = buffers.empty(LARGE, np.float32)
    address = a.ctypes.data
    assert buffers.empty(LARGE, np.float32).ctypes.data != address      # a is still held
    view = a.T[1:]
    del a
    assert buffers.empty(LARGE, np.float32).ctypes.data != address      # a view holds its base
    del view
    again = buffers.empty(LARGE, np.float32)
    assert again.ctypes.data == address and again.shape == LARGE and again.flags.c_contiguous


def test_a_free_block_serves_any_shape_of_half_its_size_to_its_size():
    a = buffers.empty(LARGE, np.float32)                               # 256 KiB
    address = a.ctypes.data
    del a
    f = buffers.empty(LARGE, np.float64)                               # 512 KiB: too large for it
    assert f.ctypes.data != address
    b = buffers.empty((128, 512), np.float32)                          # the same bytes, another shape
    assert b.ctypes.data == address and b.shape == (128, 512) and b.flags.c_contiguous
    del b
    c = buffers.empty((40000,), np.float64)                            # 320,000 bytes: too large
    d = buffers.empty((100, 330), np.float32)                          # 132,000 bytes: at least half
    assert c.ctypes.data != address and d.ctypes.data == address
    e = buffers.empty((200, 300), np.int8)                             # below MIN_BYTES: not pooled
    assert e.ctypes.data != address and sum(len(v) for v in buffers._pool.values()) == 3


def test_zeros_are_zero_even_when_reused():
    a = buffers.empty(LARGE, np.float32)
    a.fill(7)
    del a
    z = buffers.zeros(LARGE, np.float32)
    assert not z.any()


def test_empty_like_keeps_the_channels_last_layout():
    x = np.empty((2, 64, 32, 32), np.float32)
    cl = np.empty((2, 32, 32, 64), np.float32).transpose(0, 3, 1, 2)
    assert buffers.empty_like(x).flags.c_contiguous
    out = buffers.empty_like(cl)
    assert out.shape == cl.shape and out.transpose(0, 2, 3, 1).flags.c_contiguous


def test_a_growing_pool_lets_unused_arrays_go_down_to_the_limit(monkeypatch):
    monkeypatch.setattr(buffers, "FREE_LIMIT", 3 * 256 * 1024)
    held = [buffers.empty((256 + i, 256), np.float32) for i in range(6)]
    assert buffers.pooled_bytes()[1] == 0
    del held[:]                                                       # all six unused
    assert buffers.pooled_bytes() == (0, sum((256 + i) * 256 * 4 for i in range(6)))
    big = buffers.empty((999, 256), np.float32)                        # too large for any: the pool grows
    used, unused = buffers.pooled_bytes()
    assert used == big.nbytes and unused <= 3 * 256 * 1024
    del big
    buffers.release()
    assert buffers.pooled_bytes() == (0, 0)


def test_turned_off_every_array_is_new(monkeypatch):
    monkeypatch.setattr(buffers, "_enabled", False)
    a = buffers.empty(LARGE, np.float32)
    del a
    assert buffers._pool == {}


def test_two_threads_never_get_the_same_array():
    import threading

    got, barrier = [], threading.Barrier(4)

    def take():
        barrier.wait()
        got.append(buffers.empty(LARGE, np.float32))

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({a.ctypes.data for a in got}) == 4


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts page faults with getrusage")
@pytest.mark.parametrize("reuse", ["1", "0"])
def test_a_fresh_process_does_not_fault_its_activations_in_every_step(reuse):
    """The reason for the pool: without it glibc hands the activations back at every step's end."""
    code = textwrap.dedent("""
        import resource
        import numpy as np
        import cnnlab
        from cnnlab import models, nn, optim
        cnnlab.manual_seed(0)
        model = models.fashion_cnn()
        opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x = cnnlab.tensor(np.random.default_rng(0).standard_normal((64, 1, 28, 28)).astype(np.float32))
        y = cnnlab.tensor(np.arange(64) % 10)
        def step():
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        for _ in range(3):
            step()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(5):
            step()
        print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
    """)
    # the compiled kernels, whichever set this run tests (the reference kernels never use the pool)
    env = dict(os.environ, CNNLAB_REUSE_BUFFERS=reuse, CNNLAB_NUM_THREADS="1", CNNLAB_KERNELS="compiled")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    faults = float(out.stdout.split()[-1])
    if reuse == "1":
        assert faults < 100                   # was about 4,000 per step (16 MB of activations)
    else:
        assert faults > 1000                  # the test can tell: glibc's defaults do fault them in


def test_under_no_grad_arrays_come_from_the_allocator():
    import cnnlab

    with cnnlab.no_grad():
        a = buffers.empty(LARGE, np.float32)
    assert buffers._pool == {} and a.flags.owndata          # inference: glibc reuses across sizes
    b = buffers.empty(LARGE, np.float32)
    assert not b.flags.owndata and buffers.pooled_bytes()[0] == b.nbytes
