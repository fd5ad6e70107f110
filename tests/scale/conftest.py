"""Fixtures for the assistant past one machine: two Rasa servers and one action server sharing
PostgreSQL (tracker store, charging database) and Redis (lock store); see tests/services.py for how
PostgreSQL and Redis are found (a test skips without them, and fails with CI=true).

The Redis lock store keeps its keys per conversation ID, every conversation here has a fresh random
ID, and a lock is deleted when its turn ends. The lock store is bot.rasa_plugins.lock_store.AtomicRedisLockStore;
TEST_LOCK_STORE_TYPE=redis runs the same tests on Rasa's own Redis lock store (which loses turns in
the race test).
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional
from urllib.parse import urlparse

import pytest

from harness.stack import Stack, embedded_env, start_stack
from bot.store.seed import seed_demo
from bot.settings import settings_from_env
from tests.conftest import TEST_SECRET
from tests.services import PostgresDatabases


@dataclass
class ScaleStack(Stack):
    """Two Rasa servers and one action server sharing PostgreSQL (tracker store, charging DB) and Redis (locks)."""

    databases: Optional[PostgresDatabases] = None

    @property
    def tracker_url(self) -> str:
        return self.env["TRACKER_STORE_URL"]


@pytest.fixture(scope="session")
def scale_stack(tmp_path_factory, postgres_databases, redis_url, trained_model) -> Iterator[ScaleStack]:
    run_dir: Path = tmp_path_factory.mktemp("scale")
    redis_parts = urlparse(redis_url)
    env = embedded_env(os.environ, run_dir, TEST_SECRET)
    env.update({
        "BOT_DATABASE_URL": postgres_databases.create("charging"),
        # Short, so the database-down tests answer quickly.
        "BOT_DB_TIMEOUT_S": "2",
        "TRACKER_STORE_URL": postgres_databases.create("tracker"),
        "LOCK_STORE_TYPE": os.environ.get("TEST_LOCK_STORE_TYPE", "bot.rasa_plugins.lock_store.AtomicRedisLockStore"),
        "LOCK_STORE_HOST": redis_parts.hostname or "127.0.0.1",
        "LOCK_STORE_PORT": str(redis_parts.port or 6379),
    })
    seed_demo(settings_from_env(env))
    stack = ScaleStack(**vars(start_stack(trained_model, run_dir, env, rasa_servers=2)), databases=postgres_databases)
    try:
        stack.wait_ready(deadline_s=400)
        yield stack
    finally:
        stack.stop()  # the servers running now, restarted ones included


@pytest.fixture
def conversation_id() -> Callable[[str], str]:
    return lambda kind: f"scale-{kind}-{secrets.token_hex(6)}"
