"""The rasa_sdk actions, called as the action server calls them, against a real SQLite database."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.check_session import ActionCheckSession
from actions.handoff import ActionSubmitHandoff, ValidateHandoffForm
from bot.store.db import session_scope
from bot.domain.identity import mint_token
from bot.store.models import Handoff, HandoffOutbox
from bot.store.seed import scenario
from bot.settings import Settings
from tests.conftest import TEST_SECRET


def tracker(text="my session is still active", account=None, slots=None, entities=(), events=None,
            intent="session_still_active"):
    metadata = {}
    if account:
        s = scenario(account)
        metadata["identity"] = mint_token(s.account_id, [s.card], TEST_SECRET, timedelta(minutes=5))
    message = {"text": text, "intent": {"name": intent, "confidence": 0.99}, "entities": list(entities),
               "metadata": metadata}
    if events is None:
        events = [{"event": "user", "text": text, "timestamp": 1_764_000_000.0, "metadata": metadata,
                   "input_channel": "rest", "parse_data": message}]
    return Tracker("conv-1", slots or {}, message, events, False, None, {}, "action_listen")


def run(action, t):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, {}))
    return dispatcher.messages, {e["name"]: e.get("value") for e in events if e.get("event") == "slot"}, events


def test_check_session_for_a_logged_in_driver_sets_the_step(seeded_now):
    messages, slots, _ = run(ActionCheckSession(seeded_now), tracker(account="wait"))
    assert slots["step"] == "wait" and slots["session_id"] == "SES-100001"
    assert "SES-100001" in messages[0]["text"]


def test_a_slot_set_by_the_driver_cannot_log_them_in(seeded_now):
    # `/inform{"session_id": ...}` can set slots; only the verified token identifies a driver.
    messages, slots, _ = run(ActionCheckSession(seeded_now), tracker(slots={"session_id": "SES-100003"},
                                                                 entities=[{"entity": "session_id"}]))
    assert slots["step"] == "anonymous" and "Rotterdam" not in messages[0]["text"]


def test_database_down_gives_an_apology_and_keeps_the_slots(tmp_path):
    down = Settings(database_url="postgresql://nobody@127.0.0.1:1/none", identity_secret=TEST_SECRET,
                    db_timeout_s=1)
    messages, slots, events = run(ActionCheckSession(down), tracker(account="wait", slots={"location": "Utrecht"}))
    assert events == []  # nothing reset
    assert "Sorry, something went wrong" in messages[0]["text"]
    assert messages[0]["buttons"][0]["payload"] == "/request_human"
    assert "Traceback" not in messages[0]["text"]


def test_form_skips_what_the_account_already_tells(seeded_now):
    form = ValidateHandoffForm(seeded_now)
    domain_slots = ["card_number", "location", "time", "session_id"]
    ask = lambda t: asyncio.run(form.required_slots(domain_slots, CollectingDispatcher(), t, {}))  # noqa: E731
    assert ask(tracker()) == domain_slots
    assert ask(tracker(account="two")) == ["location", "time", "session_id"]
    assert ask(tracker(account="blocked", slots={"session_id": "SES-100003"})) == []
    # another account's session ID does not count as known
    assert ask(tracker(account="wait", slots={"session_id": "SES-100003"})) == ["location", "time", "session_id"]


def test_form_validation_reasks_unparseable_answers_with_an_example(seeded_now):
    form = ValidateHandoffForm(seeded_now)
    d = CollectingDispatcher()
    assert form.validate_card_number("12345", d, tracker(), {}) == {"card_number": None}
    assert "NL-EFL-C12345678-9" in d.messages[-1]["text"]
    assert form.validate_card_number("it's nleflc123456789", d, tracker(), {}) == {"card_number": "NL-EFL-C12345678-9"}
    assert form.validate_card_number("me@Example.com", d, tracker(), {}) == {"card_number": "me@example.com"}
    assert form.validate_time("banana", d, tracker(), {}) == {"time": None}
    assert "yesterday around 6pm" in d.messages[-1]["text"]
    assert form.validate_time("yesterday around 6pm", d, tracker(), {})["time"]
    assert form.validate_location("12", d, tracker(), {}) == {"location": None}
    assert form.validate_location("  Jaarbeurs   Utrecht ", d, tracker(), {}) == {"location": "Jaarbeurs Utrecht"}
    assert form.validate_location("Jaarbeurs\x00 Utrecht", d, tracker(), {}) == {"location": "Jaarbeurs Utrecht"}
    assert form.validate_session_id("ses 104233", d, tracker(), {}) == {"session_id": "SES-104233"}
    assert form.validate_session_id("not known", d, tracker(), {}) == {"session_id": "not known"}


def test_submit_stores_the_record_and_pauses(seeded_now):
    events = [
        {"event": "user", "text": "my session is still active", "timestamp": 1_764_000_000.0},
        {"event": "bot", "text": "Sorry to hear that.", "timestamp": 1_764_000_001.0},
        {"event": "user", "text": "talk to a person", "timestamp": 1_764_000_002.0},
    ]
    t = tracker(text="no", intent="deny", events=events, slots={
        "card_number": "NL-EFL-C87654321-3", "location": "Jaarbeurs Utrecht",
        "time": "2026-11-23T18:00:00+01:00", "session_id": "not known", "step": "anonymous",
    })
    messages, slots, all_events = run(ActionSubmitHandoff(seeded_now), t)
    reference = slots["handoff_reference"]
    assert reference.startswith("HO-") and reference in messages[0]["text"]
    assert any(e.get("event") == "pause" for e in all_events)
    with session_scope(seeded_now) as db:
        record = db.execute(select(Handoff).where(Handoff.reference == reference)).scalar_one()
        outbox = db.execute(select(HandoffOutbox).where(HandoffOutbox.handoff_id == record.id)).scalar_one()
    assert record.card_number == "NL-EFL-C87654321-3" and record.location == "Jaarbeurs Utrecht"
    assert record.session_time == "2026-11-23T18:00:00+01:00" and record.session_id == "not known"
    assert [line["sender"] for line in record.transcript] == ["user", "bot", "user"]
    assert record.transcript[0]["timestamp"].startswith("2025-11-24")
    assert outbox.idempotency_key and outbox.state == "not_configured"


def test_a_token_from_an_earlier_message_does_not_log_in_the_current_one(seeded_now):
    # A client picks its own sender ID: someone who guesses another driver's conversation ID and
    # writes without a token must not be treated as that driver.
    earlier = tracker(account="wait").events
    t = tracker(text="my session is still active", events=earlier + [
        {"event": "user", "text": "my session is still active", "timestamp": 1_764_000_100.0, "metadata": {}}])
    messages, slots, _ = run(ActionCheckSession(seeded_now), t)
    assert slots["step"] == "anonymous" and "Amsterdam" not in messages[0]["text"]
