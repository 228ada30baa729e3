"""Training steps as a plain user script runs them: no setup call, one library per process.

Prints one JSON line: the median images/s over timed blocks of steps. ``threads_busy.py`` and
``bench_vs_torch.py`` run it in fresh processes, with the environment of each configuration (threading
layer, thread counts, a busy process beside it), so what it measures is what a user's script gets.

    python benchmarks/train_steps.py --lib cnnlab --net fashion_cnn --batch 64 --seconds 10
    python benchmarks/train_steps.py --lib torch --net resnet20 --batch 128 --busy 1
    python benchmarks/train_steps.py --lib cnnlab --net fashion_cnn --batch 64 --malloc keep
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPES = {"fashion_cnn": (1, 28, 28), "lenet5": (1, 28, 28), "resnet20": (3, 32, 32)}
BUSY_CODE = "while True: pass"


def keep_freed_memory():
    """glibc's malloc keeps freed memory for reuse (the allocator setting ``--malloc keep`` measures)."""
    import ctypes

    libc = ctypes.CDLL("libc.so.6")
    m_trim_threshold, m_top_pad, m_mmap_max = -1, -2, -4
    for option, value in ((m_mmap_max, 0), (m_trim_threshold, 1 << 30), (m_top_pad, 64 << 20)):
        libc.mallopt(option, value)


def _die_with_parent():
    """In a busy child: the kernel kills it when its parent ends, however that ends (Linux)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)     # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def busy_processes(count):
    """``count`` single-thread processes spinning beside the run (a browser, a notebook, a build)."""
    return [subprocess.Popen([sys.executable, "-c", BUSY_CODE], preexec_fn=_die_with_parent)
            for _ in range(count)]


def cnnlab_step(net, batch, seed=0):
    import cnnlab
    from cnnlab import models, nn, optim

    rng = np.random.default_rng(seed)
    cnnlab.manual_seed(seed)
    model = models.get(net)
    model.train()
    x = cnnlab.Tensor(rng.standard_normal((batch,) + SHAPES[net]).astype(np.float32))
    y = cnnlab.Tensor(rng.integers(0, 10, batch))
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    return step


def torch_step(net, batch, seed=0):
    import torch

    sys.path.insert(0, os.path.join(REPO, "tests", "interop"))
    import torch_twins

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    model = getattr(torch_twins, net)()
    model.train()
    x = torch.from_numpy(rng.standard_normal((batch,) + SHAPES[net]).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 10, batch))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def measure(step, batch, seconds, block_s=0.5, warmup=3, cpu=None):
    """Median images/s over blocks of about ``block_s`` seconds, for ``seconds`` in all; with a list
    ``cpu``, each block's process CPU seconds per step are appended to it (robust to other load)."""
    for _ in range(warmup):
        step()
    rates = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(rates) < 3:
        t0, c0, steps = time.perf_counter(), time.process_time(), 0
        while time.perf_counter() - t0 < block_s:
            step()
            steps += 1
        rates.append(batch * steps / (time.perf_counter() - t0))
        if cpu is not None:
            cpu.append((time.process_time() - c0) / steps)
    return statistics.median(rates), rates


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lib", choices=("cnnlab", "torch"), default="cnnlab")
    p.add_argument("--net", choices=sorted(SHAPES), default="fashion_cnn")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--busy", type=int, default=0, help="busy single-thread processes beside the run")
    p.add_argument("--malloc", choices=("system", "keep"), default="system")
    p.add_argument("--chunksize", type=int, default=0,
                   help="Numba's parallel chunk size (0: static, one block per thread)")
    p.add_argument("--torch-threads", type=int, default=None)
    args = p.parse_args(argv)
    if args.malloc == "keep":
        keep_freed_memory()
    if args.lib == "torch" and args.torch_threads:
        import torch
        torch.set_num_threads(args.torch_threads)
    if args.chunksize:
        import numba
        numba.set_parallel_chunksize(args.chunksize)
    step = (cnnlab_step if args.lib == "cnnlab" else torch_step)(args.net, args.batch)
    busy = busy_processes(args.busy)
    try:
        cpu = []
        rate, rates = measure(step, args.batch, args.seconds, cpu=cpu)
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    info = {"lib": args.lib, "net": args.net, "batch": args.batch, "busy": args.busy, "malloc": args.malloc,
            "chunksize": args.chunksize, "images_per_s": rate, "blocks": len(rates),
            "cpu_ms_per_step": 1e3 * statistics.median(cpu)}
    if args.lib == "cnnlab":
        import numba
        try:
            info["threading_layer"] = numba.threading_layer()
        except ValueError:      # no parallel region was opened (one thread): every kernel ran serially
            info["threading_layer"] = None
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
