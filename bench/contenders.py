"""What is compared: two configs trained on the same data, and the serving setups they run in."""
from __future__ import annotations

import importlib.util
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Tuple

from bot.settings import PROJECT_ROOT

BENCH_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Contender:
    key: str
    label: str
    config: Path
    # Rasa's autoconfig rewrites the comments of a config without a pipeline while training,
    # so such a config is trained from a copy, never from the file in git.
    train_from_copy: bool = False
    # DIET and TED for 100 epochs: `--default-folds` may limit its cross-validation to fewer folds.
    slow_to_train: bool = False


@dataclass(frozen=True)
class Setup:
    """A contender's model served with given server options (environment of both servers)."""

    key: str
    label: str
    contender: str
    server_env: Dict[str, str] = field(default_factory=dict)
    needs_redis: bool = False
    headline: bool = False  # the setup the contender is compared with (what we ship / Rasa's defaults)


def redis_lock_store() -> str:
    """The project's Redis lock store when it has one (safe with several Rasa processes), else Rasa's own."""
    return "bot.rasa_plugins.lock_store.AtomicRedisLockStore" if importlib.util.find_spec("bot.rasa_plugins.lock_store") else "redis"


CONTENDERS: Tuple[Contender, ...] = (
    Contender("assistant", "This assistant (config.yml)", PROJECT_ROOT / "config.yml"),
    Contender("rasa_default", "Rasa default (rasa init config.yml)", BENCH_DIR / "default_config.yml",
              train_from_copy=True, slow_to_train=True),
)

SETUPS: Tuple[Setup, ...] = (
    # The embedded default, as `make run` serves it; the headline's stand-in where Redis is missing.
    Setup("assistant", "assistant, 1 Rasa worker, in-memory lock store", "assistant"),
    # As we serve it in production: Rasa's own worker option, which needs a Redis lock store.
    Setup("assistant_2_workers", "assistant, 2 Rasa workers + Redis lock store", "assistant",
          server_env={"SANIC_WORKERS": "2", "LOCK_STORE_TYPE": redis_lock_store(), "LOCK_STORE_HOST": "127.0.0.1",
                      "LOCK_STORE_PORT": "6379"}, needs_redis=True, headline=True),
    Setup("rasa_default", "Rasa default, 1 Rasa worker, in-memory lock store", "rasa_default", headline=True),
)


def redis_reachable(host: str = "127.0.0.1", port: int = 6379) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False
