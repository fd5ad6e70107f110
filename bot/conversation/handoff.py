"""Filing a handoff: the record's fields, fresh findings from the database, the transcript, stored.

The findings are recomputed here from the charging database (never taken from a slot, which a
driver can set by typing `/inform{...}`); what the driver told us (kWh trend, blocked card) is
their own word and is recorded as such.

Nothing from the tracker is trusted on submit: every slot is validated again (`validated_slots`, the
form's own parsers: a card or e-mail, a place of at most 200 characters, a plausible time, a session
ID), an identified driver's card and session come from their account in the database (never from
the token's `cards` claim or another account), every field is capped to its column, the transcript
holds only the current session and the current identity's turns (at most 300 lines of 4,000
characters), and a handoff that repeats one of the same conversation stored in the last 24 hours gets that one's
reference instead of a second record.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterable, List, Mapping, Optional

from sqlalchemy import select

from bot.conversation import handoff_fields, stop_flow
from bot.conversation.texts import DEFAULT_LANGUAGE, languages
from bot.conversation.triage import TriageInput, triage
from bot.domain.handoff_record import HandoffRecord
from bot.domain.identity import Identity
from bot.domain.identifiers import normalise_session_id
from bot.domain.outcomes import DIAGNOSED, Outcome
from bot.domain.identifiers import find_session_ids
from bot.domain.identity import claimed_account
from bot.settings import Settings
from bot.store import charging_repo
from bot.store.db import session_scope
from bot.store.handoff_store import store_handoff
from bot.store.models import Handoff

# Why a person was needed when no diagnosis named a step that needs one.
DRIVER_ASKED = "driver_asked_for_person"
MAX_TRANSCRIPT_LINES = 300
MAX_LINE_CHARS = 4000
DUPLICATE_WINDOW = timedelta(hours=24)
_ANYONE = object()


@dataclass(frozen=True)
class HandoffRequest:
    conversation_id: str
    channel: str
    identity: Optional[Identity]
    slots: Mapping[str, Any]  # the slots named in SLOTS
    events: Iterable[Mapping[str, Any]]  # the conversation's events, for the transcript
    language: str = "en"  # the conversation's language (a catalogue code)

    # What the record is built from: the four fields, and what the driver said that the agent must know.
    SLOTS = ("card_number", "location", "time", "session_id", "kwh_reported", "cannot_start", "unplugged",
             "foreign_session_id", "handoff_partial")


def flags(slots: Mapping[str, Any], meter_rising: bool = False) -> List[str]:
    """What the agent must know at a glance: the driver's own words and what is missing."""
    found = []
    if slots.get("cannot_start"):
        found.append("cannot_start")
    if slots.get("unplugged") and (slots.get("kwh_reported") == "rising" or meter_rising):
        found.append("kwh_rising_after_unplug")
    if slots.get("foreign_session_id"):
        found.append("session_not_on_account")
    if slots.get("handoff_partial"):
        found.append("partial")
    return found


def _iso(ts: Any, fallback: datetime) -> str:
    if isinstance(ts, (int, float)):
        return datetime.fromtimestamp(ts, timezone.utc).isoformat()
    return fallback.isoformat()


def transcript_from_events(events: Iterable[Mapping[str, Any]], now: Optional[datetime] = None,
                           identity: Any = _ANYONE) -> List[Dict[str, str]]:
    """Every user and bot message of the conversation's current session, in order, with timestamps.

    With `identity` (an Identity, or None for anonymous), a user message whose channel claim names
    someone else is left out, and so are the bot's answers to it."""
    now = now or datetime.now(timezone.utc)
    events = [e for e in events if isinstance(e, Mapping)]
    starts = [i for i, e in enumerate(events) if e.get("event") == "session_started"]
    events = events[starts[-1]:] if starts else events
    current = identity.account_id if identity not in (_ANYONE, None) else None
    lines: List[Dict[str, str]] = []
    included = True
    for event in events:
        kind = event.get("event")
        if kind == "user" and identity is not _ANYONE:
            metadata = event.get("metadata") if isinstance(event.get("metadata"), Mapping) else {}
            speaker = claimed_account(metadata)
            included = speaker is None and identity is None or speaker == current or \
                (speaker is None and not isinstance(metadata.get("identity"), Mapping))
        if kind not in ("user", "bot") or not included:
            continue
        text = event.get("text") or ""
        buttons = ((event.get("data") or {}).get("buttons") or []) if kind == "bot" else []
        if buttons:
            text = (text + "\n" if text else "") + " | ".join(f"[{b.get('title', '')}]" for b in buttons)
        if not text:
            continue
        lines.append({"timestamp": _iso(event.get("timestamp"), now), "sender": kind, "text": str(text)[:MAX_LINE_CHARS]})
    return lines[-MAX_TRANSCRIPT_LINES:]


