"""Finding 10, on the running stack: allowed origins, no version on GET /, malformed socket.io events."""
from __future__ import annotations

import asyncio
import time

import pytest
import requests
import socketio

from tests.security.conftest import ALLOWED_ORIGIN, new_client

pytestmark = pytest.mark.e2e


def test_rasa_does_not_tell_its_version(security_stack):
    answer = requests.get(security_stack.url + "/", timeout=10)
    assert answer.status_code == 200 and "3.6" not in answer.text and "Rasa" not in answer.text


def _handshake(stack, origin):
    return requests.get(stack.url + "/socket.io/?EIO=4&transport=polling", timeout=10,
                        headers={"Origin": origin, "X-Forwarded-For": new_client()})


def test_socketio_accepts_only_the_configured_origins(security_stack):
    assert _handshake(security_stack, "https://evil.example").status_code == 400
    assert _handshake(security_stack, ALLOWED_ORIGIN).status_code == 200


async def _malformed(stack):
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(stack.url, transports=["polling"], headers={"X-Forwarded-For": new_client()},
                         wait_timeout=20)
    try:
        for payload in ("just a string", 42, None, ["a", "list"], {"message": {"not": "text"}},
                        {"message": "hi", "customData": "{not json"}, {"message": "hi", "customData": 7}):
            await client.emit("user_uttered", payload)
            await client.emit("session_request", payload)
        await asyncio.sleep(2)
    finally:
        await client.eio.disconnect(abort=True)


def test_malformed_socketio_events_leave_no_unretrieved_task_exception(security_stack):
    asyncio.run(_malformed(security_stack))
    time.sleep(1)
    log = security_stack.rasa[0].log_path.read_text(errors="replace")
    assert "Task exception was never retrieved" not in log
