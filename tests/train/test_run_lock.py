"""The run lock is atomic: two takers of one stale lock cannot both hold it, a forced take-over
is never undone by the loser's release, and a `.lock` that is not a file is one line."""

import os
import socket
import subprocess
import sys
import threading

import pytest

from cnnlab.cli import main
from cnnlab.runs.rundir import PathError, RunLock


def _dead_pid():
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _stale_lock(folder):
    (folder / ".lock").write_text(f'{{"pid": {_dead_pid()}, "host": "{socket.gethostname()}"}}')


def test_two_takers_of_one_stale_lock_cannot_both_hold_it(tmp_path, monkeypatch):
    """Forced interleaving: the first taker stops between judging the lock stale and removing it,
    and waits for the second to reach the same point. Without an atomic take-over both get there
    and both hold the lock; with it the second waits, then finds the first one's fresh lock."""
    _stale_lock(tmp_path)
    reached = {name: threading.Event() for name in ("a", "b")}
    names = threading.local()

    def judged(self):
        reached[names.me].set()
        if names.me == "a":
            reached["b"].wait(1.0)  # the window in which the second taker would come in

    monkeypatch.setattr(RunLock, "_judged", judged)
    results = {}

    def take(name):
        names.me = name
        lock = RunLock(tmp_path, log=lambda line: None)
        try:
            results[name] = lock.acquire()
        except PathError as e:
            results[name] = e

    a = threading.Thread(target=take, args=("a",))
    a.start()
    assert reached["a"].wait(60)
    b = threading.Thread(target=take, args=("b",))
    b.start()
    a.join(60)
    b.join(60)
    assert isinstance(results["a"], RunLock) and results["a"].held
    assert isinstance(results["b"], PathError), "both takers hold the lock"
    assert f"is in use by process {os.getpid()}" in str(results["b"])
    assert not reached["b"].is_set()  # the second never judged the old lock stale
    results["a"].release()
    assert not (tmp_path / ".lock").exists()


def test_two_processes_race_for_a_stale_lock(tmp_path):
    """Eight processes start at once on one stale lock, each holding what it gets for a moment:
    exactly one holds it."""
    _stale_lock(tmp_path)
    script = ("import sys, time\n"
              "from cnnlab.runs.rundir import RunLock, PathError\n"
              "sys.stdin.readline()\n"
              "try:\n"
              "    lock = RunLock(sys.argv[1]).acquire()\n"
              "except PathError:\n"
              "    print('refused', flush=True)\n"
              "else:\n"
              "    print('held', flush=True); time.sleep(1.0); lock.release()\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE) for _ in range(8)]
    for p in procs:  # all imported and waiting: release them together
        p.stdin.write("go\n")
        p.stdin.flush()
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert sorted(outs).count("held") == 1, outs
    assert not (tmp_path / ".lock").exists()


def test_the_release_of_a_forced_out_holder_leaves_the_new_lock(tmp_path):
    first = RunLock(tmp_path).acquire()
    second = RunLock(tmp_path, force=True).acquire()
    first.release()  # must not remove the lock the second run now holds
    assert (tmp_path / ".lock").exists()
    with pytest.raises(PathError, match="is in use by process"):
        RunLock(tmp_path).acquire()
    second.release()
    assert not (tmp_path / ".lock").exists()


@pytest.mark.parametrize("force", [False, True])
def test_a_lock_that_is_a_directory_is_one_line(tmp_path, capsys, force):
    pytest.importorskip("sklearn")
    (tmp_path / ".lock").mkdir()
    args = ["train", "--dataset", "digits", "--epochs", "1", "--no-progress", "--out",
            str(tmp_path)] + (["--force"] if force else [])
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err == (f"cnnlab train: error: train: {str(tmp_path / '.lock')!r} is a directory, not "
                   "a lock file; remove it (cnnlab never deletes it, even with --force) or use "
                   "another --out")
    assert (tmp_path / ".lock").is_dir()
