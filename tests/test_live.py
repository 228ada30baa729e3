"""``cnnlab train --live``: the page in headless Chromium while a run trains, the HTTP answers to
bad requests, and that watching a training changes nothing in it."""

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest

import cnnlab.live.server as live
from cnnlab.cli import main
from cnnlab.live.feed import LiveFeed, _downsample

WAIT = 300  # a guard against a hung run, not a timing: every wait below ends on an event


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _dump_dom(browser, tmp_path, url):
    """The page's DOM after its scripts ran for 3 s of virtual time (polls answered by the live
    server)."""
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=3000",
        "--dump-dom",
        url,
    ]
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=WAIT, env={**os.environ, "HOME": str(tmp_path)}
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _read(dom):
    """What the page drew: snapshot version, batches, points per curve, filters and activation
    layers."""
    body = re.search(r'<body data-version="(\d+)" data-batches="(\d+)"', dom)
    curves = {
        m.group(1): m.group(2) for m in re.finditer(r'<svg id="([\w-]+)"(.*?)</svg>', dom, re.S)
    }
    points = {k: [int(p) for p in re.findall(r'data-points="(\d+)"', v)] for k, v in curves.items()}
    loss_line = re.search(r'<svg id="batch-loss".*?points="([^"]*)"', dom, re.S)
    return {
        "version": int(body.group(1)),
        "batches": int(body.group(2)),
        "points": points,
        "loss_line": loss_line.group(1) if loss_line else "",
        "filters": int(re.search(r'id="filters" data-drawn="(\d+)"', dom).group(1)),
        "layers": int(re.search(r'id="activations" data-layers="(\d+)"', dom).group(1)),
        "canvases": dom.count("<canvas"),
        "confusion": dom.count('id="confusion"><table class="cm">'),
    }


class Gate:
    """Pauses the training after given numbers of batches until the test lets it go on."""

    def __init__(self, stops):
        self.stops = list(stops)
        self.reached = {n: threading.Event() for n in stops}
        self.go = {n: threading.Event() for n in stops}


def test_page_shows_a_running_training_in_chromium(tmp_path, monkeypatch):
    pytest.importorskip("sklearn")
    browser = _chromium()
    if browser is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    gate = Gate([4, 30])
    servers = []

    class GatedFeed(LiveFeed):
        def __init__(self):
            super().__init__(
                interval=0, image_interval=0
            )  # a snapshot after every batch: the page reads exact

        def on_batch_end(self, trainer, batch, logs):
            super().on_batch_end(trainer, batch, logs)
            n = len(self._losses)
            if n in gate.reached:
                gate.reached[n].set()
                assert gate.go[n].wait(WAIT)

    real_start = live.start_live

    def start(*args, **kwargs):
        feed, server = real_start(*args, **kwargs)
        servers.append(server)
        return feed, server

    monkeypatch.setattr(live, "LiveFeed", GatedFeed)
    monkeypatch.setattr(live, "start_live", start)
    result = {}
    run = threading.Thread(
        target=lambda: result.setdefault(
            "code",
            main(
                [
                    "train",
                    "--dataset",
                    "digits",
                    "--epochs",
                    "2",
                    "--live",
                    "0",
                    "--no-progress",
                    "--out",
                    str(tmp_path / "run"),
                ]
            ),
        )
    )
    run.start()
    try:
        assert gate.reached[4].wait(WAIT)
        url = servers[0].url
        assert url.startswith("http://127.0.0.1:")
        first = _read(_dump_dom(browser, tmp_path, url))
        gate.go[4].set()
        assert gate.reached[30].wait(WAIT)
        second = _read(_dump_dom(browser, tmp_path, url))
    finally:
        for event in gate.go.values():
            event.set()
        run.join(WAIT)
    assert result["code"] == 0
    assert first["batches"] == 4 and second["batches"] == 30, (first, second)
    assert second["version"] > first["version"] >= 1
    assert first["points"]["batch-loss"] == [4] and second["points"]["batch-loss"] == [30]
    assert second["points"]["batch-acc"] == [30]
    assert second["points"]["epoch-loss"] == [1, 1]  # epoch 1 done: train and validation
    assert first["loss_line"] != second["loss_line"]
    for page in (first, second):
        assert page["filters"] == 16 and page["layers"] >= 4 and page["confusion"] == 1
        assert page["canvases"] >= 16 + 1 + 4 * 8  # filters, the test image, maps per layer


