"""``cnnlab train --live``: a local web page that shows a training while it runs.

A ``LiveServer`` serves one self-contained page (inline CSS and JavaScript, no network) and the
latest snapshot of a ``LiveFeed`` as JSON. The page polls ``/snapshot?since=VERSION&images=N``
once a second and redraws when the version moved: loss and accuracy per batch and per epoch, the
learning rate, the running confusion matrix and, when their own version moved past N, the
first-layer filters and the activation maps of one fixed test image (most answers leave these
pictures out, which keeps the browser's work small). The server runs on its own daemon thread
and only reads the feed's latest snapshot (one attribute read), so a browser that stops, reloads
or comes twice changes nothing for the training.
"""

import http.server
import ipaddress
import json
import re
import socket
import socketserver
import threading
import urllib.parse

from .feed import LiveFeed

DEFAULT_PORT = 8765
PICTURES = ("filters", "activations", "probe")  # left out of answers to a page that has them


MAX_CONNECTIONS = 32   # connections served at once; more are answered 503 and closed
TIMEOUT = 10.0         # seconds a connection may stay silent before it is closed
_NUMBER = re.compile(r"[0-9]{1,18}")  # ASCII digits only, below 10**18 (int() takes more)
_LOOPBACK = ("localhost", "127.0.0.1", "::1")
_BUSY_BODY = b'{"error": "too many connections to the live view; try again soon"}'
_BUSY = (b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
         b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY))


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """One thread per connection, at most ``max_connections`` at once: a connection over the bound
    gets a short 503 from the accepting thread and is closed, so no client can exhaust threads."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the listen backlog: a burst of connections is accepted, not retried

    def __init__(self, address, handler, max_connections=MAX_CONNECTIONS):
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        if not self._slots.acquire(blocking=False):
            try:
                request.settimeout(0.5)
                request.sendall(_BUSY)  # a few bytes: they fit in the socket's buffer
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request, client_address):
        """A failed request never prints a traceback on the training's terminal."""


