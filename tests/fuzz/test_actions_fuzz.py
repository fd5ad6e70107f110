"""10,000 hostile messages straight into the actions, on the embedded SQLite charging database.

FUZZ_ACTION_MESSAGES changes the count (CI keeps the default).
"""
from __future__ import annotations

import os
import time

from bot.store.seed import seed_demo
from bot.settings import Settings
from tests.conftest import TEST_SECRET
from tests.fuzz.action_fuzz import run_action_fuzz
from tests.fuzz.charging_snapshot import places_by_account

MESSAGES = int(os.environ.get("FUZZ_ACTION_MESSAGES", "10000"))


def test_hostile_turns_straight_into_the_actions(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'charging.db'}", identity_secret=TEST_SECRET)
    seed_demo(settings)
    started = time.monotonic()
    stats = run_action_fuzz(settings, MESSAGES, places_by_account(settings), "fuzz-actions")
    elapsed = time.monotonic() - started
    print(f"\nactions: {stats['messages']} hostile messages in {stats['cases']} contexts, {elapsed:.0f} s "
          f"({stats['anonymous']} anonymous, {stats['logged_in']} with a valid token; {stats['validations']} slot "
          f"validations; {stats['handoffs']} handoffs)")
    assert stats["messages"] >= MESSAGES
    assert stats["anonymous"] and stats["logged_in"] and stats["handoffs"]
