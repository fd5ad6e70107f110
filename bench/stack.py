"""One serving setup under test: action server + Rasa server on 127.0.0.1, on freshly seeded demo data.

Both start at the same moment; "time to first answer" runs from there to the first correct
reply to a message that needs the action server.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Mapping, Optional

import requests

from bench.procmem import peak_rss_mb
from bot.apps.chat_client import texts
from harness.stack import Stack, embedded_env, start_stack
from bot.store.seed import seed_demo
from bot.settings import settings_from_env

PROBE_MESSAGE = "my charging session is still active"
PROBE_EXPECT = "72 hours"  # the anonymous answer, written by action_check_session


@dataclass
class MeasuredStack:
    stack: Stack
    first_answer_s: float

    @property
    def url(self) -> str:
        return self.stack.url

    def peak_memory_mb(self) -> Dict[str, Optional[float]]:
        return {"rasa_server": peak_rss_mb(self.stack.rasa[0].process.pid),
                "action_server": peak_rss_mb(self.stack.actions.process.pid)}

    def stop(self) -> None:
        self.stack.stop()


def stack_env(base: Mapping[str, str], run_dir: Path, secret: str, server_env: Mapping[str, str]) -> Dict[str, str]:
    """The servers' environment: their own charging DB and tracker store in `run_dir`, plus the setup's options."""
    # rasa_sdk binds 0.0.0.0 unless told otherwise; the benchmark stays on this machine.
    return dict(embedded_env(base, run_dir, secret), SANIC_HOST="127.0.0.1", **server_env)


def _first_answer(stack: Stack, deadline_s: float) -> None:
    url = stack.url + "/webhooks/rest/webhook"
    end = time.monotonic() + deadline_s
    attempt = 0
    while time.monotonic() < end:
        for server in (*stack.rasa, stack.actions):
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}")
        attempt += 1
        try:
            reply = requests.post(url, json={"sender": f"bench-probe-{attempt}", "message": PROBE_MESSAGE}, timeout=30)
            if reply.ok and PROBE_EXPECT in texts(reply.json()):
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"no answer within {deadline_s:.0f} s:\n{stack.rasa[0].log_tail()}")


def start_measured_stack(model: Path, run_dir: Path, env: Mapping[str, str], deadline_s: float = 300.0) -> MeasuredStack:
    run_dir.mkdir(parents=True, exist_ok=True)
    seed_demo(settings_from_env(env))
    started = time.monotonic()
    stack = start_stack(model, run_dir, env)
    try:
        _first_answer(stack, deadline_s)
    except BaseException:
        stack.stop()
        raise
    return MeasuredStack(stack, first_answer_s=round(time.monotonic() - started, 2))
