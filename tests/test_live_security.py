"""The live page is safe: data goes into the DOM as text, requests must name this server in their
Host header, query numbers are parsed strictly, and connections time out and are bounded. Raw
sockets to 127.0.0.1 only."""

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest

import cnnlab.live.server as live
from cnnlab.live.feed import LiveFeed

EVIL = '<img src=x onerror="document.title=\'pwned\'">'


@pytest.fixture
def server():
    feed = LiveFeed()
    feed.latest = (3, {"status": "training"})
    s = live.LiveServer(feed, port=0, timeout=1.0, max_connections=4)
    yield s
    s.close()


def _request(server, head, timeout=30):
    """Send raw request lines; return (status code, JSON body or None)."""
    with socket.create_connection((server.host, server.port), timeout=timeout) as s:
        s.sendall(head.encode("latin-1") + b"\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1])
    body = data.split(b"\r\n\r\n", 1)[1]
    return status, (json.loads(body) if body.startswith(b"{") else None)


def _get(server, target, host=None):
    host = f"127.0.0.1:{server.port}" if host is None else host
    return _request(server, f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close")


# ---------------------------------------------------------------------- Host header
@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST.:{port}",
                                  "127.0.0.1", "localhost"])
def test_the_bound_address_and_localhost_are_served(server, host):
    assert _get(server, "/snapshot", host.format(port=server.port))[0] == 200


@pytest.mark.parametrize("host", ["evil.example:{port}", "evil.example", "127.0.0.1.evil.example",
                                  "localhost:1", "127.0.0.1:{port}x", "10.0.0.1:{port}",
                                  "[::1", "a" * 300])
def test_any_other_host_is_refused_with_421(server, host):
    status, body = _get(server, "/", host.format(port=server.port))
    assert status == 421 and "is refused" in body["error"]


def test_a_request_without_host_is_refused(server):
    status, body = _request(server, "GET /snapshot HTTP/1.0")
    assert status == 421 and "a request for host 'None' is refused" in body["error"]


def test_bound_to_every_interface_address_literals_are_served():
    assert live._host_allowed("192.168.1.7:8765", "0.0.0.0", 8765)
    assert live._host_allowed("[::1]:8765", "::", 8765)
    assert live._host_allowed(f"{socket.gethostname()}:8765", "0.0.0.0", 8765)
    assert not live._host_allowed("rebound.example:8765", "0.0.0.0", 8765)
    assert not live._host_allowed("192.168.1.7:8765", "127.0.0.1", 8765)


# ---------------------------------------------------------------------- query parameters
@pytest.mark.parametrize("query", ["since=%D9%A3",     # ARABIC-INDIC DIGIT THREE: isdigit() is True
                                   "since=%C2%B2",     # SUPERSCRIPT TWO: isdigit() but not int()
                                   "since=" + "9" * 5000, "since=" + "1" * 19, "images=+1",
                                   "since=1_000", "since=%201", "since="])
def test_junk_numbers_get_400_not_a_dropped_connection(server, query):
    status, body = _get(server, "/snapshot?" + query)
    assert status == 400
    assert "must be a non-negative integer" in body["error"] and len(body["error"]) < 200


def test_plain_numbers_up_to_18_digits_are_served(server):
    assert _get(server, "/snapshot?since=" + "9" * 18 + "&images=0") == (
        200, {"version": 3, "unchanged": True})


# ---------------------------------------------------------------------- connections
def test_a_silent_connection_is_closed_after_the_timeout(server):
    with socket.create_connection((server.host, server.port), timeout=30) as s:
        start = time.monotonic()
        assert s.recv(1) == b""  # the server hangs up on its own
        assert time.monotonic() - start < 20
    assert _get(server, "/snapshot")[0] == 200


