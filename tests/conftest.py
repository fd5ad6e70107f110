"""Shared fixtures. The trained model and the two servers are session-scoped: trained and started
once per test run, shared by every end-to-end test."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT, Settings, settings_from_env

TEST_SECRET = "test-identity-secret-not-for-production"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("run")


@pytest.fixture(scope="session")
def stack_env(run_dir) -> dict:
    """Environment for the servers of the end-to-end tests: their own databases and secret."""
    env = dict(os.environ)
    env.update({
        "BOT_DATABASE_URL": f"sqlite:///{run_dir / 'charging.db'}",
        "BOT_IDENTITY_SECRET": TEST_SECRET,
        "TRACKER_STORE_DIALECT": "sqlite",
        "TRACKER_STORE_URL": f"sqlite:///{run_dir / 'tracker.db'}",
        "LOCK_STORE_TYPE": "in_memory",
        "RASA_TELEMETRY_ENABLED": "false",
    })
    env.pop("BOT_HANDOFF_WEBHOOK_URL", None)
    return env


@pytest.fixture(scope="session")
def stack_settings(stack_env) -> Settings:
    return settings_from_env(stack_env)


@pytest.fixture(scope="session")
def trained_model() -> Path:
    from bot.model_build import ensure_model

    return ensure_model(PROJECT_ROOT)
