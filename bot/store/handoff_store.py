"""Stores a handoff record with its outbox row, and reads records back.

The handoff and its outbox row are written in one transaction, so a handoff is
never stored without being queued for delivery (bot.integrations.handoff_delivery sends it).
"""
from __future__ import annotations

import secrets
import uuid

from sqlalchemy.exc import IntegrityError

from bot.domain.handoff_record import FIELD_NAMES, HandoffRecord
from bot.settings import Settings
from bot.store.db import session_scope
from bot.domain.clock import utcnow
from bot.store.models import DeliveryState, Handoff, HandoffOutbox

# No 0/O, 1/I/L: the driver may read the reference out over the phone.
_REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_reference() -> str:
    return "HO-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(6))


def store_handoff(settings: Settings, record: HandoffRecord) -> str:
    """Stores the handoff and queues it for delivery; returns the reference told to the driver."""
    state = DeliveryState.PENDING if settings.handoff_webhook_url else DeliveryState.NOT_CONFIGURED
    for _ in range(5):  # a reference collision is rare; try a fresh one
        stored = record.stored(new_reference(), utcnow())
        try:
            with session_scope(settings) as db:
                handoff = Handoff(**{name: getattr(stored, name) for name in FIELD_NAMES})
                db.add(handoff)
                db.flush()
                db.add(HandoffOutbox(handoff_id=handoff.id, idempotency_key=uuid.uuid4().hex,
                                     state=state.value, next_attempt_at=utcnow()))
            return stored.reference
        except IntegrityError:
            continue
    raise RuntimeError("could not allocate a unique handoff reference")
