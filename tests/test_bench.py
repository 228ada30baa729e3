"""Smoke test of the benchmark harness (benchmarks/bench_vs_torch.py, a program beside the package):
one tiny case, one round, no memory subprocess; and the thin ``cnnlab bench`` entry."""

import importlib.util
import json
import os

import numpy as np
import pytest

from cnnlab import cli

pytest.importorskip("torch")

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks", "bench_vs_torch.py")


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_vs_torch", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_micro_case_runs_and_reports(bench, tmp_path):
    out = tmp_path / "bench.json"
    md = tmp_path / "RESULTS.md"
    md.write_text("# Benchmark results\n\n## another section\nkept\n")
    assert bench.main(["--case", "micro-relu", "--rounds", "1", "--no-memory", "--json", str(out),
                       "--markdown", str(md)]) == 0
    report = json.loads(out.read_text())
    (row,) = report["rows"]
    assert row["case"] == "micro-relu" and row["agree"] and row["ratio"] > 0
    assert row["rounds"] >= 1 and len(row["cnnlab"]["other_cpu"]) == row["rounds"]
    text = md.read_text()
    assert "## another section\nkept" in text and text.count(bench.MARK_START) == 1
    assert "micro-relu" in text and "Command: `python benchmarks/bench_vs_torch.py --case micro-relu" in text
    # A second run replaces the section instead of appending another one.
    bench.write_markdown(str(md), report)
    assert md.read_text().count(bench.MARK_START) == 1


def test_busy_and_script_modes_are_recorded(bench, tmp_path, monkeypatch):
    """``--busy 1`` runs a busy process beside the cases (and raises the noise limit by its share of the
    cores); ``--script`` adds the no-setup-script rows (their timing stubbed out here)."""
    monkeypatch.setattr(bench, "SCRIPT_NETS", (("fashion_cnn", 8),))
    monkeypatch.setattr(bench, "_script_rate", lambda net, batch, seconds: (100.0, 5.0))
    monkeypatch.setattr(bench, "SCRIPT_SECONDS", 0.2)
    monkeypatch.setattr(bench, "NOISE_LIMIT", bench.NOISE_LIMIT)
    out, md = tmp_path / "bench.json", tmp_path / "RESULTS.md"
    assert bench.main(["--case", "micro-relu", "--rounds", "1", "--no-memory", "--busy", "1", "--script",
                       "--json", str(out), "--markdown", str(md)]) == 0
    report = json.loads(out.read_text())
    assert report["busy"] == 1 and report["noise_limit"] > 0.1
    (row,) = report["script_rows"]
    assert row["case"] == "script-fashion_cnn-b8" and row["script"] == 100.0 and row["ratio"] > 0
    text = md.read_text()
    assert "--busy 1" in text and "--script" in text and "**Busy machine**" in text
    assert "script-fashion_cnn-b8" in text


def test_networks_have_their_twins_in_the_test_suite(bench):
    """One set of PyTorch twins (tests/interop/torch_twins.py) serves tests and benchmark."""
    torch_twins = bench.__dict__.get("torch_twins") or __import__("torch_twins")

    for name, (_, _, twin) in bench.NETWORKS.items():
        assert callable(getattr(torch_twins, twin)), name


def test_cpu_meter_share_is_a_fraction(bench):
    meter = bench.CpuMeter().start()
    np.ones((200, 200)) @ np.ones((200, 200))
    share = meter.stop()
    assert share is None or 0.0 <= share <= 1.0


def test_unknown_case_is_a_usage_error(bench, capsys):
    assert bench.main(["--case", "no-such-case"]) == 2
    assert "unknown case 'no-such-case'" in capsys.readouterr().err


def test_cnnlab_bench_runs_the_checkout_script(capfd):
    assert cli.main(["bench", "--list"]) == 0
    assert "train-fashion_cnn-b64" in capfd.readouterr().out


def test_cnnlab_bench_outside_a_checkout_says_how_to_run_it(monkeypatch, capsys):
    monkeypatch.setattr(cli, "BENCH_SCRIPT", os.path.join("no", "such", "script.py"))
    assert cli.main(["bench"]) == 2
    err = capsys.readouterr().err
    assert "not part of the installed package" in err and "python no/such/script.py --help" in err
