"""Whole stacks of servers on free ports, for the tests and the benchmark (never for production).

A `Stack` is one action server and the Rasa servers that call it, on an environment of its own
(`embedded_env`: SQLite files in a run folder, in-memory locks, no helpdesk webhook).
"""
from __future__ import annotations

import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional

from bot.apps.servers import (ACTION_READY_PATH, LOGGING_CONFIG, RASA_READY_PATH, Server, spawn,
                              start_action_server, start_rasa_server, wait_ready)
from bot.settings import Settings, settings_from_env


def restart(server: Server) -> Server:
    """The same server started again (same command, port, environment and log) after stop() or kill()."""
    if server.process.poll() is None:
        raise RuntimeError(f"{server.name} is still running; stop or kill it first")
    return spawn(server.name, server.args, server.env, server.log_path, server.url)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Test and benchmark clients all speak from 127.0.0.1, far faster than a driver: limits that never bite
# them (tests/security runs a stack with strict ones).
LOAD_TEST_LIMITS = {
    "BOT_RATE_LIMIT_CLIENT": "1000000/minute",
    "BOT_RATE_LIMIT_CONVERSATION": "100000/minute",
    "BOT_RATE_LIMIT_NEW_CONVERSATIONS": "1000000/minute",
    "BOT_SOCKETIO_ORIGINS": "*",  # the browser tests' widget page runs on a free port
}


def embedded_env(base: Mapping[str, str], run_dir: Path, secret: str) -> Dict[str, str]:
    """`base` with a stack of its own on the embedded default: SQLite files in `run_dir`, in-memory locks,
    handoffs kept in the outbox (no webhook), an action token of its own, load-test limits. For tests
    and the benchmark."""
    env = dict(base)
    env.update({
        "BOT_DATABASE_URL": f"sqlite:///{run_dir / 'charging.db'}",
        "BOT_IDENTITY_SECRET": secret,
        "BOT_ACTION_TOKEN": secrets.token_urlsafe(32),
        "TRACKER_STORE_URL": f"sqlite:///{run_dir / 'tracker.db'}",
        "LOCK_STORE_TYPE": "in_memory",
        "RASA_TELEMETRY_ENABLED": "false",
        **LOAD_TEST_LIMITS,
    })
    env.pop("BOT_HANDOFF_WEBHOOK_URL", None)
    return env


@dataclass
class Stack:
    """One action server and the Rasa servers that call it, on free ports of 127.0.0.1."""

    actions: Server
    rasa: List[Server]
    env: Dict[str, str] = field(repr=False)  # both servers' environment (holds secrets)

    @property
    def url(self) -> str:
        return self.rasa[0].url

    @property
    def settings(self) -> Settings:
        return settings_from_env(self.env)

    def restart(self, server: Server, deadline_s: float = 400.0) -> Server:
        """Starts a stopped or killed server of this stack again and waits until it answers."""
        new = restart(server)
        if server is self.actions:
            self.actions = new
            wait_ready(new, ACTION_READY_PATH)
        else:
            self.rasa[self.rasa.index(server)] = new
            wait_ready(new, RASA_READY_PATH, deadline_s=deadline_s)
        return new

    def wait_ready(self, deadline_s: float = 300.0) -> None:
        wait_ready(self.actions, ACTION_READY_PATH)
        for server in self.rasa:
            wait_ready(server, RASA_READY_PATH, deadline_s=deadline_s)

    def stop(self) -> None:
        for server in [*self.rasa, self.actions]:
            server.stop()


def start_stack(model: Path, run_dir: Path, env: Mapping[str, str], rasa_servers: int = 1,
                rasa_args: Optional[List[str]] = None, logging_config: Path = LOGGING_CONFIG) -> Stack:
    """Starts the servers without waiting for them (`Stack.wait_ready`); logs go to `run_dir`."""
    actions_port = free_port()
    env = dict(env, ACTION_ENDPOINT_URL=f"http://127.0.0.1:{actions_port}/webhook")
    actions = start_action_server(actions_port, run_dir / "actions.log", env, logging_config=logging_config)
    rasa = [start_rasa_server(model, free_port(), run_dir / ("rasa.log" if rasa_servers == 1 else f"rasa-{n}.log"),
                              env, rasa_args, logging_config) for n in range(1, rasa_servers + 1)]
    return Stack(actions, rasa, env)
