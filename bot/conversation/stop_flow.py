"""Closing a stale session for the driver (issue 15): the offer, and what happens after their yes.

`offer` turns step 3 at an own station into "I can close session SES-… now. Its final energy is 16.5 kWh.
Shall I?" when bot.domain.stop_offer allows it. `carry_out` runs after a yes: it checks everything again from
fresh data (the kWh may have moved since the offer, the session must still be this account's), sends the
command (bot.integrations.stop_session) and says in plain words what came of it. The turn
(bot.conversation.turn) asks the question and starts a handoff when this says so.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import List, Optional, Tuple

from bot.conversation import replies
from bot.conversation.replies import Reply
from bot.conversation.triage import TriageInput, TriageResult, triage
from bot.domain.identity import Identity
from bot.domain.outcomes import Outcome
from bot.domain.stop_command import STOP_SESSION, NextStep, StopOutcome
from bot.domain.stop_offer import NoOffer, StopOffer, stop_offer
from bot.integrations.stop_session import StopRequest, stop_session
from bot.settings import Settings
from bot.store import charging_repo, stop_commands
from bot.store.charging_repo import SessionCase
from bot.store.db import session_scope

# The pending question a yes or no answers (the `pending_question` slot).
STOP_QUESTION = "stop_session"


@dataclass
class StopTurn:
    replies: List[Reply] = field(default_factory=list)
    handoff: bool = False  # a person takes over (the reply has announced it)
    outcome: Optional[str] = None  # bot.domain.stop_command.StopOutcome value, or "recheck_failed"
    result: Optional[TriageResult] = None  # when the fresh check no longer allows a stop: the article's step


@dataclass(frozen=True)
class _Stored:
    """What only the store knows about the session, read once per check."""

    case: Optional[SessionCase]  # None: not this account's session
    evse_uid: Optional[str]
    evse_status: Optional[str]
    tried: bool  # a command was already sent for it


def _check(settings: Settings, identity: Optional[Identity], result: TriageResult,
           now: datetime) -> Tuple[StopOffer, Optional[_Stored]]:
    """The domain's verdict on offering a stop for this triage result, with the facts only the store knows."""
    if identity is None or result.verdict is None or result.session_id is None:
        return stop_offer(None, identified=identity is not None, owns_session=False, last_updated=None,
                          evse_status=None, already_tried=False, now=now, policy=settings.policy), None
    with session_scope(settings) as db:
        case = charging_repo.session_case(db, identity.account_id, result.session_id)
        evse_uid = stop_commands.session_evse(db, result.session_id) if case else None
        stored = _Stored(case, evse_uid,
                         stop_commands.evse_status(db, settings.policy.own_party_ids,
                                                   case.location_id if case else None, evse_uid),
                         stop_commands.attempt_for_session(db, STOP_SESSION, result.session_id) is not None)
    return stop_offer(result.verdict, identified=True, owns_session=case is not None,
                      last_updated=case.facts.last_updated if case else None, evse_status=stored.evse_status,
                      already_tried=stored.tried, now=now, policy=settings.policy), stored


def offer(settings: Settings, identity: Optional[Identity], result: TriageResult, cannot_start: bool,
          now: datetime) -> Optional[Reply]:
    """The offer to close the session now, or None (then step 3 goes to a person, as without this feature)."""
    if not settings.stop.enabled or result.outcome is not Outcome.OWN_STATION_PERSON:
        return None
    checked, _ = _check(settings, identity, result, now)
    if not checked.offered:
        return None
    return replies.stop_offer(result.session_id, result.verdict, checked.final_kwh, settings, cannot_start)


def carry_out(settings: Settings, identity: Optional[Identity], session_id: Optional[str], cannot_start: bool,
              now: datetime) -> StopTurn:
    """After the driver's yes: check again, send the command, tell the driver what happened."""
    if identity is None or session_id is None or not settings.stop.enabled:
        return StopTurn(outcome="recheck_failed")
    result = triage(settings, TriageInput(identity=identity, session_id=session_id, driver_cannot_start=cannot_start),
                    now)
    checked, stored = _check(settings, identity, result, now) if result.outcome is Outcome.OWN_STATION_PERSON \
        else (None, None)
    if checked is None or stored is None or stored.case is None or not checked.offered:
        if checked is not None and checked.why_not is NoOffer.ALREADY_TRIED:
            return StopTurn([replies.stop_told("already_tried", session_id, None)], handoff=True,
                            outcome=StopOutcome.ALREADY_TRIED.value)
        # Something changed since the offer (kWh rising, the station talking again, not theirs): no command.
        return StopTurn(outcome="recheck_failed", result=result)
    case = stored.case
    final_kwh = checked.final_kwh if checked.final_kwh is not None else case.facts.kwh
    report = stop_session(settings, StopRequest(
        session_id=session_id, account_id=identity.account_id, final_kwh=final_kwh,
        ended_at=result.verdict.last_reading_at or now, start=case.facts.start, location_id=case.location_id,
        evse_uid=stored.evse_uid))
    if report.next_step is NextStep.TELL_STOPPED:
        return StopTurn([replies.stop_told("stopped", session_id, final_kwh)], outcome=report.outcome.value)
    if report.next_step is NextStep.BACK_OFFICE_CLOSE:
        return StopTurn([replies.stop_told("back_office_close", session_id, final_kwh)], outcome=report.outcome.value)
    return StopTurn([replies.stop_told(report.outcome.value, session_id, final_kwh)], handoff=True,
                    outcome=report.outcome.value)


def attempt_findings(settings: Settings, session_id: Optional[str]) -> Optional[dict]:
    """The stop attempt for a handoff's findings (what the agent must know before acting), or None."""
    if not session_id:
        return None
    with session_scope(settings) as db:
        stop_commands.record_late_results(db, session_id)  # a result that came after we stopped waiting, too
        found = stop_commands.attempt_for_session(db, STOP_SESSION, session_id)
    return found.to_json() if found is not None else None
