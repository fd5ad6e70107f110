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


def test_an_answer_to_which_one_is_a_choice_whatever_the_classifier_calls_it(seeded):
    state = TurnState(pending_question=WHICH_SESSION)
    # "eerste graag" read as a request for a person, "eerste" as thanks: both pick the first session.
    picked = turn(seeded, "eerste graag", "request_human", "two", state)
    assert picked.slots["session_id"] == "SES-100006" and not picked.start_handoff
    assert picked.outcome is Outcome.WAIT
    assert turn(seeded, "eerste", "thank", "two", state).slots["session_id"] == "SES-100006"
    # Its words still ask for a person when they do.
    assert turn(seeded, "the first one, and get me a person", "request_human", "two", state).start_handoff
    # "The one that's been open for days" answers it with the older session; said unasked it chooses nothing.
    assert turn(seeded, "the one that's been open for days", "inform", "two", state).slots["session_id"] == "SES-100007"
    unasked = turn(seeded, "my session has been open for days", "session_still_active", "two")
    assert unasked.outcome is Outcome.CHOOSE_SESSION
    # Thanks that choose nothing is answered as thanks, and the question stays open.
    thanks = turn(seeded, "thanks", "thank", "two", state)
    assert thanks.outcome is None and thanks.slots["pending_question"] == WHICH_SESSION
    # "no wait, Amsterdam, not Den Haag" after choosing Den Haag changes the session: it is no goodbye.
    chosen = TurnState(session_id="SES-100007")
    changed = turn(seeded, "nee wacht, amsterdam, nie den haag", "cancel", "two", chosen)
    assert changed.slots["session_id"] == "SES-100006" and changed.outcome is Outcome.WAIT


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


def test_a_yes_that_says_the_car_is_still_plugged_in_brings_in_no_colleague(seeded):
    """Still charging: the colleague is offered for after unplugging. "Oh yes, it's indeed still plugged in"
    is no yes to that; "yeah, unplugged ages ago" is."""
    offered = turn(seeded, "my session is still running in the app", "session_still_active", "charging")
    assert offered.slots["pending_question"] == CONFIRM_HANDOFF
    state = TurnState(pending_question=CONFIRM_HANDOFF, session_id="SES-100002")
    for text in ("oh ja, de auto hangt er inderdaad nog aan", "oh right, yes, it's actually still plugged in"):
        d = turn(seeded, text, "affirm", "charging", state=state)
        assert not d.start_handoff and d.advice == "stop_at_charger" and d.replies, text
    assert turn(seeded, "yeah, unplugged ages ago", "affirm", "charging", state=state).start_handoff


def test_asked_to_pass_what_it_has_a_request_for_a_person_passes_it(seeded):
    """After "forget it, I'll wait", the offer to pass the details so far; "ja, stuur het maar door naar
    een medewerker" is a yes to that, not a new form."""
    offered = TurnState(pending_question=CONFIRM_HANDOFF, handoff_partial=True)
    d = turn(seeded, "eigenlijk ja, stuur het maar door naar een medewerker", "request_human", state=offered)
    assert d.submit_handoff and not d.start_handoff


def test_a_question_skipped_in_the_form_is_not_known_and_forget_it_still_leaves(seeded):
    from bot.conversation.handoff_fields import NOT_KNOWN, interpret_answer

    skipped = TurnFacts("zie het nergens, sla maar over", "cancel", {"cancel": 0.8})
    assert interpret_answer("session_id", skipped.text, skipped, seeded, NOW).value == NOT_KNOWN
    left = TurnFacts("vergeet het maar, ik wacht wel", "cancel", {"cancel": 0.8})
    assert interpret_answer("time", left.text, left, seeded, NOW).leave


def test_asked_where_the_session_id_is_shown_it_says_where_whatever_the_classifier_made_of_it(seeded):
    """A question back ("waar zou ik dat moeten zien?") is neither an answer nor leaving, even ranked goodbye."""
    from bot.conversation.handoff_fields import interpret_answer

    for text, intent in (("waar zou ik dat überhaupt moeten zien?", "goodbye"),
                         ("where is the session id shown?", "nlu_fallback"),
                         ("where would I even find that", "out_of_scope")):
        facts = TurnFacts(text, intent, {intent: 0.3})
        answer = interpret_answer("session_id", text, facts, seeded, NOW)
        assert answer.note == "where_session_id" and not answer.leave and answer.value is None, text


def test_a_place_taken_back_is_not_kept():
    from bot.conversation.handoff_fields import corrected_place

    assert corrected_place("Utrecht maar Amersfoort", "oh wacht, het was nie Utrecht maar Amersfoort") == "Amersfoort"
    assert corrected_place("Den Haag but Delft", "sorry, not Den Haag but Delft") == "Delft"
    assert corrected_place("Utrecht Centraal", "I was at Utrecht Centraal") == "Utrecht Centraal"
    assert corrected_place("Amersfoort, niet Utrecht", "Amersfoort, niet Utrecht") == "Amersfoort"
    assert corrected_place("Delft not Den Haag", "it was Delft not Den Haag") == "Delft"


def test_after_an_id_not_on_the_account_the_one_on_it_can_be_chosen_in_words(seeded):
    asked = turn(seeded, "can you check SES-100003 for me, it won't close", "session_still_active", "overdue",
                 entities={"session_id": "SES-100003"}, state=TurnState(session_id="SES-100003"))
    assert asked.slots["pending_question"] == WHICH_SESSION and asked.slots.get("session_id") is None
    d = turn(seeded, "hm, then just the one on my account please", "request_human", "overdue",
             state=TurnState(pending_question=WHICH_SESSION))
    assert d.slots["session_id"] == "SES-100004" and d.outcome is Outcome.OWN_STATION_PERSON and d.start_handoff


def test_with_nothing_active_the_ended_session_named_by_place_is_the_one_talked_about(seeded):
    d = turn(seeded, "the one I did at Vianen the other day still says active", "session_still_active", "done")
    assert d.outcome is Outcome.NO_SESSION and d.slots["session_id"] == "SES-100009"
    assert "SES-100009" in d.replies[0].text
    latest = turn(seeded, "my session still says active", "session_still_active", "done")
    assert "SES-100008" in latest.replies[0].text and "session_id" not in latest.slots
