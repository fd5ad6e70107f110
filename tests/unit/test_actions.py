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
            intent="session_still_active", locale=None):
    metadata = {"locale": locale} if locale else {}
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
    assert slots == {"language": "en"}  # nothing collected is reset; the conversation's language is kept
    assert "Sorry, something went wrong" in messages[0]["text"]
    assert messages[0]["buttons"][0]["payload"] == "/request_human"
    assert "Traceback" not in messages[0]["text"]


def test_a_driver_who_writes_dutch_is_answered_in_dutch_and_the_language_is_kept(seeded_now):
    messages, slots, _ = run(ActionCheckSession(seeded_now),
                             tracker("mijn laadsessie staat nog steeds op actief in de app", account="wait"))
    assert slots["language"] == "nl" and slots["step"] == "wait"
    assert "SES-100001" in messages[0]["text"] and "uur" in messages[0]["text"] and "hours" not in messages[0]["text"]
    # "ok" tells no language: the conversation stays Dutch; a clear English sentence switches it.
    _, slots, _ = run(ActionCheckSession(seeded_now), tracker("ok", account="wait", slots={"language": "nl"},
                                                              intent="affirm"))
    assert slots["language"] == "nl"
    messages, slots, _ = run(ActionCheckSession(seeded_now),
                             tracker("sorry, can you answer in English please? my session is still open",
                                     account="wait", slots={"language": "nl"}))
    assert slots["language"] == "en" and "hours" in messages[0]["text"]


def test_a_clicked_button_keeps_the_conversations_language(seeded_now):
    messages, slots, _ = run(ActionCheckSession(seeded_now), tracker("/kwh_not_increasing", slots={"language": "nl"},
                                                                     intent="kwh_not_increasing"))
    assert slots["language"] == "nl" and "Je kunt je pas gewoon blijven gebruiken" in messages[0]["text"]


def test_the_apps_locale_chooses_the_language_when_the_words_do_not(seeded_now):
    messages, slots, _ = run(ActionCheckSession(seeded_now), tracker("SES-100001", account="wait", locale="nl-NL",
                                                                     intent="inform"))
    assert slots["language"] == "nl" and "uur" in messages[0]["text"]


def test_the_form_asks_in_the_conversations_language(seeded_now):
    from actions.say import ActionAskLocation

    messages, _, _ = run(ActionAskLocation(seeded_now), tracker("weet ik niet", slots={"language": "nl"}, intent="deny"))
    assert messages[0]["text"].startswith("Waar was de laadsessie")
    messages, _, _ = run(ActionAskLocation(seeded_now), tracker("no idea", slots={"language": "en"}, intent="deny"))
    assert messages[0]["text"].startswith("Where was the charging session")


def test_a_place_given_to_the_form_does_not_switch_the_language(seeded_now):
    """"Alphen aan den Rijn" reads as Dutch, but it answers "where was it?" in an English conversation."""
    from actions.handoff import ValidateHandoffForm
    from actions.say import ActionAskTime

    answer = tracker("Alphen aan den Rijn", slots={"language": "en", "requested_slot": "location"}, intent="inform")
    _, slots, _ = run(ValidateHandoffForm(seeded_now), answer)
    assert slots["language"] == "en"
    # The next question is asked in the language the validation chose for this message, not detected again.
    asked = tracker("Alphen aan den Rijn", slots={"language": "en", "requested_slot": "time"}, events=[
        {"event": "user", "text": "Alphen aan den Rijn", "timestamp": 1_764_000_000.0, "metadata": {}},
        {"event": "slot", "name": "language", "value": "en"},
        {"event": "slot", "name": "location", "value": "Alphen aan den Rijn"},
    ])
    messages, _, _ = run(ActionAskTime(seeded_now), asked)
    assert messages[0]["text"].startswith("When did the session start")
    # Without that decision in the turn, the same words would have been taken for Dutch.
    messages, _, _ = run(ActionAskTime(seeded_now), tracker("Alphen aan den Rijn", slots={"language": "en"}))
    assert messages[0]["text"].startswith("Wanneer")


def test_form_skips_what_the_account_already_tells(seeded_now):
    form = ValidateHandoffForm(seeded_now)
    domain_slots = ["card_number", "location", "time", "session_id"]
    ask = lambda t: asyncio.run(form.required_slots(domain_slots, CollectingDispatcher(), t, {}))  # noqa: E731
    assert ask(tracker()) == domain_slots
    assert ask(tracker(account="two")) == ["location", "time", "session_id"]
    assert ask(tracker(account="blocked", slots={"session_id": "SES-100003"})) == []
    # another account's session ID is not theirs: their own only session is what the handoff is about
    assert ask(tracker(account="wait", slots={"session_id": "SES-100003"})) == []


