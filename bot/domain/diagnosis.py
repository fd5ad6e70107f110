"""Which step of the help article applies to a session that is still listed as active.

Pure functions: (session, meter readings, station, now) -> Verdict. No Rasa, no I/O,
no clock (``now`` is passed in), so every rule is unit-tested with fixed times.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import NamedTuple, Optional, Sequence

from bot.domain.findings import MeterFindings
from bot.domain.outcomes import Outcome
from bot.domain.policy import ArticlePolicy

# Station clocks drift; a reading a little after our `now` is still believable.
CLOCK_SKEW = timedelta(minutes=5)

ACTIVE = "ACTIVE"


@dataclass(frozen=True)
class Reading:
    """One value of the session's cumulative energy register."""

    timestamp: datetime
    kwh: float


@dataclass(frozen=True)
class Station:
    """Where the session runs and who operates it (step 4 names whom to contact)."""

    party_id: str
    operator_name: str
    operator_website: Optional[str]
    operator_phone: Optional[str]
    location_name: str
    city: str
    evse_id: str


@dataclass(frozen=True)
class SessionFacts:
    session_id: str
    status: str  # OCPI 2.2.1: ACTIVE, COMPLETED, INVALID, PENDING, RESERVATION
    start: datetime
    end: Optional[datetime]
    kwh: float
    last_updated: datetime




class KwhTrend(str, Enum):
    RISING = "rising"
    FLAT = "flat"
    UNKNOWN = "unknown"


class MeterTrend(NamedTuple):
    """What the meter readings say, and what had to be discarded to say it."""

    trend: KwhTrend
    last_reading: Optional[Reading]  # newest believable reading (any segment)
    meter_reset: bool  # the cumulative register went down at least once
    ignored_future_readings: int  # readings later than now + CLOCK_SKEW


@dataclass(frozen=True)
class Verdict:
    step: Outcome  # one of DIAGNOSED
    kwh_trend: KwhTrend
    hours_open: float  # now - start, never negative
    auto_close_due: datetime  # start + auto_close_hours
    overdue: bool  # open for auto_close_hours or longer
    own_station: bool
    last_reading_at: Optional[datetime]
    last_kwh: Optional[float]
    meter_reset: bool
    ignored_future_readings: int
    station: Station
    # True when the trend is the driver's word because the readings could not tell.
    kwh_trend_from_driver: bool = False

    def findings(self) -> MeterFindings:
        """What the human agent who takes over needs to know of this diagnosis."""
        st = self.station
        return MeterFindings(
            kwh_trend=self.kwh_trend.value,
            kwh_trend_source="driver" if self.kwh_trend_from_driver else "meter",
            hours_open=self.hours_open,
            auto_close_due=self.auto_close_due,
            overdue=self.overdue,
            own_station=self.own_station,
            operator_name=st.operator_name,
            operator_party_id=st.party_id,
            operator_website=st.operator_website,
            operator_phone=st.operator_phone,
            location_name=st.location_name,
            city=st.city,
            evse_id=st.evse_id,
            last_reading_at=self.last_reading_at,
            last_kwh=self.last_kwh,
            meter_reset=self.meter_reset,
            ignored_future_readings=self.ignored_future_readings,
        )


def _require_aware(value: Optional[datetime], what: str) -> None:
    # A naive datetime here is a bug upstream (the DB layer hands out aware UTC), not driver input.
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{what} must be timezone-aware, got naive {value!r}")


