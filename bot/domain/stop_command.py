"""What one OCPI 2.2.1 STOP_SESSION attempt came to, and what the assistant does about it.

Pure: the immediate CommandResponse, the asynchronous CommandResult (or its absence) and whether the
data confirm the end go in; one `StopOutcome` comes out, and `next_step` maps it to what the brand has
configured. Kept apart from the HTTP and the database so every combination is unit-tested.
"""
from __future__ import annotations

from enum import Enum
from typing import Optional

STOP_SESSION = "STOP_SESSION"

# OCPI 2.2.1 CommandResponseType (the CPO's answer at once) and CommandResultType (the charger's, later).
RESPONSE_TYPES = frozenset({"ACCEPTED", "REJECTED", "NOT_SUPPORTED", "UNKNOWN_SESSION"})
RESULT_TYPES = frozenset({"ACCEPTED", "CANCELED_RESERVATION", "EVSE_OCCUPIED", "EVSE_INOPERATIVE", "FAILED",
                          "NOT_SUPPORTED", "REJECTED", "TIMEOUT", "UNKNOWN_RESERVATION"})


class StopOutcome(str, Enum):
    STOPPED = "stopped"  # accepted, and the data show the end (session COMPLETED, a CDR, EVSE AVAILABLE)
    NOT_CONFIRMED = "not_confirmed"  # the charger said ACCEPTED but no data show the end yet
    REJECTED = "rejected"  # refused by the CPO or the charger: usually a charger that forgot the transaction
    NOT_SUPPORTED = "not_supported"  # this CPO or charger cannot stop sessions remotely
    FAILED = "failed"  # the charger answered, but not with a stop (FAILED, TIMEOUT, ...)
    NO_RESULT = "no_result"  # accepted, but no CommandResult within the timeout: unknown
    UNREACHABLE = "unreachable"  # the CPO did not answer the command (down, timeout, not an OCPI answer)
    ALREADY_TRIED = "already_tried"  # one command per session: a repeat is refused before sending


# Outcomes decided without the charger's result: a CommandResult arriving after them is kept on the audit row
# as `late_result` (never acted on: the driver was told, and a person has it).
LATE_RESULT_OUTCOMES = frozenset({StopOutcome.NO_RESULT.value, StopOutcome.UNREACHABLE.value})


class NextStep(str, Enum):
    TELL_STOPPED = "tell_stopped"
    BACK_OFFICE_CLOSE = "back_office_close"  # marked ended in our data, flagged for review
    HANDOFF = "handoff"  # a person, with the attempt in the findings


FALLBACKS = frozenset({NextStep.BACK_OFFICE_CLOSE.value, NextStep.HANDOFF.value})

# Where the charger (or CPO) said no: the configured fallback applies. The charger of a stale session
# usually no longer knows the transaction, so REJECTED and UNKNOWN_SESSION are the expected answers.
_REFUSALS = {"REJECTED", "UNKNOWN_SESSION"}


def outcome_of(response: Optional[str], result: Optional[str], confirmed: bool) -> StopOutcome:
    """The attempt's outcome. `response` None: the CPO never answered; `result` None: no CommandResult in time."""
    if response is None or response not in RESPONSE_TYPES:
        return StopOutcome.UNREACHABLE
    if response in _REFUSALS:
        return StopOutcome.REJECTED
    if response == "NOT_SUPPORTED":
        return StopOutcome.NOT_SUPPORTED
    if result is None:
        return StopOutcome.NO_RESULT
    if result == "ACCEPTED":
        return StopOutcome.STOPPED if confirmed else StopOutcome.NOT_CONFIRMED
    if result == "REJECTED":
        return StopOutcome.REJECTED
    if result == "NOT_SUPPORTED":
        return StopOutcome.NOT_SUPPORTED
    return StopOutcome.FAILED


def next_step(outcome: StopOutcome, fallback: str) -> NextStep:
    """Only a refusal takes the configured fallback: when the outcome is unknown (no result, no answer,
    not confirmed) the charger may still act, so closing it in our data would guess; a person looks."""
    if outcome is StopOutcome.STOPPED:
        return NextStep.TELL_STOPPED
    if outcome is StopOutcome.REJECTED and fallback == NextStep.BACK_OFFICE_CLOSE.value:
        return NextStep.BACK_OFFICE_CLOSE
    return NextStep.HANDOFF
