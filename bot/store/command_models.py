"""Tables of the commands the assistant sends to a CPO (OCPI 2.2.1 Commands), and what followed.

`command_attempts` is the audit: one row per attempt, written before the command leaves (so even a
crash mid-way leaves a trace), completed with the CPO's answer, the charger's result and the outcome.
Its unique (command, session_id) is what makes "one command per session" hold across action servers.
`back_office_closes` records the fallback: a session we marked ended ourselves, for a person to review.
"""
from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, ForeignKey, Integer, String, Text, UniqueConstraint

from bot.domain.clock import utcnow
from bot.store.models import Base, UTCDateTime


class CommandAttempt(Base):
    __tablename__ = "command_attempts"
    __table_args__ = (UniqueConstraint("command", "session_id", name="uq_command_attempts_one_per_session"),)
    id = Column(Integer, primary_key=True)
    uid = Column(String(36), nullable=False, unique=True)  # in our response_url: matches the CommandResult
    command = Column(String(20), nullable=False)  # STOP_SESSION
    session_id = Column(String(36), nullable=False, index=True)
    account_id = Column(String(64), nullable=False)  # who asked: the verified account
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    response = Column(String(20))  # CommandResponseType; null: the CPO never answered
    response_timeout_s = Column(Integer)  # the CPO's timeout for the result
    response_message = Column(Text)
    error = Column(String(200))  # why there was no answer (timeout, unreachable, protocol)
    result = Column(String(30))  # CommandResultType received in time; null: none
    result_at = Column(UTCDateTime)
    late_result = Column(String(30))  # a CommandResult that came after we stopped waiting
    confirmed_by = Column(String(20))  # session_completed | cdr | evse_available | cpo_session
    outcome = Column(String(20))  # bot.domain.stop_command.StopOutcome; null while under way
    next_step = Column(String(20))  # bot.domain.stop_command.NextStep
    finished_at = Column(UTCDateTime)


class BackOfficeClose(Base):
    __tablename__ = "back_office_closes"
    id = Column(Integer, primary_key=True)
    session_id = Column(String(36), nullable=False, unique=True)
    attempt_id = Column(Integer, ForeignKey("command_attempts.id"), nullable=False)
    closed_at = Column(UTCDateTime, nullable=False, default=utcnow)
    ended_at = Column(UTCDateTime, nullable=False)  # the session's end as we recorded it (its last reading)
    final_kwh = Column(Float, nullable=False)  # the last meter value: what is billed
    reason = Column(String(200), nullable=False)
    needs_review = Column(Boolean, nullable=False, default=True)
    reviewed_at = Column(UTCDateTime)
