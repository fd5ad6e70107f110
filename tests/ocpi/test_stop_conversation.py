"""The stop flow inside a turn (bot.conversation.turn + stop_flow), on real SQLite, our real receiver and the
real CPO peer: the offer as a pending question, the yes, and what the driver is told for each result; who
never gets the offer; the handoff's findings carry the attempt. (The same through Rasa: tests/e2e/test_stop_e2e.py.)
"""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.conversation.facts import TurnFacts
from bot.conversation.handoff import HandoffRequest, file_handoff
from bot.conversation.stop_flow import STOP_QUESTION
from bot.conversation.texts import in_language
from bot.conversation.turn import CONFIRM_HANDOFF, TurnState, decide
from bot.domain.clock import utcnow
from bot.domain.identity import Identity
from bot.domain.outcomes import Outcome
from bot.settings import StopSettings
from bot.store.db import session_scope
from bot.store.models import ChargingSession, Handoff, MeterReading
from tests.ocpi.stop_support import ACCOUNT, CARD, stop_world

ME = Identity(ACCOUNT, (CARD,))
BLOCKED = "I can't start a new session, the old one is still active"


@pytest.fixture(scope="module")
def world(tmp_path_factory, peer_python):
    yield from stop_world(tmp_path_factory.mktemp("stop-chat"), peer_python)


def say(settings, text, intent, who=ME, state=TurnState(), ranked=None, entities=None):
    facts = TurnFacts(text=text, intent=intent, ranked=ranked or {intent: 0.9}, entities=entities or {})
    return decide(settings, facts, state, who, utcnow())


def offered(settings, sid):
    d = say(settings, BLOCKED, "cannot_start_session", state=TurnState(session_id=sid))
    words = " ".join(r.text for r in d.replies)
    assert f"I can close session {sid} now. Its final energy is 16.5 kWh. Shall I?" in words, words
    assert d.slots["pending_question"] == STOP_QUESTION and not d.start_handoff and d.advice == "stop_offer"
    return TurnState(session_id=sid, pending_question=STOP_QUESTION, cannot_start=True)


def yes(settings, state):
    d = say(settings, "yes please", "affirm", state=state)
    return d, " ".join(r.text for r in d.replies)


def test_accepted_the_driver_hears_it_is_closed_with_what_is_billed(world):
    d, words = yes(world.settings, offered(world.settings, "SES-900001"))
    assert "Done: session SES-900001 is closed" in words and "16.5 kWh" in words, words
    assert not d.start_handoff and d.advice == "stop_stopped"


def test_after_the_stop_the_driver_is_told_nothing_is_stuck(world):
    d = say(world.settings, "my session is still active", "session_still_active",
            state=TurnState(session_id="SES-900001"))
    assert d.outcome is Outcome.NOT_ACTIVE and not d.start_handoff


def test_the_articles_question_about_their_session_also_gets_the_offer(world):
    d = say(world.settings, "why is my session still active? I can't start a new one", "ask_why_still_active",
            state=TurnState(session_id="SES-900006", cannot_start=True))
    words = " ".join(r.text for r in d.replies)
    assert "I can close session SES-900006 now" in words and d.slots["pending_question"] == STOP_QUESTION, words
    assert not d.start_handoff


def test_rejected_with_the_back_office_close(world):
    settings = world.with_fallback("back_office_close")
    d, words = yes(settings, offered(settings, "SES-900003"))
    assert "closed it in our system" in words and "16.5 kWh" in words and "colleague will review" in words, words
    assert not d.start_handoff
    with session_scope(settings) as db:
        assert db.get(ChargingSession, "SES-900003").status == "COMPLETED"


