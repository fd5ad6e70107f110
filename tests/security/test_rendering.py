"""Findings 5 and 7: what reaches the widget and the agent view cannot break or hijack them."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests

from bot.apps.agent_view import make_app as agent_app, render_handoff_text
from bot.apps.web_server import BackgroundSite
from bot.conversation import replies
from bot.conversation.handoff_fields import parse_session_time
from bot.domain.handoff_record import HandoffRecord
from bot.integrations.ocpi_client import parse_operator
from bot.rasa_plugins.channels import admission_reply
from bot.settings import Settings
from bot.store.handoff_store import store_handoff
from harness.stack import free_port

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
HOSTILE = "[Pay here](javascript:alert(1)) ![x](https://evil.example/p.png) <img src=x onerror=alert(1)>"


def test_markdown_in_data_values_is_escaped():
    import re

    escaped = replies.markdown_escape(HOSTILE)
    assert not re.search(r"(?<!\\)[\[\]<>]", escaped), escaped  # no bracket or angle left unescaped
    assert replies.markdown_escape("Allego (NL), www.allego.eu") == "Allego (NL), www.allego.eu"


def test_operator_data_reaches_replies_escaped():
    reply = replies.anonymous_other_provider("[Pay](javascript:alert(1))", "![x](https://evil.example/p.png)", None)
    assert "\\[Pay\\](javascript" in reply.text and "!\\[x\\]" in reply.text


def test_ocpi_operator_fields_are_validated():
    operator = parse_operator({"name": "Allego" + "x" * 500, "website": "javascript:alert(1)", "phone": "<b>1</b>"})
    assert len(operator.name) <= 200 and operator.website is None and operator.phone is None
    assert parse_operator({"name": "Allego", "website": "http://allego.eu"}).website is None  # https only
    assert parse_operator({"name": "Allego", "website": "https://www.allego.eu/contact"}).website \
        == "https://www.allego.eu/contact"
    clean = parse_operator({"name": "Allego\x1b[2J\n", "phone": "+31 88 033 3033"})
    assert "\x1b" not in clean.name and "\n" not in clean.name and clean.phone == "+31 88 033 3033"


@pytest.mark.parametrize("typed", ["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "1970-01-01T00:00:00+00:00",
                                   "2031-01-01T10:00:00+01:00"])
def test_implausible_times_are_not_accepted(typed):
    assert parse_session_time(typed, Settings(), NOW) is None


def test_raw_intents_are_only_the_bots_own_buttons():
    for forged in ('/inform{"time":"0001-01-01T00:00:00+23:59"}', "/nosuchintent my card is NL-EFL-C12345678-9",
                   '/inform{"session_id":"SES-100003","location":"x"}', "/restart", "/session_start"):
        assert admission_reply(forged) == replies.not_understood()
    for button in ("/request_human", "/kwh_increasing", "/kwh_not_increasing", '/inform{"session_id":"SES-100003"}'):
        assert admission_reply(button) is None


def test_a_stored_record_with_an_absurd_time_does_not_take_the_agent_view_down(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}", agent_view_token="agent-token-123456")
    from bot.store.db import create_schema
    create_schema(settings)
    reference = store_handoff(settings, HandoffRecord(
        conversation_id="c", channel="rest", reason="driver_asked_for_person", session_time="0001-01-01T00:00:00+23:59",
        transcript=[{"timestamp": "0001-01-01T00:00:00+23:59", "sender": "user", "text": "hi"},
                    {"timestamp": "not a time", "sender": "bot", "text": "hello"}]))
    assert "0001-01-01" in render_handoff_text(settings, reference)
    site = BackgroundSite(agent_app(settings), free_port()).start()
    try:
        headers = {"Authorization": "Bearer agent-token-123456"}
        assert requests.get(site.url + "/", headers=headers, timeout=10).status_code == 200
        assert requests.get(f"{site.url}/handoffs/{reference}", headers=headers, timeout=10).status_code == 200
    finally:
        site.stop()
