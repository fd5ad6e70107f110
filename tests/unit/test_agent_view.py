"""The agent view served for real on 127.0.0.1, over a real SQLite file."""
from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
import requests
from aiohttp import web
from sqlalchemy import update

from bot.apps.agent_view import list_handoffs, make_app, render_handoff_text
from bot.store.db import create_schema, session_scope
from bot.domain.handoff_record import HandoffRecord
from bot.store.handoff_store import store_handoff
from bot.domain.clock import utcnow
from bot.store.models import Handoff
from bot.settings import Settings

TOKEN = "s3cret-agent-token"
SCRIPT = "<script>alert(1)</script>"


class RunningApp:
    """Serves an aiohttp app on a free port from its own event loop thread."""

    def __init__(self, app: web.Application):
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    def __enter__(self) -> str:
        self.thread.start()
        self.runner = web.AppRunner(self.app)
        self._run(self.runner.setup())
        self._run(web.TCPSite(self.runner, "127.0.0.1", 0).start())
        host, port = self.runner.addresses[0][:2]
        return f"http://{host}:{port}"

    def __exit__(self, *exc) -> None:
        self._run(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


@pytest.fixture
def settings(tmp_path) -> Settings:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'bot.store.db'}", agent_view_token=TOKEN,
                        timezone="Europe/Amsterdam")
    create_schema(settings)
    return settings


@pytest.fixture
def base_url(settings):
    with RunningApp(make_app(settings)) as url:
        yield url


def add_handoff(settings: Settings, age: timedelta, **overrides) -> str:
    fields = dict(
        conversation_id="conv-1", channel="rest", reason="stale_session_own_station", account_id="ACC-1",
        card_number="NL-EFL-C12345678-9", location="Stationsplein 1, Amsterdam",
        session_time="2024-05-01T16:00:00+00:00", session_id="SES-104233",
        findings={"kwh_trend": "not_increasing", "hours_open": 80.5, "owner": {"name": "E-Flux"}},
        transcript=[
            {"timestamp": "2024-05-04T09:00:00+00:00", "sender": "user", "text": "my session is still active"},
            {"timestamp": "2024-05-04T09:00:02+00:00", "sender": "bot", "text": "Has the kWh stopped increasing?"},
        ],
    )
    fields.update(overrides)
    reference = store_handoff(settings, HandoffRecord(**fields))
    with session_scope(settings) as db:
        db.execute(update(Handoff).where(Handoff.reference == reference).values(created_at=utcnow() - age))
    return reference


def bearer(token: str = TOKEN) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_no_token_configured_refuses_every_request(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'bot.store.db'}", agent_view_token=None)
    create_schema(settings)
    reference = add_handoff(settings, timedelta(0))
    with RunningApp(make_app(settings)) as url:
        for path in ("/", f"/handoffs/{reference}"):
            for attempt in ({"headers": bearer("")}, {"headers": bearer("anything")}, {"params": {"token": ""}}):
                response = requests.get(url + path, timeout=5, **attempt)
                assert response.status_code == 403
                assert reference not in response.text


@pytest.mark.parametrize("credentials", [
    {},
    {"headers": {"Authorization": "Bearer wrong-token"}},
    {"headers": {"Authorization": f"Bearer {TOKEN[:-1]}"}},
    {"headers": {"Authorization": f"Basic {TOKEN}"}},
    {"params": {"token": "wrong-token"}},
    {"params": {"token": "ünïcode"}},
])
def test_missing_or_wrong_token_gets_401_and_no_data(settings, base_url, credentials):
    reference = add_handoff(settings, timedelta(0))
    for path in ("/", f"/handoffs/{reference}"):
        response = requests.get(base_url + path, timeout=5, **credentials)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert reference not in response.text and "C12345678" not in response.text


