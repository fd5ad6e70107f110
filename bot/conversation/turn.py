"""One driver turn outside the handoff form: all its facts, read against what the conversation knows.

The decision reads every known fact (what this message says, whatever its top intent; what earlier
turns said; the question the assistant asked last) and returns what to say, what to remember and
whether a person takes over. Plain Python: the Rasa action only maps the decision to events.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, List, Optional, Sequence

from bot.conversation import replies, stop_flow
from bot.conversation.facts import TurnFacts, says
from bot.conversation.handoff_fields import owns_session
from bot.conversation.replies import Reply
from bot.conversation.session_choice import choose
from bot.conversation.triage import TriageInput, TriageResult, triage
from bot.domain.identity import Identity
from bot.domain.outcomes import Outcome
from bot.settings import Settings
from bot.store import charging_repo
from bot.store.charging_repo import SessionSummary
from bot.store.db import session_scope

# The questions the assistant can leave open; a yes or no is read against the one asked last.
KWH_QUESTION = "kwh_trend"
WHICH_SESSION = "which_session"
CONFIRM_HANDOFF = "confirm_handoff"
# Answered by the small-talk action, except while "which one?" is open: "eerste" can be taken for thanks.
SMALL_TALK_INTENTS = ("greet", "thank", "goodbye")
# The kind of guidance an answer of the article is (the `advice` slot).
FAQ_ADVICE = {"ask_why_still_active": "faq_why", "ask_billing_impact": "faq_billing",
              "ask_update_time": "faq_update_time"}


@dataclass(frozen=True)
class TurnState:
    """What the conversation remembers (its slots), as the decision reads it."""

    session_id: Optional[str] = None
    pending_question: Optional[str] = None
    kwh_reported: Optional[str] = None
    cannot_start: bool = False
    unplugged: bool = False
    handoff_after_choice: bool = False
    handoff_partial: bool = False
    last_reply: Optional[str] = None  # outcome and session of the last advice, to vary a repeat
    operator: Optional[str] = None  # the operator the driver named (anonymous advice names whom to contact)


@dataclass
class TurnDecision:
    replies: List[Reply] = field(default_factory=list)
    slots: Dict[str, Any] = field(default_factory=dict)
    outcome: Optional[Outcome] = None
    advice: Optional[str] = None  # what kind of guidance was given (kept for the agent and the tests)
    start_handoff: bool = False  # the handoff form starts (it asks only what is unknown)
    submit_handoff: bool = False  # pass on what was collected, without asking more


def _sessions(settings: Settings, identity: Identity) -> Sequence[SessionSummary]:
    with session_scope(settings) as db:
        return charging_repo.active_sessions(db, identity.account_id)


def _latest(settings: Settings, identity: Identity) -> Optional[SessionSummary]:
    with session_scope(settings) as db:
        return charging_repo.latest_session(db, identity.account_id)


def decide(settings: Settings, facts: TurnFacts, state: TurnState, identity: Optional[Identity],
           now: datetime) -> TurnDecision:
    decision = TurnDecision(slots={"pending_question": None})
    kwh = facts.kwh or state.kwh_reported
    cannot_start = state.cannot_start or facts.cannot_start
    unplugged = state.unplugged or facts.unplugged
    answered_yes_no = facts.yes or facts.no

    decision.slots.update(cannot_start=cannot_start or None, unplugged=unplugged or None)

    if state.pending_question == CONFIRM_HANDOFF and facts.still_plugged and not facts.wants_person:
        # "Oh yes, the car is indeed still plugged in": the colleague was offered for after unplugging.
        decision.replies.append(replies.still_plugged())
        decision.advice = "stop_at_charger"
        return decision
    # A yes or no answers the question asked last ("nah, I'll wait" is a no to an offer).
    if state.pending_question == CONFIRM_HANDOFF and (answered_yes_no or facts.leaving) and not facts.wants_person:
        if facts.yes and not facts.leaving:
            return _handoff(settings, decision, identity, state, state.session_id, partial=state.handoff_partial)
        decision.replies.append(replies.handoff_declined())
        decision.slots["handoff_partial"] = False
        return decision
    if state.pending_question == stop_flow.STOP_QUESTION and (answered_yes_no or facts.leaving) \
            and not facts.wants_person:
        return _stop_answer(settings, decision, facts, state, identity, cannot_start, now)
    if state.pending_question == KWH_QUESTION and answered_yes_no and (facts.kwh is None or not facts.kwh_in_words):
        # The leading yes or no answers "is it still increasing?"; the rest of the message may tell more
        # ("yeah, and the car isn't even connected anymore"). Only kWh words of its own outweigh it.
        kwh = "rising" if facts.yes else "flat"
    decision.slots["kwh_reported"] = kwh

    # Which session: a typed ID, "the second one", "the Shell one", "sorry, the other one".
    session_id = state.session_id
    active: Sequence[SessionSummary] = ()
    foreign: Optional[str] = None
    if identity is not None:
        active = _sessions(settings, identity)
        if session_id and session_id not in {a.session_id for a in active} \
                and not owns_session(settings, identity, session_id):
            # Typed by the driver, not on their account: flagged for the agent, never taken as theirs.
            foreign, session_id = session_id, None
            decision.slots.update(foreign_session_id=foreign, session_id=None)
        if len(active) > 1 or (active and state.pending_question == WHICH_SESSION):
            chosen = choose(facts, active, session_id, answering=state.pending_question == WHICH_SESSION)
            if chosen is not None:
                session_id = chosen
            elif len(active) > 1 and state.pending_question == WHICH_SESSION and facts.entities.get("session_id") is None:
                session_id = None
        if session_id is not None:
            decision.slots["session_id"] = session_id
    # "the first one please", "de oudste": an answer to "which one?" asks for nobody unless its words do.
    answered_choice = state.pending_question == WHICH_SESSION and session_id is not None
    asks_person = says("wants_person", facts.text) if answered_choice else facts.wants_person
    wants_person = asks_person or (state.handoff_after_choice and session_id is not None)
    if wants_person:
        if identity is not None and session_id is None and len(active) > 1:
            result = _triage(settings, identity, None, kwh, cannot_start, now)
            return _advice(decision, result, pending=WHICH_SESSION, slots={"handoff_after_choice": True})
        if identity is not None and session_id is None:
            latest = active[0] if active else _latest(settings, identity)
            session_id = latest.session_id if latest else None
        # Asked "shall I pass on what you gave so far?", "yes, send it to someone" passes it: no new form.
        partial = state.handoff_partial and state.pending_question == CONFIRM_HANDOFF
        return _handoff(settings, decision, identity, state, session_id, partial=partial)

    if facts.intent == "bot_challenge":
        decision.replies.append(replies.i_am_a_bot())
        return decision

    if facts.intent in SMALL_TALK_INTENTS and session_id == state.session_id:
        # Thanks or a goodbye while "which one?" is open (the small-talk action passes those here): no choice in it.
        decision.replies.append(replies.small_talk(facts.intent))
        decision.slots["pending_question"] = None if facts.intent == "goodbye" else state.pending_question
        return decision

    if facts.leaving and state.pending_question is None and session_id == state.session_id:
        # ("no wait, the Amsterdam one" changes the session: that is no goodbye.)
        decision.replies.append(replies.anything_else())
        return decision

    if state.pending_question == KWH_QUESTION and facts.dont_know and kwh is None:
        decision.replies.append(replies.where_kwh())
        decision.slots["pending_question"] = KWH_QUESTION
        return decision

    if facts.faq:
        return _faq(settings, decision, facts.faq, identity, session_id, kwh, cannot_start, now, state)

    # A yes or no to no question is small talk, unless it came with a change of session ("no, the other one").
    if answered_yes_no and state.pending_question is None and facts.intent in ("affirm", "deny") \
            and session_id == state.session_id:
        decision.replies.append(replies.anything_else())
        return decision

    if _off_topic(facts, state, kwh, cannot_start, session_id):
        decision.replies.append(replies.out_of_scope() if facts.intent == "out_of_scope" else replies.not_understood())
        return decision

    if identity is None:
        return _anonymous(settings, decision, facts, kwh, cannot_start, unplugged, typed=bool(
            {"card_number", "session_id", "evse_id"} & set(facts.entities)), state=state, now=now)

    if foreign is not None and facts.entities.get("session_id") == foreign:
        result = _triage(settings, identity, foreign, kwh, cannot_start, now)
        return _advice(decision, result, pending=WHICH_SESSION if result.reply.buttons else None)
    result = _triage(settings, identity, session_id, kwh, cannot_start, now, message=facts.text)
    if result.outcome is Outcome.CHOOSE_SESSION:
        decision.slots["session_id"] = None
        return _advice(decision, result, pending=WHICH_SESSION)
    if result.session_id:
        decision.slots["session_id"] = result.session_id
    if result.outcome is Outcome.STILL_CHARGING and unplugged and kwh != "flat":
        # Unplugged, yet the meter still rises: not something the driver can fix.
        _advice(decision, result, state=state)
        return _handoff(settings, decision, identity, state, result.session_id)
    if result.outcome is Outcome.OWN_STATION_PERSON:
        offer = stop_flow.offer(settings, identity, result, cannot_start, now)
        if offer is not None:  # at an own station the assistant can close it itself: ask first
            return _advice(decision, _with(result, offer), pending=stop_flow.STOP_QUESTION, state=state,
                           advice="stop_offer")
        _advice(decision, result, state=state)
        return _handoff(settings, decision, identity, state, result.session_id, announced=True)
    pending = {Outcome.CHECK_KWH: KWH_QUESTION, Outcome.STILL_CHARGING: CONFIRM_HANDOFF}.get(result.outcome)
    return _advice(decision, result, pending=pending, state=state)


def _stop_answer(settings: Settings, decision: TurnDecision, facts: TurnFacts, state: TurnState,
                 identity: Optional[Identity], cannot_start: bool, now: datetime) -> TurnDecision:
    """The driver's answer to "Shall I close it?": a yes sends the command and says what came of it."""
    if not facts.yes or facts.leaving:
        decision.replies.append(replies.stop_declined(state.session_id or ""))
        decision.slots["pending_question"] = CONFIRM_HANDOFF
        decision.advice = "stop_declined"
        return decision
    done = stop_flow.carry_out(settings, identity, state.session_id, cannot_start, now)
    if done.result is not None:  # the data changed since the offer: the article's step for them now
        if done.result.outcome is Outcome.OWN_STATION_PERSON:
            _advice(decision, done.result, state=state)
            return _handoff(settings, decision, identity, state, done.result.session_id, announced=True)
        pending = {Outcome.CHECK_KWH: KWH_QUESTION, Outcome.STILL_CHARGING: CONFIRM_HANDOFF}.get(done.result.outcome)
        return _advice(decision, done.result, pending=pending, state=state)
    if not done.replies:  # nothing to act on (no session, not logged in): as any other yes
        decision.replies.append(replies.anything_else())
        return decision
    decision.replies += done.replies
    decision.outcome = Outcome.OWN_STATION_PERSON
    decision.advice = f"stop_{done.outcome}"
    if done.handoff:
        return _handoff(settings, decision, identity, state, state.session_id, announced=True)
    return decision


