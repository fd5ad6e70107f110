"""Starting and stopping the two servers (action server, Rasa), for `bot run` and the tests alike."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Dict, List, Mapping, Optional

import requests

from bot.settings import PROJECT_ROOT, Settings, rasa_process_env, settings_from_env

# Both servers log through this config: it masks card numbers and identity tokens (bot/log_privacy.py).
LOGGING_CONFIG = PROJECT_ROOT / "logging.yml"


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    url: str
    log_path: Path
    # What started it, so `restart` can start it again (env holds secrets: kept out of repr).
    args: List[str] = field(default_factory=list, repr=False)
    env: Dict[str, str] = field(default_factory=dict, repr=False)

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout_s)

    def kill(self) -> None:
        """Kill -9, as a crash would."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(15)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _spawn(name: str, args: List[str], env: Mapping[str, str], log_path: Path, url: str) -> Server:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log: IO = open(log_path, "ab")
    process = subprocess.Popen(args, cwd=PROJECT_ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    log.close()
    return Server(name, process, url, log_path, list(args), dict(env))


def restart(server: Server) -> Server:
    """The same server started again (same command, port, environment and log) after stop() or kill()."""
    if server.process.poll() is None:
        raise RuntimeError(f"{server.name} is still running; stop or kill it first")
    return _spawn(server.name, server.args, server.env, server.log_path, server.url)


def start_action_server(port: int, log_path: Path, env: Optional[Mapping[str, str]] = None,
                        logging_config: Path = LOGGING_CONFIG) -> Server:
    env = rasa_process_env(env if env is not None else os.environ)
    # rasa_sdk spells this option with an underscore.
    args = [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port),
            "--logging-config_file", str(logging_config)]
    return _spawn("action server", args, env, log_path, f"http://127.0.0.1:{port}")


def start_rasa_server(model: Path, port: int, log_path: Path, env: Optional[Mapping[str, str]] = None,
                      extra_args: Optional[List[str]] = None, logging_config: Path = LOGGING_CONFIG) -> Server:
    env = rasa_process_env(env if env is not None else os.environ)
    args = [sys.executable, "-m", "rasa", "run", "--model", str(model), "--endpoints", "endpoints.yml",
            "--credentials", "credentials.yml", "--port", str(port), "--interface", "127.0.0.1",
            "--logging-config-file", str(logging_config), *(extra_args or [])]
    return _spawn("rasa server", args, env, log_path, f"http://127.0.0.1:{port}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def embedded_env(base: Mapping[str, str], run_dir: Path, secret: str) -> Dict[str, str]:
    """`base` with a stack of its own on the embedded default: SQLite files in `run_dir`, in-memory locks,
    handoffs kept in the outbox (no webhook). For tests and the benchmark."""
    env = dict(base)
    env.update({
        "BOT_DATABASE_URL": f"sqlite:///{run_dir / 'charging.db'}",
        "BOT_IDENTITY_SECRET": secret,
        "TRACKER_STORE_DIALECT": "sqlite",
        "TRACKER_STORE_URL": f"sqlite:///{run_dir / 'tracker.db'}",
        "LOCK_STORE_TYPE": "in_memory",
        "RASA_TELEMETRY_ENABLED": "false",
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


def wait_ready(server: Server, path: str, deadline_s: float = 180.0) -> None:
    """Polls until the server answers 200 on `path`; raises with the log's tail if it dies or times out."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            if requests.get(server.url + path, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{server.name} not ready after {deadline_s:.0f} s:\n{server.log_tail()}")


ACTION_READY_PATH = "/health"
RASA_READY_PATH = "/webhooks/rest/"
