"""A smoke run of `make bench-ocpi` (a few seconds on SQLite): every phase runs and reports."""
from __future__ import annotations

import json

from bench.ocpi import main


def test_quick_bench_runs_every_phase_and_writes_its_report(tmp_path):
    results = main(["--backends", "sqlite", "--quick", "--out", str(tmp_path)])
    sqlite = results["backends"][0]
    assert sqlite["sustained"]["ok"] > 0 and sqlite["sustained"]["failed"] == 0
    assert sqlite["at_rate"]["ok"] > 0 and sqlite["at_rate"]["p99_ms"] is not None
    assert sqlite["memory"]["updates"] == 500 and sqlite["memory"]["rss_peak_mb"] > 0
    assert sqlite["growth"][0]["rows"] >= 3000 and sqlite["growth"][0]["one_at_a_time"]["ok"] > 0
    assert json.loads((tmp_path / "ocpi-latest.json").read_text())["backends"][0]["backend"] == "sqlite"
    assert "sustained PATCH/s" in (tmp_path / "ocpi-latest.md").read_text()
