"""Handoff delivery against a real SQLite file and a real webhook on 127.0.0.1.

The properties an agent would notice: every handoff reaches the helpdesk, none arrives twice,
a failing helpdesk is retried on the documented schedule, and a crashed worker loses nothing.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.store.db import create_schema, session_scope
from bot.domain.handoff_record import HandoffRecord
from bot.store.handoff_store import store_handoff
from bot.integrations.handoff_delivery import RetryPolicy, deliver_due, handoff_payload, retry_delay, run_delivery_loop
from bot.domain.clock import utcnow
from bot.store.models import Handoff, HandoffOutbox
from bot.settings import Settings
from tests.helpers.webhook_server import WebhookServer

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CARD = "NL-EFL-C12345678-9"
POLICY = RetryPolicy(initial_delay_s=2, multiplier=2, max_delay_s=300, jitter=0.25, rejected_delay_s=900, lease_s=60)
# For tests that run on the real clock: retries after milliseconds.
FAST = RetryPolicy(initial_delay_s=0.01, multiplier=2, max_delay_s=0.05, jitter=0.25, rejected_delay_s=0.05, lease_s=30)


def settings_for(db_url: str, webhook_url=None, timeout_s: float = 0.3) -> Settings:
    return Settings(database_url=db_url, handoff_webhook_url=webhook_url, handoff_webhook_timeout_s=timeout_s)


@pytest.fixture
def db_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'bot.store.db'}"
    create_schema(Settings(database_url=url))
    return url


@pytest.fixture
def webhook():
    with WebhookServer(hang_s=30) as server:
        yield server


def make_handoff(settings: Settings, **overrides) -> str:
    fields = dict(
        conversation_id="conv-1",
        channel="rest",
        reason="stale_session_own_station",
        account_id="ACC-1",
        card_number=CARD,
        location="Stationsplein 1, Amsterdam",
        session_time="2024-05-01T18:00:00+02:00",
        session_id="SES-104233",
        findings={"kwh_trend": "not_increasing", "hours_open": 80.5, "owner": "own"},
        transcript=[
            {"timestamp": "2024-05-04T09:00:00+00:00", "sender": "user", "text": "my session is still active"},
            {"timestamp": "2024-05-04T09:00:02+00:00", "sender": "bot", "text": "Let me check."},
        ],
    )
    fields.update(overrides)
    return store_handoff(settings, HandoffRecord(**fields))


def outbox_row(settings: Settings, reference: str) -> HandoffOutbox:
    with session_scope(settings) as db:
        return db.execute(
            select(HandoffOutbox).join(Handoff).where(Handoff.reference == reference)
        ).scalar_one()


def all_delivered(settings: Settings) -> bool:
    with session_scope(settings) as db:
        return all(state == "delivered" for state in db.execute(select(HandoffOutbox.state)).scalars())


def test_payload_reaches_the_helpdesk_once_with_every_field_and_the_idempotency_key(db_url, webhook):
    settings = settings_for(db_url, webhook.url)
    reference = make_handoff(settings)

    report = deliver_due(settings)
    again = deliver_due(settings)

    assert [(a.reference, a.outcome, a.attempt) for a in report.attempts] == [(reference, "delivered", 1)]
    assert again.attempts == []  # delivered rows are never picked again
    [received] = webhook.requests
    row = outbox_row(settings, reference)
    assert received.idempotency_key == row.idempotency_key
    assert received.content_type == "application/json"
    assert received.body["reference"] == reference
    assert received.body["card_number"] == CARD
    assert received.body["session_id"] == "SES-104233"
    assert received.body["findings"]["kwh_trend"] == "not_increasing"
    assert [line["sender"] for line in received.body["transcript"]] == ["user", "bot"]
    assert set(received.body) == {
        "reference", "created_at", "conversation_id", "channel", "account_id", "card_number", "location",
        "session_time", "session_id", "language", "reason", "findings", "transcript",
    }
    assert (row.state, row.attempts, row.last_error) == ("delivered", 1, None)
    assert row.delivered_at is not None


def test_handoff_payload_is_json_serialisable(db_url):
    settings = settings_for(db_url)
    reference = make_handoff(settings, transcript=[{"timestamp": "t", "sender": "user", "text": "héllo <b>"}])
    with session_scope(settings) as db:
        handoff = db.execute(select(Handoff).where(Handoff.reference == reference)).scalar_one()
        payload = handoff_payload(handoff)
    assert json.loads(json.dumps(payload))["transcript"][0]["text"] == "héllo <b>"
    assert payload["created_at"].endswith("+00:00")


def test_failures_are_retried_with_capped_exponential_backoff_until_delivered(db_url, webhook):
    settings = settings_for(db_url, webhook.url, timeout_s=0.3)
    reference = make_handoff(settings)
    webhook.script("500", "timeout", "429", "503")
    expected_errors = ["HTTP 500", "ReadTimeout", "HTTP 429", "HTTP 503"]

    now = utcnow()
    delays = []
    for attempt, (base, error) in enumerate(zip([2, 4, 8, 16], expected_errors), start=1):
        [result] = deliver_due(settings, now=now, policy=POLICY).attempts
        assert (result.attempt, result.outcome, result.error) == (attempt, "retry", error)
        delay = (result.next_attempt_at - now).total_seconds()
        assert base * 0.75 <= delay <= base
        delays.append(round(delay, 2))
        row = outbox_row(settings, reference)
        assert (row.state, row.attempts, row.last_error) == ("pending", attempt, error)
        # Not due a moment earlier: the back-off is honoured, no early resend.
        assert deliver_due(settings, now=result.next_attempt_at - timedelta(milliseconds=5), policy=POLICY).attempts == []
        now = result.next_attempt_at

    [final] = deliver_due(settings, now=now, policy=POLICY).attempts
    assert (final.attempt, final.outcome) == (5, "delivered")
    row = outbox_row(settings, reference)
    assert (row.state, row.attempts, row.last_error) == ("delivered", 5, None)
    keys = {r.idempotency_key for r in webhook.requests}
    assert len(webhook.requests) == 5 and keys == {row.idempotency_key}  # same key on every retry
    assert webhook.ok_answers[row.idempotency_key] == 1 and webhook.duplicates == 0
    print(f"\nbackoff: attempts=5 delays_s={delays} errors={expected_errors} duplicates={webhook.duplicates}")


def test_retry_delay_doubles_then_stays_at_the_cap():
    bases = [min(300, 2 * 2 ** (n - 1)) for n in range(1, 13)]
    assert bases[-4:] == [300, 300, 300, 300]
    for attempt, base in enumerate(bases, start=1):
        for _ in range(20):
            assert base * 0.75 <= retry_delay(attempt, POLICY) <= base


def test_retry_after_from_the_helpdesk_is_respected(db_url, webhook):
    settings = settings_for(db_url, webhook.url)
    make_handoff(settings)
    webhook.script("429/30")
    now = utcnow()
    [result] = deliver_due(settings, now=now, policy=POLICY).attempts
    assert result.outcome == "retry"
    assert (result.next_attempt_at - now).total_seconds() == pytest.approx(30)


def test_refused_request_is_kept_and_retried_on_the_slow_schedule(db_url, webhook):
    settings = settings_for(db_url, webhook.url)
    reference = make_handoff(settings)
    webhook.script("400")

    now = utcnow()
    [refused] = deliver_due(settings, now=now, policy=POLICY).attempts
    assert (refused.outcome, refused.error) == ("rejected", "HTTP 400")
    assert 675 <= (refused.next_attempt_at - now).total_seconds() <= 900
    row = outbox_row(settings, reference)
    assert (row.state, row.last_error) == ("pending", "HTTP 400")  # kept, not dropped
    assert deliver_due(settings, now=now + timedelta(minutes=5), policy=POLICY).attempts == []

    # The helpdesk is fixed: the handoff still arrives.
    [delivered] = deliver_due(settings, now=refused.next_attempt_at, policy=POLICY).attempts
    assert delivered.outcome == "delivered"
    assert list(webhook.tickets) == [row.idempotency_key]


def test_without_webhook_rows_wait_untouched_and_are_sent_once_one_is_configured(db_url, webhook):
    unconfigured = settings_for(db_url, None)
    reference = make_handoff(unconfigured)

    report = deliver_due(unconfigured)
    row = outbox_row(unconfigured, reference)
    assert report.webhook_configured is False and report.attempts == []
    assert (row.state, row.attempts) == ("not_configured", 0)
    assert webhook.requests == []

    configured = settings_for(db_url, webhook.url)
    assert deliver_due(configured).delivered == 1
    assert outbox_row(configured, reference).state == "delivered"
    assert list(webhook.tickets) == [row.idempotency_key]


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_db_url(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.db'}"
    else:  # a database of its own on the test PostgreSQL (skips without one, fails with CI=true)
        url = request.getfixturevalue("postgres_databases").create("delivery")
    create_schema(Settings(database_url=url))
    return url


def test_two_workers_in_parallel_deliver_every_handoff_exactly_once(shared_db_url):
    count = 30
    # Every third answer fails, so rows go round the retry path while both workers compete.
    with WebhookServer(script=["ok", "ok", "500"] * count, hang_s=30) as webhook:
        settings = settings_for(shared_db_url, webhook.url, timeout_s=2)
        for i in range(count):
            make_handoff(settings, conversation_id=f"conv-{i}")
        start = threading.Barrier(2)
        delivered_by = {"a": 0, "b": 0}
        errors = []

        def worker(name):
            try:
                start.wait()
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and not all_delivered(settings):
                    delivered_by[name] += deliver_due(settings, limit=3, policy=FAST).delivered
                    time.sleep(0.005)
            except Exception as exc:  # surfaced below: a worker must never crash on contention
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(name,)) for name in delivered_by]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=40)

        assert errors == []
        assert all_delivered(settings)
        assert len(webhook.tickets) == count  # nothing lost
        assert set(webhook.ok_answers.values()) == {1} and webhook.duplicates == 0  # nothing twice
        assert sum(delivered_by.values()) == count
        assert min(delivered_by.values()) > 0, "both workers should have taken part"
        failed = sum(1 for r in webhook.requests if r.action == "500")
        print(f"\ntwo workers ({shared_db_url.split(':')[0]}): handoffs={count} requests={len(webhook.requests)} "
              f"failed_500={failed} delivered_by={delivered_by} duplicates={webhook.duplicates}")


def _crashing_worker(db_url: str, webhook_url: str) -> subprocess.Popen:
    """A separate process (own engine, own connections) that will be killed mid-send."""
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), BOT_DATABASE_URL=db_url,
               BOT_HANDOFF_WEBHOOK_URL=webhook_url, BOT_HANDOFF_WEBHOOK_TIMEOUT_S="20")
    code = ("import os; from bot.settings import settings_from_env; from bot.integrations.handoff_delivery import deliver_due; "
            "deliver_due(settings_from_env(os.environ))")
    return subprocess.Popen([sys.executable, "-c", code], env=env, cwd=PROJECT_ROOT)


@pytest.mark.parametrize("crash_point", ["before_helpdesk_accepted", "after_helpdesk_accepted"])
def test_worker_killed_mid_send_loses_nothing_and_sends_no_second_ticket(db_url, webhook, crash_point):
    settings = settings_for(db_url, webhook.url, timeout_s=20)
    reference = make_handoff(settings)
    webhook.script("timeout" if crash_point == "before_helpdesk_accepted" else "accept_hang")

    worker = _crashing_worker(db_url, webhook.url)
    try:
        assert webhook.wait_for_requests(1, timeout_s=30), "crashing worker never sent"
    finally:
        worker.kill()
        worker.wait(timeout=10)

    # A restarted worker (this process: new engine) leaves the row alone while the lease runs ...
    assert deliver_due(settings, policy=POLICY).attempts == []
    # ... and delivers it once the lease has expired.
    [result] = deliver_due(settings, now=utcnow() + timedelta(seconds=61), policy=POLICY).attempts
    assert (result.reference, result.outcome, result.attempt) == (reference, "delivered", 2)

    row = outbox_row(settings, reference)
    assert (row.state, row.attempts) == ("delivered", 2)
    assert [r.idempotency_key for r in webhook.requests] == [row.idempotency_key] * 2
    assert list(webhook.tickets) == [row.idempotency_key]  # one ticket, whatever the crash point
    assert webhook.ok_answers[row.idempotency_key] == 1 and webhook.duplicates == 0


def test_background_loop_delivers_through_failures_and_stops_promptly(db_url, webhook):
    settings = settings_for(db_url, webhook.url)
    references = [make_handoff(settings, conversation_id=f"conv-{i}") for i in range(3)]
    webhook.script("500", "503")
    stop = threading.Event()
    loop = threading.Thread(target=run_delivery_loop, args=(settings, stop, 0.05, FAST))
    loop.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all_delivered(settings):
            time.sleep(0.05)
    finally:
        stop.set()
        loop.join(timeout=2)
    assert not loop.is_alive()
    assert all_delivered(settings)
    assert {r.body["reference"] for r in webhook.requests} == set(references)
    assert len(webhook.tickets) == 3 and webhook.duplicates == 0


def test_logs_never_contain_the_card_number(db_url, webhook, caplog):
    caplog.set_level(logging.DEBUG)
    settings = settings_for(db_url, webhook.url)
    reference = make_handoff(settings)
    webhook.script("500", "400")
    now = utcnow()
    for step in range(3):
        deliver_due(settings, now=now + timedelta(hours=step), policy=POLICY)
    assert outbox_row(settings, reference).state == "delivered"
    assert reference in caplog.text  # the log is useful ...
    assert CARD not in caplog.text and "C12345678" not in caplog.text  # ... and keeps the card out