def _host_allowed(header, bound, port):
    """Whether a request's ``Host`` header names this server: its bound address or a loopback
    name, with our port if it gives one. A page of another site whose name was rebound to this
    machine (DNS rebinding) sends its own name and is refused. Bound to every interface, any
    address literal and this machine's own names are accepted too (none an attacker can choose)."""
    header = (header or "").strip()
    if not header or len(header) > 255:
        return False
    match = re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[^:\[\]]+)(?::([0-9]{1,5}))?", header)
    if match is None:
        return False
    name, given_port = match.group(1).strip("[]").lower().rstrip("."), match.group(2)
    if given_port is not None and int(given_port) != port:
        return False
    if name in (bound.lower(), *_LOOPBACK):
        return True
    if bound in ("", "0.0.0.0", "::"):
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            return name in (socket.gethostname().lower(), socket.getfqdn().lower())
    return False


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "cnnlab-live"
    live = None  # the LiveServer, set per server class
    timeout = TIMEOUT  # set on the connection's socket: a silent client is dropped

    def log_message(self, format, *args):  # no per-request lines on the training's terminal
        pass

    def _send(self, code, body, kind="application/json"):
        data = body if isinstance(body, bytes) else body.encode("utf-8")
        try:
            self.send_response(code)
            self.send_header("Content-Type", kind + "; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the browser went away: nothing to do
            pass

    def _error(self, code, message):
        self._send(code, json.dumps({"error": message}))

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        if not _host_allowed(self.headers.get("Host"), self.live.host, self.live.port):
            return self._error(421, f"this is the live view of {self.live.host}:"
                                    f"{self.live.port}; a request for host "
                                    f"{str(self.headers.get('Host'))[:80]!r} is refused")
        url = urllib.parse.urlsplit(self.path)
        try:
            query = urllib.parse.parse_qs(
                url.query, keep_blank_values=True, strict_parsing=bool(url.query), max_num_fields=8
            )
        except ValueError:
            return self._error(400, f"malformed query string: {url.query!r}")
        if url.path in ("/", "/index.html"):
            return self._send(200, PAGE, "text/html")
        if url.path == "/snapshot":
            unknown = sorted(set(query) - {"since", "images"})
            if unknown:
                return self._error(
                    400,
                    f"unknown query parameter(s): {', '.join(unknown)}; expected since=N, images=M",
                )
            numbers = {}
            for name in ("since", "images"):
                values = query.get(name, ["0"])
                if len(values) != 1 or not _NUMBER.fullmatch(values[0]):
                    shown = repr(values)[:40] + ("..." if len(repr(values)) > 40 else "")
                    return self._error(
                        400, f"`{name}` must be a non-negative integer. Received: {shown} "
                             "(expected 1 to 18 ASCII digits)"
                    )
                numbers[name] = int(values[0])
            try:
                body = self.live.snapshot_json(numbers["since"], numbers["images"])
            except Exception as e:  # a bug here must not end the server, nor print a traceback
                return self._error(500, f"the snapshot could not be encoded ({type(e).__name__})")
            return self._send(200, body)
        return self._error(404, f"no such page: {url.path!r}; the live view is at /")

    def _not_allowed(self):
        self._error(405, f"method {self.command} not allowed; the live view only answers GET")

    do_POST = do_PUT = do_DELETE = do_PATCH = _not_allowed


class LiveServer:
    """Serve ``feed`` (a ``LiveFeed``) at http://HOST:PORT/ from a daemon thread.

    Args:
        feed: the ``LiveFeed`` the trainer publishes into.
        port: TCP port; 0 picks a free one (``self.port`` tells which).
        host: address to bind. Default: 127.0.0.1 (this machine only).
        timeout: seconds a connection may stay silent before it is closed.
        max_connections: connections served at once; more get a 503 and are closed.

    Requests must name this server in their ``Host`` header (its address or ``localhost``; 421
    otherwise, against DNS rebinding); query numbers are ASCII digits only (400 otherwise).
    """

    def __init__(self, feed, port=DEFAULT_PORT, host="127.0.0.1", timeout=TIMEOUT,
                 max_connections=MAX_CONNECTIONS):
        self.feed = feed
        handler = type("Handler", (_Handler,), {"live": self, "timeout": timeout})
        self._cache = {}
        self._lock = threading.Lock()
        self.httpd = _Server((host, port), handler, max_connections)
        self.host, self.port = self.httpd.server_address[:2]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="cnnlab-live",
            daemon=True,
        )
        self.thread.start()

    @property
    def url(self):
        return f"http://{self.host}:{self.port}/"

    def snapshot_json(self, since=0, images=0):
        """The latest snapshot as JSON, or only its version if not newer than ``since``; the
        pictures (filters, activations, input image) only if their ``images_version`` is newer
        than ``images``. Each variant is encoded once per version, however many browsers ask."""
        version, snapshot = self.feed.latest
        if snapshot is None or version <= since:
            return json.dumps({"version": version, "unchanged": True})
        with_images = snapshot.get("images_version", 0) > images
        key = (version, with_images)
        with self._lock:
            if key not in self._cache:
                shown = (
                    snapshot
                    if with_images
                    else {k: v for k, v in snapshot.items() if k not in PICTURES}
                )
                self._cache = {
                    key: json.dumps({"version": version, **shown}, allow_nan=False),
                    **{k: v for k, v in self._cache.items() if k[0] == version},
                }
            return self._cache[key]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def start_live(port=DEFAULT_PORT, host="127.0.0.1"):
    """A ``LiveFeed`` (for the trainer's callbacks) and the ``LiveServer`` showing it; raises
    OSError when the port cannot be bound."""
    feed = LiveFeed()
    return feed, LiveServer(feed, port, host)


PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>cnnlab live</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.2rem auto;
       max-width: 1200px;
       padding: 0 1rem; color: #222; }
