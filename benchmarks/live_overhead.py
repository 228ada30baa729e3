"""What does watching a training cost? The same fashion_cnn training steps with no live view, and
with ``--live``'s feed and server running and the page open in a headless Chromium polling it.

Rounds alternate the two conditions (A B A B ...) so that a change in the machine's load hits both;
each round trains ``--batches`` batches of 64 Fashion-MNIST images from the same weights in the
same order.
Two measures: (1) the wall-clock median step time of each condition (on a machine shared with other
jobs this swings by tens of percent from round to round, both ways); (2) the live view's own cost,
which the load does not move: the time the training thread spends inside the feed's callbacks as a
share of the training's wall time, and the CPU time of the server's encoding and of the Chromium
process tree as a share of the training process's CPU time. Writes its results into
``benchmarks/RESULTS.md`` between the ``live_overhead`` markers.

Usage:
    python benchmarks/live_overhead.py [--rounds 4] [--batches 200] [--no-write]
"""

import argparse
import datetime
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time

import numpy as np

import cnnlab
from cnnlab import models, optim
from cnnlab.data import DataLoader, Subset, get_dataset
from cnnlab.live import LiveFeed, LiveServer
from cnnlab.train import Trainer
from cnnlab.runs.saved import set_normalize
from cnnlab.train.run import channel_stats
from results_md import write_section

# Training starts once the page has polled this many times (about 10 s): Chromium's start-up, which
# goes on after the first request, is not the cost of watching.
SETTLE = 20


class TimedFeed(LiveFeed):
    """A LiveFeed that adds up the wall time the training thread spends in its callbacks."""

    spent = 0.0

    def _timed(self, method, *args):
        start = time.perf_counter()
        try:
            return method(*args)
        finally:
            self.spent += time.perf_counter() - start

    def on_train_begin(self, *args):
        return self._timed(super().on_train_begin, *args)

    def on_batch_end(self, *args):
        return self._timed(super().on_batch_end, *args)

    def on_epoch_end(self, *args):
        return self._timed(super().on_epoch_end, *args)

    def on_train_end(self, *args):
        return self._timed(super().on_train_end, *args)


def tree_cpu(root):
    """CPU seconds (user + system) of process ``root`` and all its descendants, from /proc."""
    parents, cpu = {}, {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(pid)] = int(fields[1])
        cpu[int(pid)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0.0)
        todo += [child for child, parent in parents.items() if parent == pid]
    return total


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
    """A headless Chromium showing ``url`` until terminated (it polls the page's snapshots
    meanwhile)."""
    browser = (
        shutil.which("chromium")
        or shutil.which("chromium-browser")
        or shutil.which("google-chrome")
    )
    if browser is None:
        raise SystemExit(
            "live_overhead: needs Chromium to open the page (apt-get install chromium)"
        )
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp}",
        "--remote-debugging-port=0",
        url,
    ]
    return subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HOME": tmp},
        start_new_session=True,  # its own process group: close_page ends every Chromium process
    )


def close_page(browser):
    """End the Chromium started by ``open_page`` with all its helper processes."""
    os.killpg(browser.pid, signal.SIGTERM)
    browser.wait(30)


