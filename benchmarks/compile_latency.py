"""Compile latency of the compiled kernels, as a user meets it: the first training steps of
``cnnlab train``'s default job (fashion_cnn, Adam, batch 64) with an empty Numba cache, with a warm
cache, against the steady step. Each run is a fresh process; the cache is a fresh directory
(``NUMBA_CACHE_DIR``), so the package's own cache is left alone.

    python benchmarks/compile_latency.py                 # prints the table, other processes' CPU share
    python benchmarks/compile_latency.py --markdown benchmarks/RESULTS.md   # and updates its section
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from results_md import write_section

STEPS = 30
CHILD = r"""
import json, os, sys, time
t0 = time.perf_counter()
cpu0 = time.process_time()
import numpy as np
import cnnlab
from cnnlab import nn, optim
from cnnlab.models import fashion_cnn
t_import = time.perf_counter() - t0
rng = np.random.default_rng(0)
x = cnnlab.tensor(rng.standard_normal((64, 1, 28, 28)).astype(np.float32))
y = cnnlab.tensor(rng.integers(0, 10, 64))
cnnlab.manual_seed(0)
model = fashion_cnn()
opt = optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
steps = []
for _ in range(int(sys.argv[1])):
    s = time.perf_counter()
    opt.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()
    steps.append(time.perf_counter() - s)
print(json.dumps(dict(import_s=t_import, steps=steps, total_s=time.perf_counter() - t0,
                      cpu_s=time.process_time() - cpu0, kernels=cnnlab.kernels.active())))
"""


def _busy():
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    return sum(fields) - fields[3] - fields[4], sum(fields)   # busy (not idle/iowait), total jiffies


def run(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    b0, t0 = _busy()
    out = subprocess.run([sys.executable, "-c", CHILD, str(STEPS)], env=env, capture_output=True, text=True,
                         check=True)
    b1, t1 = _busy()
    report = json.loads(out.stdout.strip().splitlines()[-1])
    hz = os.sysconf("SC_CLK_TCK")
    ours = report["cpu_s"] * hz
    report["other_cpu_share"] = max(0.0, (b1 - b0) - ours) / max(1, t1 - t0)
    return report


def _steady(r):
    late = sorted(r["steps"][STEPS // 2:])
    return late[len(late) // 2]


def markdown(rows):
    """The RESULTS.md section: the table, the command, the date and the load."""
    lines = ["## Compile latency: the first training step, cold and warm kernel cache", "",
             "Command: `python benchmarks/compile_latency.py --markdown benchmarks/RESULTS.md` "
             f"({time.strftime('%Y-%m-%d %H:%M')}); fashion_cnn, Adam, batch 64, a plain script (no setup call), "
             "a fresh process per run, "
             "the first run with an empty Numba cache, the second with the cache it wrote.", "",
             "| run | imports | step 1 | step 2 | steady step | process start to end of step 1 | "
             "other processes' CPU share |", "|---|---|---|---|---|---|---|"]
    for name, r in rows:
        lines.append(f"| {name} | {r['import_s']:.2f} s | {r['steps'][0]:.2f} s | {r['steps'][1]:.3f} s | "
                     f"{_steady(r):.3f} s | {r['import_s'] + r['steps'][0]:.2f} s | {r['other_cpu_share']:.0%} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", metavar="PATH", help="update the compile_latency section of this file")
    args = parser.parse_args()
    cache = tempfile.mkdtemp(prefix="cnnlab-numba-cache-")
    rows = [("empty cache", run(cache)), ("warm cache", run(cache))]
    print(f"{'run':<12} {'imports':>8} {'step 1':>8} {'step 2':>8} {'steady':>8} {'to step 1 end':>14} "
          f"{'others CPU':>10}")
    for name, r in rows:
        print(f"{name:<12} {r['import_s']:>7.2f}s {r['steps'][0]:>7.2f}s {r['steps'][1]:>7.3f}s "
              f"{_steady(r):>7.3f}s {r['import_s'] + r['steps'][0]:>13.2f}s {r['other_cpu_share']:>9.0%}  "
              f"({r['kernels']} kernels)")
    if args.markdown:
        write_section("compile_latency", markdown(rows), args.markdown)
        print(f"updated the compile_latency section of {args.markdown}")


if __name__ == "__main__":
    main()
