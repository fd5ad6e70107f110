"""What the people who review stops see: `bot stop-attempts`, `bot back-office-closes`, `bot back-office-reviewed`
and the agent view's /stops page, over a real SQLite charging database (the demo seed) with audit rows as the
stop flow writes them (bot.store.stop_commands)."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select, update

from bot.apps.agent_view import make_app
from bot.cli import cli
from bot.domain.stop_command import STOP_SESSION
from bot.settings import get_settings
from bot.store import stop_commands
from bot.store.command_models import BackOfficeClose, CommandAttempt
from bot.store.db import session_scope
from bot.store.models import ChargeCard
from tests.unit.conftest import NOW
from tests.unit.test_agent_view import TOKEN, RunningApp, bearer

ACCEPTED, REJECTED, DOWN, UNDER_WAY = "SES-100001", "SES-100003", "SES-100004", "SES-100006"


def attempt(settings, uid: str, sid: str, account: str, minutes: int, response=None, timeout=None, error=None,
            result=None, outcome=None, step=None, confirmed_by=None) -> None:
    at = NOW + timedelta(minutes=minutes)
    with session_scope(settings) as db:
        assert stop_commands.reserve_attempt(db, uid, STOP_SESSION, sid, account, at)
    with session_scope(settings) as db:
        stop_commands.record_response(db, uid, response, timeout, None, error)
    if outcome is not None:
        with session_scope(settings) as db:
            if step == "back_office_close":
                stop_commands.back_office_close(db, uid, sid, 16.5, at - timedelta(hours=28),
                                                f"STOP_SESSION {outcome}: response {response}, result {result}", at)
            stop_commands.record_outcome(db, uid, result, at if result else None, confirmed_by, outcome, step, at)


@pytest.fixture
def reviewed_world(seeded, monkeypatch):
    """Four attempts of four demo sessions (stopped, rejected and closed, CPO down, under way) and the CLI's
    settings pointing at the same database."""
    attempt(seeded, "U1", ACCEPTED, "demo-wait", 1, "ACCEPTED", 30, result="ACCEPTED", outcome="stopped",
            step="tell_stopped", confirmed_by="session_completed")
    attempt(seeded, "U2", REJECTED, "demo-blocked", 2, "ACCEPTED", 30, result="REJECTED", outcome="rejected",
            step="back_office_close")
    attempt(seeded, "U3", DOWN, "demo-overdue", 3, error="OcpiUnavailable: request to http://cpo.example failed",
            outcome="unreachable", step="handoff")
    attempt(seeded, "U4", UNDER_WAY, "demo-two", 4, "ACCEPTED", 30)
    with session_scope(seeded) as db:  # the receiver wrote a late result on U3's row
        db.execute(update(CommandAttempt).where(CommandAttempt.uid == "U3").values(late_result="ACCEPTED"))
    monkeypatch.setenv("BOT_DATABASE_URL", seeded.database_url)
    monkeypatch.setenv("BOT_TIMEZONE", "UTC")
    get_settings.cache_clear()
    yield seeded
    get_settings.cache_clear()


def cards(settings) -> list:
    with session_scope(settings) as db:
        return [c for (c,) in db.execute(select(ChargeCard.contract_id)).all()]


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_stop_attempts_lists_every_attempt_newest_first_with_who_what_and_what_came_of_it(reviewed_world):
    out = run("stop-attempts")
    lines = out.splitlines()
    assert [line.split()[4] for line in lines[1:]] == [UNDER_WAY, DOWN, REJECTED, ACCEPTED], out
    under_way, down, rejected, accepted = lines[1:]
    assert "2026-11-24 12:01" in accepted and "demo-wait" in accepted and "STOP_SESSION" in accepted
    assert "stopped (session_completed)" in accepted and "tell_stopped" in accepted
    assert "demo-blocked" in rejected and "REJECTED" in rejected and "back_office_close" in rejected
    assert "no answer: OcpiUnavailable" in down and "late ACCEPTED" in down and "handoff" in down
    assert "under way" in under_way
    assert not any(card in out for card in cards(reviewed_world)), "an account, never a card number"
    assert len(run("stop-attempts", "--limit", "2").splitlines()) == 3


def test_back_office_closes_pending_and_marking_one_reviewed(reviewed_world):
    out = run("back-office-closes", "--pending")
    assert REJECTED in out and "demo-blocked" in out and "16.500" in out and "awaiting review" in out
    assert "STOP_SESSION rejected" in out and ACCEPTED not in out
    assert not any(card in out for card in cards(reviewed_world))

    assert "marked reviewed" in run("back-office-reviewed", REJECTED.lower())  # typed in lower case
    assert "already reviewed" in run("back-office-reviewed", REJECTED)
    with session_scope(reviewed_world) as db:
        close = db.execute(select(BackOfficeClose)).scalar_one()
        assert not close.needs_review and close.reviewed_at is not None
    assert run("back-office-closes", "--pending").strip() == "No back-office closes awaiting review."
    assert "reviewed 20" in run("back-office-closes")

    missing = CliRunner().invoke(cli, ["back-office-reviewed", ACCEPTED])
    assert missing.exit_code != 0 and "no back-office close" in missing.output


def test_the_agent_view_shows_the_same_lists_and_marks_a_close_reviewed(reviewed_world):
    settings = replace(get_settings(), agent_view_token=TOKEN)
    with RunningApp(make_app(settings)) as url:
        assert requests.get(url + "/stops", timeout=5).status_code == 401
        assert requests.post(url + f"/stops/closes/{REJECTED}/reviewed", timeout=5).status_code == 401
        page = requests.get(url + "/stops", headers=bearer(), timeout=5)
        assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
        html = page.text
        for sid in (ACCEPTED, REJECTED, DOWN, UNDER_WAY):
            assert sid in html
        assert html.index(UNDER_WAY) < html.index(DOWN) < html.index(ACCEPTED), "attempts newest first"
        assert "late: ACCEPTED" in html and "Mark reviewed" in html and "demo-blocked" in html
        assert not any(card in html for card in cards(reviewed_world))
        pending = requests.get(url + "/stops", params={"token": TOKEN, "pending": "1"}, timeout=5).text
        assert f'action="/stops/closes/{REJECTED}/reviewed?token={TOKEN}"' in pending

        done = requests.post(url + f"/stops/closes/{REJECTED}/reviewed", params={"token": TOKEN}, timeout=5,
                             allow_redirects=False)
        assert done.status_code == 303 and done.headers["Location"] == f"/stops?token={TOKEN}"
        assert requests.post(url + f"/stops/closes/{ACCEPTED}/reviewed", headers=bearer(),
                             timeout=5).status_code == 404
        after = requests.get(url + "/stops", params={"token": TOKEN, "pending": "1"}, timeout=5).text
        assert "No back-office closes awaiting review" in after and "Mark reviewed" not in after
        listing = requests.get(url + "/", params={"token": TOKEN}, timeout=5).text
        assert f'href="/stops?token={TOKEN}"' in listing
