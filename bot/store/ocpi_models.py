"""Tables of the OCPI 2.2.1 eMSP receiver: who may push (registrations), and what they pushed.

They share `Base` with the charging tables (`bot/store/models.py`), so `create_schema` makes them too.
What the assistant reads stays in the charging tables: a received session for one of our cards is
mirrored into `charging_sessions` (and its location into `locations`/`evses`); its kWh history lives in
`ocpi_readings`, which `charging_repo` reads beside `meter_readings`.

Credentials tokens are never stored in clear: tokens A and C (the ones peers present to us) as
SHA-256 digests (they are 256-bit random values, so a plain digest cannot be reversed or guessed),
token B (the one we present to the peer) encrypted (`bot.store.encrypted`, key `BOT_SECRETS_KEY`).
"""
from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)

from bot.domain.clock import utcnow
from bot.store.encrypted import EncryptedText
from bot.store.models import Base, UTCDateTime

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants 64 bits for a table of readings.
BigId = BigInteger().with_variant(Integer, "sqlite")


class OcpiRegistration(Base):
    """One peer platform: the token A we issued, then the token C it uses, and how we reach it."""

    __tablename__ = "ocpi_registrations"
    id = Column(Integer, primary_key=True)
    label = Column(String(200), nullable=False)  # who we gave token A to, for people
    token_a_sha256 = Column(String(64), unique=True)  # null once registered (token A is thrown away)
    token_c_sha256 = Column(String(64), unique=True)  # null until registered
    token_b = Column(EncryptedText)  # what we send to the peer; encrypted at rest
    versions_url = Column(String(255))
    version_endpoints = Column(JSON)  # the peer's 2.2.1 endpoints, as its version details listed them
    state = Column(String(16), nullable=False, default="pending")  # pending, registered, unregistered
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)


class OcpiParty(Base):
    """A party (country code + party ID + role) a registration speaks for: the paths its token may write."""

    __tablename__ = "ocpi_parties"
    __table_args__ = (UniqueConstraint("country_code", "party_id", "role"),)
    id = Column(Integer, primary_key=True)
    registration_id = Column(Integer, ForeignKey("ocpi_registrations.id", ondelete="CASCADE"), nullable=False,
                             index=True)
    country_code = Column(String(2), nullable=False)
    party_id = Column(String(3), nullable=False)
    role = Column(String(8), nullable=False)
    name = Column(String(100), nullable=False)
    website = Column(String(255))


class OcpiSession(Base):
    """A Session as the CPO last sent it, keyed as OCPI keys it (country code, party ID, id)."""

    __tablename__ = "ocpi_sessions"
    __table_args__ = (UniqueConstraint("country_code", "party_id", "session_id"),)
    id = Column(BigId, primary_key=True)
    country_code = Column(String(2), nullable=False)
    party_id = Column(String(3), nullable=False)
    session_id = Column(String(36), nullable=False, index=True)  # the assistant reads a mirrored one by id
    status = Column(String(16), nullable=False, index=True)
    kwh = Column(Float, nullable=False)
    start_datetime = Column(UTCDateTime, nullable=False)
    end_datetime = Column(UTCDateTime)
    last_updated = Column(UTCDateTime, nullable=False, index=True)
    location_id = Column(String(36), nullable=False)
    evse_uid = Column(String(36), nullable=False)
    token_uid = Column(String(36), nullable=False)
    contract_id = Column(String(36), nullable=False)
    # The card is not one of ours (or not yet): kept, not mirrored, listed by `bot ocpi-flagged`.
    unknown_card = Column(Boolean, nullable=False, default=False, index=True)
    # Why it is not mirrored into charging_sessions although the card is ours (id taken by another party).
    conflict = Column(String(100))
    mirrored = Column(Boolean, nullable=False, default=False)  # charging_sessions.id == session_id
    cdr_id = Column(String(39))  # set once a CDR settled it: later updates cannot reopen it
    readings_compacted_at = Column(UTCDateTime)
    object = Column(Text, nullable=False)  # the Session as stored (JSON), for GET
    received_at = Column(UTCDateTime, nullable=False, default=utcnow)


class OcpiReading(Base):
    """One kWh value of a session, from an update that carried `kwh` (cumulative, since the start)."""

    __tablename__ = "ocpi_readings"
    __table_args__ = (UniqueConstraint("session_ref", "timestamp", name="uq_ocpi_readings_session_time"),)
    id = Column(BigId, primary_key=True)
    session_ref = Column(BigId, ForeignKey("ocpi_sessions.id", ondelete="CASCADE"), nullable=False)
    timestamp = Column(UTCDateTime, nullable=False)
    kwh = Column(Float, nullable=False)


class OcpiCdr(Base):
    __tablename__ = "ocpi_cdrs"
    __table_args__ = (UniqueConstraint("country_code", "party_id", "cdr_id"),
                      Index("ix_ocpi_cdrs_session", "country_code", "party_id", "session_id"))
    id = Column(BigId, primary_key=True)
    country_code = Column(String(2), nullable=False)
    party_id = Column(String(3), nullable=False)
    cdr_id = Column(String(39), nullable=False)
    session_id = Column(String(36))
    total_energy = Column(Float, nullable=False)
    start_datetime = Column(UTCDateTime, nullable=False)
    end_datetime = Column(UTCDateTime, nullable=False)
    last_updated = Column(UTCDateTime, nullable=False)
    contract_id = Column(String(36), nullable=False)
    unknown_card = Column(Boolean, nullable=False, default=False)
    object = Column(Text, nullable=False)
    received_at = Column(UTCDateTime, nullable=False, default=utcnow)


class OcpiLocation(Base):
    """A Location with its EVSEs and connectors as the CPO last sent them (JSON), for their status."""

    __tablename__ = "ocpi_locations"
    __table_args__ = (UniqueConstraint("country_code", "party_id", "location_id"),)
    id = Column(BigId, primary_key=True)
    country_code = Column(String(2), nullable=False)
    party_id = Column(String(3), nullable=False)
    location_id = Column(String(36), nullable=False)
    last_updated = Column(UTCDateTime, nullable=False)
    conflict = Column(String(100))  # not mirrored into locations (id taken by another operator)
    object = Column(Text, nullable=False)


class OcpiCommandResult(Base):
    """An asynchronous CommandResult a CPO posted to a response_url we gave it."""

    __tablename__ = "ocpi_command_results"
    __table_args__ = (UniqueConstraint("command", "uid"),)
    id = Column(Integer, primary_key=True)
    registration_id = Column(Integer, ForeignKey("ocpi_registrations.id", ondelete="CASCADE"), nullable=False)
    command = Column(String(20), nullable=False)
    uid = Column(String(36), nullable=False)
    result = Column(String(30), nullable=False)
    message = Column(Text)
    received_at = Column(UTCDateTime, nullable=False, default=utcnow)