def kwh_trend(
    readings: Sequence[Reading],
    now: datetime,
    policy: ArticlePolicy,
    *,
    session_start: Optional[datetime] = None,
) -> MeterTrend:
    """Is the energy register still rising?

    "kWh no longer increasing" means no rise above ``kwh_tolerance`` over the window, or no
    new reading for longer than the window. Concretely, with W = ``kwh_window_minutes``:

    * readings later than now + CLOCK_SKEW are dropped and counted; the rest are sorted;
    * after a meter reset (a value lower than the one before) only readings from the last
      drop on are judged, since earlier values belong to the old register;
    * newest reading older than W -> FLAT (nothing new for a long time);
    * otherwise the newest is compared with a baseline: the oldest reading in the W minutes
      before it, or, if none is there, the last reading before those W minutes (a station
      that reports rarely); rise > tolerance -> RISING, else FLAT;
    * a single recent reading has no baseline -> UNKNOWN (cannot tell yet);
    * no readings: FLAT once the session has been open longer than W (a live session would
      have reported by then), UNKNOWN while younger or when ``session_start`` is not given.
    """
    _require_aware(now, "now")
    _require_aware(session_start, "session start")
    for r in readings:
        _require_aware(r.timestamp, "reading timestamp")
        if not math.isfinite(r.kwh):
            raise ValueError(f"reading kWh must be a finite number, got {r.kwh!r}")

    window = timedelta(minutes=policy.kwh_window_minutes)
    believable = [r for r in readings if r.timestamp <= now + CLOCK_SKEW]
    ignored = len(readings) - len(believable)
    # kWh as tie-breaker so equal timestamps never look like a drop.
    ordered = sorted(believable, key=lambda r: (r.timestamp, r.kwh))

    segment_start = 0
    for i in range(1, len(ordered)):
        if ordered[i].kwh < ordered[i - 1].kwh:
            segment_start = i
    meter_reset = segment_start > 0
    segment = ordered[segment_start:]

    if not segment:
        old_enough = session_start is not None and now - session_start > window
        return MeterTrend(KwhTrend.FLAT if old_enough else KwhTrend.UNKNOWN, None, False, ignored)

    newest = segment[-1]
    if now - newest.timestamp > window:
        return MeterTrend(KwhTrend.FLAT, newest, meter_reset, ignored)

    earlier = segment[:-1]
    window_start = newest.timestamp - window
    in_window = [r for r in earlier if r.timestamp >= window_start]
    if in_window:
        baseline: Optional[Reading] = in_window[0]
    else:
        baseline = earlier[-1] if earlier else None
    if baseline is None:
        return MeterTrend(KwhTrend.UNKNOWN, newest, meter_reset, ignored)

    rise = newest.kwh - baseline.kwh
    # Round away float noise so "rose by exactly the tolerance" reads as not rising.
    rising = round(rise - policy.kwh_tolerance, 9) > 0
    return MeterTrend(KwhTrend.RISING if rising else KwhTrend.FLAT, newest, meter_reset, ignored)


def _step_for(trend: KwhTrend, own_station: bool, overdue: bool, driver_cannot_start: bool) -> Outcome:
    if trend is KwhTrend.RISING:
        return Outcome.STILL_CHARGING
    if trend is KwhTrend.UNKNOWN:
        return Outcome.CHECK_KWH
    # kWh is flat: the session physically ended. Act only if it is overdue or in the way.
    if not (overdue or driver_cannot_start):
        return Outcome.WAIT
    return Outcome.OWN_STATION_PERSON if own_station else Outcome.OTHER_PROVIDER


def diagnose(
    session: SessionFacts,
    readings: Sequence[Reading],
    station: Station,
    now: datetime,
    policy: ArticlePolicy,
    driver_cannot_start: bool = False,
    driver_says_kwh: Optional[KwhTrend] = None,
) -> Verdict:
    """Name the article's step for ``session`` at ``now``."""
    _require_aware(session.start, "session start")
    _require_aware(session.end, "session end")
    _require_aware(session.last_updated, "session last_updated")

    meter = kwh_trend(readings, now, policy, session_start=session.start)
    trend = meter.trend
    from_driver = False
    # The driver's word only fills a gap; it never overrules what the meter shows.
    if trend is KwhTrend.UNKNOWN and driver_says_kwh is not None:
        trend = KwhTrend(driver_says_kwh)
        from_driver = trend is not KwhTrend.UNKNOWN

    auto_close = timedelta(hours=policy.auto_close_hours)
    open_for = max(now - session.start, timedelta(0))
    overdue = open_for >= auto_close  # timedelta comparison: exactly 72 h is overdue
    own_station = policy.is_own_party(station.party_id)

    if (session.status or "").strip().upper() != ACTIVE:
        step = Outcome.NOT_ACTIVE
    else:
        step = _step_for(trend, own_station, overdue, driver_cannot_start)

    last = meter.last_reading
    return Verdict(
        step=step,
        kwh_trend=trend,
        hours_open=open_for.total_seconds() / 3600,
        auto_close_due=session.start + auto_close,
        overdue=overdue,
        own_station=own_station,
        last_reading_at=last.timestamp if last else None,
        last_kwh=last.kwh if last else None,
        meter_reset=meter.meter_reset,
        ignored_future_readings=meter.ignored_future_readings,
        station=station,
        kwh_trend_from_driver=from_driver,
    )
