"""The HTML report: written at the end of training and by ``cnnlab report``, self-contained, opened in Chromium."""

import html
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from cnnlab.cli import main
from cnnlab.inspect import report
from cnnlab.train import metrics


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    pytest.importorskip("sklearn")
    from cnnlab.train.run import train_job

    out = tmp_path_factory.mktemp("run")
    lines = []
    result = train_job(model="fashion_cnn", dataset="digits", epochs=2, out=str(out), progress=False,
                       train_limit=512, log=lines.append)
    result.report = report.report_for_job(result, log=lines.append)   # as `cnnlab train` does
    return out, result, lines


def _expected_images():
    """16 mistakes, the filters and 3 activation maps; plus 3 plots where matplotlib is installed."""
    return 16 + 1 + 3 + (3 if report._have_matplotlib() else 0)


def _text(page):
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_training_writes_the_report(run):
    out, result, lines = run
    path = out / "report.html"
    assert result.report == str(path) and path.is_file()
    assert f"report: {path}" in lines
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask                  # like any new file, not private
    page = path.read_text(encoding="utf-8")
    headings = re.findall(r"<h2>(.*?)</h2>", page)
    assert headings == list(report.SECTIONS)
    text = _text(page)
    assert "fashion_cnn on digits" in text and "2 epochs" in text and "macro avg" in text
    assert "features.0" in text and "Conv2d" in text                     # the summary table
    assert text.count("true:") == 16                                      # 16 misclassified examples


def test_report_is_self_contained(run):
    page = (run[0] / "report.html").read_text(encoding="utf-8")
    sources = re.findall(r'<img[^>]* src="([^"]*)"', page)
    assert len(sources) == _expected_images()
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r"(href|src)=\"(https?:|//|file:)", page)
    assert "<link" not in page and "<script" not in page


def test_report_metrics_are_the_evaluate_metrics(run):
    from cnnlab import nn
    from cnnlab.data import DataLoader
    from cnnlab.train import evaluate
    from cnnlab.train.run import eval_dataset, load_trained

    model, meta = load_trained(str(run[0] / "last.npz"))
    result = evaluate(model, DataLoader(eval_dataset(meta), batch_size=500), nn.CrossEntropyLoss())
    prf = metrics.precision_recall_f1(result["scores"], result["targets"], 10)
    text = _text((run[0] / "report.html").read_text(encoding="utf-8"))
    assert f"accuracy {result['accuracy'] * 100:.2f}%" in text
    m = prf["macro"]
    assert re.search(rf"macro avg\s+{m['precision']:.4f}\s+{m['recall']:.4f}\s+{m['f1']:.4f}\s+359", text)
    assert re.search(rf"\b7\s+{prf['precision'][7]:.4f}\s+{prf['recall'][7]:.4f}\s+{prf['f1'][7]:.4f}\s+"
                     rf"{prf['support'][7]}", text)


def test_report_command(run, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", str(run[0]), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert re.findall(r"<h2>(.*?)</h2>", out.read_text(encoding="utf-8")) == list(report.SECTIONS)
    assert main(["report", str(tmp_path)]) == 2
    assert "no checkpoint in" in capsys.readouterr().err


def test_report_command_writes_the_plots_as_png(run, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    Image = pytest.importorskip("PIL.Image")
    png = tmp_path / "png"
    assert main(["report", str(run[0]), "--out", str(tmp_path / "r.html"), "--png", str(png)]) == 0
    lines = capsys.readouterr().out.split()
    names = ["training-curves.png", "confusion-matrix.png", "precision-recall.png"]
    assert lines == [str(png / n) for n in names] + [str(tmp_path / "r.html")]
    for n in names:
        with Image.open(png / n) as im:
            assert im.format == "PNG" and min(im.size) > 300


def test_without_matplotlib_the_numbers_stay_and_plots_are_noted(run, monkeypatch):
    from cnnlab.train.run import eval_dataset, load_trained

    monkeypatch.setattr(report, "_have_matplotlib", lambda: False)
    model, meta = load_trained(str(run[0] / "last.npz"))
    lines = []
    path = report.report_after_training(str(run[0] / "bare"), model, meta, run[1].history,
                                        eval_dataset(meta), log=lines.append)
    assert lines[0] == "report: matplotlib is not installed, so the report has no plots (pip install matplotlib)"
    page = open(path, encoding="utf-8").read()
    assert re.findall(r"<h2>(.*?)</h2>", page) == list(report.SECTIONS)
    assert page.count("matplotlib is not installed") == 2                 # curves, confusion matrix
    assert "true \\ predicted" in page and "macro avg" in page            # tables instead of plots


def test_report_problems_never_fail_training():
    lines = []
    assert report.report_after_training("/nonexistent/dir", None, {}, {}, log=lines.append) is None
    assert len(lines) == 1 and lines[0].startswith("report: not written (")


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _headless(browser, tmp_path, *args):
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)})


def test_report_opens_in_headless_chromium(run, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it when it can)")
    page = (run[0] / "report.html").read_text(encoding="utf-8")
    # A copy with a probe: after the load event, every image records its decoded width in the DOM.
    probe = ("<script>window.addEventListener('load', function () { document.querySelectorAll('img')"
             ".forEach(function (i) { i.setAttribute('data-decoded-width', i.naturalWidth); }); });</script>")
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", probe + "</body>"), encoding="utf-8")
    done = _headless(browser, tmp_path, "--dump-dom", probed.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    for section in report.SECTIONS:
        assert f"<h2>{section}</h2>" in dom, f"section {section!r} missing from the rendered page"
    widths = [int(w) for w in re.findall(r'data-decoded-width="(\d+)"', dom)]
    assert len(widths) == len(re.findall(r"<img", page)) == _expected_images()
    assert min(widths) > 0, "an embedded image did not decode"
    shot = tmp_path / "shot.png"
    done = _headless(browser, tmp_path, "--window-size=1200,2400", f"--screenshot={shot}",
                     (run[0] / "report.html").as_uri())
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    Image = pytest.importorskip("PIL.Image")
    with Image.open(shot) as im:
        pixels = np.asarray(im.convert("L"), dtype=np.float64)
    assert pixels.shape == (2400, 1200) and pixels.std() > 10            # drawn, not a blank page
