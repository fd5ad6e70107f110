"""When the assistant may offer to end a stale session itself (OCPI STOP_SESSION at an own station).

Pure: it reads a diagnosis (bot.domain.diagnosis.Verdict) and the few facts the diagnosis does not
know (who asks, whether the session is theirs, what the EVSE reports), and never repeats its rules.
The diagnosis already names step 3 (OWN_STATION_PERSON) exactly when a session is ACTIVE, at an own
station, its kWh flat, and it is overdue or blocking the card; this adds what a command needs on top.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Optional

from bot.domain.diagnosis import KwhTrend, Verdict
from bot.domain.outcomes import Outcome
from bot.domain.policy import ArticlePolicy


class NoOffer(str, Enum):
    """Why no stop is offered (kept for the tests and the logs; drivers get the article's step)."""

    ANONYMOUS = "anonymous"
    NOT_OWNED = "not_owned"
    NOT_STEP_3 = "not_step_3"  # the diagnosis is not "own station, flat, overdue or blocking"
    DRIVER_WORD_ONLY = "driver_word_only"  # flat only because the driver said so: the meter could not tell
    UPDATES_RECENT = "updates_recent"  # the station still reported within the window
    EVSE_CHARGING = "evse_charging"
    ALREADY_TRIED = "already_tried"  # one command per session


@dataclass(frozen=True)
class StopOffer:
    offered: bool
    why_not: Optional[NoOffer] = None
    final_kwh: Optional[float] = None  # what will be billed: the last meter value


def updates_stopped(verdict: Verdict, last_updated: Optional[datetime], now: datetime,
                    policy: ArticlePolicy) -> bool:
    """Nothing new from the station for longer than the kWh window: no reading and no session update."""
    window = timedelta(minutes=policy.kwh_window_minutes)
    latest = max((t for t in (verdict.last_reading_at, last_updated) if t is not None), default=None)
    return latest is None or now - latest > window


def stop_offer(verdict: Optional[Verdict], *, identified: bool, owns_session: bool,
               last_updated: Optional[datetime], evse_status: Optional[str], already_tried: bool,
               now: datetime, policy: ArticlePolicy) -> StopOffer:
    """Offer to end the session now, or say why not. Every condition must hold; any doubt means no."""
    if not identified:
        return StopOffer(False, NoOffer.ANONYMOUS)
    if not owns_session or verdict is None:
        return StopOffer(False, NoOffer.NOT_OWNED)
    if verdict.step is not Outcome.OWN_STATION_PERSON or verdict.kwh_trend is not KwhTrend.FLAT:
        return StopOffer(False, NoOffer.NOT_STEP_3)
    if verdict.kwh_trend_from_driver:
        return StopOffer(False, NoOffer.DRIVER_WORD_ONLY)
    if not updates_stopped(verdict, last_updated, now, policy):
        return StopOffer(False, NoOffer.UPDATES_RECENT)
    if (evse_status or "").strip().upper() == "CHARGING":
        return StopOffer(False, NoOffer.EVSE_CHARGING)
    if already_tried:
        return StopOffer(False, NoOffer.ALREADY_TRIED)
    return StopOffer(True, final_kwh=verdict.last_kwh)
