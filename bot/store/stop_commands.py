"""The audit of stop commands, "one command per session", the data that confirm a stop, the fallback close.

Every function takes a SQLAlchemy `Session` from `session_scope` (the caller owns the transaction):
a reservation is committed before the command leaves, every later step in a transaction of its own.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Optional

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.domain.stop_command import LATE_RESULT_OUTCOMES
from bot.store.command_models import BackOfficeClose, CommandAttempt
from bot.store.models import ChargingSession, SessionStatus
from bot.store.ocpi_models import OcpiCdr, OcpiCommandResult, OcpiLocation, OcpiSession


@dataclass(frozen=True)
class AttemptView:
    """An audit row as plain values (no live ORM object leaves a session)."""

    uid: str
    command: str
    session_id: str
    account_id: str
    created_at: datetime
    response: Optional[str]
    response_timeout_s: Optional[int]
    error: Optional[str]
    result: Optional[str]
    late_result: Optional[str]
    confirmed_by: Optional[str]
    outcome: Optional[str]
    next_step: Optional[str]
    finished_at: Optional[datetime]

    def to_json(self) -> dict:
        """For the handoff's findings: what the agent must know of the attempt."""
        return {"command": self.command, "at": self.created_at.isoformat(), "response": self.response,
                "error": self.error, "result": self.result, "late_result": self.late_result,
                "confirmed_by": self.confirmed_by, "outcome": self.outcome, "next_step": self.next_step}


def _view(row: CommandAttempt) -> AttemptView:
    return AttemptView(row.uid, row.command, row.session_id, row.account_id, row.created_at, row.response,
                       row.response_timeout_s, row.error, row.result, row.late_result, row.confirmed_by,
                       row.outcome, row.next_step, row.finished_at)


def reserve_attempt(db: Session, uid: str, command: str, session_id: str, account_id: str,
                    now: datetime) -> bool:
    """The audit row, written before the command is sent. False when this session already had one:
    the unique constraint decides, so two servers racing for the same session cannot both send."""
    try:
        with db.begin_nested():
            db.add(CommandAttempt(uid=uid, command=command, session_id=session_id, account_id=account_id,
                                  created_at=now))
    except IntegrityError:
        return False
    return True


def attempt_for_session(db: Session, command: str, session_id: str) -> Optional[AttemptView]:
    row = db.execute(select(CommandAttempt).where(CommandAttempt.command == command,
                                                  CommandAttempt.session_id == session_id)).scalar_one_or_none()
    return _view(row) if row is not None else None


def attempt(db: Session, uid: str) -> Optional[AttemptView]:
    row = db.execute(select(CommandAttempt).where(CommandAttempt.uid == uid)).scalar_one_or_none()
    return _view(row) if row is not None else None


def record_response(db: Session, uid: str, response: Optional[str], timeout_s: Optional[int],
                    message: Optional[str], error: Optional[str]) -> None:
    db.execute(update(CommandAttempt).where(CommandAttempt.uid == uid).values(
        response=response, response_timeout_s=timeout_s, response_message=(message or None) and message[:2000],
        error=error and error[:200]))


def record_outcome(db: Session, uid: str, result: Optional[str], result_at: Optional[datetime],
                   confirmed_by: Optional[str], outcome: str, next_step: str, now: datetime) -> None:
    """The attempt's end. An outcome decided without a result may have missed one by a moment: the receiver
    writes a late result onto rows that already carry such an outcome, so what arrived between our last look
    and this write is picked up here (this UPDATE comes first: it takes the row's write lock)."""
    db.execute(update(CommandAttempt).where(CommandAttempt.uid == uid).values(
        result=result, result_at=result_at, confirmed_by=confirmed_by, outcome=outcome, next_step=next_step,
        finished_at=now))
    if outcome in LATE_RESULT_OUTCOMES:
        row = db.execute(select(CommandAttempt.command).where(CommandAttempt.uid == uid)).first()
        late = received_result(db, row.command, uid) if row is not None else None
        if late is not None:
            db.execute(update(CommandAttempt).where(CommandAttempt.uid == uid,
                                                    CommandAttempt.late_result.is_(None)).values(
                late_result=late.result))


@dataclass(frozen=True)
class ReceivedResult:
    result: str
    message: Optional[str]
    received_at: datetime


def received_result(db: Session, command: str, uid: str) -> Optional[ReceivedResult]:
    """The CommandResult the CPO posted to our receiver for this attempt (bot.apps.ocpi_receiver)."""
    row = db.execute(select(OcpiCommandResult.result, OcpiCommandResult.message, OcpiCommandResult.received_at)
                     .where(OcpiCommandResult.command == command, OcpiCommandResult.uid == uid.upper())).first()
    return ReceivedResult(row.result, row.message, row.received_at) if row is not None else None


def record_late_results(db: Session, session_id: Optional[str] = None) -> int:
    """Results that arrived after we stopped waiting (of one session, or all): kept on the audit row, never
    acted on (the driver was already told, and a person has it). Returns how many rows were completed.

    The receiver already writes them on arrival (`ocpi_ingest.store_command_result`); this sweeps up rows of
    results stored before it did."""
    query = select(CommandAttempt).where(CommandAttempt.outcome.in_(LATE_RESULT_OUTCOMES),
                                         CommandAttempt.late_result.is_(None))
    if session_id is not None:
        query = query.where(CommandAttempt.session_id == session_id)
    rows = db.execute(query).scalars().all()
    done = 0
    for row in rows:
        late = received_result(db, row.command, row.uid)
        if late is not None:
            row.late_result = late.result
            done += 1
    return done