def _off_topic(facts: TurnFacts, state: TurnState, kwh: Optional[str], cannot_start: bool,
               session_id: Optional[str]) -> bool:
    """Off topic or not understood, with no fact of this message to act on."""
    if facts.intent not in ("out_of_scope", "nlu_fallback"):
        return False
    identifiers = {"session_id", "card_number", "evse_id"} & set(facts.entities)
    answered = state.pending_question is not None and (facts.yes or facts.no)  # "ja, en ..." answers the question
    acted_on = (facts.kwh or facts.cannot_start or facts.unplugged or identifiers or answered
                or (session_id is not None and session_id != state.session_id))
    return not acted_on


def _triage(settings: Settings, identity: Optional[Identity], session_id: Optional[str], kwh: Optional[str],
            cannot_start: bool, now: datetime, typed: bool = False, message: str = "") -> TriageResult:
    return triage(settings, TriageInput(identity=identity, session_id=session_id, typed_identifier=typed,
                                        driver_cannot_start=cannot_start, kwh_reported=kwh, message=message), now)


def _advice(decision: TurnDecision, result: TriageResult, pending: Optional[str] = None,
            slots: Optional[Dict[str, Any]] = None, state: Optional[TurnState] = None,
            advice: Optional[str] = None) -> TurnDecision:
    key = f"{result.outcome.value}:{result.session_id or advice or ''}"
    repeat = state is not None and state.last_reply == key
    decision.replies.append(replies.again(result.reply) if repeat else result.reply)
    decision.outcome = result.outcome
    decision.advice = advice or decision.advice
    decision.slots.update({"pending_question": pending, "last_reply": key, **(slots or {})})
    return decision


