"""STOP_SESSION against CPOs that misbehave in ways extrawest-ocpi does not: a real local HTTP server
(tests/ocpi/scripted_http.py) that hangs, fails with 5xx, or answers what is not a CommandResponse. Each is
"no usable answer" (UNREACHABLE: a person looks), the command is never sent twice, and the turn stays bounded."""
from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from bot.domain.clock import utcnow
from bot.domain.stop_command import NextStep, StopOutcome
from bot.integrations.ocpi_client import OcpiProtocolError, OcpiStatusError, OcpiTimeout, OcpiUnavailable
from bot.integrations.ocpi_commands import parse_command_response, send_stop_session
from bot.integrations.stop_session import StopRequest, stop_session
from bot.settings import Settings, StopSettings
from bot.store.db import create_schema
from tests.ocpi.scripted_http import Reply, envelope


def send(scripted, timeout_s=1.0):
    return send_stop_session(scripted.url, "tok", "SES-900001", "http://127.0.0.1:9/cb/STOP_SESSION/X", timeout_s)


def test_the_command_body_and_headers(scripted):
    scripted.play(Reply(200, envelope({"result": "ACCEPTED", "timeout": 30})))
    answer = send(scripted)
    assert (answer.result, answer.timeout_s) == ("ACCEPTED", 30)
    assert scripted.seen[0].path == "/ocpi/cpo/2.2.1/commands/STOP_SESSION"
    assert scripted.seen[0].headers["Authorization"].startswith("Token ")
    assert json.loads(scripted.bodies[0]) == {"response_url": "http://127.0.0.1:9/cb/STOP_SESSION/X",
                                              "session_id": "SES-900001"}


def test_a_hanging_cpo_is_a_timeout_within_the_bound(scripted):
    scripted.play(Reply(200, envelope({"result": "ACCEPTED", "timeout": 30}), delay_s=4))
    started = time.monotonic()
    with pytest.raises(OcpiTimeout):
        send(scripted, timeout_s=1.0)
    assert time.monotonic() - started < 2.5 and len(scripted.seen) == 1, "a command is not retried once sent"


def test_a_5xx_is_not_retried(scripted):
    scripted.play(Reply(503, "busy"))
    with pytest.raises(OcpiUnavailable):
        send(scripted)
    assert len(scripted.seen) == 1


@pytest.mark.parametrize("reply, error", [
    (Reply(200, "<html>login</html>"), OcpiProtocolError),
    (Reply(200, envelope({"result": "MAYBE", "timeout": 30})), OcpiProtocolError),
    (Reply(200, envelope({"result": "ACCEPTED"})), OcpiProtocolError),
    (Reply(200, envelope(None, 2001, "invalid")), OcpiStatusError),
])
def test_answers_that_are_not_a_command_response(scripted, reply, error):
    scripted.play(reply)
    with pytest.raises(error):
        send(scripted)


def test_a_command_response_in_a_list_and_its_message():
    parsed = parse_command_response([{"result": "rejected", "timeout": 0, "message": [{"language": "en",
                                                                                      "text": "not ours"}]}])
    assert (parsed.result, parsed.timeout_s, parsed.message) == ("REJECTED", 0, "not ours")


def test_a_hanging_cpo_leaves_the_attempt_unreachable_and_never_closed(scripted, tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}",
                        stop=StopSettings(cpo_ocpi_url=scripted.url, cpo_token="tok", request_timeout_s=1,
                                          fallback="back_office_close"))
    create_schema(settings)
    scripted.play(Reply(200, envelope({"result": "ACCEPTED", "timeout": 30}), delay_s=4))
    start = utcnow() - timedelta(hours=30)
    report = stop_session(settings, StopRequest("SES-900001", "acct", 16.5, start, start, None, None))
    assert (report.outcome, report.next_step) == (StopOutcome.UNREACHABLE, NextStep.HANDOFF)
