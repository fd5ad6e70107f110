"""What one message tells, whatever its top intent (bot.conversation.facts)."""
from __future__ import annotations

import pytest

from bot.conversation.facts import TurnFacts, read_message, says


def facts(text, intent="session_still_active", ranked=None, entities=None):
    return TurnFacts(text=text, intent=intent, ranked=ranked or {intent: 0.9}, entities=entities or {})


@pytest.mark.parametrize("text", [
    "still active and now the next charger declined my card",
    "the pole won't let me charge because of it",
    "can't start a new session anywhere",
])
def test_a_refused_card_counts_in_any_message(text):
    assert facts(text).cannot_start


def test_a_refused_card_ranked_second_counts_and_a_weak_guess_does_not():
    assert facts("long story", ranked={"session_still_active": 0.6, "cannot_start_session": 0.36}).cannot_start
    assert not facts("long story", ranked={"session_still_active": 0.8, "cannot_start_session": 0.1}).cannot_start


@pytest.mark.parametrize("text, wants", [
    ("I'd like a real human to look at this", True),
    ("is there someone from your team I can speak with", True),
    ("please let a colleague contact me", True),
    ("pass me to an agent, it's stuck", True),
    ("are you a real person?", False),
    ("the person at the desk told me to wait", False),
])
def test_wanting_a_person_is_read_from_the_words(text, wants):
    assert facts(text, intent="inform").wants_person is wants


def test_thanks_with_a_call_ranked_second_is_no_request_for_a_person():
    assert not facts("ok, I'll ring them, thanks", intent="thank", ranked={"thank": 0.6, "request_human": 0.35}
                     ).wants_person


@pytest.mark.parametrize("text, kwh", [
    ("why is it still active, the kWh doesn't change at all", "flat"),
    ("and the meter is still going up", "rising"),
    ("why is it still active", None),
])
def test_the_kwh_trend_is_read_from_the_words_when_the_intent_is_another(text, kwh):
    assert facts(text, intent="ask_why_still_active").kwh == kwh


def test_an_article_question_inside_a_report_is_answered():
    assert facts("session shows active, do I get charged extra for that?").faq == "ask_billing_impact"
    assert facts("why is my session still open?").faq == "ask_why_still_active"
    assert facts("my session is still open").faq is None


def test_an_unsure_classification_keeps_its_best_charging_guess():
    message = {"text": "I've got an open session I can't get rid of", "intent": {"name": "nlu_fallback"},
               "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.4},
                                  {"name": "cannot_start_session", "confidence": 0.37},
                                  {"name": "session_still_active", "confidence": 0.17}]}
    assert read_message(message).intent == "cannot_start_session"
    typo = {"text": "my sesison never closd", "intent": {"name": "out_of_scope"}, "intent_ranking": []}
    assert read_message(typo).intent == "session_still_active"


@pytest.mark.parametrize("text", ["allee, dan bel ik hen wel. merci", "ok ik bel ze nu", "dus ik moet Allego bellen?",
                                  "goed, dan neem ik contact op met Shell", "ok dan ga ik hem stoppen",
                                  "ok I'll call them then", "so it's Allego I should call?"])
def test_a_driver_who_will_act_themselves_asks_for_no_person_and_says_no_to_one(text):
    said = facts(text, intent="request_human")
    assert not said.wants_person and said.no and not said.yes


@pytest.mark.parametrize("text", ["I need to contact someone from your team", "kunnen jullie me bellen",
                                  "neem contact op met een medewerker"])
def test_asking_to_be_contacted_is_still_asking_for_a_person(text):
    assert facts(text, intent="request_human").wants_person


def test_neem_is_not_nee():
    assert not facts("neem het maar mee", intent="inform").no and facts("neeee", intent="inform").no


@pytest.mark.parametrize("text, other", [("sorry, I meant the other one", True), ("nee sorry, ik bedoelde de andere", True),
                                         ("refused at the other Shell charger", False),
                                         ("mijn pas wordt geweigerd bij een andere E-Flux paal", False)])
def test_the_other_session_is_not_another_charger(text, other):
    assert says("other_one", text) is other
