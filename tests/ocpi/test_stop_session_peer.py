"""STOP_SESSION against the real CPO peer (extrawest-ocpi's Commands module), with our real receiver taking
the CommandResult and a real charging database keeping the audit (SQLite, and PostgreSQL where a server runs).

Cases: accepted and confirmed by the CPO's data; refused by the charger (both fallbacks) and by the CPO;
a session the CPO does not know; no result ever; a result after our timeout (and after the CPO's own, shorter,
timeout); accepted but never shown as ended; the peer down; a repeat refused.
"""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.domain.clock import utcnow
from bot.domain.stop_command import STOP_SESSION, NextStep, StopOutcome
from bot.integrations.stop_session import StopRequest, stop_session
from bot.settings import Settings
from bot.store import stop_commands
from bot.store.command_models import BackOfficeClose, CommandAttempt
from bot.store.db import session_scope
from bot.store.models import ChargingSession
from tests.ocpi.stop_support import ACCOUNT, CHARGED_MINUTES, EVSE, LOCATION, START_HOURS_AGO, stop_world



@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request, tmp_path_factory, peer_python):
    """The same cases on the embedded SQLite and on PostgreSQL (a throw-away database; skipped without a server)."""
    base = None
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_databases").create("stop")
        base = Settings(database_url=url, identity_secret="x")
    yield from stop_world(tmp_path_factory.mktemp("stop"), peer_python, base)


def request(sid: str) -> StopRequest:
    start = utcnow() - timedelta(hours=START_HOURS_AGO)
    return StopRequest(sid, ACCOUNT, 16.5, start + timedelta(minutes=CHARGED_MINUTES), start, LOCATION, EVSE)


def audit(settings, sid: str):
    with session_scope(settings) as db:
        return stop_commands.attempt_for_session(db, STOP_SESSION, sid)


def session_row(settings, sid: str):
    with session_scope(settings) as db:
        row = db.get(ChargingSession, sid)
        return row.status, row.kwh, row.end_datetime


def test_accepted_and_the_cpo_data_show_the_end(world):
    report = stop_session(world.settings, request("SES-900001"))
    assert (report.outcome, report.next_step) == (StopOutcome.STOPPED, NextStep.TELL_STOPPED)
    assert (report.response, report.result, report.confirmed_by) == ("ACCEPTED", "ACCEPTED", "cpo_session")
    row = audit(world.settings, "SES-900001")
    assert row.account_id == ACCOUNT and row.command == STOP_SESSION and row.uid == report.uid
    assert row.response_timeout_s == 30 and row.finished_at is not None and row.outcome == "stopped"
    status, kwh, ended = session_row(world.settings, "SES-900001")
    assert (status, kwh) == ("COMPLETED", 16.5) and ended is not None, "our copy shows it ended at once"


def test_rejected_by_the_charger_falls_back_to_a_back_office_close(world):
    settings = world.with_fallback("back_office_close")
    report = stop_session(settings, request("SES-900003"))
    assert (report.outcome, report.next_step) == (StopOutcome.REJECTED, NextStep.BACK_OFFICE_CLOSE)
    status, kwh, ended = session_row(settings, "SES-900003")
    assert status == "COMPLETED" and kwh == 16.5 and ended is not None
    with session_scope(settings) as db:
        close = db.execute(select(BackOfficeClose).where(BackOfficeClose.session_id == "SES-900003")).scalar_one()
        assert close.needs_review and close.final_kwh == 16.5 and "rejected" in close.reason
    assert audit(settings, "SES-900003").next_step == "back_office_close"


def test_rejected_by_the_charger_with_the_handoff_fallback_leaves_our_data_alone(world):
    report = stop_session(world.with_fallback("handoff"), request("SES-900004"))
    assert (report.outcome, report.next_step) == (StopOutcome.REJECTED, NextStep.HANDOFF)
    assert session_row(world.settings, "SES-900004")[0] == "ACTIVE"
    assert audit(world.settings, "SES-900004").result == "REJECTED"


