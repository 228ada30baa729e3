"""Threading layers and scheduling on a quiet and on a busy machine: cnnlab beside PyTorch.

Every configuration is a fresh plain script (``train_steps.py``, no setup call) with its own
environment: Numba's threading layer (``omp``, ``tbb`` from the ``tbb`` wheel, ``workqueue``), static
or dynamic scheduling (Numba's parallel chunk size), quiet or beside ``--busy`` single-thread busy
processes. Configurations run interleaved, round after round, so that whatever else the machine does
falls on all of them alike; the table holds medians over rounds and the share each keeps when busy.

    python benchmarks/threads_busy.py --rounds 3 --markdown benchmarks/RESULTS.md
    python benchmarks/threads_busy.py --tbb-lib /path/to/site-packages/../lib --rounds 1 --seconds 4
"""

import argparse
import glob
import itertools
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from results_md import markers, write_section  # noqa: E402

MARK_START, MARK_END = markers("threads_busy")
NETS = (("fashion_cnn", 64), ("resnet20", 128))
LAYERS = ("omp", "tbb", "workqueue")
SCHEDULES = {"static": 0, "dynamic": 1}


def find_tbb_lib():
    """The ``lib/`` directory of the ``tbb`` wheel (``libtbb.so.12``), or None."""
    for base in {sys.prefix, sys.exec_prefix}:
        found = glob.glob(os.path.join(base, "lib", "libtbb.so.12"))
        if found:
            return os.path.dirname(found[0])
    return None


def configurations(layers, schedules, nets, busy_levels):
    for (net, batch), busy in itertools.product(nets, busy_levels):
        yield {"lib": "torch", "net": net, "batch": batch, "busy": busy}
        for layer, schedule in itertools.product(layers, schedules):
            yield {"lib": "cnnlab", "net": net, "batch": batch, "busy": busy, "layer": layer,
                   "schedule": schedule}


def run_one(config, seconds, tbb_lib, threads):
    env = dict(os.environ)
    cmd = [sys.executable, os.path.join(HERE, "train_steps.py"), "--lib", config["lib"], "--net", config["net"],
           "--batch", str(config["batch"]), "--seconds", str(seconds), "--busy", str(config["busy"])]
    if config["lib"] == "torch":
        cmd += ["--torch-threads", str(threads)]
    else:
        env["NUMBA_THREADING_LAYER"] = config["layer"]
        if config["layer"] == "tbb" and tbb_lib:
            env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [tbb_lib, env.get("LD_LIBRARY_PATH")]))
        cmd += ["--chunksize", str(SCHEDULES[config["schedule"]])]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def key(config):
    if config["lib"] == "torch":
        return ("torch", config["net"], "", "")
    return ("cnnlab", config["net"], config["layer"], config["schedule"])


def summarise(results):
    """{key: {busy: median images/s}}."""
    table = {}
    for config, result in results:
        if "images_per_s" in result:
            table.setdefault(key(config), {}).setdefault(config["busy"], []).append(result["images_per_s"])
    return {k: {b: statistics.median(v) for b, v in per.items()} for k, per in table.items()}


def markdown(summary, args, started, loads):
    lines = ["## Issue 21: threading layers and scheduling, quiet and beside a busy process", "",
             f"Command: `python benchmarks/threads_busy.py {' '.join(args.argv)}`  ",
             f"Date: {started}; {args.rounds} interleaved rounds, medians; each cell a fresh plain script "
             f"(`benchmarks/train_steps.py`, no setup call) timed for {args.seconds:g} s after a warm-up; busy = "
             f"{args.busy} `python -c \"while True: pass\"` beside it. Load average before the rounds: "
             f"{', '.join(f'{x:.1f}' for x in loads)} (other work on the machine was not stopped).", "",
             "| net | library | layer | schedule | quiet img/s | busy img/s | kept | busy vs torch busy |",
             "|---|---|---|---|---|---|---|---|"]
    torch_busy = {k[1]: v.get(args.busy) for k, v in summary.items() if k[0] == "torch"}
    for k in sorted(summary, key=lambda k: (k[1], k[0] != "torch", k[2], k[3])):
        quiet, busy = summary[k].get(0), summary[k].get(args.busy)
        kept = f"{busy / quiet:.0%}" if quiet and busy else ""
        versus = f"{busy / torch_busy[k[1]]:.2f}x" if busy and torch_busy.get(k[1]) else ""
        lines.append(f"| {k[1]} | {k[0]} | {k[2]} | {k[3]} | {quiet or 0:,.0f} | {busy or 0:,.0f} | {kept} "
                     f"| {versus} |")
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=6.0)
    p.add_argument("--busy", type=int, default=1, help="busy processes in the busy configurations")
    p.add_argument("--layer", action="append", choices=LAYERS, default=None)
    p.add_argument("--schedule", action="append", choices=sorted(SCHEDULES), default=None)
    p.add_argument("--net", action="append", choices=[n for n, _ in NETS], default=None)
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="PyTorch's threads")
    p.add_argument("--tbb-lib", default=None, help="directory holding libtbb.so.12 (default: the tbb wheel's)")
    p.add_argument("--json", default=None)
    p.add_argument("--markdown", default=None, help="write the table into this file's threads_busy section")
    args = p.parse_args(argv)
    args.argv = argv
    tbb_lib = args.tbb_lib or find_tbb_lib()
    layers = args.layer or [layer for layer in LAYERS if layer != "tbb" or tbb_lib]
    nets = [(n, b) for n, b in NETS if not args.net or n in args.net]
    configs = list(configurations(layers, args.schedule or sorted(SCHEDULES), nets, (0, args.busy)))
    started, loads = time.strftime("%Y-%m-%d %H:%M"), os.getloadavg()
    results = []
    for round_ in range(args.rounds):
        order = configs if round_ % 2 == 0 else configs[::-1]
        for config in order:
            result = run_one(config, args.seconds, tbb_lib, args.threads)
            results.append((config, result))
            print(json.dumps({**config, **result}), flush=True)
    summary = summarise(results)
    text = markdown(summary, args, started, loads)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{**c, **r} for c, r in results], f, indent=1)
    if args.markdown:
        write_section("threads_busy", text, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
