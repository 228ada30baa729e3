"""What does watching a training cost? The same fashion_cnn training steps with no live view, and with
``--live``'s feed and server running and the page open in a headless Chromium polling it.

Rounds alternate the two conditions (A B A B ...) so that a change in the machine's load hits both; each
round trains ``--batches`` batches of 64 Fashion-MNIST images from the same weights in the same order and
records every step's time (from one batch's end to the next). The slowdown is the ratio of the median step
times. Writes its results into ``benchmarks/RESULTS.md`` between the ``live_overhead`` markers.

Usage:
    python benchmarks/live_overhead.py [--rounds 4] [--batches 150] [--no-write]
"""

import argparse
import datetime
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time

import numpy as np

import cnnlab
from cnnlab import models, optim
from cnnlab.data import DataLoader, Subset, get_dataset
from cnnlab.live import LiveServer
from cnnlab.train import Trainer
from cnnlab.train.live_feed import LiveFeed
from cnnlab.train.run import channel_stats, set_normalize

HERE = os.path.dirname(os.path.abspath(__file__))
START, END = "<!-- live_overhead:start -->", "<!-- live_overhead:end -->"


class StepTimes:
    """Callback: the time of every training step, measured between consecutive batch ends."""

    def __init__(self):
        self.times, self._last = [], None

    def on_batch_end(self, trainer, batch, logs):
        now = time.perf_counter()
        if self._last is not None:
            self.times.append(now - self._last)
        self._last = now


def open_page(url, tmp):
    """A headless Chromium showing ``url`` until terminated (it polls the page's snapshots meanwhile)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        raise SystemExit("live_overhead: needs Chromium to open the page (apt-get install chromium)")
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp}", "--remote-debugging-port=0", url]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "HOME": tmp})


def one_round(live, train, test, batches, seed):
    cnnlab.manual_seed(seed)
    model = models.fashion_cnn(num_classes=10)
    steps = StepTimes()
    callbacks, server, browser, requests = [steps], None, None, [0]
    if live:
        feed = LiveFeed()
        server = LiveServer(feed, port=0)
        seen = threading.Event()
        served = server.snapshot_json

        def counted(since=0):
            requests[0] += 1
            if feed.latest[1] is not None:
                seen.set()
            return served(since)

        server.snapshot_json = counted
        callbacks.insert(0, feed)
        tmp = tempfile.mkdtemp(prefix="live-overhead-")
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=1e-3), callbacks=callbacks, progress=False,
                      log=None, meta={"model": "fashion_cnn", "dataset": "fashion-mnist", "classes": train.classes})
    loader = DataLoader(Subset(train, np.arange(batches * 64)), batch_size=64, shuffle=True, seed=seed)
    if live:
        feed.on_train_begin(trainer, loader, DataLoader(test, batch_size=500), 1)   # first snapshot for the page
        browser = open_page(server.url, tmp)
        if not seen.wait(120):
            raise SystemExit("live_overhead: the page never asked for a snapshot")
    start = time.perf_counter()
    trainer.fit(loader, None, epochs=1)
    wall = time.perf_counter() - start
    if live:
        browser.terminate()
        browser.wait(30)
        server.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return {"median": statistics.median(steps.times), "wall": wall, "requests": requests[0]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--batches", type=int, default=150)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    train = get_dataset("fashion-mnist", root=args.data_dir, train=True)
    test = get_dataset("fashion-mnist", root=args.data_dir, train=False)
    mean, std = channel_stats(train)
    for ds in (train, test):
        set_normalize(ds, mean, std)
    load_before = os.getloadavg()[0]
    results = {False: [], True: []}
    for r in range(args.rounds):
        for live in (False, True):
            res = one_round(live, train, test, args.batches, seed=r)
            results[live].append(res)
            print(f"round {r + 1} {'live + page' if live else 'no live   '}: median step "
                  f"{res['median'] * 1000:.1f} ms, {res['wall']:.1f} s, {res['requests']} page requests", flush=True)
    off = statistics.median(x["median"] for x in results[False])
    on = statistics.median(x["median"] for x in results[True])
    per_round = [b["median"] / a["median"] - 1 for a, b in zip(results[False], results[True])]
    text = report(args, results, off, on, per_round, load_before, os.getloadavg()[0])
    print(text)
    if not args.no_write:
        write(text)


def report(args, results, off, on, per_round, load_before, load_after):
    day = datetime.date.today().isoformat()
    requests = [x["requests"] for x in results[True]]
    rows = [f"| {i + 1} | {a['median'] * 1000:.1f} | {b['median'] * 1000:.1f} | {d * 100:+.1f}% | {b['requests']} |"
            for i, (a, b, d) in enumerate(zip(results[False], results[True], per_round))]
    verdict = "met" if on / off - 1 <= 0.05 else "NOT met"
    return "\n".join([
        START,
        "## Live view overhead (`benchmarks/live_overhead.py`)",
        "",
        f"Command: `python benchmarks/live_overhead.py --rounds {args.rounds} --batches {args.batches}`, {day}, "
        f"2 CPU cores shared with other jobs (load average {load_before:.1f} at the start, {load_after:.1f} at "
        f"the end). fashion_cnn, Adam, batch 64, Fashion-MNIST; rounds alternate no live view and the live "
        f"feed + server with the page open in headless Chromium (which polls twice a second: "
        f"{min(requests)}-{max(requests)} snapshot requests per round). Median step time per round:",
        "",
        "| round | no live view (ms) | live + page open (ms) | difference | page requests |",
        "|---|---|---|---|---|",
        *rows,
        "",
        f"Median over rounds: {off * 1000:.1f} ms without, {on * 1000:.1f} ms with the page open: "
        f"**{(on / off - 1) * 100:+.1f}%** (target <= +5%: {verdict}).",
        END,
    ])


def write(text):
    path = os.path.join(HERE, "RESULTS.md")
    with open(path) as f:
        old = f.read()
    if START in old and END in old:
        new = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda m: text, old, flags=re.S)
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(new)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
