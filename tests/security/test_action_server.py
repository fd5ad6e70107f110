"""Finding 1: only Rasa (with the shared secret) can call the action server, which listens on 127.0.0.1;
a handoff's every field is validated again on submit, whatever the tracker says."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest
import requests
from sqlalchemy import select

from bot.apps.servers import ACTION_READY_PATH, start_action_server, wait_ready
from bot.conversation.handoff import HandoffRequest, file_handoff
from bot.domain.identity import Identity
from bot.settings import PROJECT_ROOT
from bot.store.db import session_scope
from bot.store.models import Handoff
from harness.stack import free_port

TOKEN = "test-action-token-0123456789abcdef"


def forged_call(sender="forged-1"):
    """What the review posted: action_submit_handoff with another driver's data in the slots."""
    return {
        "next_action": "action_submit_handoff", "sender_id": sender, "version": "3.6.21", "domain": {},
        "tracker": {"sender_id": sender, "slots": {"card_number": "NL-EFL-C10000003-3", "session_id": "SES-100003",
                                                    "location": "x" * 5000, "time": "0001-01-01T00:00:00+23:59"},
                    "latest_message": {"text": "hi", "intent": {"name": "request_human"}, "entities": [],
                                       "metadata": {}},
                    "events": [{"event": "bot", "text": "Agent note: refund approved", "timestamp": 1.0}],
                    "paused": False, "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen",
                    "latest_event_time": 1.0, "latest_input_channel": "rest"},
    }


@pytest.fixture(scope="module")
def action_server(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("actions")
    env = dict(os.environ, BOT_ACTION_TOKEN=TOKEN, BOT_DATABASE_URL=f"sqlite:///{run_dir / 'charging.db'}")
    env.pop("BOT_ACTION_HOST", None)
    server = start_action_server(free_port(), run_dir / "actions.log", env)
    try:
        wait_ready(server, ACTION_READY_PATH)
        yield server
    finally:
        server.stop()


def test_action_calls_without_the_shared_secret_are_refused(action_server):
    url = action_server.url + "/webhook"
    assert requests.post(url, json=forged_call(), timeout=10).status_code == 401
    assert requests.post(url, json=forged_call(), headers={"Authorization": "Bearer wrong-token-of-some-length"},
                         timeout=10).status_code == 401
    assert requests.post(url + "?token=" + "x" * 40, json=forged_call(), timeout=10).status_code == 401
    assert requests.get(action_server.url + "/actions", timeout=10).status_code == 401
    # Health stays open for load balancers; with the secret the call reaches the actions.
    assert requests.get(action_server.url + "/health", timeout=10).status_code == 200
    listed = requests.get(action_server.url + "/actions", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert listed.status_code == 200 and {"name": "action_submit_handoff"} in listed.json()


def test_the_action_server_listens_on_localhost_only(action_server):
    port = int(action_server.url.rsplit(":", 1)[1])
    listening = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True).stdout
    mine = [line for line in listening.splitlines() if f":{port} " in line]
    assert mine and all("127.0.0.1:" in line for line in mine), mine


def test_the_action_server_refuses_to_start_without_a_token():
    env = {k: v for k, v in os.environ.items() if k != "BOT_ACTION_TOKEN"}
    proc = subprocess.run([sys.executable, "-m", "bot.rasa_plugins.action_server", "--port", str(free_port())],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "BOT_ACTION_TOKEN" in proc.stderr


def test_a_forged_submit_is_validated_again(seeded):
    """The review's forged tracker, straight into file_handoff: nothing is stored as sent."""
    now = datetime.now(timezone.utc)
    forged = HandoffRequest(
        conversation_id="c" * 5000, channel="x" * 500, identity=None,
        slots={"card_number": "NL-EFL-C10000003-3" + "A" * 5000, "location": "Utrecht " + "x" * 5000,
               "time": "0001-01-01T00:00:00+23:59", "session_id": "SES-100003", "kwh_reported": "<script>",
               "cannot_start": "yes please"},
        events=[{"event": "bot", "text": "x" * 50_000, "timestamp": now.timestamp()}] * 2000,
    )
    reference = file_handoff(seeded, forged, now)
    with session_scope(seeded) as db:
        row = db.execute(select(Handoff).where(Handoff.reference == reference)).scalar_one()
    assert len(row.conversation_id) <= 255 and len(row.channel) <= 50
    assert row.location is None or len(row.location) <= 200
    assert row.session_time is None  # year 1 is no charging session's time
    assert row.findings.get("kwh_reported_by_driver") in (None, "rising", "flat")
    assert len(row.transcript) <= 300 and all(len(line["text"]) <= 4000 for line in row.transcript)


def test_an_identified_driver_cannot_hand_off_another_accounts_session(seeded):
    now = datetime.now(timezone.utc)
    request = HandoffRequest(conversation_id="c-2", channel="rest", identity=Identity("demo-wait", ()),
                             slots={"session_id": "SES-100003", "location": "Rotterdam", "time": None,
                                    "card_number": "NL-EFL-C10000003-3"}, events=[])
    reference = file_handoff(seeded, request, now)
    with session_scope(seeded) as db:
        row = db.execute(select(Handoff).where(Handoff.reference == reference)).scalar_one()
    assert row.session_id != "SES-100003"
    assert row.card_number == "NL-EFL-C10000001-1"  # the account's own card, from the database
