"""Findings 8, 9 and 10: demo logins, handoff spam, and the smaller points."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import datetime, timedelta, timezone

import jwt
import requests
from sqlalchemy import func, select

from bot.apps.agent_view import make_app as agent_app
from bot.apps.web_server import BackgroundSite, make_app as widget_app
from bot.conversation.handoff import HandoffRequest, file_handoff
from bot.domain.identity import TokenPolicy, mint_token, verify_token
from bot.integrations.handoff_delivery import deliver_due
from bot.store.db import session_scope
from bot.store.models import Account, ChargeCard, Handoff
from harness.stack import free_port
from tests.conftest import TEST_SECRET

SECRET = TEST_SECRET


# --- 8: demo logins ------------------------------------------------------------------------------

def test_demo_logins_only_for_seeded_demo_accounts_and_no_existence_oracle(seeded, widget_built):
    with session_scope(seeded) as db:
        db.add(Account(id="real-driver", name="Real Driver"))
        db.add(ChargeCard(contract_id="NL-EFL-C99999999-9", uid="UID99999999", account_id="real-driver"))
    site = BackgroundSite(widget_app(seeded, "http://127.0.0.1:5005", demo_logins=True, web_dir=widget_built),
                          free_port()).start()
    try:
        get = lambda q: requests.get(site.url + "/" + q, timeout=10)  # noqa: E731
        real, unknown, anonymous = get("?as=real-driver"), get("?as=no-such-account"), get("")
        assert real.status_code == unknown.status_code == anonymous.status_code == 200
        assert '"identity": null' in real.text and '"identity": null' in unknown.text
        assert real.text == unknown.text == anonymous.text
        assert '"identity": "eyJ' in get("?as=demo-wait").text
    finally:
        site.stop()


# --- 9: handoff spam -----------------------------------------------------------------------------

def test_a_repeated_handoff_is_not_stored_twice(seeded):
    now = datetime.now(timezone.utc)
    request = HandoffRequest(conversation_id="spam-1", channel="rest", identity=None,
                             slots={"card_number": "NL-EFL-C87654321-3", "location": "Jaarbeurs Utrecht"}, events=[])
    first = file_handoff(seeded, request, now)
    again = [file_handoff(seeded, request, now + timedelta(minutes=m)) for m in range(1, 20)]
    assert set(again) == {first}
    with session_scope(seeded) as db:
        assert db.execute(select(func.count()).select_from(Handoff)).scalar() == 1
    # A day later, or with other details, it is a new handoff.
    assert file_handoff(seeded, request, now + timedelta(hours=25)) != first


# --- 10: smaller points --------------------------------------------------------------------------

def test_tokens_need_issuer_audience_and_a_bounded_lifetime():
    now = datetime.now(timezone.utc)
    good = mint_token("acc-1", [], SECRET)
    assert verify_token(good, SECRET).account_id == "acc-1"
    base = {"sub": "acc-1", "cards": [], "iat": now, "exp": now + timedelta(minutes=5)}
    for claims in ({**base, "iss": "stale-session-app"}, {**base, "aud": "stale-session-assistant"},
                   {**base, "iss": "someone-else", "aud": "stale-session-assistant"},
                   {**base, "iss": "stale-session-app", "aud": "stale-session-assistant",
                    "exp": now + timedelta(days=400)}):
        assert verify_token(jwt.encode(claims, SECRET, algorithm="HS256"), SECRET) is None
    assert verify_token(mint_token("acc-1", [], SECRET, ttl=timedelta(hours=13)), SECRET) is None
    short = TokenPolicy(max_lifetime=timedelta(minutes=10))
    assert verify_token(mint_token("acc-1", [], SECRET, ttl=timedelta(minutes=30)), SECRET, short) is None


class _Recorder:
    def __init__(self):
        self.calls = []

    def post(self, url, **kwargs):
        self.calls.append((url, kwargs))

        class Answer:
            status_code, headers = 200, {}

            def close(self):
                pass

        return Answer()


def _settings_with_handoff(seeded, url, secret="webhook-secret-0123456789"):
    from dataclasses import replace
    settings = replace(seeded, handoff_webhook_url=url, handoff_webhook_secret=secret)
    file_handoff(settings, HandoffRequest(conversation_id="w-1", channel="rest", identity=None,
                                          slots={"location": "Jaarbeurs Utrecht"}, events=[]),
                 datetime.now(timezone.utc))
    return settings


def test_webhook_payloads_are_signed(seeded):
    settings = _settings_with_handoff(seeded, "https://helpdesk.example/hooks")
    http = _Recorder()
    assert deliver_due(settings, http=http).delivered == 1
    url, sent = http.calls[0]
    body = sent["data"]
    timestamp = sent["headers"]["X-Signature-Timestamp"]
    expected = hmac.new(b"webhook-secret-0123456789", timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert sent["headers"]["X-Signature"] == f"sha256={expected}"
    assert json.loads(body)["location"] == "Jaarbeurs Utrecht"


def test_webhooks_must_be_https_except_on_localhost(seeded):
    settings = _settings_with_handoff(seeded, "http://helpdesk.example/hooks")
    http = _Recorder()
    report = deliver_due(settings, http=http)
    assert http.calls == [] and report.rejected == 1


def test_the_agent_view_keeps_an_audit_log_of_who_read_what(seeded, caplog):
    from dataclasses import replace
    settings = replace(seeded, agent_view_token="agent-token-123456")
    reference = file_handoff(settings, HandoffRequest(conversation_id="a-1", channel="rest", identity=None,
                                                      slots={"location": "Utrecht"}, events=[]),
                             datetime.now(timezone.utc))
    site = BackgroundSite(agent_app(settings), free_port()).start()
    try:
        with caplog.at_level(logging.INFO, logger="bot.audit"):
            headers = {"Authorization": "Bearer agent-token-123456", "X-Agent": "alice"}
            assert requests.get(f"{site.url}/handoffs/{reference}", headers=headers, timeout=10).status_code == 200
    finally:
        site.stop()
    audit = [r.getMessage() for r in caplog.records if r.name == "bot.audit"]
    assert any(reference in line and "read" in line for line in audit), audit
    assert all("agent-token-123456" not in line for line in audit)