def test_a_session_id_not_on_the_account_is_never_kept_even_when_the_form_no_longer_asks_for_it(seeded_now):
    """The account knows the session, so the form asks nothing; Rasa would keep the typed ID unchecked."""
    text = "session SES-100004 is still active, get me someone"
    t = tracker(text, account="wait", intent="request_human", slots={"session_id": "SES-100004"})
    t.events.append({"event": "slot", "name": "session_id", "value": "SES-100004"})
    domain = {"forms": {"handoff_form": {"required_slots": ["card_number", "location", "time", "session_id"]}}}
    events = asyncio.run(ValidateHandoffForm(seeded_now).get_validation_events(CollectingDispatcher(), t, domain))
    slots = {e["name"]: e["value"] for e in events}
    assert slots["session_id"] is None and slots["foreign_session_id"] == "SES-100004"


def asked(slot, text, intent="inform", entities=()):
    """The tracker of a driver answering the form's question for `slot`."""
    return tracker(text=text, intent=intent, entities=entities, slots={"requested_slot": slot})


def test_form_validation_reasks_unparseable_answers_with_an_example(seeded_now):
    form = ValidateHandoffForm(seeded_now)
    d = CollectingDispatcher()
    assert form.validate_card_number("12345", d, asked("card_number", "12345"), {}) == {"card_number": None}
    assert "NL-EFL-C12345678-9" in d.messages[-1]["text"]
    assert form.validate_card_number("it's nleflc123456789", d, asked("card_number", "it's nleflc123456789"),
                                     {}) == {"card_number": "NL-EFL-C12345678-9"}
    assert form.validate_card_number("me@Example.com", d, asked("card_number", "me@Example.com"),
                                     {}) == {"card_number": "me@example.com"}
    assert form.validate_time("banana", d, asked("time", "banana"), {}) == {"time": None}
    assert "yesterday around 6pm" in d.messages[-1]["text"]
    assert form.validate_time("yesterday around 6pm", d, asked("time", "yesterday around 6pm"), {})["time"]
    assert form.validate_location("12", d, asked("location", "12"), {}) == {"location": None}
    assert form.validate_location("  Jaarbeurs   Utrecht ", d, asked("location", "Jaarbeurs Utrecht"),
                                  {}) == {"location": "Jaarbeurs Utrecht"}
    assert form.validate_location("Jaarbeurs\x00 Utrecht", d, asked("location", "Jaarbeurs Utrecht"),
                                  {}) == {"location": "Jaarbeurs Utrecht"}
    assert form.validate_session_id("ses 104233", d, asked("session_id", "ses 104233"),
                                    {}) == {"session_id": "SES-104233"}


def test_form_takes_dont_know_questions_corrections_and_leaving(seeded_now):
    form = ValidateHandoffForm(seeded_now)
    d = CollectingDispatcher()
    # "Haven't got it" is an answer, even when the classifier hears a goodbye in it.
    assert form.validate_session_id("haven't got it", d, asked("session_id", "haven't got it", intent="goodbye"),
                                    {}) == {"session_id": "not known"}
    # A question about where to find it is answered, not refused as an invalid ID.
    where = asked("session_id", "where would I even see that?", intent="ask_why_still_active")
    assert form.validate_session_id("where would I even see that?", d, where, {})["session_id"] is None
    assert "SES-104233" in d.messages[-1]["text"] and "app" in d.messages[-1]["text"]
    # A correction of the card while the place is asked is not taken as the place.
    correction = asked("location", "wrong card, it's NL-EFL-C90909090-9",
                       entities=[{"entity": "card_number", "value": "NL-EFL-C90909090-9"}])
    assert form.validate_location("wrong card, it's NL-EFL-C90909090-9", d, correction, {}) == {"location": None}
    # The whole answer is the place, not only the part an extractor recognised.
    assert form.validate_location("Haarlem, Spaarne hospital garage", d,
                                  asked("location", "Haarlem, Spaarne hospital garage"),
                                  {}) == {"location": "Haarlem, Spaarne hospital garage"}
    # Leaving keeps what was collected and ends the questions.
    leaving = asked("time", "let's drop it, I'll wait it out", intent="cancel")
    assert form.validate_time("let's drop it, I'll wait it out", d, leaving, {}) == {
        "time": None, "handoff_leaving": True}
    # A bare day is stored as a date, never as midnight.
    day = form.validate_time("yesterday", d, asked("time", "yesterday"), {})["time"]
    assert len(day) == 10 and "T" not in day


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
    # Stored in UTC (18:00 in Amsterdam); the agent view shows it in the agents' zone.
    assert record.session_time == "2026-11-23T17:00:00+00:00" and record.session_id == "not known"
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
