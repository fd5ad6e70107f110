"""The article's steps as the diagnosis names them, at a fixed `now`."""
from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta, timezone

import pytest

from bot.domain.findings import Findings
from bot.domain.outcomes import Outcome
from bot.domain.diagnosis import (
    KwhTrend,
    Reading,
    SessionFacts,
    Station,
    diagnose,
    kwh_trend,
)
from bot.domain.policy import ArticlePolicy

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=timezone.utc)
SETTINGS = ArticlePolicy(
    own_party_ids=frozenset({"EFL"}),
    auto_close_hours=72.0,
    kwh_tolerance=0.05,
    kwh_window_minutes=30.0,
)

OWN = Station(
    party_id="EFL",
    operator_name="E-Flux",
    operator_website="https://www.e-flux.nl",
    operator_phone="+31 20 000 0000",
    location_name="Stationsplein garage",
    city="Utrecht",
    evse_id="NL*EFL*E12345*1",
)
OTHER = Station(
    party_id="ALL",
    operator_name="Allego",
    operator_website="https://www.allego.eu",
    operator_phone="+31 88 000 0000",
    location_name="Mall parking",
    city="Amsterdam",
    evse_id="NL*ALL*E99999*2",
)


def session(hours_ago: float = 5, status: str = "ACTIVE", end=None) -> SessionFacts:
    start = NOW - timedelta(hours=hours_ago)
    return SessionFacts(
        session_id="SES-104233",
        status=status,
        start=start,
        end=end,
        kwh=12.0,
        last_updated=start,
    )


def readings(*points: tuple[float, float]) -> list[Reading]:
    """(minutes before NOW, kWh) pairs; negative minutes are in the future."""
    return [Reading(NOW - timedelta(minutes=m), kwh) for m, kwh in points]


RISING = readings((60, 5.0), (25, 8.0), (2, 10.0))
FLAT = readings((120, 5.0), (25, 12.0), (2, 12.0))


def verdict(sess=None, rs=(), station=OWN, **kw):
    return diagnose(sess or session(), rs, station, NOW, SETTINGS, **kw)


# --- no readings, one reading ---------------------------------------------------------


def test_young_session_without_readings_asks_the_driver():
    v = verdict(session(hours_ago=0.2))
    assert v.kwh_trend is KwhTrend.UNKNOWN
    assert v.step is Outcome.CHECK_KWH
    assert v.last_reading_at is None and v.last_kwh is None


def test_session_open_for_days_without_any_reading_is_flat_and_overdue():
    v = verdict(session(hours_ago=96, end=None), station=OWN)
    assert v.kwh_trend is KwhTrend.FLAT
    assert v.overdue
    assert v.step is Outcome.OWN_STATION_PERSON


def test_session_without_readings_inside_72h_is_a_wait():
    v = verdict(session(hours_ago=3), station=OTHER)
    assert v.kwh_trend is KwhTrend.FLAT
    assert v.step is Outcome.WAIT


def test_one_recent_reading_cannot_tell_yet():
    v = verdict(rs=readings((3, 7.5)))
    assert v.kwh_trend is KwhTrend.UNKNOWN
    assert v.step is Outcome.CHECK_KWH
    assert v.last_kwh == 7.5
    assert v.last_reading_at == NOW - timedelta(minutes=3)


def test_one_old_reading_means_no_new_reading_for_a_long_time():
    v = verdict(rs=readings((45, 7.5)))
    assert v.kwh_trend is KwhTrend.FLAT
    assert v.step is Outcome.WAIT


# --- shape of the readings ------------------------------------------------------------


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_readings_out_of_order_give_the_same_verdict(order):
    shuffled = [RISING[i] for i in order]
    v = verdict(rs=shuffled)
    assert v.kwh_trend is KwhTrend.RISING
    assert v.step is Outcome.STILL_CHARGING
    assert v.last_kwh == 10.0


def test_newest_reading_older_than_window_is_flat_even_if_it_rose_before():
    # Climbed steadily, then the station went silent 40 minutes ago.
    v = verdict(rs=readings((100, 1.0), (70, 4.0), (40, 7.0)))
    assert v.kwh_trend is KwhTrend.FLAT


def test_increase_only_early_in_the_window_still_counts_as_rising():
    # Rose within the last 30 minutes; flat only for the last 20, not yet a full window.
    v = verdict(rs=readings((28, 10.0), (20, 11.0), (10, 11.0), (1, 11.0)))
    assert v.kwh_trend is KwhTrend.RISING


def test_flat_for_a_full_window_is_flat():
    v = verdict(rs=readings((90, 2.0), (60, 11.0), (30, 11.0), (15, 11.0), (1, 11.0)))
    assert v.kwh_trend is KwhTrend.FLAT


