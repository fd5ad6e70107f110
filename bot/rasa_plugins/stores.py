"""Rasa's stores and action endpoint as the environment says, with the embedded defaults.

Rasa reads endpoints.yml before any plug-in loads, and its `${VAR}` fails when VAR is unset. So
endpoints.yml names these plug-ins and holds no variables: `rasa shell`, `rasa run` and `rasa test`
work from the project root with no environment at all (SQLite, in-memory locks, actions on :5055),
and the same file serves several machines when TRACKER_STORE_URL, LOCK_STORE_* and
ACTION_ENDPOINT_URL say so (bot.settings.rasa_process_env holds the defaults).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Optional

from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.utils.common import class_from_module_path
from rasa.utils.endpoints import EndpointConfig
from sanic import Sanic

from bot.settings import rasa_process_env

logger = logging.getLogger(__name__)

LOCK_KEY_PREFIX = "stalesession"  # Rasa ignores prefixes that are not alphanumeric


def _env() -> dict:
    return rasa_process_env(os.environ)


class ConfiguredTrackerStore(SQLTrackerStore):
    """Rasa's SQL tracker store at TRACKER_STORE_URL (SQLite `var/tracker.db` by default, PostgreSQL by URL)."""

    def __init__(self, domain: Any = None, host: Optional[str] = None, event_broker: Any = None,
                 **kwargs: Any) -> None:
        url = _env()["TRACKER_STORE_URL"]
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///"):]).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Rasa takes a full URL in `host`; the dialect is the URL's own.
        super().__init__(domain=domain, host=url, event_broker=event_broker, **kwargs)


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
    return EndpointConfig(url=_env()["ACTION_ENDPOINT_URL"])


def apply_action_endpoint(app: Sanic, *_: Any) -> None:
    """Points the loaded agent at ACTION_ENDPOINT_URL (a Sanic after_server_start listener)."""
    agent = getattr(app.ctx, "agent", None)
    if agent is None:
        return
    endpoint = action_endpoint()
    agent.action_endpoint = endpoint  # used when a new model is loaded
    if agent.processor is not None:
        agent.processor.action_endpoint = endpoint
    logger.debug("action endpoint: %s", endpoint.url)