def test_rejected_with_the_handoff_and_the_attempt_reaches_the_agent(world):
    state = offered(world.settings, "SES-900004")
    d, words = yes(world.settings, state)
    assert "it refused" in words and d.start_handoff and d.slots["session_id"] == "SES-900004", words
    reference = file_handoff(world.settings, HandoffRequest(
        conversation_id="c-rej2", channel="rest", identity=ME, events=[],
        slots={"session_id": "SES-900004", "cannot_start": True, "card_number": None, "location": None,
               "time": None}), utcnow())
    with session_scope(world.settings) as db:
        record = db.query(Handoff).filter_by(reference=reference).one()
        attempt = record.findings["stop_attempt"]
    assert (attempt["command"], attempt["response"], attempt["result"], attempt["outcome"]) == (
        "STOP_SESSION", "ACCEPTED", "REJECTED", "rejected")


@pytest.mark.parametrize("sid, words_", [("SES-900008", "did not confirm in time"),
                                         ("SES-900010", "did not confirm in time"),
                                         ("SES-900006", "can't close sessions remotely")])
def test_unknown_or_impossible_goes_to_a_person(world, sid, words_):
    d, words = yes(world.settings, offered(world.settings, sid))
    assert words_ in words and d.start_handoff, words


def test_the_peer_down(world):
    settings = world.peer_down()
    d, words = yes(settings, offered(settings, "SES-900015"))
    assert "couldn't reach the station's system" in words and d.start_handoff, words


def test_no_keeps_the_session_and_offers_a_person(world):
    d = say(world.settings, "no, leave it", "deny", state=offered(world.settings, "SES-900002"))
    assert "leave session SES-900002 as it is" in d.replies[0].text
    assert d.slots["pending_question"] == CONFIRM_HANDOFF and not d.start_handoff


def test_kwh_rising_again_before_the_yes_sends_nothing(world):
    state = offered(world.settings, "SES-900002")
    now = utcnow()
    with session_scope(world.settings) as db:
        db.add_all([MeterReading(session_id="SES-900002", timestamp=now - timedelta(minutes=m), kwh=16.5 + (20 - m))
                    for m in (20, 10, 1)])
    d, words = yes(world.settings, state)
    assert d.outcome is Outcome.STILL_CHARGING and "still drawing energy" in words, words
    from bot.store import stop_commands
    with session_scope(world.settings) as db:
        assert stop_commands.attempt_for_session(db, "STOP_SESSION", "SES-900002") is None, "no command sent"


def test_the_offer_in_dutch(world):
    with in_language("nl"):
        d = say(world.settings, "ik kan geen nieuwe sessie starten, mijn sessie staat nog open", "cannot_start_session",
                state=TurnState(session_id="SES-900012"))
    words = " ".join(r.text for r in d.replies)
    assert "Ik kan sessie SES-900012 nu afsluiten" in words and "16.5 kWh" in words, words


def test_never_offered_to_an_anonymous_visitor(world):
    d = say(world.settings, f"{BLOCKED}: SES-900005", "cannot_start_session", who=None,
            entities={"session_id": "SES-900005"})
    assert d.outcome is Outcome.ANONYMOUS and "close session" not in " ".join(r.text for r in d.replies)


def test_never_offered_for_a_session_the_account_does_not_own(world):
    other = Identity("demo-blocked", ("NL-EFL-C10000003-3",))
    d = say(world.settings, BLOCKED, "cannot_start_session", who=other, state=TurnState(session_id="SES-900005"),
            entities={"session_id": "SES-900005"})
    assert "SES-900005 now" not in " ".join(r.text for r in d.replies)
    assert d.slots.get("pending_question") != STOP_QUESTION


def test_without_the_own_cpo_configured_step_3_is_a_handoff_as_before(world):
    settings = replace(world.settings, stop=StopSettings())
    d = say(settings, BLOCKED, "cannot_start_session", state=TurnState(session_id="SES-900005"))
    assert d.outcome is Outcome.OWN_STATION_PERSON and d.start_handoff


def test_a_session_already_tried_is_not_offered_again(world):
    assert yes(world.settings, offered(world.settings, "SES-900005"))[0].start_handoff
    d = say(world.settings, BLOCKED, "cannot_start_session", state=TurnState(session_id="SES-900005"))
    assert d.start_handoff and d.slots.get("pending_question") != STOP_QUESTION
