"""Side-by-side speed and memory benchmarks of cnnlab against PyTorch on the CPU.

Every case builds the same computation in both libraries (networks get PyTorch twins with the same
module names, and cnnlab's weights are copied across), checks that the outputs and gradients agree, then
times interleaved rounds -- cnnlab, torch, torch, cnnlab, ... -- after a warm-up and reports the medians
and the ratio of throughputs (cnnlab images/s over torch images/s: above 1 means cnnlab is faster).

The machine is shared: on 2 cores one competing process can make a two-threaded BLAS many times slower
(threads wait for each other at every synchronisation). So every timed block records the share of the
machine's CPU time that *other* processes used while it ran (from ``/proc/stat``, minus this process's
own CPU time); a round counts as quiet when both of its blocks stayed under ``NOISE_LIMIT``. Medians are
taken over quiet rounds; a row without enough of them is flagged ``noisy`` instead of being reported
as clean.

Peak memory is measured in a fresh subprocess per case and library, the same way for both: the
resident set's high-water mark (``VmHWM``, reset through ``/proc/self/clear_refs``) during one call
after two warm-up calls, minus the resident set before the model was built (after the imports and
one freed first run, which loads what each library compiles or builds on first use). Each
library runs as a user's script does, with no setup call and glibc's default allocator. For cnnlab
the child also reports the peak of ``tracemalloc`` over one call (NumPy reports its array
allocations to tracemalloc): the live arrays alone, as a cross-check.

Two modes measure what a user's own process gets:

- ``--script``: rows ``script-<net>-b<batch>`` time the same training steps in this process and in a
  fresh plain script (``benchmarks/train_steps.py``: import cnnlab, train, no setup call),
  interleaved; the ratio is the script's images/s over this process's (target: within 5%).
- ``--busy N``: N single-thread busy processes (``python -c "while True: pass"``) run beside the whole
  benchmark, as a browser or a notebook would; the noise limit is raised by their share of the cores.

A program beside the package (not part of it), run from a checkout:

    python benchmarks/bench_vs_torch.py --wait-quiet 120      # every case (about 15 minutes on 2 cores)
    python benchmarks/bench_vs_torch.py --quick               # a one-minute subset
    python benchmarks/bench_vs_torch.py --case train-resnet20-b128 --case conv3x3-c64-fwd
    python benchmarks/bench_vs_torch.py --list

The PyTorch networks are the test suite's twins (``tests/interop/torch_twins.py``): one set serves both.
"""

import argparse
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "interop"))   # torch_twins: the PyTorch networks
sys.path.insert(0, os.path.join(REPO, "benchmarks"))          # results_md, when loaded from elsewhere
from results_md import markers, write_section  # noqa: E402

NOISE_LIMIT = 0.10   # a block is noisy when other processes used more than this share of the machine's CPU
MIN_BLOCK_S = 0.25   # each timed block repeats the call until it lasts at least this long
GAP_S = 0.05         # pause between blocks, so one library's idle worker threads stop spinning first
LIBS = ("cnnlab", "torch")
MARK_START, MARK_END = markers("bench_vs_torch")   # the section of RESULTS.md this benchmark owns


# ================================================================================================ machine
def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def blas_info():
    """NumPy's BLAS: library, version and thread count (threadpoolctl if installed, else the build config)."""
    try:
        from threadpoolctl import threadpool_info

        for entry in threadpool_info():
            if entry.get("user_api") == "blas":
                return {"library": entry.get("internal_api"), "version": entry.get("version"),
                        "threads": entry.get("num_threads"), "source": "threadpoolctl"}
    except Exception:  # threadpoolctl missing or unable to read the library
        pass
    info = {"library": "unknown", "version": None, "threads": None, "source": "numpy.show_config"}
    try:
        config = np.show_config(mode="dicts")
        blas = config.get("Build Dependencies", {}).get("blas", {})
        info["library"], info["version"] = blas.get("name", "unknown"), blas.get("version")
    except Exception:  # older NumPy without mode="dicts"
        pass
    for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            info["threads"] = int(os.environ[var])
            break
    else:
        info["threads"] = _cores()
    return info


def machine_info(torch=None):
    info = {"cpu": _cpu_model(), "cores": _cores(), "python": platform.python_version(),
            "numpy": np.__version__, "blas": blas_info()}
    if torch is not None:
        found = re.search(r"BLAS_INFO=([\w.-]+)", torch.__config__.show())
        blas = found.group(1) if found else "unknown"
        info.update(torch=torch.__version__, torch_threads=torch.get_num_threads(), torch_blas=blas)
    return info


# ================================================================================================ CPU load
def _proc_stat():
    """(total, busy) CPU time of the whole machine in clock ticks, or None where /proc/stat is missing."""
    try:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values)           # user nice system idle iowait irq softirq steal (guest is inside user)
    return total, total - idle


class CpuMeter:
    """Share of the machine's CPU time that other processes used between ``start()`` and ``stop()``.

    Other = (busy time of all CPUs - this process's CPU time) / (total time of all CPUs), in [0, 1];
    stolen time (a hypervisor serving other guests) counts as other. None when /proc/stat is missing.
    """

    _hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def start(self):
        self._stat, self._own = _proc_stat(), time.process_time()
        return self

    def stop(self):
        stat, own = _proc_stat(), time.process_time()
        if stat is None or self._stat is None:
            return None
        total = (stat[0] - self._stat[0]) / self._hz
        busy = (stat[1] - self._stat[1]) / self._hz
        if total <= 0:
            return 0.0
        return min(max((busy - (own - self._own)) / total, 0.0), 1.0)