def test_station_that_reports_rarely_is_compared_with_the_reading_before_the_window():
    # Only the newest reading is inside the window; the one before it is two hours older.
    assert verdict(rs=readings((130, 3.0), (5, 9.0))).kwh_trend is KwhTrend.RISING
    assert verdict(rs=readings((130, 9.0), (5, 9.0))).kwh_trend is KwhTrend.FLAT


def test_readings_in_the_future_are_ignored_and_counted():
    # Without the two future readings the trend is flat; with them it would look rising.
    rs = FLAT + readings((-60, 20.0), (-24 * 60, 30.0))
    v = verdict(rs=rs)
    assert v.ignored_future_readings == 2
    assert v.kwh_trend is KwhTrend.FLAT
    assert v.last_kwh == 12.0


def test_reading_slightly_ahead_of_our_clock_is_believed():
    v = verdict(rs=readings((20, 12.0), (-4, 12.5)))
    assert v.ignored_future_readings == 0
    assert v.kwh_trend is KwhTrend.RISING
    assert v.last_kwh == 12.5


@pytest.mark.parametrize(
    "points, trend",
    [
        # Register restarts at a lower value, then stays flat: judged on the new register only
        # (comparing 4.0 with the 1.0 before the drop would wrongly say "rising").
        (((29, 1.0), (20, 8.0), (15, 4.0), (1, 4.0)), KwhTrend.FLAT),
        # Restart, then climbing: comparing with the old 30.0 would wrongly say "flat".
        (((25, 30.0), (20, 1.0), (1, 3.0)), KwhTrend.RISING),
        # Only one reading after the restart, and it is recent: cannot tell yet.
        (((25, 30.0), (2, 0.4)), KwhTrend.UNKNOWN),
    ],
    ids=["then-flat", "then-rising", "then-single"],
)
def test_meter_reset_judges_only_the_readings_after_the_drop(points, trend):
    v = verdict(rs=readings(*points))
    assert v.meter_reset
    assert v.kwh_trend is trend


def test_steady_register_is_not_a_meter_reset():
    assert not verdict(rs=RISING).meter_reset


@pytest.mark.parametrize(
    "rise, trend",
    [(0.0, KwhTrend.FLAT), (0.05, KwhTrend.FLAT), (0.06, KwhTrend.RISING), (3.0, KwhTrend.RISING)],
)
def test_tolerance_boundary(rise, trend):
    v = verdict(rs=readings((20, 10.0), (1, 10.0 + rise)))
    assert v.kwh_trend is trend


def test_aware_datetimes_in_other_zones_are_compared_as_instants():
    cet = timezone(timedelta(hours=1))
    # 12:58 CET is 11:58 UTC: two minutes ago, not 58 minutes in the future.
    rs = [Reading(NOW - timedelta(minutes=20), 5.0), Reading(datetime(2024, 3, 10, 12, 58, tzinfo=cet), 6.0)]
    v = verdict(rs=rs)
    assert v.ignored_future_readings == 0
    assert v.kwh_trend is KwhTrend.RISING


# --- the 72 hours ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "open_for, overdue, step",
    [
        (timedelta(hours=72), True, Outcome.OTHER_PROVIDER),
        (timedelta(hours=71, minutes=59), False, Outcome.WAIT),
    ],
)
def test_exactly_72_hours_is_overdue(open_for, overdue, step):
    sess = session(hours_ago=open_for.total_seconds() / 3600)
    v = verdict(sess, FLAT, OTHER)
    assert v.overdue is overdue
    assert v.step is step
    assert v.auto_close_due == sess.start + timedelta(hours=72)


def test_hours_open_and_auto_close_due():
    v = verdict(session(hours_ago=30))
    assert v.hours_open == pytest.approx(30.0)
    assert v.auto_close_due == NOW + timedelta(hours=42)


def test_session_starting_after_now_is_open_for_zero_hours():
    v = verdict(session(hours_ago=-0.5))
    assert v.hours_open == 0.0
    assert not v.overdue


# --- steps ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["COMPLETED", "INVALID", "PENDING", "RESERVATION"])
def test_session_that_is_not_active_is_not_stuck(status):
    sess = session(hours_ago=100, status=status, end=NOW - timedelta(hours=99))
    v = verdict(sess, FLAT, OWN, driver_cannot_start=True)
    assert v.step is Outcome.NOT_ACTIVE
    # The rest is still filled in for the agent.
    assert v.kwh_trend is KwhTrend.FLAT
    assert v.overdue
    assert v.own_station
    assert v.last_kwh == 12.0


def test_lower_case_status_active_still_counts_as_active():
    assert verdict(session(status="active"), RISING).step is Outcome.STILL_CHARGING


