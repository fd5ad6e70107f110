"""Rasa's stores and action endpoint as the environment says, with the embedded defaults.

Rasa reads endpoints.yml before any plug-in loads, and its `${VAR}` fails when VAR is unset. So
endpoints.yml names these plug-ins and holds no variables: `rasa shell`, `rasa run` and `rasa test`
work from the project root with no environment at all (SQLite, in-memory locks, actions on :5055),
and the same file serves several machines when TRACKER_STORE_URL, LOCK_STORE_* and
ACTION_ENDPOINT_URL say so (bot.settings.rasa_process_env holds the defaults).

The action endpoint carries the action server's shared secret (BOT_ACTION_TOKEN) as a bearer token.

A conversation belongs to the identity that opened its current session: the channels say who speaks
(`speaking`), and when the tracker store hands Rasa a conversation whose session was opened by
someone else (another account, or anonymous after a login, or the reverse), it starts a new session
first. Rasa's session start then resets every slot (carry_over_slots_to_new_session is false), the
active form and a pause, so nothing derived from the other identity reaches this turn, and the
transcript of a handoff (the current session) holds only this identity's turns.
"""
from __future__ import annotations

import contextlib
import logging
import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Iterator, List, Optional

import sqlalchemy.orm
from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted, UserUttered
from rasa.shared.utils.common import class_from_module_path
from rasa.utils.endpoints import EndpointConfig
from sanic import Sanic
from sanic.exceptions import SanicException

from bot.domain.identity import claimed_account
from bot.store.db import make_engine
from bot.settings import DEV_ACTION_TOKEN_FILE, action_token_from_env, private_file, rasa_process_env

logger = logging.getLogger(__name__)

LOCK_KEY_PREFIX = "stalesession"  # Rasa ignores prefixes that are not alphanumeric


def _env() -> dict:
    return rasa_process_env(os.environ)


class _Speaker:
    def __init__(self, account: Optional[str]) -> None:
        self.account = account
        self.checked = False


_speaker: ContextVar[Optional[_Speaker]] = ContextVar("speaker", default=None)


@contextlib.contextmanager
def speaking(account: Optional[str]) -> Iterator[None]:
    """Within this block, the conversation Rasa fetches is for `account` (None: anonymous)."""
    token = _speaker.set(_Speaker(account))
    try:
        yield
    finally:
        _speaker.reset(token)


NOBODY_YET = object()


def session_owner(events: List[Any]) -> Any:
    """The account whose message opened the tracker's current session (None: anonymous), or NOBODY_YET."""
    start = 0
    for index, event in enumerate(events):
        if isinstance(event, SessionStarted):
            start = index
    for event in events[start:]:
        if isinstance(event, UserUttered):
            return claimed_account(event.metadata)
    return NOBODY_YET


class ConfiguredTrackerStore(SQLTrackerStore):
    """Rasa's SQL tracker store at TRACKER_STORE_URL (SQLite `var/tracker.db` by default, PostgreSQL by URL),
    that starts a new session when another identity speaks (see the module's docstring)."""

    def __init__(self, domain: Any = None, host: Optional[str] = None, event_broker: Any = None,
                 **kwargs: Any) -> None:
        url = _env()["TRACKER_STORE_URL"]
        if url.startswith("sqlite:///"):
            path = Path(url[len("sqlite:///"):])
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            private_file(path)  # SQLite gives its journal files the database's mode
        # Rasa takes a full URL in `host`; the dialect is the URL's own.
        super().__init__(domain=domain, host=url, event_broker=event_broker, **kwargs)
        if url.startswith("sqlite:///"):
            self._pool_sqlite(url)

    def _pool_sqlite(self, url: str) -> None:
        """Keeps SQLite connections open between turns, in WAL mode (Rasa opens the file anew for every read
        and write, and writes through a rollback journal: a few ms of every turn)."""
        self.engine.dispose()
        self.engine = make_engine(url, sqlite_synchronous="NORMAL")
        self.sessionmaker = sqlalchemy.orm.sessionmaker(bind=self.engine)

    async def retrieve(self, sender_id: str):  # type: ignore[override]
        ensure_action_endpoint()  # every Rasa command reads its tracker first, also `rasa shell`
        tracker = await super().retrieve(sender_id)
        speaker = _speaker.get()
        if tracker is None or speaker is None or speaker.checked:
            return tracker
        speaker.checked = True  # once per turn: the turn's own later reads see its own session
        owner = session_owner(list(tracker.events))
        if owner is not NOBODY_YET and owner != speaker.account:
            logger.info("conversation %s: another identity is speaking; starting a new session", sender_id)
            tracker.update(SessionStarted())
        return tracker


class ConfiguredLockStore(LockStore):
    """LOCK_STORE_TYPE: `in_memory` (one Rasa process), `redis` (Rasa's own) or a class path such as
    bot.rasa_plugins.lock_store.AtomicRedisLockStore, on LOCK_STORE_HOST and LOCK_STORE_PORT."""

    def __new__(cls, endpoint_config: Optional[EndpointConfig] = None) -> LockStore:  # type: ignore[misc]
        env = _env()
        kind = env["LOCK_STORE_TYPE"]
        if kind == "in_memory":
            return InMemoryLockStore()
        config = EndpointConfig(url=env["LOCK_STORE_HOST"], port=int(env["LOCK_STORE_PORT"]),
                                key_prefix=LOCK_KEY_PREFIX)
        if kind == "redis":
            return RedisLockStore(host=config.url, **config.kwargs)
        return class_from_module_path(kind)(endpoint_config=config)


def action_endpoint() -> EndpointConfig:
    """ACTION_ENDPOINT_URL, with BOT_ACTION_TOKEN as a bearer token (never in the URL, so never in a log)."""
    env = _env()
    # In production BOT_ACTION_TOKEN; on a developer's machine the token `bot run` created in var/, so that
    # Rasa's own commands (`rasa shell`, `rasa run`) reach the development action server too.
    token = action_token_from_env(env) or (DEV_ACTION_TOKEN_FILE.read_text().strip()
                                           if DEV_ACTION_TOKEN_FILE.exists() else None)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if not token:
        logger.warning("BOT_ACTION_TOKEN is not set: the action server will refuse this server's calls")
    return EndpointConfig(url=env["ACTION_ENDPOINT_URL"], headers=headers)


_endpoint_applied = False


def ensure_action_endpoint() -> None:
    """Once per process, as soon as the agent is loaded: Rasa read endpoints.yml before any plug-in loaded,
    so the environment's action endpoint and token are applied here."""
    global _endpoint_applied
    if _endpoint_applied:
        return
    try:
        app = Sanic.get_app()
    except SanicException:  # not inside a Rasa server (e.g. `rasa test`): Rasa's own endpoint stands
        return
    _endpoint_applied = apply_action_endpoint(app)


def apply_action_endpoint(app: Sanic, *_: Any) -> bool:
    """Points the loaded agent at ACTION_ENDPOINT_URL with the action token; False while no agent is loaded."""
    agent = getattr(app.ctx, "agent", None)
    if agent is None:
        return False
    endpoint = action_endpoint()
    agent.action_endpoint = endpoint  # used when a new model is loaded
    if agent.processor is not None:
        agent.processor.action_endpoint = endpoint
    logger.debug("action endpoint: %s", endpoint.url)
    return True
