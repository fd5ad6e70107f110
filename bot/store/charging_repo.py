"""Reads of the charging database, always scoped to one account.

Returns plain values (the diagnosis types and small dataclasses), never live ORM
objects, so callers hold no session and no lazy loads happen after it closes.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import List, Optional, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from bot.domain.diagnosis import Reading, SessionFacts, Station
from bot.store.models import ChargeCard, ChargingSession, Location, Operator, SessionStatus
from bot.store.ocpi_ingest import readings_for_session


@dataclass(frozen=True)
class SessionCase:
    """Everything the assistant needs about one session to diagnose it and hand it off."""

    facts: SessionFacts
    readings: Sequence[Reading]
    station: Station
    card_number: str
    account_id: str
    location_id: str
    operator_ocpi_url: Optional[str]
    operator_ocpi_token: Optional[str]


@dataclass(frozen=True)
class SessionSummary:
    """What a button offering a session shows."""

    session_id: str
    location_name: str
    city: str
    start: datetime
    status: str
    operator_name: str = ""
    address: str = ""


def _session_query():
    return select(ChargingSession).options(
        joinedload(ChargingSession.location).joinedload(Location.operator),
        joinedload(ChargingSession.evse),
        selectinload(ChargingSession.readings),
    )


def _to_case(row: ChargingSession) -> SessionCase:
    operator = row.location.operator
    return SessionCase(
        facts=SessionFacts(
            session_id=row.id,
            status=row.status,
            start=row.start_datetime,
            end=row.end_datetime,
            kwh=row.kwh,
            last_updated=row.last_updated,
        ),
        readings=tuple(Reading(timestamp=r.timestamp, kwh=r.kwh) for r in row.readings),
        station=Station(
            party_id=row.party_id,
            operator_name=operator.name,
            operator_website=operator.website,
            operator_phone=operator.phone,
            location_name=row.location.name,
            city=row.location.city,
            evse_id=row.evse.evse_id,
        ),
        card_number=row.card_contract_id,
        account_id=row.account_id,
        location_id=row.location_id,
        operator_ocpi_url=operator.ocpi_base_url,
        operator_ocpi_token=operator.ocpi_token,
    )


def active_sessions(db: Session, account_id: str) -> List[SessionSummary]:
    rows = db.execute(
        select(ChargingSession)
        .options(joinedload(ChargingSession.location).joinedload(Location.operator))
        .where(ChargingSession.account_id == account_id, ChargingSession.status == SessionStatus.ACTIVE.value)
        .order_by(ChargingSession.start_datetime.desc())
    ).scalars()
    return [_summary(r) for r in rows]


def _summary(r: ChargingSession) -> SessionSummary:
    return SessionSummary(r.id, r.location.name, r.location.city, r.start_datetime, r.status,
                          r.location.operator.name, r.location.address)


def recent_sessions(db: Session, account_id: str, limit: int = 10) -> List[SessionSummary]:
    """The account's sessions, newest first, whatever their status."""
    rows = db.execute(
        select(ChargingSession)
        .options(joinedload(ChargingSession.location).joinedload(Location.operator))
        .where(ChargingSession.account_id == account_id)
        .order_by(ChargingSession.start_datetime.desc())
        .limit(limit)
    ).scalars()
    return [_summary(r) for r in rows]


def latest_session(db: Session, account_id: str) -> Optional[SessionSummary]:
    row = db.execute(
        select(ChargingSession)
        .options(joinedload(ChargingSession.location).joinedload(Location.operator))
        .where(ChargingSession.account_id == account_id)
        .order_by(ChargingSession.start_datetime.desc())
        .limit(1)
    ).scalar_one_or_none()
    return _summary(row) if row is not None else None


def session_case(db: Session, account_id: str, session_id: str) -> Optional[SessionCase]:
    """The session if it belongs to this account; None otherwise (no hint that it exists)."""
    row = db.execute(
        _session_query().where(ChargingSession.id == session_id, ChargingSession.account_id == account_id)
    ).unique().scalar_one_or_none()
    if row is None:
        return None
    case = _to_case(row)
    received = readings_for_session(db, row.id)  # kWh the station's CPO pushed (OCPI receiver)
    if received:
        merged = {r.timestamp: r for r in case.readings}
        merged.update((t, Reading(timestamp=t, kwh=k)) for t, k in received)
        case = replace(case, readings=tuple(merged[t] for t in sorted(merged)))
    return case


def owns_session(db: Session, account_id: str, session_id: str) -> bool:
    """Whether the session is this account's: one indexed lookup, without the session's history."""
    return db.execute(
        select(ChargingSession.id).where(ChargingSession.id == session_id, ChargingSession.account_id == account_id)
    ).first() is not None


def account_cards(db: Session, account_id: str) -> List[str]:
    return list(
        db.execute(
            select(ChargeCard.contract_id).where(ChargeCard.account_id == account_id).order_by(ChargeCard.contract_id)
        ).scalars()
    )


@dataclass(frozen=True)
class OperatorContact:
    name: str
    party_id: str
    website: Optional[str]
    phone: Optional[str]


def operator_contact(db: Session, name: str) -> Optional[OperatorContact]:
    """A charge point operator's public contact details, by its name (no driver data)."""
    row = db.execute(select(Operator).where(func.lower(Operator.name) == name.strip().lower()).limit(1)
                     ).scalar_one_or_none()
    return OperatorContact(row.name, row.party_id, row.website, row.phone) if row is not None else None