# --- what confirms that a session has ended: the data the CPO sent us ---------------------------------


def ended_in_received_data(db: Session, session_id: str, party_ids: Iterable[str], location_id: Optional[str],
                           evse_uid: Optional[str]) -> Optional[str]:
    """Why the data say the session is over, or None: the CPO's session COMPLETED, a CDR for it, or the EVSE
    AVAILABLE again (all as the receiver stored them, for the own parties only)."""
    parties = [p.upper() for p in party_ids]
    status = db.execute(select(OcpiSession.status).where(OcpiSession.session_id == session_id,
                                                         OcpiSession.party_id.in_(parties))).scalars().first()
    if status == SessionStatus.COMPLETED.value:
        return "session_completed"
    cdr = db.execute(select(OcpiCdr.id).where(OcpiCdr.session_id == session_id,
                                              OcpiCdr.party_id.in_(parties)).limit(1)).first()
    if cdr is not None:
        return "cdr"
    if evse_status(db, parties, location_id, evse_uid) == "AVAILABLE":
        return "evse_available"
    return None


def session_evse(db: Session, session_id: str) -> Optional[str]:
    """The OCPI EVSE uid a charging session runs on (SessionCase names only the eMI3 EVSE ID)."""
    return db.execute(select(ChargingSession.evse_uid).where(ChargingSession.id == session_id)).scalar_one_or_none()


def evse_status(db: Session, party_ids: Iterable[str], location_id: Optional[str],
                evse_uid: Optional[str]) -> Optional[str]:
    """The EVSE's status as the own CPO last pushed it (Locations module), upper case; None when unknown."""
    if not location_id or not evse_uid:
        return None
    parties = [p.upper() for p in party_ids]
    raw = db.execute(select(OcpiLocation.object).where(OcpiLocation.location_id == location_id.upper(),
                                                       OcpiLocation.party_id.in_(parties))).scalars().first()
    if raw is None:
        return None
    try:
        evses = json.loads(raw).get("evses") or []
    except (ValueError, AttributeError):
        return None
    for evse in evses:
        if isinstance(evse, dict) and str(evse.get("uid", "")).upper() == evse_uid.upper():
            status = evse.get("status")
            return status.upper() if isinstance(status, str) else None
    return None


# --- the fallback: closed in our own data, for review -------------------------------------------------


def mark_stopped(db: Session, session_id: str, final_kwh: float, now: datetime) -> None:
    """A stop the CPO confirmed: our copy shows it ended at once (the driver was told so), before the CPO's
    own push reaches the receiver, which then settles it as usual."""
    db.execute(update(ChargingSession).where(ChargingSession.id == session_id,
                                             ChargingSession.status == SessionStatus.ACTIVE.value).values(
        status=SessionStatus.COMPLETED.value, end_datetime=now, kwh=final_kwh, last_updated=now))


def back_office_close(db: Session, uid: str, session_id: str, final_kwh: float, ended_at: datetime,
                      reason: str, now: datetime) -> None:
    """Marks the session ended in our data with its last meter value, and records why, for review."""
    attempt_id = db.execute(select(CommandAttempt.id).where(CommandAttempt.uid == uid)).scalar_one()
    db.execute(update(ChargingSession).where(ChargingSession.id == session_id,
                                             ChargingSession.status == SessionStatus.ACTIVE.value).values(
        status=SessionStatus.COMPLETED.value, end_datetime=ended_at, kwh=final_kwh, last_updated=now))
    db.add(BackOfficeClose(session_id=session_id, attempt_id=attempt_id, closed_at=now, ended_at=ended_at,
                           final_kwh=final_kwh, reason=reason[:200], needs_review=True))


# --- for the people who review: every attempt, and the closes awaiting review -------------------------


def recent_attempts(db: Session, limit: int = 50) -> list:
    """The newest attempts first (every one, whatever came of it)."""
    rows = db.execute(select(CommandAttempt).order_by(CommandAttempt.created_at.desc(), CommandAttempt.id.desc())
                      .limit(max(1, limit))).scalars().all()
    return [_view(r) for r in rows]


@dataclass(frozen=True)
class CloseView:
    """A back-office close as plain values, with who asked for the stop that led to it (an account)."""

    session_id: str
    account_id: str
    closed_at: datetime
    ended_at: datetime
    final_kwh: float
    reason: str
    needs_review: bool
    reviewed_at: Optional[datetime]


def back_office_closes(db: Session, pending_only: bool = False) -> list:
    """Back-office closes, oldest first (the longest waiting on top); `pending_only`: those awaiting review."""
    query = (select(BackOfficeClose, CommandAttempt.account_id)
             .join(CommandAttempt, CommandAttempt.id == BackOfficeClose.attempt_id)
             .order_by(BackOfficeClose.closed_at, BackOfficeClose.id))
    if pending_only:
        query = query.where(BackOfficeClose.needs_review.is_(True))
    return [CloseView(c.session_id, account_id, c.closed_at, c.ended_at, c.final_kwh, c.reason, c.needs_review,
                      c.reviewed_at) for c, account_id in db.execute(query).all()]


def mark_reviewed(db: Session, session_id: str, now: datetime) -> Optional[bool]:
    """Marks a session's back-office close reviewed. True: done now; False: it already was; None: no such close."""
    row = db.execute(select(BackOfficeClose).where(BackOfficeClose.session_id == session_id)).scalar_one_or_none()
    if row is None:
        return None
    if not row.needs_review:
        return False
    row.needs_review, row.reviewed_at = False, now
    return True
