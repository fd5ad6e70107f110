"""Shared fixtures. The trained model and the two servers are session-scoped: trained and started
once per test run, shared by every end-to-end test."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from bot.processes import ACTION_READY_PATH, RASA_READY_PATH, start_action_server, start_rasa_server, wait_ready
from bot.seed import seed_demo
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


@pytest.fixture(scope="session")
def stack(run_dir, stack_env, stack_settings, trained_model):
    """Action server + Rasa server, started once for all end-to-end tests, on the seeded demo data."""
    seed_demo(stack_settings)
    actions_port, rasa_port = free_port(), free_port()
    env = dict(stack_env, ACTION_ENDPOINT_URL=f"http://127.0.0.1:{actions_port}/webhook")
    actions = start_action_server(actions_port, run_dir / "actions.log", env)
    rasa = start_rasa_server(trained_model, rasa_port, run_dir / "rasa.log", env)
    try:
        wait_ready(actions, ACTION_READY_PATH)
        wait_ready(rasa, RASA_READY_PATH, deadline_s=300)
        yield {"rasa_url": rasa.url, "actions": actions, "rasa": rasa, "env": env}
    finally:
        rasa.stop()
        actions.stop()
