"""Finding 3: a conversation belongs to the identity that opened it; socket.io conversations belong to
their sockets."""
from __future__ import annotations

import asyncio
import uuid

import pytest
import socketio
from sqlalchemy import create_engine, select, text

from bot.store.db import session_scope
from bot.store.models import Handoff
from tests.security.conftest import Client, new_client, texts, token_for

pytestmark = pytest.mark.e2e


def test_anonymous_turns_on_a_drivers_sender_cannot_hand_off_the_drivers_session(security_stack):
    sender = f"victim-{uuid.uuid4().hex[:8]}"
    driver, attacker = Client(security_stack), Client(security_stack)
    token = token_for("blocked")
    assert "SES-100003" in texts(driver.say(sender, "my session is still active", token))
    # The attacker knows the sender ID, not the token.
    attacker.say(sender, "I want to talk to a person")
    for line in ("nl efl c87654321 3", "Jaarbeurs Utrecht", "yesterday at 6pm", "no"):
        answer = texts(attacker.say(sender, line))
    assert "HO-" in answer  # the attacker's own (anonymous) handoff
    with session_scope(security_stack.settings) as db:
        record = db.execute(select(Handoff).where(Handoff.conversation_id == sender)).scalars().all()[-1]
    assert record.account_id is None and record.session_id != "SES-100003"
    lines = "\n".join(line["text"] for line in record.transcript)
    assert "SES-100003" not in lines and "my session is still active" not in lines
    assert "Rotterdam" not in str(record.findings)
    # The driver's own conversation goes on (not paused by the attacker's handoff).
    assert "SES-100003" in texts(driver.say(sender, "my session is still active", token))


def test_another_account_on_the_same_sender_is_not_told_the_previous_drivers_session(security_stack):
    sender = f"shared-{uuid.uuid4().hex[:8]}"
    client = Client(security_stack)
    assert "SES-100001" in texts(client.say(sender, "my session is still active", token_for("wait")))
    answer = texts(client.say(sender, "my session is still active", token_for("done")))
    assert "SES-100001" not in answer


async def _socket(stack, address):
    client = socketio.AsyncClient(reconnection=False)
    answers, confirmed = [], asyncio.get_running_loop().create_future()
    client.on("bot_uttered", lambda m: answers.append(m))
    client.on("session_confirm", lambda sid: confirmed.done() or confirmed.set_result(sid))
    await client.connect(stack.url, transports=["polling"], headers={"X-Forwarded-For": address}, wait_timeout=20)
    return client, answers, confirmed


async def _wait(answers, seconds=15.0):
    for _ in range(int(seconds / 0.25)):
        if answers:
            await asyncio.sleep(0.5)
            return
        await asyncio.sleep(0.25)


async def _hijack(stack):
    victim, victim_answers, victim_confirmed = await _socket(stack, new_client())
    attacker, attacker_answers, attacker_confirmed = await _socket(stack, new_client())
    try:
        # The victim's conversation is its socket's own ID (what the review's attack used).
        await victim.emit("session_request", {"session_id": victim.get_sid()})
        victim_session = await asyncio.wait_for(victim_confirmed, 20)
        assert victim_session == victim.get_sid()
        # The attacker asks to join it: it gets a new conversation of its own instead.
        await attacker.emit("session_request", {"session_id": victim_session})
        attacker_session = await asyncio.wait_for(attacker_confirmed, 20)
        assert attacker_session != victim_session
        # ... and a message naming the victim's conversation is not taken.
        await attacker.emit("user_uttered", {"message": "hello", "session_id": victim_session, "customData": {}})
        await _wait(victim_answers, 6)
        assert victim_answers == [] and attacker_answers == []
        # The victim's own conversation works.
        await victim.emit("user_uttered", {"message": "hello", "session_id": victim_session, "customData": {}})
        await _wait(victim_answers)
        assert victim_answers and "Hi" in victim_answers[0].get("text", "")
        assert attacker_answers == []
    finally:
        await victim.eio.disconnect(abort=True)
        await attacker.eio.disconnect(abort=True)


async def _reload(stack):
    """A server-issued conversation ID works (enter_room awaited), and a reload that presents it goes on."""
    first, first_answers, first_confirmed = await _socket(stack, new_client())
    try:
        await first.emit("session_request", {"session_id": None})
        issued = await asyncio.wait_for(first_confirmed, 20)
        assert issued != first.get_sid()
        await first.emit("user_uttered", {"message": "my charging session is still active", "session_id": issued,
                                          "customData": {}})
        await _wait(first_answers)
        assert "72 hours" in " ".join(a.get("text", "") for a in first_answers)
    finally:
        await first.eio.disconnect(abort=True)
    reloaded, reloaded_answers, reloaded_confirmed = await _socket(stack, new_client())
    try:
        await reloaded.emit("session_request", {"session_id": issued})
        assert await asyncio.wait_for(reloaded_confirmed, 20) == issued
        await reloaded.emit("user_uttered", {"message": "No, it stays the same", "session_id": issued,
                                             "customData": {}})
        await _wait(reloaded_answers)
        assert reloaded_answers
    finally:
        await reloaded.eio.disconnect(abort=True)
    engine = create_engine(stack.env["TRACKER_STORE_URL"])
    with engine.connect() as connection:
        texts_stored = connection.execute(text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'user'"),
                                          {"s": issued}).scalars().all()
    engine.dispose()
    assert len(texts_stored) == 2  # one conversation across the reload


def test_a_server_issued_conversation_survives_a_reload(security_stack):
    asyncio.run(_reload(security_stack))


def test_socketio_accepts_only_the_sockets_own_or_a_server_issued_conversation(security_stack):
    asyncio.run(_hijack(security_stack))


async def _made_up_ids(stack):
    client, answers, _ = await _socket(stack, new_client())
    confirmations = []
    client.on("session_confirm", lambda sid: confirmations.append(sid))
    try:
        for asked in ("x" * 60_000, "made-up-id", "../../etc", None, 42):
            await client.emit("session_request", {"session_id": asked})
        for _ in range(40):
            if len(confirmations) == 5:
                break
            await asyncio.sleep(0.25)
        assert len(confirmations) == 5
        assert all(len(c) <= 64 and c not in ("made-up-id", "../../etc") for c in confirmations)
    finally:
        await client.eio.disconnect(abort=True)
    # A packet over the limit (the review's 900 kB session_id) is not even read (HTTP 413 to the poll).
    big, _, big_confirmed = await _socket(stack, new_client())
    try:
        await big.emit("session_request", {"session_id": "x" * 900_000})
        await asyncio.sleep(3)
        assert not big_confirmed.done()
    finally:
        await big.eio.disconnect(abort=True)


def test_socketio_session_ids_are_bounded_and_never_chosen_by_the_client(security_stack):
    asyncio.run(_made_up_ids(security_stack))
