"""The four things an agent needs (card or account, location, time, session ID):
what the account already tells, and how to read a driver's answer for the rest.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Optional, Set

from bot.store import charging_repo
from bot.store.db import session_scope
from bot.domain.identifiers import find_card_numbers, find_session_ids, normalise_session_id
from bot.conversation.facts import TurnFacts, pattern, says
from bot.domain.identity import Identity
from bot.settings import Settings
from bot.domain.timeparse import parse_answer_time

NOT_KNOWN = "not known"
MAX_LOCATION_LENGTH = 200
_EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+")


@dataclass(frozen=True)
class HandoffFields:
    card_number: Optional[str]
    location: Optional[str]
    session_time: Optional[str]
    session_id: Optional[str]


def _account_case(settings: Settings, identity: Optional[Identity], session_id: Optional[str]):
    """The driver's session the handoff is about: the one named, if it is theirs; else their only active
    one, or their latest when none is active. None when that is ambiguous (several active, none named)."""
    if identity is None:
        return None
    session_id = normalise_session_id(session_id) if isinstance(session_id, str) else None
    with session_scope(settings) as db:
        case = charging_repo.session_case(db, identity.account_id, session_id) if session_id else None
        if case is not None:
            return case
        active = charging_repo.active_sessions(db, identity.account_id)
        if len(active) > 1:
            return None
        fallback = active[0] if active else charging_repo.latest_session(db, identity.account_id)
        return charging_repo.session_case(db, identity.account_id, fallback.session_id) if fallback else None


def owns_session(settings: Settings, identity: Identity, session_id: str) -> bool:
    with session_scope(settings) as db:
        return charging_repo.owns_session(db, identity.account_id, session_id)


def known_from_account(settings: Settings, identity: Optional[Identity], session_id: Optional[str]) -> Set[str]:
    """Form slots a logged-in driver must not be asked for: the account and its session tell them."""
    if identity is None:
        return set()
    known = {"card_number"}
    if _account_case(settings, identity, session_id) is not None:
        known |= {"location", "time", "session_id"}
    return known


def resolve(settings: Settings, identity: Optional[Identity], slots: Mapping[str, Any]) -> HandoffFields:
    """The record's fields: the account's own data wins over what was typed."""
    case = _account_case(settings, identity, slots.get("session_id"))
    if case is not None:
        return HandoffFields(
            card_number=case.card_number,
            location=f"{case.station.location_name}, {case.station.city} (EVSE {case.station.evse_id})",
            session_time=case.facts.start.isoformat(),
            session_id=case.facts.session_id,
        )
    card = slots.get("card_number")
    if identity is not None and not card:
        card = ", ".join(identity.cards) or None
    return HandoffFields(
        card_number=card,
        location=slots.get("location"),
        session_time=slots.get("time"),
        session_id=slots.get("session_id"),
    )


def parse_card_or_account(value: Any) -> Optional[str]:
    if not isinstance(value, str):
        return None
    cards = find_card_numbers(value)
    if cards:
        return cards[0].value
    email = _EMAIL.search(value)
    return email.group(0).lower() if email else None


def parse_location(value: Any) -> Optional[str]:
    if not isinstance(value, str):
        return None
    if value == NOT_KNOWN:
        return NOT_KNOWN
    # Control characters (a NUL typed through `/inform{...}`) are no part of a place, and PostgreSQL refuses NULs.
    text = " ".join("".join(c for c in value if c.isprintable() or c.isspace()).split())
    # A place has letters; a bare number or a one-letter answer is not one.
    if len(text) < 2 or not re.search(r"[^\W\d_]{2}", text):
        return None
    return text[:MAX_LOCATION_LENGTH]


# What joins the place a driver takes back to the one they mean: "not Utrecht but Amersfoort".
_CORRECTION_JOINS = re.compile(r"^[\s,;:-]*(but|rather|instead|maar|wel|doch)?\b[\s,;:-]*", re.IGNORECASE)


def corrected_place(value: Any, text: str) -> Any:
    """A place without the one the driver's message takes back: "Utrecht maar Amersfoort" in "het was nie
    Utrecht maar Amersfoort" is Amersfoort. Anything else is returned as it is."""
    if not isinstance(value, str) or not isinstance(text, str):
        return value
    kept = value
    for negated in pattern("negated_place").finditer(text):
        phrase = negated.group(0)
        named = phrase.split()[-1]  # the place's (last) word after "not"/"niet"
        if phrase.lower() in kept.lower():  # "Amersfoort, niet Utrecht": only the phrase taken back goes
            kept = re.sub(re.escape(phrase), "", kept, count=1, flags=re.IGNORECASE)
        elif named.lower() in kept.lower():  # "Utrecht maar Amersfoort": what comes before it goes too
            kept = re.sub(rf"(?i)^(.*?)\b{re.escape(named)}\b", "", kept, count=1)
    kept = _CORRECTION_JOINS.sub("", kept).strip(" ,;:-")
    return kept if kept and kept != value and parse_location(kept) else value


# A charging session a driver asks about started in the last year, and not tomorrow.
PLAUSIBLE_PAST = timedelta(days=400)
PLAUSIBLE_FUTURE = timedelta(days=1)


