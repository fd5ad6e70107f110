from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.store.seed import seed_demo
from bot.settings import Settings
from tests.conftest import TEST_SECRET

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


def _seeded(tmp_path, now) -> Settings:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'charging.db'}", identity_secret=TEST_SECRET)
    seed_demo(settings, now=now)
    return settings


@pytest.fixture
def seeded(tmp_path) -> Settings:
    """A real SQLite charging database with the demo scenarios, seeded at NOW (for code that is given `now`)."""
    return _seeded(tmp_path, NOW)


@pytest.fixture
def seeded_now(tmp_path) -> Settings:
    """The same, seeded at the wall clock: the actions read the time themselves."""
    return _seeded(tmp_path, None)