def test_list_shows_newest_first_with_delivery_state_and_attempts(settings, base_url):
    oldest = add_handoff(settings, timedelta(hours=2), location="Oldest Street 1")
    middle = add_handoff(settings, timedelta(hours=1), card_number=None, account_id=None, location="Middle Road 2")
    newest = add_handoff(settings, timedelta(0), location="Newest Lane 3")
    with session_scope(settings) as db:
        outbox = db.query(Handoff).filter_by(reference=oldest).one().outbox
        outbox.state, outbox.attempts, outbox.last_error = "pending", 7, "HTTP 500"

    response = requests.get(base_url + "/", headers=bearer(), timeout=5)

    assert response.status_code == 200
    html = response.text
    positions = [html.index(ref) for ref in (newest, middle, oldest)]
    assert positions == sorted(positions)
    assert "Newest Lane 3" in html and "NL-EFL-C12345678-9" in html and "anonymous" in html
    assert "HTTP 500" in html and ">7</td>" in html and "not_configured" in html
    assert response.headers["Cache-Control"] == "no-store"


def test_browser_link_with_token_in_query_can_open_the_detail_page(settings, base_url):
    reference = add_handoff(settings, timedelta(0))
    listing = requests.get(base_url + "/", params={"token": TOKEN}, timeout=5)
    link = f'href="/handoffs/{reference}?token={TOKEN}"'
    assert listing.status_code == 200 and link in listing.text
    assert listing.headers["Referrer-Policy"] == "no-referrer"  # the token must not leak to other sites

    detail = requests.get(f"{base_url}/handoffs/{reference}?token={TOKEN}", timeout=5)
    assert detail.status_code == 200 and f"Handoff {reference}" in detail.text


def test_detail_shows_fields_findings_and_transcript_with_driver_text_escaped(settings, base_url):
    reference = add_handoff(
        settings, timedelta(0), location='<img src=x onerror="alert(2)">',
        transcript=[
            {"timestamp": "2024-05-04T09:00:00+00:00", "sender": "user", "text": f"hi {SCRIPT}"},
            {"timestamp": "2024-05-04T09:00:02Z", "sender": "bot", "text": "Has the kWh stopped increasing?"},
            {"timestamp": "2024-05-04T09:05:00+00:00", "sender": "agent", "text": "Agent Anna here."},
        ],
    )

    response = requests.get(f"{base_url}/handoffs/{reference.lower()}", headers=bearer(), timeout=5)

    assert response.status_code == 200
    html = response.text
    assert SCRIPT not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img" not in html and "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in html
    # Who said what, when (09:00 UTC is 11:00 summer time in Amsterdam), in order.
    rows = [html.index(s) for s in ("2024-05-04 11:00:00 CEST", "Driver", "2024-05-04 11:00:02 CEST",
                                    "Assistant", "2024-05-04 11:05:00 CEST", "Agent Anna here.")]
    assert rows == sorted(rows)
    for shown in ("SES-104233", "NL-EFL-C12345678-9", "ACC-1", "conv-1", "kwh_trend", "not_increasing", "80.5"):
        assert shown in html
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_unknown_reference_is_404(settings, base_url):
    add_handoff(settings, timedelta(0))
    response = requests.get(base_url + "/handoffs/HO-NOPE99", headers=bearer(), timeout=5)
    assert response.status_code == 404


def test_cli_functions_list_newest_first_and_render_readable_text(settings):
    older = add_handoff(settings, timedelta(hours=1))
    newer = add_handoff(
        settings, timedelta(0),
        transcript=[{"timestamp": "2024-05-04T09:00:00+00:00", "sender": "user", "text": "red \x1b[31malert\rline2"}],
    )

    listed = list_handoffs(settings, limit=10)
    assert [h["reference"] for h in listed] == [newer, older]
    assert listed[0]["delivery_state"] == "not_configured" and listed[0]["attempts"] == 0
    assert list_handoffs(settings, limit=1)[0]["reference"] == newer

    text = render_handoff_text(settings, newer.lower())
    assert text.splitlines()[0] == f"Handoff {newer}"
    assert "Charge card:     NL-EFL-C12345678-9" in text and "Session ID:      SES-104233" in text
    assert "kwh_trend: \"not_increasing\"" in text
    assert "[2024-05-04 11:00:00 CEST] Driver: red" in text
    assert "\x1b" not in text and "\r" not in text  # driver text cannot drive the agent's terminal
    assert render_handoff_text(settings, "HO-NOPE99") is None
