"""Shared fixtures. The trained model and the two servers are session-scoped: trained and started
once per test run, shared by every end-to-end test."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.stack import Stack, embedded_env, start_stack
from bot.store.seed import seed_demo
from bot.settings import PROJECT_ROOT, Settings, settings_from_env
from tests.services import postgres_databases, postgres_url, redis_url  # noqa: F401 - fixtures for every suite

TEST_SECRET = "test-identity-secret-not-for-production"


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("run")


@pytest.fixture(scope="session")
def stack_env(run_dir) -> dict:
    """Environment for the servers of the end-to-end tests: their own databases and secret."""
    return embedded_env(os.environ, run_dir, TEST_SECRET)


@pytest.fixture(scope="session")
def stack_settings(stack_env) -> Settings:
    return settings_from_env(stack_env)


@pytest.fixture(scope="session")
def trained_model() -> Path:
    from bot.apps.model_build import ensure_model

    return ensure_model(PROJECT_ROOT)


def running_stack(model: Path, run_dir: Path, env: dict, **options):
    """A started and ready stack (harness.stack.start_stack) for a fixture to yield; stopped afterwards."""
    stack = start_stack(model, run_dir, env, **options)
    try:
        stack.wait_ready()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def stack(run_dir, stack_env, stack_settings, trained_model) -> Stack:
    """Action server + Rasa server, started once for all end-to-end tests, on the seeded demo data."""
    seed_demo(stack_settings)
    yield from running_stack(trained_model, run_dir, stack_env)
