"""A stack of its own for the security tests: strict limits, a trusted proxy header so each test can
speak as a client address of its own, and one allowed widget origin."""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest
import requests

from bot.apps.chat_client import REST_PATH
from bot.domain.identity import mint_token
from bot.settings import settings_from_env
from bot.store.seed import scenario, seed_demo
from bot.settings import Settings
from harness.stack import Stack, embedded_env
from tests.browser.conftest import browser, chromium_path, page, widget_built, widget_site  # noqa: F401 - fixtures
from tests.conftest import TEST_SECRET, running_stack

ALLOWED_ORIGIN = "https://shop.example"
SECURITY_ENV = {
    "BOT_PROXIES_COUNT": "1",  # X-Forwarded-For names the client: every test is a client of its own
    "BOT_RATE_LIMIT_CLIENT": "40/minute",
    "BOT_RATE_LIMIT_CONVERSATION": "12/minute",
    "BOT_RATE_LIMIT_NEW_CONVERSATIONS": "6/minute",
    "BOT_SOCKETIO_ORIGINS": ALLOWED_ORIGIN,
}


@pytest.fixture(scope="session")
def security_stack(tmp_path_factory, trained_model) -> Iterator[Stack]:
    run_dir: Path = tmp_path_factory.mktemp("security")
    env = dict(embedded_env(os.environ, run_dir, TEST_SECRET), **SECURITY_ENV)
    seed_demo(settings_from_env(env))
    yield from running_stack(trained_model, run_dir, env)


@pytest.fixture
def seeded(tmp_path) -> Settings:
    """A real SQLite charging database with the demo scenarios."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'charging.db'}", identity_secret=TEST_SECRET)
    seed_demo(settings)
    return settings


def new_client() -> str:
    """A client address of its own (the stack trusts one proxy's X-Forwarded-For)."""
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"


def token_for(name: str, minutes: int = 30) -> str:
    s = scenario(name)
    from datetime import timedelta
    return mint_token(s.account_id, [s.card], TEST_SECRET, timedelta(minutes=minutes))


class Client:
    """A REST client at an address of its own."""

    def __init__(self, stack: Stack, address: Optional[str] = None) -> None:
        self.url = stack.url + REST_PATH
        self.address = address or new_client()

    def post(self, sender: str, message: str, metadata=None, **kwargs) -> requests.Response:
        body: Dict = {"sender": sender, "message": message}
        if metadata is not None:
            body["metadata"] = metadata
        return requests.post(self.url, json=body, headers={"X-Forwarded-For": self.address}, timeout=60, **kwargs)

    def say(self, sender: str, message: str, token: Optional[str] = None) -> List[Dict]:
        response = self.post(sender, message, {"identity": token} if token else None)
        assert response.status_code == 200, response.text
        return response.json()


def texts(messages: List[Dict]) -> str:
    return "\n".join(m.get("text", "") for m in messages)