def test_connections_beyond_the_bound_get_503_and_the_server_recovers(server):
    idle = [socket.create_connection((server.host, server.port), timeout=30) for _ in range(4)]
    try:
        time.sleep(0.2)  # all four accepted and waiting for their request
        status, body = _get(server, "/snapshot")
        assert status == 503 and "too many connections" in body["error"]
    finally:
        for s in idle:
            s.close()
    deadline = time.monotonic() + 30
    while _get(server, "/snapshot")[0] != 200:  # their threads end when they see the close
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_many_half_open_connections_leave_the_server_answering():
    s = live.LiveServer(LiveFeed(), port=0, timeout=0.5, max_connections=8)
    before = threading.active_count()
    try:
        idle = [socket.create_connection((s.host, s.port), timeout=30) for _ in range(100)]
        for c in idle:
            try:
                c.sendall(b"GET /snapshot HTTP/1.1\r\n")  # never finished
            except OSError:  # already answered 503 and closed
                pass
        assert threading.active_count() <= before + 8  # one thread per served connection
        deadline = time.monotonic() + 60
        while _get(s, "/snapshot")[0] != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for c in idle:
            c.close()
    finally:
        s.close()


# ---------------------------------------------------------------------- the page's DOM
FAKE_DOM = r"""
// The smallest DOM the page's script needs; every innerHTML write is recorded.
var created = [], htmlWrites = [];
function Node(tag) {
  this.tagName = tag; this.children = []; this.attributes = {}; this.style = {}; this.text = "";
  created.push(tag);
}
Node.prototype.appendChild = function (c) { this.children.push(c); return c; };
Node.prototype.replaceChildren = function () {
  this.children = [];
  for (var i = 0; i < arguments.length; i++) {
    var c = arguments[i];
    this.children.push(typeof c === "string" ? {text: c, children: []} : c);
  }
};
Node.prototype.setAttribute = function (k, v) { this.attributes[k] = String(v); };
Node.prototype.getContext = function () {
  return {createImageData: function (w, h) { return {data: new Uint8Array(4 * w * h)}; },
          putImageData: function () {}, drawImage: function () {}};
};
Object.defineProperty(Node.prototype, "textContent", {
  set: function (v) { this.children = []; this.text = String(v); },
  get: function () {
    return this.text + this.children.map(function (c) {
      return c.textContent !== undefined ? c.textContent : c.text; }).join("");
  }
});
Object.defineProperty(Node.prototype, "innerHTML", {
  set: function (v) { htmlWrites.push(String(v)); this.children = []; }
});
var byId = {};
globalThis.document = {
  body: new Node("body"),
  createElement: function (t) { return new Node(t); },
  createElementNS: function (ns, t) { return new Node(t); },
  createTextNode: function (t) { return {text: String(t), children: []}; },
  getElementById: function (id) { return byId[id] || (byId[id] = new Node("div")); },
};
globalThis.fetch = function () { return new Promise(function () {}); };  // never answers
globalThis.atob = function (s) { return Buffer.from(s, "base64").toString("binary"); };
"""

DRAW = r"""
var evil = %s;
draw({version: 2, batches_seen: 1, model: evil, dataset: evil, status: evil, epoch: 0,
      epochs: 1, batch: 1, batches_per_epoch: 2, lr: 0.1, elapsed: 1,
      batch_curve: {step: [0], loss: [1.5], acc: [0.5]},
      epoch_curve: {train_loss: [], train_acc: [], val_loss: [], val_acc: [], lr: []},
      classes: [evil, "b"], confusion: [[1, 0], [0, 1]],
      images_version: 1, filters: null, activations: [], probe: null});
console.log(JSON.stringify({created: created, htmlWrites: htmlWrites,
  confusion: byId["confusion"].textContent, status: byId["status"].textContent,
  title: byId["title"].textContent}));
"""


def test_class_names_and_other_data_go_into_the_dom_as_text(tmp_path):
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("Node.js is not installed (Debian: apt-get install nodejs)")
    script = re.search(r"<script>(.*)</script>", live.PAGE, re.S).group(1)
    path = tmp_path / "page.js"
    path.write_text(FAKE_DOM + script + DRAW % json.dumps(EVIL))
    done = subprocess.run([node, str(path)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NODE_OPTIONS": ""})
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert "img" not in seen["created"]
    assert not [w for w in seen["htmlWrites"] if "<" in w], seen["htmlWrites"]
    assert EVIL in seen["confusion"] and EVIL in seen["status"] and EVIL in seen["title"]
    assert "table" in seen["created"] and "polyline" in seen["created"]


def test_the_page_writes_no_markup_through_innerhtml():
    script = re.search(r"<script>(.*)</script>", live.PAGE, re.S).group(1)
    assert "innerHTML" not in script and "outerHTML" not in script
    assert "insertAdjacentHTML" not in script and "document.write" not in script
