"""The scenario suite of issue 11 (FORMAT.md beside this file), run once against the real stack.

One test runs every scenario (the stack and the model are shared, session-scoped), prints the pass
rates per class, language and account and every failure (check, expected, got, the bot's replies),
writes the full results to `$run_dir/scenarios.json` (and to $SCENARIO_REPORT when set) and asserts
the overall pass rate.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.scenarios import check_scenarios
from tests.scenarios.runner import format_report, load_scenarios, run_suite, write_json

pytestmark = pytest.mark.e2e

# Issue 11: the share of the suite's conversations that must come out right.
SCENARIO_PASS_THRESHOLD = 0.90  # measured 0.961 on 2026-12-02; a margin for training noise


def test_scenario_files_are_valid():
    assert check_scenarios.main() == 0, "tests/scenarios/*.yml do not follow FORMAT.md (see the ERROR lines above)"


def test_scenarios(scenario_target, run_dir, scenario_summary):
    scenarios = load_scenarios()
    assert len(scenarios) >= 150
    suite = run_suite(scenario_target, scenarios)
    report = format_report(suite)
    print()
    print(report)
    write_json(suite, Path(run_dir) / "scenarios.json")
    if os.environ.get("SCENARIO_REPORT"):
        write_json(suite, Path(os.environ["SCENARIO_REPORT"]))
    # The tables (not every failure) in the closing summary, where `make test` shows them too.
    scenario_summary(report.split("\nFailures (")[0] + f"\n  details: {Path(run_dir) / 'scenarios.json'}")
    rate = suite["summary"]["rate"] or 0.0
    assert rate >= SCENARIO_PASS_THRESHOLD, (
        f"scenario pass rate {rate:.1%} is below {SCENARIO_PASS_THRESHOLD:.0%} (details above and in "
        f"{Path(run_dir) / 'scenarios.json'})")