def one_round(live, train, test, batches, seed):
    cnnlab.manual_seed(seed)
    model = models.fashion_cnn(num_classes=10)
    steps = StepTimes()
    callbacks, server, browser, requests, encode = [steps], None, None, [0], [0.0]
    if live:
        feed = TimedFeed()
        server = LiveServer(feed, port=0)
        seen = threading.Event()
        served = server.snapshot_json

        def counted(since=0, images=0):
            requests[0] += 1
            if feed.latest[1] is not None and requests[0] >= SETTLE:
                seen.set()
            start = time.thread_time()
            try:
                return served(since, images)
            finally:
                encode[0] += time.thread_time() - start

        server.snapshot_json = counted
        callbacks.insert(0, feed)
        tmp = tempfile.mkdtemp(prefix="live-overhead-")
    trainer = Trainer(
        model,
        optim.Adam(model.parameters(), lr=1e-3),
        callbacks=callbacks,
        progress=False,
        log=None,
        meta={"model": "fashion_cnn", "dataset": "fashion-mnist", "classes": train.classes},
    )
    loader = DataLoader(
        Subset(train, np.arange(batches * 64)), batch_size=64, shuffle=True, seed=seed
    )
    if live:
        feed.on_train_begin(
            trainer, loader, DataLoader(test, batch_size=500), 1
        )  # first snapshot for the page
        browser = open_page(server.url, tmp)
        if not seen.wait(300):
            raise SystemExit("live_overhead: the page never asked for a snapshot")
        feed.spent, encode[0] = 0.0, 0.0
        browser_cpu = tree_cpu(browser.pid)
    start, cpu = time.perf_counter(), time.process_time()
    trainer.fit(loader, None, epochs=1)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    result = {
        "median": statistics.median(steps.times),
        "wall": wall,
        "cpu": cpu,
        "requests": requests[0],
    }
    if live:
        result.update(
            feed=feed.spent, encode=encode[0], browser=tree_cpu(browser.pid) - browser_cpu
        )
        close_page(browser)
        server.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return result


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
            costs = (
                f", feed {res['feed']:.2f} s, encoding {res['encode']:.2f} s CPU, Chromium "
                f"{res['browser']:.2f} s CPU"
                if live
                else ""
            )
            print(
                f"round {r + 1} {'live + page' if live else 'no live   '}: median step "
                f"{res['median'] * 1000:.1f} ms, {res['wall']:.1f} s, {res['requests']} page "
                f"requests{costs}",
                flush=True,
            )
    off = statistics.median(x["median"] for x in results[False])
    on = statistics.median(x["median"] for x in results[True])
    per_round = [b["median"] / a["median"] - 1 for a, b in zip(results[False], results[True])]
    text = report(args, results, off, on, per_round, load_before, os.getloadavg()[0])
    print(text)
    if not args.no_write:
        write_section("live_overhead", text)


def report(args, results, off, on, per_round, load_before, load_after):
    day = datetime.date.today().isoformat()
    live = results[True]
    requests = [x["requests"] for x in live]
    rows = [
        f"| {i + 1} | {a['median'] * 1000:.1f} | {b['median'] * 1000:.1f} | {d * 100:+.1f}% | "
        f"{b['feed'] / b['wall'] * 100:.2f}% | {b['encode'] / b['cpu'] * 100:.2f}% | "
        f"{b['browser'] / b['cpu'] * 100:.2f}% |"
        for i, (a, b, d) in enumerate(zip(results[False], live, per_round))
    ]
    feed = sum(x["feed"] for x in live) / sum(x["wall"] for x in live)
    encode = sum(x["encode"] for x in live) / sum(x["cpu"] for x in live)
    browser = sum(x["browser"] for x in live) / sum(x["cpu"] for x in live)
    cost = feed + encode + browser
    verdict = "met" if cost <= 0.05 else "NOT met"
    return "\n".join(
        [
            "## Live view overhead (`benchmarks/live_overhead.py`)",
            "",
            f"Command: `python benchmarks/live_overhead.py --rounds {args.rounds} --batches "
            f"{args.batches}`, {day}, 2 CPU cores shared with other jobs (load average "
            f"{load_before:.1f} at the start, {load_after:.1f} at the end). fashion_cnn, Adam, "
            f"batch 64, Fashion-MNIST; rounds alternate no live view and the live feed + server "
            f"with the page open in headless Chromium (polling once a second: {min(requests)}-"
            f"{max(requests)} snapshot requests per round; each round starts once the page has "
            f"polled {SETTLE} times, so Chromium's start-up is not counted).",
            "",
            "| round | median step, no live view (ms) | median step, live + page (ms) | difference "
            "| feed in the training thread (share of wall time) | server encoding (share of "
            "training CPU) | Chromium (share of training CPU) |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"The live view's own cost, summed over the rounds: {feed * 100:.2f}% of the "
            f"training's wall time spent in the feed's callbacks, plus {encode * 100:.2f}% "
            f"(server) and {browser * 100:.2f}% (Chromium) of its CPU time: "
            f"**{cost * 100:.2f}%** in all (target <= 5%: {verdict}). The wall-clock medians "
            f"({off * 1000:.1f} ms without, "
            f"{on * 1000:.1f} ms with the page open, {(on / off - 1) * 100:+.1f}%) move with the "
            "other jobs' load on this machine, from round to round and both ways, by far more "
            "than the cost measured directly.",
        ]
    )


if __name__ == "__main__":
    main()
