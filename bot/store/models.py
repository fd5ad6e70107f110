"""SQLAlchemy models of the charging data the assistant reads, and of the handoffs it writes.

Shapes follow OCPI 2.2.1 (sessions, locations, EVSEs) and eMI3 identifiers
(contract IDs such as NL-EFL-C12345678-9, EVSE IDs such as NL*EFL*E12345*1).
"""
from __future__ import annotations

import enum
from datetime import timezone

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship
from sqlalchemy.types import TypeDecorator

from bot.domain.clock import utcnow
from bot.store.encrypted import EncryptedText

Base = declarative_base()


class UTCDateTime(TypeDecorator):
    """Stores naive UTC (SQLite keeps no zone), always hands back aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


class SessionStatus(str, enum.Enum):
    """OCPI 2.2.1 SessionStatus."""

    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    INVALID = "INVALID"
    PENDING = "PENDING"
    RESERVATION = "RESERVATION"


class Account(Base):
    __tablename__ = "accounts"
    id = Column(String(64), primary_key=True)
    name = Column(String(200), nullable=False)
    email = Column(String(200))
    cards = relationship("ChargeCard", back_populates="account", order_by="ChargeCard.contract_id")


class ChargeCard(Base):
    __tablename__ = "charge_cards"
    # Normalised contract ID (eMAID), e.g. NL-EFL-C12345678-9.
    contract_id = Column(String(40), primary_key=True)
    uid = Column(String(36), nullable=False, unique=True)  # RFID token UID
    account_id = Column(String(64), ForeignKey("accounts.id"), nullable=False, index=True)
    label = Column(String(100))
    account = relationship("Account", back_populates="cards")


class Operator(Base):
    """A charge point operator (CPO) party, with how drivers and we can reach it."""

    __tablename__ = "operators"
    __table_args__ = (UniqueConstraint("country_code", "party_id"),)
    id = Column(Integer, primary_key=True)
    country_code = Column(String(2), nullable=False)
    party_id = Column(String(3), nullable=False)
    name = Column(String(200), nullable=False)
    website = Column(String(300))
    phone = Column(String(50))
    # OCPI 2.2.1 endpoint of this operator, if we can ask it directly; the token is the
    # credentials token, stored encrypted (BOT_SECRETS_KEY; the client base64-encodes it for the header).
    ocpi_base_url = Column(String(500))
    ocpi_token = Column(EncryptedText())


class Location(Base):
    __tablename__ = "locations"
    id = Column(String(36), primary_key=True)  # OCPI location id
    operator_id = Column(Integer, ForeignKey("operators.id"), nullable=False)
    name = Column(String(255), nullable=False)
    address = Column(String(255), nullable=False)
    city = Column(String(100), nullable=False)
    country_code = Column(String(2), nullable=False)
    operator = relationship("Operator")
    evses = relationship("Evse", back_populates="location", order_by="Evse.evse_id")


class Evse(Base):
    __tablename__ = "evses"
    uid = Column(String(36), primary_key=True)  # OCPI evse uid
    evse_id = Column(String(48), nullable=False, unique=True)  # eMI3 EVSE ID, NL*EFL*E12345*1
    location_id = Column(String(36), ForeignKey("locations.id"), nullable=False, index=True)
    location = relationship("Location", back_populates="evses")


class ChargingSession(Base):
    __tablename__ = "charging_sessions"
    id = Column(String(36), primary_key=True)  # e.g. SES-104233
    country_code = Column(String(2), nullable=False)
    party_id = Column(String(3), nullable=False)  # the CPO that runs the station
    status = Column(String(16), nullable=False, default=SessionStatus.ACTIVE.value, index=True)
    start_datetime = Column(UTCDateTime, nullable=False)
    end_datetime = Column(UTCDateTime)
    kwh = Column(Float, nullable=False, default=0.0)
    card_contract_id = Column(String(40), ForeignKey("charge_cards.contract_id"), nullable=False, index=True)
    account_id = Column(String(64), ForeignKey("accounts.id"), nullable=False, index=True)
    location_id = Column(String(36), ForeignKey("locations.id"), nullable=False)
    evse_uid = Column(String(36), ForeignKey("evses.uid"), nullable=False)
    last_updated = Column(UTCDateTime, nullable=False)
    location = relationship("Location")
    evse = relationship("Evse")
    card = relationship("ChargeCard")
    readings = relationship("MeterReading", order_by="MeterReading.timestamp", back_populates="session")


class MeterReading(Base):
    """Cumulative energy register of a session (kWh since the start of the session)."""

    __tablename__ = "meter_readings"
    id = Column(Integer, primary_key=True)
    session_id = Column(String(36), ForeignKey("charging_sessions.id"), nullable=False, index=True)
    timestamp = Column(UTCDateTime, nullable=False)
    kwh = Column(Float, nullable=False)
    session = relationship("ChargingSession", back_populates="readings")


class Handoff(Base):
    """What a human agent receives, so the driver never repeats themselves."""

    __tablename__ = "handoffs"
    id = Column(Integer, primary_key=True)
    reference = Column(String(20), nullable=False, unique=True)  # told to the driver
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    conversation_id = Column(String(255), nullable=False, index=True)
    channel = Column(String(50), nullable=False)
    account_id = Column(String(64))
    card_number = Column(String(255))  # a contract ID, or the account e-mail an anonymous driver gave
    location = Column(String(255))
    session_time = Column(String(100))  # ISO 8601 when parsed
    session_id = Column(String(36))
    language = Column(String(8), nullable=False, default="en")  # the driver's: the agent answers in it
    reason = Column(String(50), nullable=False)
    findings = Column(JSON, nullable=False, default=dict)
    transcript = Column(JSON, nullable=False, default=list)
    outbox = relationship("HandoffOutbox", back_populates="handoff", uselist=False)


class DeliveryState(str, enum.Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    NOT_CONFIGURED = "not_configured"  # no webhook: agents read it in the agent view


class HandoffOutbox(Base):
    """Durable outbox: written in the same transaction as the handoff, delivered later."""

    __tablename__ = "handoff_outbox"
    id = Column(Integer, primary_key=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id"), nullable=False, unique=True)
    idempotency_key = Column(String(64), nullable=False, unique=True)
    state = Column(String(20), nullable=False, default=DeliveryState.PENDING.value, index=True)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(UTCDateTime, nullable=False, default=utcnow)
    last_error = Column(Text)
    delivered_at = Column(UTCDateTime)
    handoff = relationship("Handoff", back_populates="outbox")