@pytest.mark.parametrize("sid, response, outcome", [
    ("SES-900005", "REJECTED", StopOutcome.REJECTED),
    ("SES-900013", "UNKNOWN_SESSION", StopOutcome.REJECTED),
    ("SES-900006", "NOT_SUPPORTED", StopOutcome.NOT_SUPPORTED),
])
def test_the_cpos_immediate_refusals(world, sid, response, outcome):
    started = time.monotonic()
    report = stop_session(world.settings, request(sid))
    assert (report.response, report.outcome, report.result) == (response, outcome, None)
    assert time.monotonic() - started < 2.9, "no waiting (3 s) for a result the CPO will not send"
    assert audit(world.settings, sid).response == response


def test_no_result_ever_arriving_is_unknown_and_goes_to_a_person(world):
    started = time.monotonic()
    report = stop_session(world.with_fallback("back_office_close"), request("SES-900007"))
    assert (report.outcome, report.next_step) == (StopOutcome.NO_RESULT, NextStep.HANDOFF)
    assert 2.9 < time.monotonic() - started < 8, "waited for our result timeout (3 s), no longer"
    assert session_row(world.settings, "SES-900007")[0] == "ACTIVE", "unknown: never closed in our data"


def test_a_result_after_the_timeout_is_recorded_late_and_changes_nothing(world):
    report = stop_session(world.settings, request("SES-900009"))
    assert report.outcome is StopOutcome.NO_RESULT
    deadline = time.monotonic() + 15
    row = audit(world.settings, "SES-900009")
    while row.late_result is None and time.monotonic() < deadline:  # the peer posts it ~6 s after accepting
        time.sleep(0.5)
        row = audit(world.settings, "SES-900009")
    # Written by the receiver when it arrived: no handoff filed, no sweep (record_late_results) run.
    assert (row.outcome, row.result, row.late_result) == ("no_result", None, "ACCEPTED")
    with session_scope(world.settings) as db:
        late = stop_commands.received_result(db, STOP_SESSION, report.uid)
    assert late is not None and late.result == "ACCEPTED", "the receiver stored the late CommandResult"
    assert session_row(world.settings, "SES-900009")[0] == "ACTIVE", "a late result changes nothing"


def test_the_cpos_own_timeout_bounds_the_wait_when_shorter_than_ours(world):
    started = time.monotonic()
    report = stop_session(world.settings, request("SES-900011"))  # the CPO says 1 s; ours is 3 s
    assert report.outcome is StopOutcome.NO_RESULT and time.monotonic() - started < 2.8


def test_accepted_but_no_data_show_the_end_is_not_a_success(world):
    report = stop_session(world.with_fallback("back_office_close"), request("SES-900012"))
    assert (report.result, report.outcome, report.next_step) == ("ACCEPTED", StopOutcome.NOT_CONFIRMED,
                                                                 NextStep.HANDOFF)


def test_a_peer_that_is_down(world):
    started = time.monotonic()
    report = stop_session(world.peer_down(), request("SES-900014"))
    assert (report.outcome, report.next_step, report.response) == (StopOutcome.UNREACHABLE, NextStep.HANDOFF, None)
    assert time.monotonic() - started < 6
    row = audit(world.settings, "SES-900014")
    assert row.error and "Unavailable" in row.error and row.outcome == "unreachable"


def test_one_command_per_session_a_repeat_is_refused_before_sending(world):
    first = stop_session(world.peer_down(), request("SES-900016"))
    again = stop_session(world.settings, request("SES-900016"))
    assert first.outcome is StopOutcome.UNREACHABLE
    assert again.outcome is StopOutcome.ALREADY_TRIED and again.uid is None
    with session_scope(world.settings) as db:
        assert len(db.execute(select(CommandAttempt).where(CommandAttempt.session_id == "SES-900016")).all()) == 1


def test_two_at_once_send_one_command(world):
    reports: list = []
    down = world.peer_down()
    threads = [threading.Thread(target=lambda: reports.append(stop_session(down, request("SES-900017"))))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.outcome.value for r in reports) == ["already_tried"] * 3 + ["unreachable"]


def test_the_database_itself_refuses_a_second_row_for_a_session(world):
    with pytest.raises(IntegrityError):
        with session_scope(world.settings) as db:
            db.add(CommandAttempt(uid="X" * 32, command=STOP_SESSION, session_id="SES-900001", account_id=ACCOUNT))