def _handoff(settings: Settings, decision: TurnDecision, identity: Optional[Identity], state: TurnState,
             session_id: Optional[str], partial: bool = False, announced: bool = False) -> TurnDecision:
    if partial:
        decision.submit_handoff = True
        return decision
    known = identity is not None and session_id is not None
    if not announced:
        decision.replies.append(replies.handoff_start(known))
    if session_id is not None:
        decision.slots["session_id"] = session_id
    decision.slots.update(handoff_after_choice=None, pending_question=None)
    decision.start_handoff = True
    return decision


def _faq(settings: Settings, decision: TurnDecision, intent: str, identity: Optional[Identity],
         session_id: Optional[str], kwh: Optional[str], cannot_start: bool, now: datetime,
         state: TurnState) -> TurnDecision:
    """The article's answer, for this driver's own session where we know it."""
    decision.advice = FAQ_ADVICE[intent]
    if identity is None:
        answer = replies.faq_reply(intent, settings)
        key = f"faq:{intent}"
        decision.replies.append(replies.again(answer) if state.last_reply == key else answer)
        decision.slots["last_reply"] = key
        decision.outcome = Outcome.ANONYMOUS
        if kwh is not None or cannot_start:
            # "Why ... and the kWh doesn't change": the article's answer, then what their kWh means.
            result = triage(settings, TriageInput(identity=None, driver_cannot_start=cannot_start, kwh_reported=kwh),
                            now)
            decision.replies.append(result.reply)
            decision.advice = ("blocked_general" if cannot_start else
                               {"rising": "stop_at_charger", "flat": "keep_using_card"}[kwh])
        return decision
    result = _triage(settings, identity, session_id, kwh, cannot_start, now)
    verdict, sid = result.verdict, result.session_id
    decision.outcome = result.outcome
    if result.outcome is Outcome.CHOOSE_SESSION:
        # The answer depends on the session: the general answer, then which one they mean.
        decision.replies += [replies.faq_reply(intent, settings), result.reply]
        decision.slots["pending_question"] = WHICH_SESSION
        return decision
    if verdict is None or sid is None:
        decision.replies.append(replies.faq_reply(intent, settings))
        return decision
    decision.slots["session_id"] = sid
    if result.outcome is Outcome.STILL_CHARGING and intent != "ask_update_time":
        decision.replies.append(replies.faq_still_charging(intent, sid, verdict, settings))
        return decision
    if result.outcome is Outcome.STILL_CHARGING:
        decision.replies.append(replies.faq_still_charging("ask_why_still_active", sid, verdict, settings))
        return decision
    if result.outcome in (Outcome.OWN_STATION_PERSON, Outcome.OTHER_PROVIDER):
        if intent == "ask_billing_impact":
            decision.replies.append(replies.faq_reply(intent, settings))
        offer = stop_flow.offer(settings, identity, result, cannot_start, now)
        if offer is not None:  # their own session can be closed now: the offer instead of a person
            decision.replies.append(offer)
            decision.slots["pending_question"] = stop_flow.STOP_QUESTION
            decision.advice = "stop_offer"
            return decision
        decision.replies.append(result.reply)
        if result.outcome is Outcome.OWN_STATION_PERSON:
            return _handoff(settings, decision, identity, TurnState(), sid, announced=True)
        return decision
    if result.outcome is Outcome.WAIT and intent == "ask_update_time":
        decision.replies.append(replies.faq_closes_by(sid, verdict, settings))
        return decision
    if result.outcome is Outcome.WAIT and intent == "ask_why_still_active":
        decision.replies.append(result.reply)  # the delay, and when it closes: the article's answer for them
        return decision
    decision.replies.append(replies.faq_reply(intent, settings))
    return decision