@pytest.fixture
def server():
    feed = LiveFeed()
    feed.latest = (
        3,
        {"status": "training", "batch_curve": {"step": [0], "loss": [1.0], "acc": [0.5]}},
    )
    s = live.LiveServer(feed, port=0)
    yield s
    s.close()


def _get(url, method="GET"):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=WAIT) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.fixture
def http(monkeypatch):
    """The real urlopen (the suite refuses network access; this is this machine's loopback only)."""
    import importlib
    import urllib.request as ur

    monkeypatch.setattr(ur, "urlopen", importlib.reload(ur).urlopen)
    return _get


@pytest.mark.parametrize(
    "path, code, message",
    [
        ("/nope", 404, "no such page: '/nope'"),
        ("/snapshot/extra", 404, "no such page"),
        ("/snapshot?since=abc", 400, "`since` must be a non-negative integer. Received: ['abc']"),
        ("/snapshot?since=-1", 400, "`since` must be a non-negative integer"),
        ("/snapshot?since=1&since=2", 400, "`since` must be a non-negative integer"),
        ("/snapshot?sinc=1", 400, "unknown query parameter(s): sinc"),
        ("/snapshot?since=1&images=x", 400, "`images` must be a non-negative integer"),
        ("/snapshot?%zz", 400, "malformed query string"),
        ("/snapshot?a&b", 400, "malformed query string"),
    ],
)
def test_bad_requests_get_4xx_not_a_traceback(server, http, path, code, message):
    status, body = http(server.url.rstrip("/") + path)
    assert status == code
    assert message in json.loads(body)["error"]


def test_pictures_are_sent_only_when_newer(http):
    feed = LiveFeed()
    feed.latest = (
        5,
        {
            "status": "training",
            "images_version": 2,
            "filters": {"shape": [1]},
            "activations": [],
            "probe": None,
        },
    )
    s = live.LiveServer(feed, port=0)
    try:
        fresh = json.loads(http(s.url + "snapshot?since=0&images=1")[1])
        known = json.loads(http(s.url + "snapshot?since=0&images=2")[1])
    finally:
        s.close()
    assert fresh["filters"] == {"shape": [1]} and "activations" in fresh
    assert "filters" not in known and "activations" not in known and known["version"] == 5


def test_a_snapshot_that_cannot_be_encoded_is_a_500_not_a_traceback(http, capsys):
    feed = LiveFeed()
    feed.latest = (1, {"lr": float("nan")})  # JSON has no NaN: encoding fails
    s = live.LiveServer(feed, port=0)
    try:
        status, body = http(s.url + "snapshot")
        assert http(s.url)[0] == 200  # the server still answers
    finally:
        s.close()
    assert status == 500 and "could not be encoded (ValueError)" in json.loads(body)["error"]
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out


def test_page_snapshot_and_methods(server, http):
    status, page = http(server.url)
    assert status == 200 and "<canvas" not in page.split("<script>")[0]
    assert not re.search(r'(src|href)="(https?:)?//', page), (
        "the page must load nothing from the network"
    )
    status, body = http(server.url + "snapshot?since=0")
    assert status == 200 and json.loads(body)["version"] == 3
    assert json.loads(http(server.url + "snapshot?since=3")[1]) == {"version": 3, "unchanged": True}
    assert http(server.url, "POST")[0] == 405


def test_browsers_that_vanish_or_come_twice_change_nothing(server, http):
    # a client that connects and hangs up mid-request, then two readers at once
    with socket.create_connection((server.host, server.port)) as s:
        s.sendall(b"GET /snapshot?since=0 HTTP/1.1\r\n")
    bodies = []
    readers = [
        threading.Thread(target=lambda: bodies.append(http(server.url + "snapshot")[1]))
        for _ in range(2)
    ]
    for t in readers:
        t.start()
    for t in readers:
        t.join(WAIT)
    assert len(bodies) == 2 and bodies[0] == bodies[1]


