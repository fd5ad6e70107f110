"""End to end: a real CPO (extrawest-ocpi, in its own venv) feeds the receiver; a driver chats through Rasa.

The CPO registers with token A (the OCPI credentials handshake; the receiver reads the CPO's own versions
endpoint on the running extrawest-ocpi peer with token B), pushes its location and a session with py_ocpi's
own push, PATCHes the kWh for 45 minutes and then goes quiet. 75 hours later (in the data's time) the
driver asks the assistant, served by the real Rasa and action servers, and is told what the data say: the
charging ended, the station is another operator's, contact GreenCharge (step 4). Then the CPO posts the CDR,
and the driver is told the session has ended.
"""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from bot.apps.chat_client import RestChat, texts
from bot.apps.ocpi_receiver import READY_PATH, start_ocpi_receiver
from bot.apps.servers import wait_ready
from bot.domain.identity import mint_token
from bot.domain.ocpi import iso
from harness.stack import free_port
from tests.conftest import TEST_SECRET
from tests.ocpi.ocpi_seed import EVSE_UID, LOCATION_ID
from tests.ocpi.receiver_support import add_driver, cdr, session, utc_now

pytestmark = pytest.mark.e2e

CPO = Path(__file__).resolve().parent / "peer" / "cpo_push.py"


def cpo(peer_python: str, **step) -> dict:
    proc = subprocess.run([peer_python, str(CPO), json.dumps(step)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def receiver(stack, run_dir):
    port = free_port()
    env = dict(stack.env, BOT_OCPI_PUBLIC_URL=f"http://127.0.0.1:{port}")
    server = start_ocpi_receiver(port, run_dir / "ocpi-receiver.log", env)
    try:
        wait_ready(server, READY_PATH, deadline_s=60)
        yield server, env
    finally:
        server.stop()


def test_a_cpo_feeds_the_receiver_and_the_driver_hears_what_the_data_say(stack, receiver, ocpi_peer, peer_python):
    server, env = receiver
    suffix = uuid.uuid4().hex[:6].upper()
    account, contract, uid = f"e2e-ocpi-{suffix}", "NL-EFL-C3000" + str(int(suffix, 16) % 10000).zfill(4) + "-1", f"E2E{suffix}"
    add_driver(stack.settings, account, contract, uid)

    # Token A, as an operator hands it over: `bot ocpi-token-a`.
    made = subprocess.run([sys.executable, "-m", "bot.cli", "ocpi-token-a", "GreenCharge"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    token_a = made.stdout.strip().splitlines()[-1]

    peer_root = ocpi_peer.base_url.split("/ocpi/")[0]
    registered = cpo(peer_python, action="register", versions_url=f"{server.url}/ocpi/versions", token_a=token_a,
                     token_b=ocpi_peer.token, peer_versions_url=f"{peer_root}/ocpi/versions")
    token_c, details_url = registered["token_c"], registered["details_url"]
    assert token_c != token_a and registered["request_id_echoed"]

    location = next(loc for loc in ocpi_peer.seed["locations"] if loc["id"] == LOCATION_ID)
    pushed = cpo(peer_python, action="push", module="locations", object=location, details_url=details_url,
                 token_c=token_c)
    assert pushed["http_status"] in (200, 201), pushed

    start = utc_now() - timedelta(hours=75)
    sid = f"SES-E2E-{suffix}"
    body = session(sid, start=start, contract_id=contract, uid=uid, location_id=LOCATION_ID, evse_uid=EVSE_UID)
    pushed = cpo(peer_python, action="push", module="sessions", object=body, details_url=details_url, token_c=token_c)
    assert pushed["http_status"] == 201, pushed
    patches = [{"kwh": round(2.75 * n, 2), "last_updated": iso(start + timedelta(minutes=5 * n))} for n in range(1, 10)]
    answers = cpo(peer_python, action="patch", session_id=sid, patches=patches, details_url=details_url,
                  token_c=token_c)["answers"]
    assert answers == [{"http_status": 200, "status_code": 1000}] * len(patches)

    token = mint_token(account, [contract], TEST_SECRET, timedelta(minutes=30))
    chat = RestChat(stack.url, token=token, sender=f"app-{uuid.uuid4().hex[:8]}")
    answer = texts(chat.send("my charging session is still active but I stopped charging"))
    assert sid in answer and "GreenCharge B.V." in answer, answer
    assert "stopped drawing energy" in answer and "try your card at a different charging station" in answer, answer

    final = cdr(f"CDR-E2E-{suffix}", sid, energy=24.75, start=start, end=start + timedelta(minutes=50),
                contract_id=contract, uid=uid)
    final["cdr_location"].update(id=LOCATION_ID, evse_uid=EVSE_UID)
    pushed = cpo(peer_python, action="push", module="cdrs", object=final, details_url=details_url, token_c=token_c)
    assert pushed["http_status"] == 201, pushed

    later = RestChat(stack.url, token=token, sender=f"app-{uuid.uuid4().hex[:8]}")
    answer = texts(later.send("my charging session is still active but I stopped charging"))
    assert sid in answer and "has ended" in answer, answer

    got = requests.get(f"{server.url}/ocpi/emsp/2.2.1/sessions/NL/GRN/{sid}",
                       headers={"Authorization": "Token " + __import__("base64").b64encode(token_c.encode()).decode()},
                       timeout=10).json()
    assert got["data"]["status"] == "COMPLETED" and got["data"]["kwh"] == 24.75