h1 { font-size: 1.4rem; margin: 0 0 .3rem; }
h2 { font-size: 1rem; margin: .2rem 0 .4rem; color: #444; }
#status { color: #555; margin-bottom: .8rem; } #status b { color: #222; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(370px, 1fr)); gap: .9rem; }
.panel { border: 1px solid #ddd; border-radius: 6px; padding: .5rem .7rem; }
svg { width: 100%; height: 170px; } .axis { stroke: #bbb; stroke-width: 1; }
svg text { font-size: 10px; fill: #666; }
canvas { image-rendering: pixelated; border: 1px solid #eee; margin: 1px; }
.layer { display: inline-block; vertical-align: top; margin: 0 .6rem .4rem 0; font-size: .75rem; }
table.cm { border-collapse: collapse; font-size: .7rem; } .cm td, .cm th { border: 1px solid #eee;
  padding: 1px 4px; text-align: right; } .cm th { background: #f6f6f6; }
.legend span { margin-right: .8rem; font-size: .75rem; } .err { color: #b00; }
</style></head>
<body data-version="0" data-batches="0">
<h1>cnnlab live: <span id="title">waiting for the first snapshot</span></h1>
<div id="status">connecting...</div>
<div class="grid">
 <div class="panel"><h2>Loss per batch</h2>
  <svg id="batch-loss" viewBox="0 0 360 170"></svg></div>
 <div class="panel"><h2>Accuracy per batch</h2>
  <svg id="batch-acc" viewBox="0 0 360 170"></svg></div>
 <div class="panel"><h2>Per epoch: loss</h2><svg id="epoch-loss" viewBox="0 0 360 170"></svg>
  <div class="legend"><span style="color:#1f77b4">train</span>
   <span style="color:#d62728">validation</span></div></div>
 <div class="panel"><h2>Per epoch: accuracy</h2><svg id="epoch-acc" viewBox="0 0 360 170"></svg>
  <div class="legend"><span style="color:#1f77b4">train</span>
   <span style="color:#d62728">validation</span></div></div>
 <div class="panel"><h2>Learning rate per epoch</h2>
  <svg id="epoch-lr" viewBox="0 0 360 170"></svg></div>
 <div class="panel"><h2>Running confusion matrix (this epoch's training batches)</h2>
  <div id="confusion"></div></div>
</div>
<div class="panel" style="margin-top:.9rem"><h2>First-layer filters</h2>
 <div id="filters"></div></div>
<div class="panel" style="margin-top:.9rem"><h2>Activation maps of one test image</h2>
 <div id="activations"></div></div>
<script>
"use strict";
var version = 0, imagesVersion = 0, failures = 0;
var COLORS = ["#1f77b4", "#d62728"];

function bytes(b64) {
  var s = atob(b64), a = new Uint8Array(s.length);
  for (var i = 0; i < s.length; i++) a[i] = s.charCodeAt(i);
  return a;
}

// Everything drawn is built as elements with text and attributes: data never becomes markup.
var SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs, text) {
  var e = document.createElement(tag);
  Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
  if (text !== undefined) e.textContent = String(text);
  return e;
}

function svgEl(tag, attrs, text) {
  var e = document.createElementNS(SVG, tag);
  Object.keys(attrs).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
  if (text !== undefined) e.textContent = String(text);
  return e;
}

function plot(id, xs, series, fixedMax) {
  var svg = document.getElementById(id), W = 360, H = 170, L = 38, B = 16, T = 6, R = 6;
  var all = [];
  xs = xs.map(Number);
  series = series.map(function (ys) {
    return ys.map(function (y) { return y === null ? null : Number(y); });
  });
  series.forEach(function (ys) { ys.forEach(function (y) { if (y !== null) all.push(y); }); });
  svg.replaceChildren(svgEl("line", {"class": "axis", x1: L, y1: H - B, x2: W - R, y2: H - B}),
                      svgEl("line", {"class": "axis", x1: L, y1: T, x2: L, y2: H - B}));
  if (all.length && xs.length) {
    var lo = fixedMax === undefined ? Math.min.apply(null, all) : 0;
    var hi = fixedMax === undefined ? Math.max.apply(null, all) : fixedMax;
    if (hi <= lo) hi = lo + 1;
    var x0 = xs[0], x1 = xs[xs.length - 1] > x0 ? xs[xs.length - 1] : x0 + 1;
    series.forEach(function (ys, k) {
      var pts = [];
      ys.forEach(function (y, i) {
        if (y === null) return;
        var px = L + (xs[i] - x0) / (x1 - x0) * (W - L - R);
        var py = H - B - (y - lo) / (hi - lo) * (H - B - T);
        pts.push(px.toFixed(1) + "," + py.toFixed(1));
      });
      svg.appendChild(svgEl("polyline", {fill: "none", stroke: COLORS[k], "stroke-width": 1.3,
                                         "data-points": pts.length, points: pts.join(" ")}));
    });
    svg.appendChild(svgEl("text", {x: 2, y: T + 8}, hi.toPrecision(3)));
    svg.appendChild(svgEl("text", {x: 2, y: H - B}, lo.toPrecision(3)));
    svg.appendChild(svgEl("text", {x: W - R - 40, y: H - 3}, x1));
  }
}

function grey(canvas, data, offset, h, w, scale) {
  canvas.width = w * scale; canvas.height = h * scale;
  var ctx = canvas.getContext("2d"), img = ctx.createImageData(w, h);
  for (var i = 0; i < h * w; i++) {
    var v = data[offset + i];
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v; img.data[4 * i + 3] = 255;
  }
  var tmp = document.createElement("canvas"); tmp.width = w; tmp.height = h;
  tmp.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false; ctx.drawImage(tmp, 0, 0, w * scale, h * scale);
}

function drawFilters(f) {
  var box = document.getElementById("filters");
  if (!f) { box.textContent = "the model has no convolution"; return; }
  var o = f.shape[0], c = f.shape[1], h = f.shape[2], w = f.shape[3], data = bytes(f.data);
  var scale = Math.max(2, Math.floor(40 / Math.max(h, w))), shown = Math.min(o, 64);
  box.replaceChildren();
  box.setAttribute("data-drawn", shown);
  for (var k = 0; k < shown; k++) {
    var canvas = document.createElement("canvas");
    if (c === 3) {           // an RGB filter: the three input channels as colours
      canvas.width = w * scale; canvas.height = h * scale;
      var ctx = canvas.getContext("2d"), img = ctx.createImageData(w, h);
      for (var i = 0; i < h * w; i++) {
        for (var ch = 0; ch < 3; ch++) img.data[4 * i + ch] = data[((k * 3 + ch) * h * w) + i];
        img.data[4 * i + 3] = 255;
      }
      var tmp = document.createElement("canvas"); tmp.width = w; tmp.height = h;
      tmp.getContext("2d").putImageData(img, 0, 0);
      ctx.imageSmoothingEnabled = false; ctx.drawImage(tmp, 0, 0, w * scale, h * scale);
    } else {
      grey(canvas, data, k * c * h * w, h, w, scale);      // the first input channel
    }
    box.appendChild(canvas);
  }
}

function drawActivations(layers, probe) {
  var box = document.getElementById("activations");
  box.replaceChildren();
  if (probe) {
    var div = document.createElement("div"); div.className = "layer";
    var canvas = document.createElement("canvas"), s = probe.shape;
    grey(canvas, bytes(probe.data), 0, s[1], s[2], Math.max(1, Math.floor(64 / s[1])));
    var label = probe.label !== null ? " (class " + probe.label + ")" : "";
    div.appendChild(document.createTextNode("input" + label));
    div.appendChild(document.createElement("br")); div.appendChild(canvas); box.appendChild(div);
  }
  box.setAttribute("data-layers", layers.length);
  layers.forEach(function (layer) {
    var div = document.createElement("div"); div.className = "layer";
    var c = layer.shape[0], h = layer.shape[1], w = layer.shape[2], data = bytes(layer.data);
    div.appendChild(document.createTextNode(layer.name + " (" + c + "x" + h + "x" + w + ")"));
    div.appendChild(document.createElement("br"));
    var scale = Math.max(1, Math.floor(32 / Math.max(h, w)));
    for (var k = 0; k < c; k++) {
      var canvas = document.createElement("canvas");
      grey(canvas, data, k * h * w, h, w, scale);
      div.appendChild(canvas);
    }
    box.appendChild(div);
  });
}

function drawConfusion(m, classes) {
  var box = document.getElementById("confusion");
  if (!m) { box.textContent = "after the first batch"; return; }
  var max = 1, table = el("table", {"class": "cm"}), head = el("tr");
  m.forEach(function (row) { row.forEach(function (v) { if (v > max) max = v; }); });
  head.appendChild(el("th", {}, "true \\ pred"));
  m.forEach(function (_, j) { head.appendChild(el("th", {}, j)); });
  table.appendChild(head);
  m.forEach(function (row, i) {
    var tr = el("tr");
    tr.appendChild(el("th", {}, classes[i] !== undefined ? classes[i] : i));  // text, not HTML
    row.forEach(function (v, j) {
      var a = Math.sqrt(Number(v) / max).toFixed(2), col = i === j ? "31,119,180" : "214,39,40";
      var td = el("td", {}, v);
      td.style.background = "rgba(" + col + "," + a + ")";
      tr.appendChild(td);
    });
    table.appendChild(tr);
  });
  box.replaceChildren(table);
}

function draw(s) {
  document.body.setAttribute("data-version", s.version);
  document.body.setAttribute("data-batches", s.batches_seen);
  document.getElementById("title").textContent = s.model + " on " + s.dataset;
  var epochs = s.epochs ? "/" + s.epochs : "";
  document.getElementById("status").replaceChildren(
    el("b", {}, s.status), " | epoch " + Math.min(s.epoch + 1, s.epochs || s.epoch + 1) + epochs +
    ", batch " + s.batch + (s.batches_per_epoch ? "/" + s.batches_per_epoch : "") +
    " | learning rate ", el("b", {}, Number(s.lr).toPrecision(3)),
    " | " + s.batches_seen + " batches in " + Number(s.elapsed).toFixed(0) + " s");
  var bc = s.batch_curve, ec = s.epoch_curve;
  var ep = ec.train_loss.map(function (_, i) { return i + 1; });
  plot("batch-loss", bc.step, [bc.loss]);
  plot("batch-acc", bc.step.slice(0, bc.acc.length), [bc.acc], 1);
  plot("epoch-loss", ep, [ec.train_loss, ec.val_loss]);
  plot("epoch-acc", ep, [ec.train_acc, ec.val_acc], 1);
  plot("epoch-lr", ep, [ec.lr]);
  if (s.activations !== undefined) {    // sent only when newer than the ones drawn
    imagesVersion = s.images_version;
    drawFilters(s.filters);
    drawActivations(s.activations, s.probe);
  }
  drawConfusion(s.confusion, s.classes);
}

function poll() {
  fetch("/snapshot?since=" + version + "&images=" + imagesVersion, {cache: "no-store"})
    .then(function (r) { return r.json(); })
    .then(function (s) {
      failures = 0;
      if (!s.unchanged) { version = s.version; draw(s); }
      setTimeout(poll, 1000);
    })
    .catch(function () {
      failures += 1;
      document.getElementById("status").replaceChildren(el("span", {"class": "err"},
        "the training process is not answering (finished or stopped); showing its last state"));
      setTimeout(poll, Math.min(5000, 1000 * failures));
    });
}
poll();
</script>
</body></html>
"""