def _anonymous(settings: Settings, decision: TurnDecision, facts: TurnFacts, kwh: Optional[str],
               cannot_start: bool, unplugged: bool, typed: bool, state: TurnState, now: datetime) -> TurnDecision:
    """The article for a driver we cannot identify: their own words decide, nobody's data is shown."""
    result = triage(settings, TriageInput(identity=None, typed_identifier=typed, driver_cannot_start=cannot_start,
                                          kwh_reported=kwh), now)
    decision.outcome = Outcome.ANONYMOUS
    if kwh == "rising" and unplugged:
        decision.replies.append(replies.anonymous_rising_after_unplug())
        decision.advice = "rising_after_unplug"
        return _handoff(settings, decision, None, state, None)
    if cannot_start:
        operator = facts.entities.get("operator") or state.operator
        if (operator and operator.strip().lower() == settings.brand.lower()) or (
                not operator and says("own_station", facts.text)):
            return _advice(decision, _with(result, replies.anonymous_own_station(settings)),
                           pending=CONFIRM_HANDOFF, state=state, advice="own_station_person")
        if operator:
            with session_scope(settings) as db:
                contact = charging_repo.operator_contact(db, operator)
            if contact is None or not settings.policy.is_own_party(contact.party_id):
                reply = replies.anonymous_other_provider(
                    contact.name if contact else operator, contact.website if contact else None,
                    contact.phone if contact else None)
                return _advice(decision, _with(result, reply), state=state, advice="other_provider")
            return _advice(decision, _with(result, replies.anonymous_own_station(settings)),
                           pending=CONFIRM_HANDOFF, state=state, advice="own_station_person")
        return _advice(decision, result, pending=CONFIRM_HANDOFF, state=state, advice="blocked_general")
    if kwh == "rising":
        return _advice(decision, result, pending=CONFIRM_HANDOFF, state=state, advice="stop_at_charger")
    if kwh == "flat":
        return _advice(decision, result, state=state, advice="keep_using_card")
    return _advice(decision, result, pending=KWH_QUESTION, state=state, advice="kwh_question")


def _with(result: TriageResult, reply: Reply) -> TriageResult:
    return TriageResult(result.outcome, reply, result.findings, result.session_id, result.verdict)
