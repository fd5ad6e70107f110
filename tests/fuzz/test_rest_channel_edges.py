"""The REST channel's own answers on the embedded stack: what bot.rasa_plugins.channels.RestInput adds to Rasa's
REST channel. (tests/scale repeats the fault on two servers; these run wherever the suite runs.)"""
from __future__ import annotations

import asyncio
import uuid

import pytest
import requests
import socketio
from sqlalchemy import select

from bot.conversation import replies
from bot.rasa_plugins.channels import MAX_MESSAGE_CHARS
from bot.apps.chat_client import REST_PATH, texts as reply_texts
from bot.store.db import session_scope
from bot.store.models import Handoff

pytestmark = pytest.mark.e2e


def post(stack, body=None, data=None):
    return requests.post(stack.url + REST_PATH, json=body, data=data, timeout=60,
                         headers=None if body is not None else {"Content-Type": "application/json"})


def sender():
    return f"edge-{uuid.uuid4().hex[:10]}"


def texts(response):
    return reply_texts(response.json())


@pytest.mark.parametrize("data", [b"", b"not json", b"[]", b'"text"', b"null", b'{"message": "hi"}',
                                  b'{"sender": "", "message": "hi"}', b'{"sender": "a\\u0000b", "message": "hi"}',
                                  b'{"sender": ["x"], "message": "hi"}', b'{"sender": "s", "message": 42}'])
def test_malformed_requests_are_refused_with_400_not_500(fuzz_stack, data):
    response = post(fuzz_stack, data=data)
    assert response.status_code == 400
    assert "Traceback" not in response.text


def test_empty_overlong_and_wordless_messages_get_a_short_answer_without_the_model(fuzz_stack):
    s = sender()
    assert texts(post(fuzz_stack, {"sender": s, "message": "   "})) == replies.empty_message().text
    assert texts(post(fuzz_stack, {"sender": s})) == replies.empty_message().text
    assert texts(post(fuzz_stack, {"sender": s, "message": "x" * (MAX_MESSAGE_CHARS + 1)})) == replies.too_long(MAX_MESSAGE_CHARS).text
    assert texts(post(fuzz_stack, {"sender": s, "message": "..."})) == replies.not_understood().text
    assert texts(post(fuzz_stack, {"sender": s, "message": "🔌⚡?!"})) == replies.not_understood().text
    # ... and the conversation is untouched by them.
    assert "72 hours" in texts(post(fuzz_stack, {"sender": s, "message": "my charging session is still active"}))


def test_nul_characters_are_dropped_and_a_forged_channel_is_not_recorded(fuzz_stack):
    s = sender()
    for text in ["I want to talk to a person", "nl efl c87654321 3", "Jaarbeurs\x00 Utrecht", "yesterday at 6pm", "no"]:
        answer = post(fuzz_stack, {"sender": s, "message": text, "input_channel": "x" * 80})
        assert answer.status_code == 200
    assert "Your reference is HO-" in texts(answer)
    with session_scope(fuzz_stack.settings) as db:
        record = db.execute(select(Handoff).where(Handoff.conversation_id == s)).scalar_one()
    assert record.channel == "rest" and record.location == "Jaarbeurs Utrecht"


def test_action_server_down_gives_an_apology_and_a_way_to_a_person(fuzz_stack):
    s = sender()
    fuzz_stack.actions.stop()
    try:
        response = post(fuzz_stack, {"sender": s, "message": "my charging session is still active"})
        assert response.status_code == 200
        assert response.json()[-1]["text"] == replies.turn_failed().text
        assert response.json()[-1]["buttons"] == [{"title": "Talk to a person", "payload": "/request_human"}]
    finally:
        fuzz_stack.restart(fuzz_stack.actions)
    assert "72 hours" in texts(post(fuzz_stack, {"sender": s, "message": "my charging session is still active"}))


def test_a_turn_rasa_leaves_silent_still_gets_an_answer(fuzz_stack):
    # `/restart` is Rasa's own command: it resets the conversation and says nothing by itself.
    s = sender()
    assert "72 hours" in texts(post(fuzz_stack, {"sender": s, "message": "my charging session is still active"}))
    assert texts(post(fuzz_stack, {"sender": s, "message": "/restart"})) == replies.not_understood().text
    assert "Hi!" in texts(post(fuzz_stack, {"sender": s, "message": "hello"}))


def test_the_widget_gets_the_apology_too_when_the_action_server_is_down(fuzz_stack):
    """bot.rasa_plugins.channels.SocketIOInput, the socket.io channel with the same guard (see tests/fuzz/conftest.py)."""
    asyncio.run(_widget_conversation(fuzz_stack))


async def _widget_conversation(stack):
    client, answers, confirmed = socketio.AsyncClient(), [], asyncio.Event()
    client.on("session_confirm", lambda *_: confirmed.set())
    client.on("bot_uttered", answers.append)
    await client.connect(stack.url, socketio_path="/socket.io", transports=["polling"])

    async def say(text: str) -> list:
        answers.clear()
        await client.emit("user_uttered", {"message": text, "session_id": session_id, "customData": {}})
        for _ in range(100):  # answers arrive as separate events: wait until they stop coming
            count = len(answers)
            await asyncio.sleep(0.3)
            if answers and len(answers) == count:
                break
        return list(answers)

    try:
        # The socket's own ID, as web/widget.js does: Rasa 3.6 never awaits python-socketio's
        # enter_room, so only a socket's own room reaches it.
        session_id = client.get_sid()
        await client.emit("session_request", {"session_id": session_id})
        await asyncio.wait_for(confirmed.wait(), 10)
        stack.actions.stop()
        try:
            answer = await say("my charging session is still active")
            assert answer[-1]["text"] == replies.turn_failed().text
            assert [r["payload"] for r in answer[-1]["quick_replies"]] == ["/request_human"]
        finally:
            stack.restart(stack.actions)
        assert "72 hours" in " ".join(a.get("text", "") for a in await say("my charging session is still active"))
    finally:
        await client.eio.disconnect(abort=True)  # a polite polling disconnect waits ~30 s
