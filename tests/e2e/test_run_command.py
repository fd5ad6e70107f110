"""`make run`'s command itself (`bot.cli run --no-chat`): it starts everything a newcomer chats with,
answers through the REST channel and the widget page, and stops its servers on Ctrl-C."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from bot.apps.chat_client import texts
from harness.stack import embedded_env, free_port
from bot.settings import PROJECT_ROOT
from tests.conftest import TEST_SECRET

pytestmark = pytest.mark.e2e


def _wait_for_line(process: subprocess.Popen, marker: str, deadline_s: float) -> str:
    seen = []
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"no {marker!r} from `bot run` (exit {process.poll()}):\n{''.join(seen)[-3000:]}")


def test_run_serves_the_chat_and_the_widget_and_stops_cleanly_on_ctrl_c(tmp_path, trained_model):
    rasa_port, actions_port, web_port = free_port(), free_port(), free_port()
    env = embedded_env(os.environ, tmp_path, TEST_SECRET)
    env.pop("ACTION_ENDPOINT_URL", None)  # `run` points Rasa at its own action server
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--no-chat", "--rasa-port", str(rasa_port),
         "--actions-port", str(actions_port), "--web-port", str(web_port)],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output = _wait_for_line(process, "Serving;", deadline_s=300)
        assert "demo-wait" in output  # the demo accounts are listed
        answer = requests.post(f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook",
                               json={"sender": "run-smoke", "message": "my charging session is still active"},
                               timeout=30).json()
        assert "72 hours" in texts(answer)
        page = requests.get(f"http://127.0.0.1:{web_port}/", timeout=10)
        assert page.status_code == 200 and "deep-chat" in page.text
    finally:
        process.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    for port in (rasa_port, actions_port, web_port):
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/", timeout=2)