def plausible_time(moment: datetime, now: datetime) -> bool:
    """Whether `moment` can be a session's start: year 1 with a +23:59 offset is not (nor can it be shown)."""
    try:
        utc = moment.astimezone(timezone.utc)
        return now - PLAUSIBLE_PAST <= utc <= now + PLAUSIBLE_FUTURE
    except (OverflowError, ValueError, OSError):
        return False


def parse_session_time(value: Any, settings: Settings, now: datetime, grain: Optional[str] = None) -> Optional[str]:
    """ISO 8601; a plain date when no clock time was named ("yesterday"), so nobody reads 00:00 into it."""
    if not isinstance(value, str) or len(value) > 200:
        return None
    if value == NOT_KNOWN:
        return NOT_KNOWN
    try:
        # The NLU component already resolved it to ISO 8601 with an offset (and told its grain).
        resolved = datetime.fromisoformat(value)
        if resolved.tzinfo is not None:
            if not plausible_time(resolved, now):
                return None
            return resolved.date().isoformat() if grain == "day" else resolved.isoformat()
    except ValueError:
        pass
    match = parse_answer_time(value, now, settings.timezone)
    if match is None or not plausible_time(match.value, now):
        return None
    return match.value.date().isoformat() if match.grain == "day" else match.value.isoformat()


def parse_session_id_answer(value: Any) -> Optional[str]:
    if value == NOT_KNOWN:
        return NOT_KNOWN
    if not isinstance(value, str):
        return None
    found = find_session_ids(value)
    return found[0].value if found else None


# The form's fields and the entity that carries each one.
FORM_SLOTS = {"card_number": "card_number", "location": "location", "time": "time", "session_id": "session_id"}


# Fields whose answer has a form of its own: found anywhere in the message, it is the answer.
STRICT_FORMATS = ("card_number", "session_id")
# Messages that answer no field ("hi", "thanks", "yes"), however they would parse as a place.
NOT_AN_ANSWER = ("greet", "thank", "affirm", "out_of_scope")


@dataclass(frozen=True)
class FormAnswer:
    """How a message answers the form's current question."""

    value: Optional[str]  # the field's value; None: ask again
    note: Optional[str] = None  # a catalogue key (handoff_flow.*) or an FAQ intent to say before asking again
    leave: bool = False  # the driver wants to stop giving details
    reask: bool = False  # the answer could not be read: ask again, with an example


def interpret_answer(slot: str, value: Any, facts: TurnFacts, settings: Settings, now: datetime,
                     grain: Optional[str] = None) -> FormAnswer:
    """A driver's message while the form asks for `slot`: an answer, "don't know", a question of their own,
    a correction of another field, or leaving."""
    own_entity = FORM_SLOTS[slot]
    if slot in STRICT_FORMATS:
        # A card number, e-mail address or session ID in the answer is the answer, whatever else is said.
        parsed = _parse(slot, value, settings, now, grain)
        if parsed is not None:
            return FormAnswer(parsed)
    gives_details = bool(set(FORM_SLOTS.values()) & set(facts.entities))
    if slot == "session_id" and own_entity not in facts.entities and says("asks_where", facts.text) \
            and not says("leaving", facts.text):
        # "Where would I even see that?" is a question, whatever the classifier made of it: tell them where.
        return FormAnswer(None, note="where_session_id")
    # "can't see it anywhere, skip it" skips this question even when classified as leaving; "forget it" leaves.
    classified_leaving = facts.intent in ("cancel", "goodbye") and not facts.dont_know
    if (says("leaving", facts.text) or classified_leaving) and not gives_details:
        return FormAnswer(None, leave=True)
    unsure = own_entity not in facts.entities and (facts.dont_know or facts.no)
    others = set(FORM_SLOTS.values()) - {own_entity}
    if own_entity not in facts.entities and others & set(facts.entities):
        # "wrong card, it's ...": a correction of another field, which is validated on its own;
        # "no session ID, but the card was wrong": the answer is in it too.
        return FormAnswer(NOT_KNOWN if facts.dont_know and slot != "card_number" else None)
    if unsure:
        if slot == "card_number":
            return FormAnswer(None, note="card_help")
        return FormAnswer(NOT_KNOWN, note="dont_know_session_id" if slot == "session_id" else "dont_know")
    if facts.faq:
        return FormAnswer(None, note=facts.faq)
    if facts.intent == "request_human" and says("wants_person", facts.text):
        return FormAnswer(None, note="already_collecting")
    if facts.intent == "bot_challenge" and own_entity not in facts.entities:
        return FormAnswer(None, note="bot_challenge")
    if facts.intent in NOT_AN_ANSWER and own_entity not in facts.entities and (
            slot != "location" or len(facts.text.split()) <= 2):
        return FormAnswer(None, reask=True)
    if slot == "location":
        value = corrected_place(value, facts.text)
    parsed = _parse(slot, value, settings, now, grain)
    if parsed is not None:
        return FormAnswer(parsed)
    return FormAnswer(None, reask=True)


def _parse(slot: str, value: Any, settings: Settings, now: datetime, grain: Optional[str]) -> Optional[str]:
    if slot == "card_number":
        return parse_card_or_account(value)
    if slot == "location":
        return parse_location(value)
    if slot == "time":
        return parse_session_time(value, settings, now, grain)
    return parse_session_id_answer(value)