def validated_slots(settings: Settings, slots: Mapping[str, Any], now: datetime) -> Dict[str, Any]:
    """The slots as the form's own validation would have left them: nothing is taken as sent."""
    kwh = slots.get("kwh_reported")
    foreign = slots.get("foreign_session_id")
    found = find_session_ids(foreign) if isinstance(foreign, str) else []
    return {
        "card_number": handoff_fields.parse_card_or_account(slots.get("card_number")),
        "location": handoff_fields.parse_location(slots.get("location")),
        "time": handoff_fields.parse_session_time(slots.get("time"), settings, now),
        "session_id": handoff_fields.parse_session_id_answer(slots.get("session_id")),
        "kwh_reported": kwh if kwh in ("rising", "flat") else None,
        "cannot_start": slots.get("cannot_start") is True,
        "unplugged": slots.get("unplugged") is True,
        "handoff_partial": slots.get("handoff_partial") is True,
        "foreign_session_id": found[0].value if found else None,
    }


def _in_utc(value: Optional[str]) -> Optional[str]:
    """A session time with a clock time, in UTC (the agent view shows it in the agents' zone)."""
    if not value or "T" not in value:
        return value  # a date, "not known", or nothing
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(timezone.utc).isoformat() if moment.tzinfo else value


def _account_checked(settings: Settings, identity: Optional[Identity], fields: Any) -> Any:
    """An identified driver's card from their account (not the token's claim), and only their own session."""
    if identity is None:
        return fields
    with session_scope(settings) as db:
        cards = charging_repo.account_cards(db, identity.account_id)
        own_session = bool(fields.session_id) and fields.session_id != handoff_fields.NOT_KNOWN and \
            charging_repo.owns_session(db, identity.account_id, fields.session_id)
    card = fields.card_number if fields.card_number in cards else (", ".join(cards) or None)
    session_id = fields.session_id if own_session or fields.session_id == handoff_fields.NOT_KNOWN else None
    return replace(fields, card_number=card, session_id=session_id)


def _recent_duplicate(settings: Settings, record: HandoffRecord, now: datetime) -> Optional[str]:
    """The reference of a handoff of this conversation with the same content stored in the last 24 hours."""
    with session_scope(settings) as db:
        return db.execute(
            select(Handoff.reference).where(
                Handoff.created_at >= now - DUPLICATE_WINDOW, Handoff.reason == record.reason,
                Handoff.conversation_id == record.conversation_id,
                *[getattr(Handoff, name).is_(None) if getattr(record, name) is None
                  else getattr(Handoff, name) == getattr(record, name)
                  for name in ("account_id", "card_number", "location", "session_time", "session_id")],
            ).order_by(Handoff.created_at.desc()).limit(1)
        ).scalar_one_or_none()


def file_handoff(settings: Settings, request: HandoffRequest, now: datetime) -> str:
    """Stores the record and queues it for the helpdesk; returns the reference told to the driver."""
    slots = validated_slots(settings, request.slots, now)
    fields = _account_checked(settings, request.identity, handoff_fields.resolve(settings, request.identity, slots))
    result = triage(settings, TriageInput(
        identity=request.identity,
        session_id=normalise_session_id(slots.get("session_id") or "") if request.identity else None,
        driver_cannot_start=bool(slots.get("cannot_start")),
        kwh_reported=slots.get("kwh_reported") if slots.get("kwh_reported") in ("rising", "flat") else None,
    ), now)
    reason = result.outcome.value if result.outcome in DIAGNOSED else DRIVER_ASKED
    findings = result.findings.to_json()
    typed = normalise_session_id(slots.get("session_id") or "") if isinstance(slots.get("session_id"), str) else None
    if request.identity is not None and typed and not handoff_fields.owns_session(settings, request.identity, typed):
        slots = dict(slots, foreign_session_id=typed)
    findings["flags"] = flags(slots, meter_rising=result.outcome is Outcome.STILL_CHARGING)
    if slots.get("foreign_session_id"):
        # Named by the driver, not on their account: the agent sees it as such, never as their session.
        findings["session_not_on_account"] = str(slots["foreign_session_id"])[:40]
    if slots.get("handoff_partial"):
        given = {"card_number": fields.card_number, "location": fields.location, "time": fields.session_time,
                 "session_id": fields.session_id}
        findings["missing"] = [name for name, value in given.items() if value in (None, "", handoff_fields.NOT_KNOWN)]
    # Whose findings these are: the verified account that submitted (None: anonymous), never a slot.
    findings["account"] = request.identity.account_id if request.identity else None
    attempt = stop_flow.attempt_findings(settings, fields.session_id) if request.identity else None
    if attempt is not None:  # the assistant already tried to close it: the agent sees how that went
        findings["stop_attempt"] = attempt
    if request.identity is not None and slots["session_id"] not in (None, handoff_fields.NOT_KNOWN) \
            and fields.session_id is None:
        findings.setdefault("session_not_on_account", slots["session_id"])
    record = HandoffRecord(
        conversation_id=str(request.conversation_id)[:255],
        channel=str(request.channel)[:50],
        reason=reason,
        account_id=request.identity.account_id if request.identity else None,
        card_number=fields.card_number[:255] if fields.card_number else None,
        location=fields.location[:255] if fields.location else None,
        session_time=_in_utc(fields.session_time),
        session_id=fields.session_id[:36] if fields.session_id else None,
        language=request.language if request.language in languages() else DEFAULT_LANGUAGE,
        findings=findings,
        transcript=transcript_from_events(request.events, now, request.identity),
    )
    duplicate = _recent_duplicate(settings, record, now)
    if duplicate is not None:
        return duplicate
    return store_handoff(settings, record)
