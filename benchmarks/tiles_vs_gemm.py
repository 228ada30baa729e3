"""The columns' two products for wide convolutions, side by side: register tiles in blocks of 64 outputs
against im2col chunks through the threaded GEMM, forward, stride-1 input gradient and weight gradient.

The measurement behind ``plan.tiled``'s rule for 128+ outputs (src/cnnlab/kernels/compiled/conv/plan.py):
the two are called alternately in one process on the kernels' threads, GFLOP/s of the median of 5 calls
per round, over ``--rounds`` rounds.

    python benchmarks/tiles_vs_gemm.py [--rounds 3]
"""

import argparse
import time

import numpy as np

from cnnlab.kernels.compiled.conv import columns, plan

SHAPES = [  # N, C, H(=W), O, stride: resnet18's stages at batch 32 and 1, the VGG-style net's at 128
    (32, 128, 28, 128, 1), (32, 256, 14, 256, 1), (32, 512, 7, 512, 1), (32, 64, 56, 128, 2),
    (32, 128, 28, 256, 2), (32, 256, 14, 512, 2), (128, 128, 16, 128, 1), (128, 256, 8, 256, 1),
    (128, 128, 16, 256, 1), (8, 128, 28, 128, 1), (1, 128, 28, 128, 1), (1, 256, 14, 256, 1),
]


def _gemm_only(width, dtype, groups, rows=0, threads=1):
    return width in plan.TILES and plan.tiled(width, dtype, groups, rows, threads)


def _gemm_only_wgrad(width, channels, dtype, groups, kernel_width=0, dilation=1, rows=0, threads=1):
    return width in plan.TILES and plan.wgrad_tiled(width, channels, dtype, groups, kernel_width, dilation,
                                                    rows, threads)


def _tiles_wgrad(width, channels, dtype, groups, kernel_width=0, dilation=1, rows=0, threads=1):
    return plan.wgrad_tiled(width, channels, dtype, groups, kernel_width, dilation, 1 << 30, 1)


def _tiles(width, dtype, groups, rows=0, threads=1):
    return plan.tiled(width, dtype, groups, 1 << 30, 1)


PATHS = {"gemm": (_gemm_only, _gemm_only_wgrad), "tiles": (_tiles, _tiles_wgrad)}


def _median_s(f, calls=5):
    f()
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def _ops(n, c, s, o, stride, rng):
    """The three ops of one shape as thunks, and the multiply-adds x 2 of each."""
    x = np.ascontiguousarray(rng.standard_normal((n, s, s, c)).astype(np.float32)).transpose(0, 3, 1, 2)
    w = (rng.standard_normal((o, c, 3, 3)) * 0.05).astype(np.float32)
    pads, out = ((1, 1), (1, 1)), (s - 1) // stride + 1
    g = np.ascontiguousarray(rng.standard_normal((n, out, out, o)).astype(np.float32)).transpose(0, 3, 1, 2)
    ops = {"forward": lambda: columns.forward(x, w, None, pads, (stride,) * 2, (1, 1), 1),
           "weight grad": lambda: columns.weight_grad(x, g, w.shape, pads, (stride,) * 2, (1, 1), 1)}
    if stride == 1:
        ops["input grad"] = lambda: columns.input_grad(g, w, x.shape, pads, (1, 1), (1, 1), 1)
    return ops, n * out * out * c * 9 * o * 2


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    saved = columns.tiled, columns.wgrad_tiled
    print("| N, C, HxW -> O, stride | rows | op | gemm GFLOP/s | tiles GFLOP/s |\n|---|---|---|---|---|")
    try:
        for n, c, s, o, stride in SHAPES:
            ops, flops = _ops(n, c, s, o, stride, rng)
            for name, op in ops.items():
                rates = {path: [] for path in PATHS}
                for _ in range(args.rounds):
                    for path, (tiled, wgrad_tiled) in PATHS.items():
                        columns.tiled, columns.wgrad_tiled = tiled, wgrad_tiled
                        rates[path].append(flops / _median_s(op) / 1e9)
                rows = n * ((s - 1) // stride + 1) ** 2
                cells = [" / ".join(f"{r:.0f}" for r in rates[path]) for path in PATHS]
                print(f"| {n}, {c}, {s}x{s} -> {o}, {stride} | {rows} | {name} | {cells[0]} | {cells[1]} |")
    finally:
        columns.tiled, columns.wgrad_tiled = saved


if __name__ == "__main__":
    main()
