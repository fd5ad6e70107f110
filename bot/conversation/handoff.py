"""Filing a handoff: the record's fields, fresh findings from the database, the transcript, stored.

The findings are recomputed here from the charging database (never taken from a slot, which a
driver can set by typing `/inform{...}`); what the driver told us (kWh trend, blocked card) is
their own word and is recorded as such.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Mapping, Optional

from bot.conversation import handoff_fields
from bot.conversation.triage import TriageInput, triage
from bot.domain.handoff_record import HandoffRecord
from bot.domain.identity import Identity
from bot.domain.identifiers import normalise_session_id
from bot.domain.outcomes import DIAGNOSED
from bot.settings import Settings
from bot.store.handoff_store import store_handoff

# Why a person was needed when no diagnosis named a step that needs one.
DRIVER_ASKED = "driver_asked_for_person"


@dataclass(frozen=True)
class HandoffRequest:
    conversation_id: str
    channel: str
    identity: Optional[Identity]
    slots: Mapping[str, Any]  # card_number, location, time, session_id, kwh_reported, cannot_start
    events: Iterable[Mapping[str, Any]]  # the conversation's events, for the transcript


def _iso(ts: Any, fallback: datetime) -> str:
    if isinstance(ts, (int, float)):
        return datetime.fromtimestamp(ts, timezone.utc).isoformat()
    return fallback.isoformat()


def transcript_from_events(events: Iterable[Mapping[str, Any]], now: Optional[datetime] = None) -> List[Dict[str, str]]:
    """Every user and bot message of the conversation, in order, with timestamps."""
    now = now or datetime.now(timezone.utc)
    lines: List[Dict[str, str]] = []
    for event in events:
        kind = event.get("event")
        if kind not in ("user", "bot"):
            continue
        text = event.get("text") or ""
        buttons = ((event.get("data") or {}).get("buttons") or []) if kind == "bot" else []
        if buttons:
            text = (text + "\n" if text else "") + " | ".join(f"[{b.get('title', '')}]" for b in buttons)
        if not text:
            continue
        lines.append({"timestamp": _iso(event.get("timestamp"), now), "sender": kind, "text": text})
    return lines


def file_handoff(settings: Settings, request: HandoffRequest, now: datetime) -> str:
    """Stores the record and queues it for the helpdesk; returns the reference told to the driver."""
    slots = request.slots
    fields = handoff_fields.resolve(settings, request.identity, slots)
    result = triage(settings, TriageInput(
        identity=request.identity,
        session_id=normalise_session_id(slots.get("session_id") or "") if request.identity else None,
        driver_cannot_start=bool(slots.get("cannot_start")),
        kwh_reported=slots.get("kwh_reported") if slots.get("kwh_reported") in ("rising", "flat") else None,
    ), now)
    reason = result.outcome.value if result.outcome in DIAGNOSED else DRIVER_ASKED
    record = HandoffRecord(
        conversation_id=request.conversation_id,
        channel=request.channel,
        reason=reason,
        account_id=request.identity.account_id if request.identity else None,
        card_number=fields.card_number,
        location=fields.location,
        session_time=fields.session_time,
        session_id=fields.session_id,
        findings=result.findings.to_json(),
        transcript=transcript_from_events(request.events, now),
    )
    return store_handoff(settings, record)
