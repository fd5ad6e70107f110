"""Faults, injected into the running two-server stack: a Rasa server killed, the action server
stopped, the charging database and the tracker store taken away or made to hang. The driver
always gets an answer (an apology with the way to a person while something is down) and the
conversation goes on where it was once the part is back.

Each test puts back what it broke, so the stack is whole for the next one.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, text

from bot.conversation import replies
from bot.apps.chat_client import texts
from bot.store.db import session_scope
from bot.domain.identity import mint_token
from bot.store.models import Handoff
from bot.store.seed import scenario
from tests.conftest import TEST_SECRET
from tests.scale.spread_chat import SpreadChat
from tests.scale.tracker_audit import audit, stored_events

APOLOGY = replies.action_failed()  # the action's apology, in English (the default)

pytestmark = pytest.mark.e2e


def payloads(messages):
    return [b["payload"] for m in messages for b in (m.get("buttons") or [])]


def assert_apology(messages, apology):
    assert texts(messages).endswith(apology.text), texts(messages)
    assert payloads(messages)[-1:] == ["/request_human"]
    for word in ("Traceback", "Exception", "Error", "psycopg2", "sqlalchemy", "webhook"):
        assert word not in texts(messages)


def logged_in_chat(stack, name, sender):
    s = scenario(name)
    token = mint_token(s.account_id, [s.card], TEST_SECRET, timedelta(minutes=30))
    return SpreadChat([server.url for server in stack.rasa], sender, token=token)


@contextmanager
def taken_away(stack, database_url):
    stack.databases.set_accepting(database_url, False)
    try:
        yield
    finally:
        stack.databases.set_accepting(database_url, True)


def test_rasa_server_killed_mid_conversation_comes_back_remembering(scale_stack, conversation_id):
    a = scale_stack.rasa[0]
    chat = SpreadChat([a.url, scale_stack.rasa[1].url], conversation_id("crash"))
    assert "few details" in chat.say("I want to talk to a person", server=0)
    assert "Where was the charging session" in chat.say("nl efl c87654321 3", server=0)
    a.kill()
    # A load balancer sends the next turn to the other server: nothing was lost with the process.
    assert "When did the session start" in chat.say("Jaarbeurs Utrecht", server=1)
    started = time.monotonic()
    scale_stack.restart(a)
    print(f"\nRasa server back {time.monotonic() - started:.0f} s after kill -9")
    assert "session ID" in chat.say("yesterday at 6pm", server=0)
    assert "Your reference is HO-" in chat.say("no", server=0)
    with session_scope(scale_stack.settings) as db:
        record = db.execute(select(Handoff).where(Handoff.conversation_id == chat.sender)).scalar_one()
    assert (record.card_number, record.location) == ("NL-EFL-C87654321-3", "Jaarbeurs Utrecht")
    # Stored in UTC; 6 pm in the driver's zone.
    assert datetime.fromisoformat(record.session_time).astimezone(ZoneInfo("Europe/Amsterdam")).hour == 18
    assert audit(stored_events(scale_stack.tracker_url, chat.sender), chat.sent, chat.answers) == []


def test_action_server_down_apologises_with_a_way_to_a_person_then_goes_on(scale_stack, conversation_id):
    chat = SpreadChat([server.url for server in scale_stack.rasa], conversation_id("noactions"))
    assert "72 hours" in chat.say("my charging session is still active")
    scale_stack.actions.stop()
    try:
        assert_apology(chat.send("no the kwh stays the same"), replies.turn_failed())
        # Even the way to a person needs the action server (its form): the apology still comes.
        assert_apology(chat.send("I want to talk to a person"), replies.turn_failed())
        # Every text comes from the catalogue through an action, in the driver's language: a greeting too.
        assert_apology(chat.send("hello"), replies.turn_failed())
    finally:
        scale_stack.restart(scale_stack.actions)
    assert "Hi!" in chat.say("hello")
    assert "safely keep using your card" in chat.say("no the kwh stays the same")
    assert "few details" in chat.say("I want to talk to a person")
    assert "Where was the charging session" in chat.say("nl efl c87654321 3")
    assert audit(stored_events(scale_stack.tracker_url, chat.sender), chat.sent, chat.answers) == []


def test_charging_database_away_apologises_then_recovers(scale_stack, conversation_id):
    chat = logged_in_chat(scale_stack, "wait", conversation_id("nodb"))
    with taken_away(scale_stack, scale_stack.settings.database_url):
        started = time.monotonic()
        assert_apology(chat.send("my charging session is still active"), APOLOGY)
        assert time.monotonic() - started < 15
    answer = chat.say("my charging session is still active")
    assert "SES-100001" in answer and "close automatically by" in answer


def test_hanging_charging_database_is_cut_off_by_the_statement_timeout(scale_stack, conversation_id):
    chat = logged_in_chat(scale_stack, "wait", conversation_id("slowdb"))
    engine = create_engine(scale_stack.settings.database_url, future=True)
    locked, release = threading.Event(), threading.Event()

    def hold_lock():
        with engine.connect() as connection, connection.begin():
            connection.execute(text("LOCK TABLE charging_sessions IN ACCESS EXCLUSIVE MODE"))
            locked.set()
            release.wait(60)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        assert_apology(chat.send("my charging session is still active"), APOLOGY)
        waited = time.monotonic() - started
        assert 1.5 < waited < 15, waited  # BOT_DB_TIMEOUT_S=2 in this stack
    finally:
        release.set()
        holder.join(30)
        engine.dispose()
    assert "SES-100001" in chat.say("my charging session is still active")


def test_tracker_store_away_apologises_instead_of_answering_a_blank_conversation(scale_stack, conversation_id):
    """Rasa falls back to an in-memory tracker store when the SQL one fails: the turn would be answered
    as if the conversation had just begun, and then forgotten. The channel shows the apology instead."""
    chat = SpreadChat([server.url for server in scale_stack.rasa], conversation_id("notracker"))
    assert "few details" in chat.say("I want to talk to a person", server=0)
    assert "Where was the charging session" in chat.say("nl efl c87654321 3", server=0)
    with taken_away(scale_stack, scale_stack.tracker_url):
        messages = chat.send("Jaarbeurs Utrecht", server=0)
        assert [m.get("text") for m in messages] == [replies.turn_failed().text]
    # Rasa's engine does not ping pooled connections: each server's first turn after the database
    # returns may still apologise once (its pool is then renewed); never a second time.
    for server in range(len(scale_stack.rasa)):
        probe = SpreadChat([s.url for s in scale_stack.rasa], conversation_id("probe"))
        if replies.turn_failed().text in probe.say("hi", server=server):
            assert "charging assistant" in probe.say("hi", server=server)
    assert "When did the session start" in chat.say("Jaarbeurs Utrecht", server=0)
    assert "session ID" in chat.say("yesterday at 6pm", server=1)
