"""Builds and stores the record a human agent receives, with its outbox row.

The handoff and its outbox row are written in one transaction, so a handoff is
never stored without being queued for delivery (bot.handoff_delivery sends it).
"""
from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Mapping, Optional

from sqlalchemy.exc import IntegrityError

from bot.db import session_scope
from bot.models import DeliveryState, Handoff, HandoffOutbox, utcnow
from bot.settings import Settings

# No 0/O, 1/I/L: the driver may read the reference out over the phone.
_REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_reference() -> str:
    return "HO-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(6))


@dataclass
class HandoffRequest:
    conversation_id: str
    channel: str
    reason: str
    account_id: Optional[str] = None
    card_number: Optional[str] = None
    location: Optional[str] = None
    session_time: Optional[str] = None
    session_id: Optional[str] = None
    findings: Dict[str, Any] = field(default_factory=dict)
    transcript: List[Dict[str, str]] = field(default_factory=list)


def _iso(ts: Any) -> str:
    if isinstance(ts, (int, float)):
        return datetime.fromtimestamp(ts, timezone.utc).isoformat()
    return utcnow().isoformat()


def record_fields(handoff: Handoff) -> Dict[str, Any]:
    """The record's own fields, JSON-ready: what the helpdesk payload and the agent view both show."""
    return {
        "reference": handoff.reference,
        "created_at": handoff.created_at.isoformat() if handoff.created_at else None,
        "conversation_id": handoff.conversation_id,
        "channel": handoff.channel,
        "account_id": handoff.account_id,
        "card_number": handoff.card_number,
        "location": handoff.location,
        "session_time": handoff.session_time,
        "session_id": handoff.session_id,
        "reason": handoff.reason,
    }


def transcript_from_events(events: Iterable[Mapping[str, Any]]) -> List[Dict[str, str]]:
    """Every user and bot message of the conversation, in order, with timestamps."""
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
        lines.append({"timestamp": _iso(event.get("timestamp")), "sender": kind, "text": text})
    return lines


def store_handoff(settings: Settings, request: HandoffRequest) -> str:
    """Stores the handoff and queues it for delivery; returns the reference told to the driver."""
    state = DeliveryState.PENDING if settings.handoff_webhook_url else DeliveryState.NOT_CONFIGURED
    for _ in range(5):  # a reference collision is rare; try a fresh one
        reference = new_reference()
        try:
            with session_scope(settings) as db:
                handoff = Handoff(
                    reference=reference,
                    created_at=utcnow(),
                    conversation_id=request.conversation_id,
                    channel=request.channel,
                    account_id=request.account_id,
                    card_number=request.card_number,
                    location=request.location,
                    session_time=request.session_time,
                    session_id=request.session_id,
                    reason=request.reason,
                    findings=request.findings,
                    transcript=request.transcript,
                )
                db.add(handoff)
                db.flush()
                db.add(HandoffOutbox(handoff_id=handoff.id, idempotency_key=uuid.uuid4().hex,
                                     state=state.value, next_attempt_at=utcnow()))
            return reference
        except IntegrityError:
            continue
    raise RuntimeError("could not allocate a unique handoff reference")
