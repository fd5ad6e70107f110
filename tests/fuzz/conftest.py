"""The embedded single-machine stack (SQLite, in-memory locks) that the REST fuzz talks to.

Its own databases and logs: the fuzz checks them before and after, undisturbed by other tests, and
the channel tests stop and restart its action server.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from harness.stack import Stack, embedded_env
from bot.store.seed import seed_demo
from bot.settings import settings_from_env
from tests.conftest import TEST_SECRET, running_stack


@pytest.fixture(scope="session")
def fuzz_stack(tmp_path_factory, trained_model) -> Iterator[Stack]:
    run_dir: Path = tmp_path_factory.mktemp("fuzz")
    env = embedded_env(os.environ, run_dir, TEST_SECRET)
    seed_demo(settings_from_env(env))
    yield from running_stack(trained_model, run_dir, env)
