"""One driver turn, decided from all its facts and the conversation so far (bot.conversation.turn), on real SQLite."""
from __future__ import annotations

from bot.conversation.facts import TurnFacts
from bot.conversation.turn import CONFIRM_HANDOFF, KWH_QUESTION, WHICH_SESSION, TurnState, decide
from bot.domain.identity import Identity
from bot.domain.outcomes import Outcome
from bot.store.seed import scenario
from tests.unit.conftest import NOW


def driver(name):
    s = scenario(name)
    return Identity(s.account_id, (s.card,))


def turn(settings, text, intent, who=None, state=TurnState(), ranked=None, entities=None):
    facts = TurnFacts(text=text, intent=intent, ranked=ranked or {intent: 0.9}, entities=entities or {})
    return decide(settings, facts, state, driver(who) if who else None, NOW)


def test_a_refused_card_second_in_the_ranking_still_counts(seeded):
    d = turn(seeded, "still active in the app, and the next charger won't take my card", "session_still_active",
             "blocked", ranked={"session_still_active": 0.55, "cannot_start_session": 0.36})
    assert d.outcome is Outcome.OWN_STATION_PERSON and d.start_handoff
    assert d.slots["cannot_start"] is True


def test_yes_and_no_answer_the_question_asked_last(seeded):
    asked = turn(seeded, "my session is still active", "session_still_active")
    assert asked.slots["pending_question"] == KWH_QUESTION and asked.advice == "kwh_question"
    state = TurnState(pending_question=KWH_QUESTION)
    assert turn(seeded, "nah", "deny", state=state).advice == "keep_using_card"
    assert turn(seeded, "yep", "affirm", state=state).advice == "stop_at_charger"
    offered = TurnState(pending_question=CONFIRM_HANDOFF)
    assert turn(seeded, "yes please", "affirm", state=offered).start_handoff
    declined = turn(seeded, "no thanks", "deny", state=offered)
    assert not declined.start_handoff and declined.replies


def test_a_session_is_chosen_by_order_operator_or_place_and_can_be_changed(seeded):
    offered = turn(seeded, "my session is still active", "session_still_active", "two")
    assert offered.outcome is Outcome.CHOOSE_SESSION and offered.slots["pending_question"] == WHICH_SESSION
    state = TurnState(pending_question=WHICH_SESSION)
    assert turn(seeded, "the second one", "inform", "two", state).slots["session_id"] == "SES-100007"
    assert turn(seeded, "the Shell one", "inform", "two", state).slots["session_id"] == "SES-100007"
    assert turn(seeded, "the one in Amsterdam", "inform", "two", state).slots["session_id"] == "SES-100006"
    chosen = TurnState(session_id="SES-100007")
    assert turn(seeded, "sorry, I meant the other one", "inform", "two", chosen).slots["session_id"] == "SES-100006"


def test_a_logged_in_driver_asking_for_a_person_is_asked_nothing_the_account_knows(seeded):
    d = turn(seeded, "can I talk to someone", "request_human", "wait")
    assert d.start_handoff and d.slots["session_id"] == "SES-100001"


def test_with_two_sessions_a_person_comes_after_the_choice(seeded):
    d = turn(seeded, "I want a human", "request_human", "two")
    assert not d.start_handoff and d.slots["pending_question"] == WHICH_SESSION
    assert d.slots["handoff_after_choice"] is True
    state = TurnState(pending_question=WHICH_SESSION, handoff_after_choice=True)
    then = turn(seeded, "the first one", "inform", "two", state)
    assert then.start_handoff and then.slots["session_id"] == "SES-100006"


def test_asking_for_a_person_in_other_words_than_the_classifier_knows(seeded):
    d = turn(seeded, "I'd like a real human to look at this", "bot_challenge")
    assert d.start_handoff


def test_faq_answers_read_the_drivers_own_session(seeded):
    overdue = turn(seeded, "how long does it take to update", "ask_update_time", "overdue")
    assert overdue.outcome is Outcome.OWN_STATION_PERSON and overdue.start_handoff
    assert "72 hours" not in overdue.replies[0].text or "past" in overdue.replies[0].text
    charging = turn(seeded, "why does the app say it's active", "ask_why_still_active", "charging")
    assert charging.outcome is Outcome.STILL_CHARGING and "still drawing energy" in charging.replies[0].text
    waiting = turn(seeded, "when will it update", "ask_update_time", "wait")
    assert "SES-100001" in waiting.replies[0].text


def test_anonymous_driver_naming_another_provider_gets_step_4(seeded):
    d = turn(seeded, "at an Allego on the A2, card refused", "cannot_start_session", entities={"operator": "Allego"})
    assert d.advice == "other_provider" and "Allego" in d.replies[0].text and "Vianen" not in d.replies[0].text


def test_unplugged_but_still_rising_brings_in_a_person(seeded):
    d = turn(seeded, "I unplugged ages ago and the kWh keeps going up", "kwh_increasing", "charging")
    assert d.start_handoff and d.slots["unplugged"] is True


def test_the_same_advice_twice_is_not_repeated_word_for_word(seeded):
    first = turn(seeded, "my session is still active", "session_still_active", "wait")
    again = turn(seeded, "it's still active", "session_still_active", "wait",
                 TurnState(last_reply=first.slots["last_reply"]))
    assert again.replies[0].text != first.replies[0].text and len(again.replies[0].text) < len(first.replies[0].text)