def _train(callbacks):
    """A few SGD steps of a small CNN on fixed random data (dropout and shuffling draw random
    numbers)."""
    import cnnlab
    from cnnlab import models, optim
    from cnnlab.data import DataLoader, TensorDataset
    from cnnlab.train import Trainer

    cnnlab.manual_seed(0)
    rng = np.random.default_rng(0)
    data = TensorDataset(
        rng.standard_normal((96, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 96)
    )
    model = models.fashion_cnn(num_classes=10)
    trainer = Trainer(
        model,
        optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
        callbacks=callbacks,
        meta={"model": "fashion_cnn", "classes": [str(i) for i in range(10)]},
        progress=False,
        log=None,
    )
    loader = DataLoader(data, batch_size=16, shuffle=True, seed=0)
    trainer.fit(loader, DataLoader(data, batch_size=48), epochs=2)
    return model.state_dict()


def test_a_watched_training_ends_with_the_same_weights(http):
    plain = _train([])
    feed = LiveFeed(interval=0, image_interval=0)
    server = live.LiveServer(feed, port=0)

    class Reader:  # a browser reading the page after every batch
        def on_batch_end(self, trainer, batch, logs):
            assert http(server.url + "snapshot")[0] == 200

    try:
        watched = _train([feed, Reader()])
    finally:
        server.close()
    assert plain.keys() == watched.keys()
    for k in plain:
        assert np.array_equal(plain[k], watched[k]), k
    version, snapshot = feed.latest
    assert snapshot["status"] == "finished" and snapshot["batches_seen"] == 12 and version >= 12
    assert len(snapshot["epoch_curve"]["val_acc"]) == 2 and snapshot["filters"]["shape"] == [
        16,
        1,
        5,
        5,
    ]
    assert sum(map(sum, snapshot["confusion"])) == 96  # the second epoch's 96 training images


def test_downsample_means_by_hand():
    assert _downsample([1, 2, 3]) == ([0, 1, 2], [1, 2, 3])
    steps, means = _downsample(
        list(range(10)), limit=4
    )  # runs of 3: (0,1,2) (3,4,5) (6,7,8), then (9)
    assert steps == [0, 3, 6, 9] and means == [1.0, 4.0, 7.0, 9.0]


def test_port_in_use_is_one_line(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["train", "--dataset", "digits", "--live", str(port), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert f"cannot serve the live view on 127.0.0.1:{port}" in err and len(err.splitlines()) == 1
    with pytest.raises(SystemExit) as exit_:  # refused by the parser, before anything runs
        main(["train", "--live", "70000"])
    assert exit_.value.code == 2
    assert "argument --live: must be an int in [0, 65535]" in capsys.readouterr().err


def test_a_captioner_confusion_matrix_is_labelled_by_its_tokens():
    from types import SimpleNamespace

    from cnnlab.data.scenes import CLASSES, END, PAD
    from cnnlab.runs.tasks import get_task

    feed = LiveFeed()
    captioner = SimpleNamespace(meta={"classes": CLASSES}, task=get_task("caption"))
    labels = LiveFeed._labels(captioner)
    assert labels == [str(d) for d in range(10)] + ["end"]            # token 0 is the digit 0, not "background"
    targets = np.array([[3, END, PAD], [0, 7, END]])
    feed._count(np.array([[3, END, 4], [0, 1, END]]).ravel(), targets.ravel(), captioner)
    assert feed._confusion.shape == (11, 11) and feed._confusion.sum() == 5   # PAD places are not counted
    assert feed._confusion[7, 1] == 1 and feed._confusion[END, END] == 2
    classifier = SimpleNamespace(meta={"classes": CLASSES}, task=get_task("segment"))
    assert LiveFeed._labels(classifier) == CLASSES
