"""When a stop is offered (bot.domain.stop_offer) and what an attempt comes to (bot.domain.stop_command).

The offer reads the diagnosis itself, so these tests build real verdicts with `diagnose`. The property
test draws random meter histories: whatever they hold, a stop is never offered while the kWh rises.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings as hyp_settings, strategies as st

from bot.domain.diagnosis import KwhTrend, Reading, SessionFacts, Station, diagnose, kwh_trend
from bot.domain.outcomes import Outcome
from bot.domain.policy import ArticlePolicy
from bot.domain.stop_command import NextStep, StopOutcome, next_step, outcome_of
from bot.domain.stop_offer import NoOffer, stop_offer

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
POLICY = ArticlePolicy()
OWN = Station("EFL", "E-Flux", None, None, "Rotterdam Centraal garage", "Rotterdam", "NL*EFL*E10003*1")
OTHER = Station("ALL", "Allego", None, None, "Allego A2 Vianen", "Vianen", "NL*ALL*E20001*1")


def stale(hours_open: float = 30, charged_minutes: int = 90, kw: float = 11) -> tuple:
    start = NOW - timedelta(hours=hours_open)
    readings = [Reading(start + timedelta(minutes=m), round(kw * m / 60, 3)) for m in range(0, charged_minutes + 1, 15)]
    return SessionFacts("SES-1", "ACTIVE", start, None, readings[-1].kwh, readings[-1].timestamp), readings


def offer(facts, readings, station=OWN, cannot_start=True, identified=True, owns=True, evse=None, tried=False,
          driver_says=None):
    verdict = diagnose(facts, readings, station, NOW, POLICY, driver_cannot_start=cannot_start,
                       driver_says_kwh=driver_says)
    return stop_offer(verdict, identified=identified, owns_session=owns, last_updated=facts.last_updated,
                      evse_status=evse, already_tried=tried, now=NOW, policy=POLICY)


def test_a_blocked_card_at_an_own_station_with_flat_kwh_gets_the_offer_with_the_final_energy():
    result = offer(*stale())
    assert result.offered and result.final_kwh == 16.5


def test_past_the_automatic_close_is_enough_without_a_blocked_card():
    assert offer(*stale(hours_open=80), cannot_start=False).offered


def test_inside_the_window_and_not_blocking_is_step_1_not_an_offer():
    assert offer(*stale(hours_open=20), cannot_start=False).why_not is NoOffer.NOT_STEP_3


@pytest.mark.parametrize("kwargs, why", [
    (dict(identified=False), NoOffer.ANONYMOUS),
    (dict(owns=False), NoOffer.NOT_OWNED),
    (dict(station=OTHER), NoOffer.NOT_STEP_3),
    (dict(evse="CHARGING"), NoOffer.EVSE_CHARGING),
    (dict(evse="charging"), NoOffer.EVSE_CHARGING),
    (dict(tried=True), NoOffer.ALREADY_TRIED),
])
def test_never_offered(kwargs, why):
    result = offer(*stale(), **kwargs)
    assert not result.offered and result.why_not is why


def test_no_verdict_means_not_theirs():
    assert stop_offer(None, identified=True, owns_session=True, last_updated=None, evse_status=None,
                      already_tried=False, now=NOW, policy=POLICY).why_not is NoOffer.NOT_OWNED


def test_rising_kwh_is_step_2_never_an_offer():
    start = NOW - timedelta(hours=30)
    readings = [Reading(NOW - timedelta(minutes=m), 40 - m * 0.2) for m in (25, 15, 5)]
    facts = SessionFacts("SES-1", "ACTIVE", start, None, readings[-1].kwh, readings[-1].timestamp)
    result = offer(facts, readings)
    assert not result.offered and result.why_not is NoOffer.NOT_STEP_3


def test_flat_but_still_reporting_within_the_window_is_not_an_offer():
    start = NOW - timedelta(hours=30)
    readings = [Reading(NOW - timedelta(minutes=m), 20.0) for m in (25, 15, 5)]
    facts = SessionFacts("SES-1", "ACTIVE", start, None, 20.0, readings[-1].timestamp)
    assert offer(facts, readings).why_not is NoOffer.UPDATES_RECENT


def test_a_session_update_within_the_window_counts_as_the_station_still_talking():
    facts, readings = stale()
    recent = SessionFacts(facts.session_id, "ACTIVE", facts.start, None, facts.kwh, NOW - timedelta(minutes=3))
    assert offer(recent, readings).why_not is NoOffer.UPDATES_RECENT


def test_the_drivers_word_alone_is_not_enough_to_send_a_command():
    start = NOW - timedelta(minutes=40)
    facts = SessionFacts("SES-1", "ACTIVE", start, None, 3.0, NOW - timedelta(minutes=1))
    one = [Reading(NOW - timedelta(minutes=1), 3.0)]  # one recent reading: the meter cannot tell
    result = offer(facts, one, driver_says=KwhTrend.FLAT)
    assert not result.offered


# --- the property: random meter histories ---------------------------------------------------------

minutes_ago = st.floats(min_value=0, max_value=80 * 60, allow_nan=False)
kwh_values = st.floats(min_value=0, max_value=200, allow_nan=False)
history = st.lists(st.tuples(minutes_ago, kwh_values), max_size=30)


def _rising_within_window(readings, policy=POLICY) -> bool:
    """Independent of the diagnosis: two readings inside the last window, the later one higher by more
    than the tolerance."""
    window_start = NOW - timedelta(minutes=policy.kwh_window_minutes)
    recent = sorted(r for r in readings if window_start <= r.timestamp <= NOW)
    return any(b.kwh - a.kwh > policy.kwh_tolerance and b.timestamp > a.timestamp
               for i, a in enumerate(recent) for b in recent[i + 1:])


@hyp_settings(max_examples=400, deadline=None)
@given(history=history, rise=st.floats(min_value=0.06, max_value=20), at=st.floats(min_value=0.5, max_value=15),
       gap=st.floats(min_value=0.1, max_value=14), hours_open=st.floats(min_value=1, max_value=200),
       cannot_start=st.booleans(), evse=st.sampled_from([None, "AVAILABLE", "CHARGING", "BLOCKED"]))
def test_never_offered_while_kwh_rises_within_the_window(history, rise, at, gap, hours_open, cannot_start, evse):
    """Any history, plus a rise above the tolerance somewhere inside the last window: no offer."""
    start = NOW - timedelta(hours=hours_open)
    readings = [Reading(NOW - timedelta(minutes=m), k) for m, k in history]
    later = NOW - timedelta(minutes=at)
    earlier = later - timedelta(minutes=gap)  # both inside the 30-minute window
    base = max((r.kwh for r in readings if r.timestamp <= earlier), default=0.0)
    readings += [Reading(earlier, base), Reading(later, base + rise)]
    facts = SessionFacts("SES-1", "ACTIVE", start, None, base + rise, max(r.timestamp for r in readings))
    verdict = diagnose(facts, readings, OWN, NOW, POLICY, driver_cannot_start=cannot_start)
    result = stop_offer(verdict, identified=True, owns_session=True, last_updated=facts.last_updated,
                        evse_status=evse, already_tried=False, now=NOW, policy=POLICY)
    assert not result.offered


@hyp_settings(max_examples=400, deadline=None)
@given(history=history, hours_open=st.floats(min_value=1, max_value=200), cannot_start=st.booleans(),
       driver_says=st.sampled_from([None, KwhTrend.FLAT, KwhTrend.RISING]))
def test_whenever_offered_the_meter_is_flat_and_no_reading_in_the_window_rises(history, hours_open, cannot_start,
                                                                                driver_says):
    start = NOW - timedelta(hours=hours_open)
    readings = [Reading(NOW - timedelta(minutes=m), k) for m, k in history]
    updated = max((r.timestamp for r in readings), default=start)
    facts = SessionFacts("SES-1", "ACTIVE", start, None, 0.0, updated)
    verdict = diagnose(facts, readings, OWN, NOW, POLICY, driver_cannot_start=cannot_start, driver_says_kwh=driver_says)
    result = stop_offer(verdict, identified=True, owns_session=True, last_updated=updated, evse_status=None,
                        already_tried=False, now=NOW, policy=POLICY)
    if result.offered:
        assert kwh_trend(readings, NOW, POLICY, session_start=start).trend is KwhTrend.FLAT
        assert not _rising_within_window(readings)
        assert verdict.step is Outcome.OWN_STATION_PERSON


# --- what an attempt comes to ---------------------------------------------------------------------

@pytest.mark.parametrize("response, result, confirmed, outcome", [
    ("ACCEPTED", "ACCEPTED", True, StopOutcome.STOPPED),
    ("ACCEPTED", "ACCEPTED", False, StopOutcome.NOT_CONFIRMED),
    ("ACCEPTED", "REJECTED", False, StopOutcome.REJECTED),
    ("ACCEPTED", "FAILED", False, StopOutcome.FAILED),
    ("ACCEPTED", "TIMEOUT", False, StopOutcome.FAILED),
    ("ACCEPTED", "NOT_SUPPORTED", False, StopOutcome.NOT_SUPPORTED),
    ("ACCEPTED", None, False, StopOutcome.NO_RESULT),
    ("REJECTED", None, False, StopOutcome.REJECTED),
    ("UNKNOWN_SESSION", None, False, StopOutcome.REJECTED),
    ("NOT_SUPPORTED", None, False, StopOutcome.NOT_SUPPORTED),
    (None, None, False, StopOutcome.UNREACHABLE),
    ("SOMETHING_ELSE", None, False, StopOutcome.UNREACHABLE),
])
def test_outcome_of(response, result, confirmed, outcome):
    assert outcome_of(response, result, confirmed) is outcome


@pytest.mark.parametrize("outcome", list(StopOutcome))
def test_only_a_refusal_takes_the_back_office_close(outcome):
    step = next_step(outcome, "back_office_close")
    expected = {StopOutcome.STOPPED: NextStep.TELL_STOPPED,
                StopOutcome.REJECTED: NextStep.BACK_OFFICE_CLOSE}.get(outcome, NextStep.HANDOFF)
    assert step is expected
    assert next_step(outcome, "handoff") is (NextStep.TELL_STOPPED if outcome is StopOutcome.STOPPED
                                             else NextStep.HANDOFF)
