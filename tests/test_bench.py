"""Smoke test of the benchmark harness (cnnlab.bench): one tiny case, one round, no memory subprocess."""

import json

import numpy as np
import pytest

from cnnlab import bench, cli

pytest.importorskip("torch")


def test_micro_case_runs_and_reports(tmp_path, capsys):
    out = tmp_path / "bench.json"
    md = tmp_path / "RESULTS.md"
    md.write_text("# Benchmark results\n\n## another section\nkept\n")
    assert cli.main(["bench", "--case", "micro-relu", "--rounds", "1", "--no-memory", "--json", str(out),
                     "--markdown", str(md)]) == 0
    report = json.loads(out.read_text())
    (row,) = report["rows"]
    assert row["case"] == "micro-relu" and row["agree"] and row["ratio"] > 0
    assert row["rounds"] >= 1 and len(row["cnnlab"]["other_cpu"]) == row["rounds"]
    text = md.read_text()
    assert "## another section\nkept" in text and text.count(bench.MARK_START) == 1
    assert "micro-relu" in text and "Command: `cnnlab bench --case micro-relu" in text
    # A second run replaces the section instead of appending another one.
    bench.write_markdown(str(md), report)
    assert md.read_text().count(bench.MARK_START) == 1


def test_cpu_meter_share_is_a_fraction():
    meter = bench.CpuMeter().start()
    np.ones((200, 200)) @ np.ones((200, 200))
    share = meter.stop()
    assert share is None or 0.0 <= share <= 1.0


def test_unknown_case_is_a_usage_error(capsys):
    assert cli.main(["bench", "--case", "no-such-case"]) == 2
    assert "unknown case 'no-such-case'" in capsys.readouterr().err
