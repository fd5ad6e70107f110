"""One turn of the article's flow, in plain Python: which session, what verdict, what to say.

The Rasa action is a thin adapter around `triage`; everything here runs (and is
tested) against a real database without Rasa.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Optional, Tuple

from bot.store import charging_repo

from bot.conversation import replies
from bot.store.charging_repo import SessionCase
from bot.store.db import session_scope
from bot.domain.diagnosis import KwhTrend, Reading, Verdict, diagnose
from bot.domain.findings import Findings, ProviderFindings
from bot.domain.identity import Identity
from bot.domain.outcomes import Outcome, ProviderOutcome
from bot.integrations.provider_status import ProviderView, check_provider
from bot.conversation.replies import Reply
from bot.conversation.session_choice import named
from bot.settings import Settings

_DRIVER_KWH = {"rising": KwhTrend.RISING, "flat": KwhTrend.FLAT}


@dataclass(frozen=True)
class TriageInput:
    identity: Optional[Identity]
    session_id: Optional[str] = None        # typed or picked by the driver
    typed_identifier: bool = False          # the driver typed a card number or session ID
    driver_cannot_start: bool = False
    kwh_reported: Optional[str] = None      # "rising" / "flat", what the driver told us
    message: str = ""                       # the driver's words, which may name an ended session


@dataclass(frozen=True)
class TriageResult:
    outcome: Outcome
    reply: Reply
    findings: Findings
    session_id: Optional[str] = None
    verdict: Optional[Verdict] = None  # when one session of the driver's was diagnosed


def triage(settings: Settings, request: TriageInput, now: datetime) -> TriageResult:
    if request.identity is None:
        return TriageResult(
            Outcome.ANONYMOUS,
            replies.anonymous_reply(request.kwh_reported, request.driver_cannot_start,
                                    request.typed_identifier, settings),
            _undiagnosed(Outcome.ANONYMOUS, request, identified=False),
        )
    account_id = request.identity.account_id
    with session_scope(settings) as db:
        if request.session_id:
            case = charging_repo.session_case(db, account_id, request.session_id)
            if case is None:
                active = charging_repo.active_sessions(db, account_id)
                reply = replies.unknown_session_reply(request.session_id)
                if active:
                    choose = replies.choose_session_reply(active, settings)
                    reply = Reply(reply.text, choose.buttons)
                return TriageResult(Outcome.UNKNOWN_SESSION, reply, _undiagnosed(Outcome.UNKNOWN_SESSION, request))
        else:
            active = charging_repo.active_sessions(db, account_id)
            if not active:
                recent = charging_repo.recent_sessions(db, account_id)
                # The one they named by place or operator ("the one at Vianen last week") becomes the
                # session talked about; else their latest is shown. By name only: "my last one" is no order here.
                pointed = named(request.message, recent) if len(recent) > 1 else None
                latest = next((r for r in recent if r.session_id == pointed), recent[0] if recent else None)
                return TriageResult(Outcome.NO_SESSION, replies.no_active_session_reply(latest, settings),
                                    _undiagnosed(Outcome.NO_SESSION, request), session_id=pointed)
            if len(active) > 1:
                return TriageResult(Outcome.CHOOSE_SESSION, replies.choose_session_reply(active, settings),
                                    _undiagnosed(Outcome.CHOOSE_SESSION, request))
            case = charging_repo.session_case(db, account_id, active[0].session_id)
    return _diagnose_case(settings, case, request, now)


def _undiagnosed(outcome: Outcome, request: TriageInput, identified: bool = True) -> Findings:
    return Findings(outcome, identified=identified, kwh_reported_by_driver=request.kwh_reported,
                    driver_cannot_start=request.driver_cannot_start)


def _ask_provider(settings: Settings, case: SessionCase) -> Optional[ProviderView]:
    """The provider's own view of the session, when we can ask it (OCPI); None when not configured."""
    if not case.operator_ocpi_url:
        return None
    return check_provider(case.operator_ocpi_url, case.operator_ocpi_token, case.facts.session_id,
                          case.location_id, case.facts.start, timeout_s=settings.ocpi_timeout_s)


def _with_provider_data(case: SessionCase, view: Optional[ProviderView]
                        ) -> Tuple[SessionCase, Optional[ProviderFindings]]:
    """Folds what the provider said into the case: its newest meter value and its contact details."""
    if view is None:
        return case, None
    found = ProviderFindings(view.outcome, status=view.status, kwh=view.kwh, reason=view.reason,
                             last_updated=view.last_updated)
    if view.operator is not None:
        case = replace(case, station=replace(
            case.station,
            operator_name=view.operator.name or case.station.operator_name,
            operator_website=view.operator.website or case.station.operator_website,
            operator_phone=view.operator.phone or case.station.operator_phone,
        ))
    if view.outcome is ProviderOutcome.ACTIVE and view.kwh is not None and view.last_updated is not None:
        case = replace(case, readings=tuple(case.readings) + (Reading(view.last_updated, view.kwh),))
    return case, found


def _diagnose_case(settings: Settings, case: SessionCase, request: TriageInput, now: datetime) -> TriageResult:
    view = _ask_provider(settings, case)
    case, provider_findings = _with_provider_data(case, view)
    verdict = diagnose(
        case.facts, case.readings, case.station, now, settings.policy,
        driver_cannot_start=request.driver_cannot_start,
        driver_says_kwh=_DRIVER_KWH.get(request.kwh_reported or ""),
    )
    session_id = case.facts.session_id
    completed = view is not None and view.outcome is ProviderOutcome.COMPLETED
    outcome = Outcome.PROVIDER_COMPLETED if completed else verdict.step
    findings = Findings(outcome, identified=True, kwh_reported_by_driver=request.kwh_reported,
                        driver_cannot_start=request.driver_cannot_start, meter=verdict.findings(),
                        provider=provider_findings)
    if completed:
        return TriageResult(outcome, replies.provider_completed_reply(session_id, case.station, view.ended_at, settings),
                            findings, session_id, verdict)
    reply = replies.verdict_reply(session_id, verdict, settings, request.driver_cannot_start)
    if view is not None and view.outcome in (ProviderOutcome.UNAVAILABLE, ProviderOutcome.NOT_FOUND):
        reply = replies.with_own_data_notice(reply, case.station, view.outcome)
    return TriageResult(outcome, reply, findings, session_id, verdict)
