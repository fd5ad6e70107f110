"""The four things an agent needs (card or account, location, time, session ID):
what the account already tells, and how to read a driver's answer for the rest.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Optional, Set

from bot.store import charging_repo
from bot.store.db import session_scope
from bot.domain.identifiers import find_card_numbers, find_session_ids, normalise_session_id
from bot.domain.identity import Identity
from bot.settings import Settings
from bot.domain.timeparse import parse_time

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
    if identity is None or not session_id:
        return None
    session_id = normalise_session_id(session_id)
    if not session_id:
        return None
    with session_scope(settings) as db:
        return charging_repo.session_case(db, identity.account_id, session_id)


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
    # Control characters (a NUL typed through `/inform{...}`) are no part of a place, and PostgreSQL refuses NULs.
    text = " ".join("".join(c for c in value if c.isprintable() or c.isspace()).split())
    # A place has letters; a bare number or a one-letter answer is not one.
    if len(text) < 2 or not re.search(r"[^\W\d_]{2}", text):
        return None
    return text[:MAX_LOCATION_LENGTH]


def parse_session_time(value: Any, settings: Settings, now: datetime) -> Optional[str]:
    if not isinstance(value, str):
        return None
    try:
        # The NLU component already resolved it to ISO 8601 with an offset.
        resolved = datetime.fromisoformat(value)
        if resolved.tzinfo is not None:
            return resolved.isoformat()
    except ValueError:
        pass
    moment = parse_time(value, now, settings.timezone)
    return moment.isoformat() if moment else None


def parse_session_id_answer(value: Any) -> Optional[str]:
    if value == NOT_KNOWN:
        return NOT_KNOWN
    if not isinstance(value, str):
        return None
    found = find_session_ids(value)
    return found[0].value if found else None