def wait_quiet(seconds, limit=NOISE_LIMIT, window=1.0, log=print):
    """Wait up to ``seconds`` for a ``window`` in which other processes use less than ``limit`` of the CPU.

    Returns (quiet, other share of the last window).
    """
    deadline = time.monotonic() + seconds
    other = None
    while True:
        meter = CpuMeter().start()
        time.sleep(window)
        other = meter.stop()
        if other is None or other < limit:
            return True, other
        if time.monotonic() >= deadline:
            log(f"  machine still busy after {seconds:.0f} s (other processes use {other:.0%} of the CPU); "
                f"going on, noisy rows will be flagged")
            return False, other


# ================================================================================================ cases
class Case:
    """One benchmark: ``setup(lib, state)`` returns a Runner; ``quick`` cases form the ``--quick`` subset.

    ``images`` is the batch size (images per call); ``flops`` the floating-point operations of one
    call (multiply and add counted separately), None where not meaningful.
    """

    def __init__(self, name, kind, description, setup, images, flops=None, quick=False, hidden=False):
        self.name, self.kind, self.description = name, kind, description
        self.setup, self.images, self.flops = setup, images, flops
        self.quick, self.hidden = quick, hidden


class Runner:
    """A prepared call: ``run()`` is what gets timed; ``outputs()`` returns arrays to compare across libraries;
    ``state()`` returns the weights (cnnlab) to copy into the other library."""

    def __init__(self, run, outputs, state=None):
        self.run, self.outputs, self.state = run, outputs, state or (lambda: None)


def _import_torch(threads=None):
    import torch

    if threads:
        torch.set_num_threads(threads)
    return torch


def _layer_table(nn_mod, table, in_channels):
    """Build a feature Sequential from a small table in either library (both have the same nn names)."""
    layers, c = [], in_channels
    for kind, *args in table:
        if kind == "conv":
            out, k, pad = args
            layers.append(nn_mod.Conv2d(c, out, k, padding=pad))
            c = out
        elif kind == "bn":
            layers.append(nn_mod.BatchNorm2d(c))
        elif kind == "relu":
            layers.append(nn_mod.ReLU())
        elif kind == "pool":
            layers.append(nn_mod.MaxPool2d(2, 2))
    return nn_mod.Sequential(*layers), c


VGG_CIFAR = [64, 64, "M", 128, 128, "M", 256, 256, "M"]
VGG_CIFAR_TABLE = [row for v in VGG_CIFAR
                   for row in ([("pool",)] if v == "M" else [("conv", v, 3, 1), ("bn",), ("relu",)])]


def _classifier(nn_mod, sizes):
    layers = [nn_mod.Flatten()]
    for i in range(len(sizes) - 1):
        layers.append(nn_mod.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn_mod.ReLU())
    return nn_mod.Sequential(*layers)


def vgg_cifar(num_classes=10):
    """The VGG-style CIFAR network of the benchmark: [64, 64, M, 128, 128, M, 256, 256, M] 3x3 convolutions
    with BatchNorm and ReLU, then one fully connected layer on the 256x4x4 features (its PyTorch twin:
    ``torch_twins.vgg_cifar``)."""
    from cnnlab import nn
    from cnnlab.models.small import SmallCNN

    features, c = _layer_table(nn, VGG_CIFAR_TABLE, 3)
    return SmallCNN(features, _classifier(nn, [c * 4 * 4, num_classes]))


def _zoo(name):
    return lambda: __import__("cnnlab.models", fromlist=["get"]).get(name)


NETWORKS = {
    # name: (input (C, H, W), cnnlab builder, name of the PyTorch twin in tests/interop/torch_twins.py)
    "fashion_cnn": ((1, 28, 28), _zoo("fashion_cnn"), "fashion_cnn"),
    "lenet5": ((1, 28, 28), _zoo("lenet5"), "lenet5"),
    "resnet20": ((3, 32, 32), _zoo("resnet20"), "resnet20"),
    "vgg_cifar": ((3, 32, 32), vgg_cifar, "vgg_cifar"),
    "resnet18": ((3, 224, 224), _zoo("resnet18"), "resnet18"),
}


def _torch_twin(name):
    """A fresh PyTorch twin of the network ``name`` (same module names: state dicts map key by key)."""
    import torch_twins

    return getattr(torch_twins, name)()


def _copy_state(torch, module, state):
    """Load cnnlab's state (name -> array) into a torch module: by key, else by order and shape."""
    target = module.state_dict()
    if set(target) <= set(state) and all(tuple(target[k].shape) == state[k].shape for k in target):
        pairs = [(k, state[k]) for k in target]
    else:
        values = list(state.values())
        if len(values) != len(target):
            raise RuntimeError(f"bench: cannot map cnnlab's {len(values)} state entries onto torch's {len(target)}")
        pairs = list(zip(target, values))
    module.load_state_dict({k: torch.from_numpy(np.array(v, copy=True)) for k, v in pairs})


