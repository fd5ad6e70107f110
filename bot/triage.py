"""One turn of the article's flow, in plain Python: which session, what verdict, what to say.

The Rasa action is a thin adapter around `triage`; everything here runs (and is
tested) against a real database without Rasa.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, Optional

from bot import charging_repo, replies
from bot.db import session_scope
from bot.diagnosis import KwhTrend, diagnose
from bot.identity import Identity
from bot.replies import Reply
from bot.settings import Settings

_DRIVER_KWH = {"rising": KwhTrend.RISING, "flat": KwhTrend.FLAT}


@dataclass(frozen=True)
class TriageInput:
    identity: Optional[Identity]
    session_id: Optional[str] = None        # typed or picked by the driver
    typed_identifier: bool = False          # the driver typed a card number or session ID
    driver_cannot_start: bool = False
    kwh_reported: Optional[str] = None      # "rising" / "flat", what the driver told us


@dataclass(frozen=True)
class TriageResult:
    step: str
    reply: Reply
    session_id: Optional[str] = None
    findings: Dict[str, Any] = field(default_factory=dict)


def triage(settings: Settings, request: TriageInput, now: datetime) -> TriageResult:
    if request.identity is None:
        return TriageResult(
            step="anonymous",
            reply=replies.anonymous_reply(request.kwh_reported, request.driver_cannot_start,
                                          request.typed_identifier, settings),
            findings={"identified": False, "kwh_reported_by_driver": request.kwh_reported,
                      "driver_cannot_start": request.driver_cannot_start},
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
                return TriageResult(step="unknown_session", reply=reply)
        else:
            active = charging_repo.active_sessions(db, account_id)
            if not active:
                latest = charging_repo.latest_session(db, account_id)
                return TriageResult(step="no_session", reply=replies.no_active_session_reply(latest, settings),
                                    session_id=latest.session_id if latest else None)
            if len(active) > 1:
                return TriageResult(step="choose_session", reply=replies.choose_session_reply(active, settings))
            case = charging_repo.session_case(db, account_id, active[0].session_id)
    verdict = diagnose(
        case.facts, case.readings, case.station, now, settings,
        driver_cannot_start=request.driver_cannot_start,
        driver_says_kwh=_DRIVER_KWH.get(request.kwh_reported or ""),
    )
    findings = verdict.findings()
    findings["identified"] = True
    return TriageResult(
        step=verdict.step.value,
        reply=replies.verdict_reply(case.facts.session_id, verdict, settings, request.driver_cannot_start),
        session_id=case.facts.session_id,
        findings=findings,
    )
