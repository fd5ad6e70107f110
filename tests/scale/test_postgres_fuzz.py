"""The hostile-input fuzz on PostgreSQL, which enforces column lengths and refuses NUL characters
where SQLite stores anything: straight into the actions, and through both Rasa servers.

FUZZ_POSTGRES_MESSAGES and FUZZ_POSTGRES_REST_MESSAGES change the counts.
"""
from __future__ import annotations

import os

import pytest

from bot.store.seed import seed_demo
from bot.settings import Settings
from tests.conftest import TEST_SECRET
from tests.fuzz.action_fuzz import run_action_fuzz
from tests.fuzz.charging_snapshot import places_by_account
from tests.fuzz.rest_fuzz import run_rest_fuzz

ACTION_MESSAGES = int(os.environ.get("FUZZ_POSTGRES_MESSAGES", "2000"))
REST_MESSAGES = int(os.environ.get("FUZZ_POSTGRES_REST_MESSAGES", "400"))


def test_hostile_turns_straight_into_the_actions_on_postgresql(postgres_databases):
    settings = Settings(database_url=postgres_databases.create("fuzz"), identity_secret=TEST_SECRET)
    seed_demo(settings)
    stats = run_action_fuzz(settings, ACTION_MESSAGES, places_by_account(settings), "fuzz-postgres")
    print(f"\nactions on PostgreSQL: {stats['messages']} hostile messages, {stats['handoffs']} handoffs")
    assert stats["messages"] >= ACTION_MESSAGES and stats["handoffs"]


@pytest.mark.e2e
def test_hostile_messages_through_both_servers_on_postgresql(scale_stack):
    logs = [server.log_path for server in [*scale_stack.rasa, scale_stack.actions]]
    stats = run_rest_fuzz([server.url for server in scale_stack.rasa], scale_stack.settings, logs,
                          REST_MESSAGES, "fuzz-pg-rest")
    print(f"\nREST on PostgreSQL, two servers: {stats['requests']} requests ({stats['messages']} hostile messages, "
          f"{stats['malformed']} malformed), {stats['handoffs']} handoffs")