def _network_setup(net, batch, train):
    def setup(lib, state=None, threads=None, seed=0):
        shape, build_cnnlab, build_torch = NETWORKS[net]
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((batch,) + shape).astype(np.float32)
        y = rng.integers(0, 1000 if net == "resnet18" else 10, batch)
        if lib == "cnnlab":
            import cnnlab
            from cnnlab import nn, optim

            cnnlab.manual_seed(seed)
            model = build_cnnlab()
            xt, yt = cnnlab.Tensor(x), cnnlab.Tensor(y)
            loss_fn = nn.CrossEntropyLoss()
            if train:
                model.train()
                opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

                def run():
                    opt.zero_grad()
                    loss = loss_fn(model(xt), yt)
                    loss.backward()
                    opt.step()
            else:
                model.eval()

                def run():
                    with cnnlab.no_grad():
                        return model(xt)

            def outputs():
                # Agreement is checked in float64 on a fresh copy (same seed, same weights): in float32,
                # rounding differences grow through a deep network's gradients to percents.
                cnnlab.manual_seed(seed)
                twin = build_cnnlab().double().train(train)
                if not train:                    # as timed: under no_grad (a batch norm folded in)
                    with cnnlab.no_grad():
                        return {"output": twin(cnnlab.Tensor(x.astype(np.float64))).numpy()}
                out = twin(cnnlab.Tensor(x.astype(np.float64)))
                loss = loss_fn(out, yt)
                loss.backward()
                res = {"output": out.numpy(), "loss": np.asarray(loss.item())}
                res.update({f"grad {k}": p.grad.numpy() for k, p in twin.named_parameters()})
                return res

            def get_state():
                return {k: np.asarray(v) for k, v in model.state_dict().items()}

            return Runner(run, outputs, get_state)
        torch = _import_torch(threads)
        torch.manual_seed(seed)
        model = _torch_twin(build_torch)
        if state is not None:
            _copy_state(torch, model, state)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        if train:
            model.train()
            opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

            def run():
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(xt), yt)
                loss.backward()
                opt.step()
        else:
            model.eval()

            def run():
                with torch.inference_mode():
                    return model(xt)

        def outputs():
            torch.manual_seed(seed)
            twin = _torch_twin(build_torch)
            if state is not None:
                _copy_state(torch, twin, state)
            twin = twin.double().train(train)
            out = twin(torch.from_numpy(x.astype(np.float64)))
            if not train:
                return {"output": out.detach().numpy()}
            loss = torch.nn.functional.cross_entropy(out, yt)
            loss.backward()
            res = {"output": out.detach().numpy(), "loss": np.asarray(loss.item())}
            res.update({f"grad {k}": p.grad.numpy() for k, p in twin.named_parameters()})
            return res

        return Runner(run, outputs)

    return setup


def network_flops(net, batch, train):
    """FLOPs of one call, counted on the torch twin: 2 per multiply-add of every convolution and linear layer;
    a training step adds the weight gradient (same again) and, where the layer's input needs one, the
    input gradient (same again)."""
    torch = _import_torch()
    nn_t = torch.nn
    shape, _, twin_name = NETWORKS[net]
    model = _torch_twin(twin_name).train(train)
    total = [0]

    def hook(module, inputs, output):
        if isinstance(module, nn_t.Conv2d):
            macs = output.numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)
        else:
            macs = output.numel() * module.in_features
        total[0] += 2 * macs * ((2 + inputs[0].requires_grad) if train else 1)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn_t.Conv2d, nn_t.Linear))]
    with torch.set_grad_enabled(train):
        model(torch.zeros((batch,) + shape))
    for h in handles:
        h.remove()
    return total[0]


