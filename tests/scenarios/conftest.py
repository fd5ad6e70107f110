"""Fixtures of the scenario suite: the shared end-to-end stack (tests/conftest.py), with fresh demo data;
and the suite's pass-rate tables in pytest's closing summary, also when output is captured (`make test`)."""
from __future__ import annotations

import pytest

from bot.store.seed import seed_demo
from tests.scenarios.runner import Target

SUMMARY = pytest.StashKey[str]()


@pytest.fixture(scope="session")
def scenario_target(stack, stack_env, stack_settings) -> Target:
    """The running stack as the runner sees it. The demo rows are seeded again first: their times are
    relative to the seed (demo-charging's kWh counts as rising for 30 minutes only), and the stack may
    have been started long before this suite runs. Seeding keeps handoff records."""
    seed_demo(stack_settings)
    return Target.from_env(stack.url, stack_env)


@pytest.fixture
def scenario_summary(request):
    """Call with the text to show in pytest's closing summary."""
    def keep(text: str) -> None:
        request.config.stash[SUMMARY] = text
    return keep


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    text = config.stash.get(SUMMARY, None)
    if text:
        terminalreporter.write_sep("=", "scenario suite (tests/scenarios)")
        terminalreporter.write_line(text)
