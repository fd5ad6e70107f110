"""Starting, watching and stopping the two servers (action server, Rasa) for `bot run`.

The test and benchmark harness (`harness/`) builds whole stacks on top of these."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Dict, List, Mapping, Optional

import requests

from bot.settings import PROJECT_ROOT, private_dir, private_file, rasa_process_env

# Both servers log through this config: it masks card numbers and identity tokens (bot/rasa_plugins/log_privacy.py).
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


def spawn(name: str, args: List[str], env: Mapping[str, str], log_path: Path, url: str) -> Server:
    # Logs hold conversation IDs and (masked) driver text: readable by the owner only.
    private_dir(log_path.parent)
    log: IO = open(private_file(log_path), "ab")
    process = subprocess.Popen(args, cwd=PROJECT_ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    log.close()
    return Server(name, process, url, log_path, list(args), dict(env))


def start_action_server(port: int, log_path: Path, env: Optional[Mapping[str, str]] = None,
                        logging_config: Path = LOGGING_CONFIG) -> Server:
    """The action server (bot.rasa_plugins.action_server: rasa_sdk behind BOT_ACTION_TOKEN, on 127.0.0.1).
    `env` must hold BOT_ACTION_TOKEN, the same the Rasa servers get."""
    env = rasa_process_env(env if env is not None else os.environ)
    # rasa_sdk spells this option with an underscore.
    args = [sys.executable, "-m", "bot.rasa_plugins.action_server", "--actions", "actions", "--port", str(port),
            "--logging-config_file", str(logging_config)]
    return spawn("action server", args, env, log_path, f"http://127.0.0.1:{port}")


def start_rasa_server(model: Path, port: int, log_path: Path, env: Optional[Mapping[str, str]] = None,
                      extra_args: Optional[List[str]] = None, logging_config: Path = LOGGING_CONFIG) -> Server:
    env = rasa_process_env(env if env is not None else os.environ)
    args = [sys.executable, "-m", "rasa", "run", "--model", str(model), "--endpoints", "endpoints.yml",
            "--credentials", "credentials.yml", "--port", str(port), "--interface", "127.0.0.1",
            "--logging-config-file", str(logging_config), *(extra_args or [])]
    return spawn("rasa server", args, env, log_path, f"http://127.0.0.1:{port}")


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