def _layer_setup(op, shape, params, backward):
    """Single-layer cases: op 'conv' (params: out, kernel, padding, groups) or 'maxpool' (kernel, stride, padding)."""

    def setup(lib, state=None, threads=None, seed=0):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal(shape).astype(np.float32)
        if op == "conv":
            out_c, k, pad, groups = params
            w = (rng.standard_normal((out_c, shape[1] // groups, k, k)) / math.sqrt(shape[1] // groups * k * k))
            w = w.astype(np.float32)
            b = rng.standard_normal(out_c).astype(np.float32)
            arrays = [x, w, b]
        else:
            k, s, pad = params
            arrays = [x]
        if lib == "cnnlab":
            import cnnlab
            import cnnlab.functional as F

            ts = [cnnlab.Tensor(a, requires_grad=backward) for a in arrays]
            if op == "conv":
                def forward():
                    return F.conv2d(ts[0], ts[1], ts[2], padding=pad, groups=groups)
            else:
                def forward():
                    return F.max_pool2d(ts[0], k, s, pad)
            g_shape = forward().shape
            g = cnnlab.Tensor(rng.standard_normal(g_shape).astype(np.float32))

            def run():
                if not backward:
                    with cnnlab.no_grad():
                        return forward()
                for t in ts:
                    t.grad = None
                forward().backward(g)

            def outputs():
                if not backward:
                    with cnnlab.no_grad():
                        return {"output": forward().numpy()}
                for t in ts:
                    t.grad = None
                out = forward()
                out.backward(g)
                return {"output": out.numpy(), **{f"grad {i}": t.grad.numpy() for i, t in enumerate(ts)}}

            return Runner(run, outputs)
        torch = _import_torch(threads)
        tf = torch.nn.functional
        ts = [torch.from_numpy(a).requires_grad_(backward) for a in arrays]
        if op == "conv":
            def forward():
                return tf.conv2d(ts[0], ts[1], ts[2], padding=pad, groups=groups)
        else:
            def forward():
                return tf.max_pool2d(ts[0], k, s, pad)
        with torch.no_grad():
            g_shape = tuple(forward().shape)
        g = torch.from_numpy(rng.standard_normal(g_shape).astype(np.float32))

        def run():
            if not backward:
                with torch.inference_mode():
                    return forward()
            for t in ts:
                t.grad = None
            forward().backward(g)

        def outputs():
            if not backward:
                with torch.no_grad():
                    return {"output": forward().numpy()}
            for t in ts:
                t.grad = None
            out = forward()
            out.backward(g)
            return {"output": out.detach().numpy(), **{f"grad {i}": t.grad.numpy() for i, t in enumerate(ts)}}

        return Runner(run, outputs)

    return setup


def _layer_flops(op, shape, params, backward):
    n, c, h, w = shape
    if op == "conv":
        out_c, k, pad, groups = params
        oh, ow = h + 2 * pad - k + 1, w + 2 * pad - k + 1
        fwd = 2 * n * out_c * oh * ow * (c // groups) * k * k
        return fwd * (3 if backward else 1)
    k, s, pad = params
    oh, ow = (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1
    return n * c * oh * ow * k * k  # one comparison per window element (forward); backward is a scatter


def _gemm_setup(size):
    def setup(lib, state=None, threads=None, seed=0):
        rng = np.random.default_rng(seed)
        a = rng.standard_normal((size, size)).astype(np.float32)
        b = rng.standard_normal((size, size)).astype(np.float32)
        if lib == "cnnlab":
            from cnnlab.kernels.compiled.conv.machine import threaded_matmul

            out = np.empty((size, size), np.float32)
            return Runner(lambda: threaded_matmul(a, b, out), lambda: {"output": np.matmul(a, b)})
        torch = _import_torch(threads)
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        tout = torch.empty(size, size)
        return Runner(lambda: torch.mm(ta, tb, out=tout), lambda: {"output": torch.mm(ta, tb).numpy()})

    return setup


def _micro_setup(lib, state=None, threads=None, seed=0):
    x = np.random.default_rng(seed).standard_normal((8, 4, 8, 8)).astype(np.float32)
    if lib == "cnnlab":
        import cnnlab
        import cnnlab.functional as F

        t = cnnlab.Tensor(x)
        return Runner(lambda: F.relu(t), lambda: {"output": F.relu(t).numpy()})
    torch = _import_torch(threads)
    tt = torch.from_numpy(x)
    return Runner(lambda: torch.relu(tt), lambda: {"output": torch.relu(tt).numpy()})


GEMM_SIZE = 2048


def _build_cases():
    cases = [Case("gemm-ceiling", "ceiling", f"float32 matrix product {GEMM_SIZE}x{GEMM_SIZE} @ {GEMM_SIZE}x{GEMM_SIZE}: "
                  "the GEMM cnnlab's convolutions call, one block of rows per thread (their ceiling) vs torch.mm", _gemm_setup(GEMM_SIZE), 1,
                  2 * GEMM_SIZE ** 3, quick=True)]
    for net, batch, quick in (("fashion_cnn", 64, True), ("fashion_cnn", 256, False), ("lenet5", 128, True),
                              ("resnet20", 128, False), ("vgg_cifar", 128, False)):
        cases.append(Case(f"train-{net}-b{batch}", "train", f"training step of {net}, batch {batch}: forward, "
                          "cross-entropy, backward, SGD momentum", _network_setup(net, batch, True), batch,
                          (net, batch, True), quick=quick))
    for batch in (1, 32):
        cases.append(Case(f"infer-resnet18-b{batch}", "infer", f"resnet18 inference at 224x224, batch {batch}",
                          _network_setup("resnet18", batch, False), batch, ("resnet18", batch, False)))
    layers = [
        ("conv5x5-c16", "conv", (64, 16, 28, 28), (32, 5, 2, 1), "conv 5x5, N64 C16 28x28 -> K32, pad 2"),
        ("conv3x3-c64", "conv", (32, 64, 56, 56), (64, 3, 1, 1), "conv 3x3, N32 C64 56x56 -> K64, pad 1"),
        ("conv3x3-c128", "conv", (32, 128, 28, 28), (128, 3, 1, 1), "conv 3x3, N32 C128 28x28 -> K128, pad 1"),
        ("conv3x3-c256", "conv", (32, 256, 14, 14), (256, 3, 1, 1), "conv 3x3, N32 C256 14x14 -> K256, pad 1"),
        ("dwconv3x3-c128", "conv", (32, 128, 28, 28), (128, 3, 1, 128), "depthwise conv 3x3, N32 C128 28x28, pad 1"),
        ("maxpool2x2", "maxpool", (32, 64, 56, 56), (2, 2, 0), "max pool 2x2 stride 2, N32 C64 56x56"),
        ("maxpool3x3s2", "maxpool", (32, 64, 112, 112), (3, 2, 1), "max pool 3x3 stride 2 pad 1, N32 C64 112x112"),
    ]
    for name, op, shape, params, text in layers:
        for backward in (False, True):
            suffix = "fwdbwd" if backward else "fwd"
            cases.append(Case(f"{name}-{suffix}", "layer", f"{text}, {'forward + backward' if backward else 'forward'}",
                              _layer_setup(op, shape, params, backward), shape[0],
                              _layer_flops(op, shape, params, backward),
                              quick=(name == "conv3x3-c128" and not backward) or (name == "maxpool2x2" and backward)))
    cases.append(Case("micro-relu", "micro", "relu on 8x4x8x8 (harness smoke test)", _micro_setup, 8, hidden=True))
    return {c.name: c for c in cases}


CASES = _build_cases()


# ================================================================================================ timing
def _compare(ours, theirs, floor=1e-4):
    """Largest error of each output relative to the largest magnitude of the torch value (at least ``floor``:
    some gradients are zero up to rounding, e.g. a convolution bias followed by BatchNorm)."""
    errors = {}
    for key, ref in theirs.items():
        if key not in ours:
            continue
        a, b = np.asarray(ours[key], np.float64), np.asarray(ref, np.float64)
        if a.shape != b.shape:
            errors[key] = float("inf")
            continue
        scale = max(float(np.abs(b).max()) if b.size else 0.0, floor)
        errors[key] = float(np.abs(a - b).max() / scale) if b.size else 0.0
    return errors


def _time_block(run, reps):
    meter = CpuMeter().start()
    t0 = time.perf_counter()
    for _ in range(reps):
        run()
    seconds = (time.perf_counter() - t0) / reps
    return seconds, meter.stop()


def time_case(case, rounds, threads, log=print, seed=0):
    """Check agreement, warm up, then time interleaved rounds; returns the row as a dict.

    Networks are compared in float64 (to 1e-6 relative), single layers in float32 (to 2e-3).
    """
    tolerance = 1e-6 if case.kind in ("train", "infer") else 2e-3
    runners = {"cnnlab": case.setup("cnnlab", seed=seed)}
    runners["torch"] = case.setup("torch", state=runners["cnnlab"].state(), threads=threads, seed=seed)
    errors = _compare(runners["cnnlab"].outputs(), runners["torch"].outputs())
    worst = max(errors.values()) if errors else 0.0
    reps = {}
    for lib in LIBS:
        runners[lib].run()  # warm-up: first-call allocations, caches, thread pools
        t0 = time.perf_counter()
        runners[lib].run()
        once = time.perf_counter() - t0
        reps[lib] = max(1, min(1000, int(math.ceil(MIN_BLOCK_S / max(once, 1e-6)))))
    samples = []  # one dict per round: lib -> (seconds per call, other CPU share)
    quiet = 0
    limit_rounds = rounds * 3
    while len(samples) < limit_rounds and quiet < rounds:
        order = LIBS if len(samples) % 2 == 0 else LIBS[::-1]
        result = {}
        for lib in order:
            time.sleep(GAP_S)
            result[lib] = _time_block(runners[lib].run, reps[lib])
        samples.append(result)
        if all(o is None or o < NOISE_LIMIT for _, o in result.values()):
            quiet += 1
    quiet_rounds = [r for r in samples if all(o is None or o < NOISE_LIMIT for _, o in r.values())]
    clean = len(quiet_rounds) >= min(rounds, 3) or len(quiet_rounds) == len(samples)
    use = quiet_rounds if clean else samples
    row = {"case": case.name, "kind": case.kind, "description": case.description, "images": case.images,
           "rounds": len(samples), "quiet_rounds": len(quiet_rounds), "noisy": not clean,
           "max_rel_error": worst, "errors": errors, "agree": worst <= tolerance, "reps": reps}
    for lib in LIBS:
        times = [r[lib][0] for r in use]
        others = [r[lib][1] for r in samples if r[lib][1] is not None]
        row[lib] = {"median_s": statistics.median(times), "min_s": min(times),
                    "all_s": [r[lib][0] for r in samples],
                    "other_cpu": [r[lib][1] for r in samples],
                    "median_other_cpu": statistics.median(others) if others else None,
                    "images_per_s": case.images / statistics.median(times)}
    row["ratio"] = row["torch"]["median_s"] / row["cnnlab"]["median_s"]
    flops = case.flops
    if isinstance(flops, tuple):
        flops = network_flops(*flops)
    row["flops"] = flops
    if flops:
        for lib in LIBS:
            row[lib]["gflops"] = flops / row[lib]["median_s"] / 1e9
    return row


# ================================================================================================ plain script
SCRIPT_NETS = (("fashion_cnn", 64), ("lenet5", 128), ("resnet20", 128))
SCRIPT_SECONDS = 4.0


def _script_rate(net, batch, seconds):
    """images/s of a fresh plain script (``train_steps.py``) training ``net``, with no setup call."""
    cmd = [sys.executable, os.path.join(REPO, "benchmarks", "train_steps.py"), "--lib", "cnnlab", "--net", net,
           "--batch", str(batch), "--seconds", str(seconds)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError((out.stderr.strip().splitlines() or ["failed"])[-1])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["images_per_s"], result["cpu_ms_per_step"]


def time_script(net, batch, rounds, log=print):
    """The same training steps in this process and in a plain script, interleaved; returns the row."""
    from train_steps import measure

    runner = _network_setup(net, batch, True)("cnnlab")
    runner.run()
    rates = {"in_process": [], "script": []}
    cpu = {"in_process": [], "script": []}       # process CPU ms per step: robust to other load
    for r in range(rounds):
        for which in ("in_process", "script") if r % 2 == 0 else ("script", "in_process"):
            if which == "script":
                rate, cpu_ms = _script_rate(net, batch, SCRIPT_SECONDS)
            else:
                blocks = []
                rate = measure(runner.run, batch, SCRIPT_SECONDS, cpu=blocks)[0]
                cpu_ms = 1e3 * statistics.median(blocks)
            rates[which].append(rate)
            cpu[which].append(cpu_ms)
    medians = {k: statistics.median(v) for k, v in rates.items()}
    cpu_medians = {k: statistics.median(v) for k, v in cpu.items()}
    row = {"case": f"script-{net}-b{batch}", "net": net, "batch": batch, "rates": rates, **medians,
           "ratio": medians["script"] / medians["in_process"], "cpu_ms": cpu,
           "cpu_ratio": cpu_medians["in_process"] / cpu_medians["script"]}
    log(f"  plain script {medians['script']:,.0f} img/s, in-process {medians['in_process']:,.0f} img/s: "
        f"ratio {row['ratio']:.2f} (CPU per step: {row['cpu_ratio']:.2f})")
    return row


def script_table(rows):
    lines = ["| case | in-process img/s | plain script img/s | **script / in-process** "
             "| CPU per step, in-process / script | rounds |", "|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['case']} | | | n/a | | {r['error']} |")
            continue
        lines.append(f"| {r['case']} | {r['in_process']:,.0f} | {r['script']:,.0f} | **{r['ratio']:.2f}** "
                     f"| {r.get('cpu_ratio', float('nan')):.2f} | {len(r['rates']['script'])} |")
    return "\n".join(lines)


# ================================================================================================ memory
def _status_mib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise OSError(f"no {field} in /proc/self/status")


def _memory_child(case_name, lib, threads):
    """In a fresh process: peak resident memory of one call above the baseline before the model was built.

    Each library first runs the case once and frees it, so that code it loads or compiles on first use
    (cnnlab's Numba kernels: about 190 MiB of compiler and machine code; PyTorch's lazily built
    primitives) counts in the baseline as the libraries' imports do, not as the step's memory."""
    import ctypes
    import gc
    import tracemalloc

    case = CASES[case_name]
    if lib == "torch":
        _import_torch(threads)
    else:
        import cnnlab  # noqa: F401  (imports count in the baseline, as torch's do)
    case.setup(lib, threads=threads).run()
    gc.collect()
    if lib == "cnnlab":   # the warm-up's outputs kept for reuse go too: the call's own count below
        from cnnlab.kernels.compiled import buffers
        buffers.release()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)   # hand the warm-up's freed memory back
    except (OSError, AttributeError):
        pass
    base = _status_mib("VmRSS")
    runner = case.setup(lib, threads=threads)
    runner.run()
    runner.run()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current resident set
    runner.run()
    result = {"peak_mib": _status_mib("VmHWM") - base, "baseline_mib": base}
    if lib == "cnnlab":
        tracemalloc.start()
        runner.run()
        result["tracemalloc_call_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2 ** 20
        tracemalloc.stop()
    print(json.dumps(result))


def measure_memory(case_name, lib, threads):
    """Run ``_memory_child`` in a subprocess; returns its dict, or {"error": ...}."""
    env = dict(os.environ)
    cmd = [sys.executable, os.path.abspath(__file__), "--memory-child", case_name, lib, str(threads)]
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        return {"error": "timed out"}
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


# ================================================================================================ report
def _fmt_ms(s):
    """Milliseconds with three significant digits or more."""
    ms = s * 1e3
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:.3g}"


def markdown_table(rows, ceiling):
    head = ("| case | cnnlab ms | torch ms | cnnlab img/s | torch img/s | **ratio** | cnnlab GFLOP/s | torch GFLOP/s "
            "| cnnlab % of ceiling | peak MiB cnnlab | peak MiB torch | mem ratio | other CPU | rounds |")
    lines = [head, "|" + "---|" * 14]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['case']} | | | | | n/a | | | | | | | | {r['error']} |")
            continue
        c, t = r["cnnlab"], r["torch"]
        gf = lambda d: f"{d['gflops']:.1f}" if d.get("gflops") else ""  # noqa: E731
        pct = f"{100 * c['gflops'] / ceiling:.0f}%" if c.get("gflops") and ceiling and r["kind"] != "ceiling" else ""
        mem = r.get("memory", {})
        mc, mt = mem.get("cnnlab", {}).get("peak_mib"), mem.get("torch", {}).get("peak_mib")
        mratio = f"{mc / mt:.2f}" if mc and mt else ""
        others = [o for lib in LIBS for o in r[lib]["other_cpu"] if o is not None]
        other = f"{statistics.median(others):.0%}" if others else "n/a"
        flag = f"{r['quiet_rounds']}/{r['rounds']} quiet" + (" **noisy**" if r["noisy"] else "")
        if not r["agree"]:
            flag += f" **outputs differ {r['max_rel_error']:.1e}**"
        lines.append(
            f"| {r['case']} | {_fmt_ms(c['median_s'])} | {_fmt_ms(t['median_s'])} | {c['images_per_s']:,.0f} "
            f"| {t['images_per_s']:,.0f} | **{r['ratio']:.2f}x** | {gf(c)} | {gf(t)} | {pct} "
            f"| {'' if mc is None else f'{mc:,.0f}'} | {'' if mt is None else f'{mt:,.0f}'} | {mratio} "
            f"| {other} | {flag} |")
    return "\n".join(lines)


def markdown_section(report):
    m = report["machine"]
    blas = m["blas"]
    ceiling = report.get("ceiling_gflops")
    text = [
        "## bench_vs_torch: cnnlab vs PyTorch, side by side",
        "",
        f"Command: `{report['command']}`  ",
        f"Date: {report['date']}  ",
        f"Machine: {m['cpu']}, {m['cores']} cores; NumPy {m['numpy']} with {blas['library']} {blas['version'] or ''} "
        f"({blas['threads']} threads); PyTorch {m.get('torch')} ({m.get('torch_threads')} threads, BLAS "
        f"{m.get('torch_blas')}); Python {m['python']}.  ",
        f"float32 GEMM ceiling measured in this run (the convolutions' threaded GEMM, {GEMM_SIZE}^3): "
        f"**{ceiling:.0f} GFLOP/s**." if ceiling else "GEMM ceiling: not measured in this run.",
        "",
        "**ratio** = cnnlab images/s / torch images/s (above 1: cnnlab is faster), medians of interleaved rounds "
        "over the quiet ones. *other CPU*: median share of the machine's CPU used by other processes while "
        f"the blocks ran; a round is quiet below {NOISE_LIMIT:.0%}, and a row with fewer than 3 quiet rounds is "
        "flagged **noisy**. GFLOP/s count 2 per multiply-add (training: forward + weight gradient + input "
        "gradient where needed; pooling: one comparison per window element). *peak MiB*: the resident set's "
        "high-water mark during one call above the process's resident set before the model was built "
        "(each library in its own fresh process).",
        "",
        markdown_table(report["rows"], ceiling),
    ]
    if report.get("busy"):
        text[2:2] = [f"**Busy machine**: {report['busy']} single-thread busy process(es) ran beside the whole "
                     f"benchmark (`--busy`); rounds count as quiet below {report['noise_limit']:.0%} other CPU.  "]
    if report.get("script_rows"):
        text += ["", "**No setup call** (`--script`): the same training steps in a fresh plain script "
                 "(`benchmarks/train_steps.py`: import cnnlab, build, train) and in this process, interleaved, "
                 f"{SCRIPT_SECONDS:g} s each; target: the script within 5% of this process.", "",
                 script_table(report["script_rows"])]
    return "\n".join(text)


def write_markdown(path, report):
    """Replace the bench_vs_torch section of ``path`` (between its markers), or append it; other sections stay."""
    write_section("bench_vs_torch", markdown_section(report), path)


# ================================================================================================ driver
def add_arguments(p):
    p.add_argument("--quick", action="store_true", help="a one-minute subset (3 rounds, no memory measurement)")
    p.add_argument("--case", action="append", default=None, metavar="NAME",
                   help="run only this case (repeatable); see --list")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("--rounds", type=int, default=None, help="quiet rounds wanted per case (default 7, quick 3)")
    p.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                   help="before each case, wait up to SECONDS for other processes to leave the CPU idle")
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads (default: the thread count of NumPy's BLAS)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--script", action="store_true",
                   help="add the no-setup-script rows: a plain script's training steps against this process's")
    p.add_argument("--busy", type=int, default=0, metavar="N",
                   help="run N busy single-thread processes beside the whole benchmark")
    p.add_argument("--json", default=None, metavar="PATH", help="write the report as JSON (default: next to "
                   "the Markdown file; for --quick and --case runs, bench_vs_torch.json in the temporary directory)")
    p.add_argument("--markdown", default=None, metavar="PATH",
                   help="update the bench_vs_torch section of this Markdown file (default for full runs: "
                   "benchmarks/RESULTS.md when that directory exists)")


def command_line(args, prog="python benchmarks/bench_vs_torch.py"):
    """The command that reproduces ``args``, for the report."""
    parts = [prog]
    if args.quick:
        parts.append("--quick")
    for name in args.case or ():
        parts += ["--case", name]
    for flag, value in (("--rounds", args.rounds), ("--wait-quiet", args.wait_quiet or None),
                        ("--threads", args.threads)):
        if value is not None:
            parts += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    if args.no_memory:
        parts.append("--no-memory")
    if getattr(args, "script", False):
        parts.append("--script")
    if getattr(args, "busy", 0):
        parts += ["--busy", str(args.busy)]
    return " ".join(parts)


def run(args, log=print):
    """Run the benchmark described by parsed ``args``; returns the report dict."""
    if args.list:
        for c in CASES.values():
            if not c.hidden:
                log(f"{c.name:<24} {'quick' if c.quick else '':<6} {c.description}")
        return None
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ValueError("bench: needs PyTorch to compare against (pip install torch)") from None
    if args.case:
        unknown = [n for n in args.case if n not in CASES]
        if unknown:
            raise ValueError(f"bench: unknown case {unknown[0]!r}. Expected one of: "
                             f"{', '.join(n for n, c in CASES.items() if not c.hidden)}")
        names = list(dict.fromkeys(args.case))
    else:
        names = [n for n, c in CASES.items() if not c.hidden and (c.quick or not args.quick)]
    rounds = args.rounds or (3 if args.quick else 7)
    threads = args.threads or blas_info()["threads"] or _cores()
    global NOISE_LIMIT
    from train_steps import busy_processes

    busy = busy_processes(args.busy)
    if busy:     # the busy processes' share of the cores is expected, not noise
        NOISE_LIMIT = min(0.95, NOISE_LIMIT + args.busy / _cores())
        log(f"{args.busy} busy process(es) beside the benchmark; noise limit {NOISE_LIMIT:.0%}")
    try:
        return _run_cases(args, names, rounds, threads, log)
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()


def _run_cases(args, names, rounds, threads, log):
    torch = _import_torch(threads)
    machine = machine_info(torch)
    log(f"{machine['cpu']}, {machine['cores']} cores; NumPy BLAS {machine['blas']['library']} "
        f"{machine['blas']['threads']} threads; torch {torch.__version__} {threads} threads")
    rows = []
    ceiling = None
    for name in names:
        case = CASES[name]
        if args.wait_quiet:
            wait_quiet(args.wait_quiet, limit=NOISE_LIMIT, log=log)
        log(f"{name}: {case.description}")
        try:
            row = time_case(case, rounds, threads, log=log)
        except Exception as e:  # a case that cannot be built (e.g. a zoo model not there) is reported, not fatal
            log(f"  skipped: {type(e).__name__}: {e}")
            rows.append({"case": name, "kind": case.kind, "error": f"{type(e).__name__}: {e}"})
            continue
        if case.kind == "ceiling":
            ceiling = row["cnnlab"]["gflops"]
        if not (args.no_memory or args.quick) and case.kind in ("train", "infer", "layer"):
            row["memory"] = {lib: measure_memory(name, lib, threads) for lib in LIBS}
        rows.append(row)
        c, t = row["cnnlab"], row["torch"]
        mem = row.get("memory")
        mem_text = ""
        if mem and "peak_mib" in mem["cnnlab"] and "peak_mib" in mem["torch"]:
            mem_text = f", peak {mem['cnnlab']['peak_mib']:.0f} / {mem['torch']['peak_mib']:.0f} MiB"
        log(f"  cnnlab {_fmt_ms(c['median_s'])} ms, torch {_fmt_ms(t['median_s'])} ms: ratio {row['ratio']:.2f}x"
            f"{mem_text}; {row['quiet_rounds']}/{row['rounds']} quiet rounds"
            f"{' (NOISY)' if row['noisy'] else ''}; max rel. error {row['max_rel_error']:.1e}"
            f"{'' if row['agree'] else ' (OUTPUTS DIFFER)'}")
    script_rows = []
    for net, batch in SCRIPT_NETS if args.script else ():
        log(f"script-{net}-b{batch}: the same steps in a plain script (no setup call) and in this process")
        try:
            script_rows.append(time_script(net, batch, max(3, min(rounds, 5)), log=log))
        except Exception as e:
            log(f"  skipped: {type(e).__name__}: {e}")
            script_rows.append({"case": f"script-{net}-b{batch}", "error": f"{type(e).__name__}: {e}"})
    report = {"command": command_line(args), "date": time.strftime("%Y-%m-%d %H:%M"),
              "machine": machine, "ceiling_gflops": ceiling, "noise_limit": NOISE_LIMIT, "rows": rows,
              "busy": args.busy, "script_rows": script_rows}
    for r in rows:
        if ceiling and r.get("cnnlab", {}).get("gflops"):
            r["cnnlab"]["fraction_of_ceiling"] = r["cnnlab"]["gflops"] / ceiling
    markdown = args.markdown
    if markdown is None and not args.quick and not args.case and os.path.isdir("benchmarks"):
        markdown = os.path.join("benchmarks", "RESULTS.md")
    # A full run's JSON goes next to its Markdown; a partial run's (--quick, --case) to the temporary
    # directory, so that it never replaces the full results.
    json_path = args.json or (os.path.join(os.path.dirname(markdown), "bench_vs_torch.json") if markdown
                              else os.path.join(tempfile.gettempdir(), "bench_vs_torch.json"))
    with open(json_path, "w") as f:
        json.dump(report, f, indent=1)
    log(f"wrote {json_path}")
    if markdown:
        write_markdown(markdown, report)
        log(f"updated the bench_vs_torch section of {markdown}")
    return report


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--memory-child"]:      # measure_memory's fresh process
        _memory_child(argv[1], argv[2], int(argv[3]))
        return 0
    p = argparse.ArgumentParser(prog="bench_vs_torch", description=__doc__.split("\n\n")[0])
    add_arguments(p)
    args = p.parse_args(argv)
    try:
        run(args)
    except ValueError as e:                 # a user's mistake: one line, exit status 2
        print(f"bench_vs_torch: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    os.chdir(REPO)          # RESULTS.md and the JSON are written relative to the repository root
    sys.exit(main())
