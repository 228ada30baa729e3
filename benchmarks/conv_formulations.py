"""Each compiled convolution formulation against PyTorch, op by op, in single-thread CPU time.

The measurements behind ``plan.choose`` in src/cnnlab/kernels/compiled/conv/plan.py: forward, input gradient and
weight gradient of the networks' convolution shapes through the direct kernel and through im2col +
BLAS, beside PyTorch's (oneDNN). One thread everywhere and CPU time (``time.process_time``, best of 7)
so that other processes on a shared machine matter less than they do to wall-clock time.

    python benchmarks/conv_formulations.py [NAME ...]      # e.g. fash2 c64, dw128
"""

import os
import sys
import time

os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["CNNLAB_NUM_THREADS"] = "1"

import numba  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from cnnlab.kernels.compiled.conv import columns, depthwise, direct, layout  # noqa: E402

torch.set_num_threads(1)
numba.set_num_threads(1)

SHAPES = [  # name, N, C, H(=W), O, k, padding, stride
    ("fash1", 64, 1, 28, 16, 5, 2, 1), ("fash2", 64, 16, 14, 32, 5, 2, 1),
    ("lenet1", 128, 1, 28, 6, 5, 0, 1), ("lenet2", 128, 6, 12, 16, 5, 0, 1),
    ("r20s1", 128, 16, 32, 16, 3, 1, 1), ("r20s3", 128, 64, 8, 64, 3, 1, 1),
    ("c64", 32, 64, 56, 64, 3, 1, 1), ("c256", 32, 256, 14, 256, 3, 1, 1),
    ("r20down", 128, 16, 32, 32, 3, 1, 2),
]
DEPTHWISE_SHAPES = [  # name, N, C, H(=W), k, padding, stride: groups = C, one filter per channel
    ("dw128", 32, 128, 28, 3, 1, 1), ("dw128s2", 32, 128, 28, 3, 1, 2),
]


def cpu_ms(f, reps=7):
    f()
    best = float("inf")
    for _ in range(reps):
        t0 = time.process_time()
        f()
        best = min(best, time.process_time() - t0)
    return best * 1e3


def _channels_last(a):
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def depthwise_rows(selected):
    """The depthwise formulation on NCHW memory (plane tasks) and on channels-last memory (loops
    over the channels), beside PyTorch's depthwise convolution."""
    for name, n, c, h, k, pad, s in DEPTHWISE_SHAPES:
        if selected and name not in selected:
            continue
        rng = np.random.default_rng(0)
        x = rng.standard_normal((n, c, h, h)).astype(np.float32)
        w = rng.standard_normal((c, 1, k, k)).astype(np.float32)
        pads, st, d = ((pad, pad), (pad, pad)), (s, s), (1, 1)
        g = rng.standard_normal((n, c) + layout._out_size(x.shape, (k, k), pads, st, d)).astype(np.float32)
        r = {}
        for tag, xs, gs in (("nchw", x, g), ("nhwc", _channels_last(x), _channels_last(g))):
            r[f"{tag}_fwd"] = cpu_ms(lambda: depthwise.forward(xs, w, None, pads, st, d, c))
            r[f"{tag}_igrad"] = cpu_ms(lambda: depthwise.input_grad(gs, w, x.shape, pads, st, d, c))
            r[f"{tag}_wgrad"] = cpu_ms(lambda: depthwise.weight_grad(xs, gs, w.shape, pads, st, d, c))
        xt, wt, gt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True), torch.tensor(g)
        back = torch.ops.aten.convolution_backward
        r["torch_fwd"] = cpu_ms(lambda: torch.nn.functional.conv2d(xt, wt, None, s, pad, 1, c))
        r["torch_igrad"] = cpu_ms(lambda: back(gt, xt, wt, None, st, pads[0], d, False, [0, 0], c,
                                               [True, False, False]))
        r["torch_wgrad"] = cpu_ms(lambda: back(gt, xt, wt, None, st, pads[0], d, False, [0, 0], c,
                                               [False, True, False]))
        print(name, "  ".join(f"{key}={v:.2f}" for key, v in r.items()), flush=True)


def main(selected):
    print("ms of single-thread CPU (GFLOP/s); direct_* only for stride 1")
    for name, n, c, h, o, k, pad, s in SHAPES:
        if selected and name not in selected:
            continue
        rng = np.random.default_rng(0)
        x = rng.standard_normal((n, c, h, h)).astype(np.float32)
        w = rng.standard_normal((o, c, k, k)).astype(np.float32)
        pads, st, d = ((pad, pad), (pad, pad)), (s, s), (1, 1)
        out_size = layout._out_size(x.shape, (k, k), pads, st, d)
        g = rng.standard_normal((n, o) + out_size).astype(np.float32)
        r = {}
        if s == 1:
            r["direct_fwd"] = cpu_ms(lambda: direct.forward(x, w, None, pads, st, d, 1))
            r["direct_igrad"] = cpu_ms(lambda: direct.input_grad(g, w, x.shape, pads, st, d, 1))
            r["direct_wgrad"] = cpu_ms(lambda: direct.weight_grad(x, g, w.shape, pads, st, d, 1))
        r["cols_fwd"] = cpu_ms(lambda: columns.forward(x, w, None, pads, st, d, 1))
        r["cols_igrad"] = cpu_ms(lambda: columns.input_grad(g, w, x.shape, pads, st, d, 1))
        r["cols_wgrad"] = cpu_ms(lambda: columns.weight_grad(x, g, w.shape, pads, st, d, 1))
        xt, wt, gt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True), torch.tensor(g)
        back = torch.ops.aten.convolution_backward
        r["torch_fwd"] = cpu_ms(lambda: torch.nn.functional.conv2d(xt, wt, None, s, pad))
        r["torch_igrad"] = cpu_ms(lambda: back(gt, xt, wt, None, st, pads[0], d, False, [0, 0], 1,
                                               [True, False, False]))
        r["torch_wgrad"] = cpu_ms(lambda: back(gt, xt, wt, None, st, pads[0], d, False, [0, 0], 1,
                                               [False, True, False]))
        mflop = 2 * n * out_size[0] * out_size[1] * o * c * k * k / 1e6
        print(name, "  ".join(f"{key}={v:.2f}({mflop / v:.0f})" for key, v in r.items()), flush=True)


if __name__ == "__main__":
    names = sys.argv[1:]
    if not names or any(not name.startswith("dw") for name in names):
        main(names)
    if not names or any(name.startswith("dw") for name in names):
        depthwise_rows(names)
