"""What the station's operator (CPO) says about a session, for the conversation.

`check_provider` asks the operator's OCPI 2.2.1 endpoint for the session and the
location's operator contact, within a hard time budget, and never raises: when the peer
is slow, down, answers garbage or refuses our token, the answer is `unavailable` with a
reason and the conversation carries on from our own data.

It blocks for at most `timeout_s`; from async code (the action server) call it through
`loop.run_in_executor` so the event loop keeps serving other chats meanwhile.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional

from bot.domain.outcomes import ProviderOutcome
from bot.integrations.ocpi_client import (
    OcpiAuthError,
    OcpiClient,
    OcpiError,
    OcpiLocation,
    OcpiOperator,
    OcpiProtocolError,
    OcpiUnavailable,
    OcpiSession,
    OcpiTimeout,
)

log = logging.getLogger(__name__)

# OCPI SessionStatus -> what it means for a driver whose session "is still active".
_OPEN_STATUSES = {"ACTIVE", "PENDING", "RESERVATION"}  # the CPO still holds it open
_CLOSED_STATUSES = {"COMPLETED", "INVALID"}  # over (INVALID: declared void, not billed)

# last_updated is never before the start; the driver's start time may be approximate
# and clocks drift, so the search window opens a little earlier.
SEARCH_SLACK = timedelta(hours=12)


@dataclass(frozen=True)
class ProviderView:
    outcome: ProviderOutcome
    reason: Optional[str] = None  # why unavailable: timeout, unreachable, auth, protocol, error, not_configured
    status: Optional[str] = None  # the provider's OCPI session status, upper case
    kwh: Optional[float] = None
    last_updated: Optional[datetime] = None
    ended_at: Optional[datetime] = None
    operator: Optional[OcpiOperator] = None  # who drivers contact, from the location


def check_provider(
    operator_base_url: Optional[str],
    token: Optional[str],
    session_id: str,
    location_id: Optional[str],
    session_start: Optional[datetime],
    timeout_s: float = 5.0,
) -> ProviderView:
    """The provider's view of `session_id`, in at most about `timeout_s` seconds."""
    if not operator_base_url or not token:
        return ProviderView(ProviderOutcome.UNAVAILABLE, reason="not_configured")
    # The client stops a little before the caller's bound, so what it found still arrives in time.
    deadline = time.monotonic() + timeout_s * 0.9
    result: list = []

    def work() -> None:
        try:
            result.append(_lookup(operator_base_url, token, session_id, location_id, session_start, timeout_s, deadline))
        except Exception:  # a bug here must not reach the conversation either
            log.exception("provider check failed unexpectedly")
            result.append(ProviderView(ProviderOutcome.UNAVAILABLE, reason="error"))

    # A worker thread makes the bound hard: a peer trickling bytes can outlast any
    # per-read timeout. The client also stops at the deadline, so a worker left
    # behind ends soon after it.
    worker = threading.Thread(target=work, name="ocpi-provider-check", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if not result:
        log.warning("provider check of %s timed out after %.1fs", _host(operator_base_url), timeout_s)
        return ProviderView(ProviderOutcome.UNAVAILABLE, reason="timeout")
    return result[0]


def _lookup(
    base_url: str,
    token: str,
    session_id: str,
    location_id: Optional[str],
    session_start: Optional[datetime],
    timeout_s: float,
    deadline: float,
) -> ProviderView:
    date_from = None
    if session_start is not None:
        start = session_start if session_start.tzinfo else session_start.replace(tzinfo=timezone.utc)
        date_from = start - SEARCH_SLACK
    try:
        with OcpiClient(
            base_url,
            token,
            connect_timeout_s=min(2.0, timeout_s),
            read_timeout_s=min(3.0, timeout_s),
            deadline=deadline,
        ) as client:
            session = client.find_session(session_id, date_from=date_from)
            location = _location(client, location_id or (session.location_id if session else None))
    except OcpiError as exc:
        reason = _reason(exc)
        log.info("provider %s unavailable (%s): %s", _host(base_url), reason, exc)
        return ProviderView(ProviderOutcome.UNAVAILABLE, reason=reason)
    operator = location.operator if location else None
    if session is None:
        return ProviderView(ProviderOutcome.NOT_FOUND, operator=operator)
    return _view(session, operator)


def _location(client: OcpiClient, location_id: Optional[str]) -> Optional[OcpiLocation]:
    """The location, for its operator's contact details. Without it the session answer still stands."""
    if not location_id:
        return None
    try:
        return client.get_location(location_id)
    except OcpiError as exc:
        log.info("location %s not usable: %s", location_id, exc)
        return None


def _view(session: OcpiSession, operator: Optional[OcpiOperator]) -> ProviderView:
    if session.status in _CLOSED_STATUSES:
        outcome = ProviderOutcome.COMPLETED
    elif session.status in _OPEN_STATUSES:
        outcome = ProviderOutcome.ACTIVE
    else:
        log.warning("unknown OCPI session status %r", session.status)
        return ProviderView(ProviderOutcome.UNAVAILABLE, reason="protocol", status=session.status, operator=operator)
    return ProviderView(
        outcome,
        status=session.status,
        kwh=session.kwh,
        last_updated=session.last_updated,
        ended_at=session.end_date_time,
        operator=operator,
    )


def _reason(exc: OcpiError) -> str:
    if isinstance(exc, OcpiAuthError):
        return "auth"
    if isinstance(exc, OcpiTimeout):
        return "timeout"
    if isinstance(exc, OcpiUnavailable):
        return "unreachable"
    if isinstance(exc, OcpiProtocolError):
        return "protocol"
    return "error"


def _host(url: str) -> str:
    return url.split("//", 1)[-1].split("/", 1)[0]