@pytest.mark.parametrize(
    "station, hours_ago, cannot_start, step",
    [
        (OWN, 5, False, Outcome.WAIT),
        (OWN, 5, True, Outcome.OWN_STATION_PERSON),
        (OWN, 80, False, Outcome.OWN_STATION_PERSON),
        (OTHER, 5, False, Outcome.WAIT),
        (OTHER, 5, True, Outcome.OTHER_PROVIDER),
        (OTHER, 80, False, Outcome.OTHER_PROVIDER),
    ],
)
def test_flat_kwh_step_depends_on_owner_overdue_and_blocked_card(station, hours_ago, cannot_start, step):
    v = verdict(session(hours_ago=hours_ago), FLAT, station, driver_cannot_start=cannot_start)
    assert v.step is step
    assert v.own_station is (station is OWN)


def test_own_party_is_recognised_case_insensitively():
    station = Station("efl", "E-Flux", None, None, "Depot", "Delft", "NL*EFL*E1*1")
    assert verdict(rs=FLAT, station=station, driver_cannot_start=True).step is Outcome.OWN_STATION_PERSON


def test_still_charging_wins_over_a_blocked_card_and_overdue():
    v = verdict(session(hours_ago=80), RISING, OTHER, driver_cannot_start=True)
    assert v.step is Outcome.STILL_CHARGING


# --- what the driver says -------------------------------------------------------------


@pytest.mark.parametrize(
    "said, trend, step",
    [
        (KwhTrend.RISING, KwhTrend.RISING, Outcome.STILL_CHARGING),
        (KwhTrend.FLAT, KwhTrend.FLAT, Outcome.WAIT),
        ("flat", KwhTrend.FLAT, Outcome.WAIT),  # the slot value as Rasa stores it
    ],
)
def test_driver_answer_fills_an_unknown_trend(said, trend, step):
    v = verdict(session(hours_ago=0.2), station=OTHER, driver_says_kwh=said)
    assert v.kwh_trend is trend
    assert v.step is step
    assert v.kwh_trend_from_driver
    assert v.findings().kwh_trend_source == "driver"


def test_driver_saying_unknown_keeps_asking():
    v = verdict(session(hours_ago=0.2), driver_says_kwh=KwhTrend.UNKNOWN)
    assert v.step is Outcome.CHECK_KWH
    assert not v.kwh_trend_from_driver


@pytest.mark.parametrize(
    "rs, said, step",
    [(FLAT, KwhTrend.RISING, Outcome.WAIT), (RISING, KwhTrend.FLAT, Outcome.STILL_CHARGING)],
    ids=["meter-flat", "meter-rising"],
)
def test_driver_answer_never_overrules_the_meter(rs, said, step):
    v = verdict(rs=rs, driver_says_kwh=said)
    assert v.step is step
    assert not v.kwh_trend_from_driver


# --- input errors and output ----------------------------------------------------------


def test_naive_now_is_a_bug():
    with pytest.raises(ValueError):
        diagnose(session(), FLAT, OWN, NOW.replace(tzinfo=None), SETTINGS)


def test_naive_reading_is_a_bug():
    with pytest.raises(ValueError):
        verdict(rs=[Reading(datetime(2024, 3, 10, 11, 50), 3.0)])


def test_naive_session_start_is_a_bug():
    sess = SessionFacts("SES-1", "ACTIVE", datetime(2024, 3, 10, 8, 0), None, 0.0, NOW)
    with pytest.raises(ValueError):
        verdict(sess)


def test_findings_are_json_and_carry_what_the_agent_needs():
    v = verdict(session(hours_ago=80), readings((300, 4.0), (240, 11.123456)), OTHER, driver_cannot_start=True)
    found = json.loads(json.dumps(Findings(v.step, identified=True, meter=v.findings()).to_json()))
    assert found["step"] == "other_provider"
    assert found["kwh_trend"] == "flat"
    assert found["kwh_trend_source"] == "meter"
    assert found["hours_open"] == 80.0
    assert found["overdue"] is True
    assert found["own_station"] is False
    assert found["auto_close_due"] == (NOW - timedelta(hours=8)).isoformat()
    assert found["operator_name"] == "Allego"
    assert found["operator_phone"] == "+31 88 000 0000"
    assert found["operator_website"] == "https://www.allego.eu"
    assert found["location_name"] == "Mall parking"
    assert found["evse_id"] == "NL*ALL*E99999*2"
    assert found["last_reading_at"] == (NOW - timedelta(hours=4)).isoformat()
    assert found["last_kwh"] == 11.123
    assert found["meter_reset"] is False
    assert found["ignored_future_readings"] == 0


def test_findings_without_readings_are_json_too():
    v = verdict(session(hours_ago=0.1))
    found = json.loads(json.dumps(Findings(v.step, identified=True, meter=v.findings()).to_json()))
    assert found["last_reading_at"] is None and found["last_kwh"] is None
    assert found["step"] == "check_kwh"


def test_kwh_trend_without_session_start_and_without_readings_is_unknown():
    assert kwh_trend([], NOW, SETTINGS).trend is KwhTrend.UNKNOWN
    assert kwh_trend([], NOW, SETTINGS, session_start=NOW - timedelta(hours=2)).trend is KwhTrend.FLAT
