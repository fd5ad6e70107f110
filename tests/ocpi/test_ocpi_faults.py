"""The client and the provider check against peers that misbehave: real HTTP servers on
127.0.0.1 that are slow, closed, answer HTML or bare JSON, fail and then recover."""
from __future__ import annotations

import base64
import time
import uuid
from datetime import datetime, timezone

import pytest

from bot.integrations.ocpi_client import (
    OcpiAuthError,
    OcpiClient,
    OcpiNotFound,
    OcpiProtocolError,
    OcpiStatusError,
    OcpiTimeout,
    OcpiUnavailable,
)
from bot.integrations.provider_status import check_provider
from harness.stack import free_port
from tests.ocpi.scripted_http import Reply, envelope, trickle

TOKEN = "Tok-123/ÄbC"
START = datetime(2025, 1, 1, 8, 0, tzinfo=timezone.utc)


def session_obj(**overrides):
    obj = {
        "country_code": "NL",
        "party_id": "GRN",
        "id": "SES-1",
        "start_date_time": "2025-01-01T08:00:00Z",
        "end_date_time": None,
        "kwh": 3.5,
        "cdr_token": {"uid": "ABC", "contract_id": "NL-EFL-C12345678-9", "type": "RFID"},
        "location_id": "LOC-1",
        "evse_uid": "E-1",
        "status": "ACTIVE",
        "last_updated": "2025-01-01T09:00:00Z",
    }
    obj.update(overrides)
    return obj


def fast_client(url, **kw):
    options = dict(connect_timeout_s=0.5, read_timeout_s=0.5, backoff_factor_s=0.01)
    options.update(kw)
    return OcpiClient(url, TOKEN, **options)


# --- what goes on the wire --------------------------------------------------------------


def test_requests_carry_base64_token_and_fresh_request_ids(scripted):
    scripted.play(
        Reply(200, envelope([session_obj(id="SES-1")]), {"X-Total-Count": "2", "Link": f'<{scripted.url}/sessions?offset=1&limit=1>; rel="next"'}),
        Reply(200, envelope([session_obj(id="SES-2")]), {"X-Total-Count": "2"}),
    )
    with fast_client(scripted.url) as client:
        assert [s.id for s in client.iter_sessions(limit=1)] == ["SES-1", "SES-2"]

    first, second = scripted.seen
    expected = "Token " + base64.b64encode(TOKEN.encode("utf-8")).decode()
    assert first.headers["Authorization"] == second.headers["Authorization"] == expected
    assert uuid.UUID(first.headers["X-Request-ID"]).version == 4
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]
    # One listing is one conversation with the peer: both pages share the correlation id.
    assert first.headers["X-Correlation-ID"] == second.headers["X-Correlation-ID"]
    assert first.path.startswith("/ocpi/cpo/2.2.1/sessions?") and "limit=1" in first.path


def test_next_link_to_another_host_is_fetched_from_the_configured_peer_only(scripted):
    # A peer behind a proxy (or a hostile one) advertises another origin: our token stays home.
    scripted.play(
        Reply(200, envelope([session_obj(id="SES-1")]), {"X-Total-Count": "2", "Link": '<https://elsewhere.invalid:8443/ocpi/cpo/2.2.1/sessions?offset=1&limit=1>; rel="next"'}),
        Reply(200, envelope([session_obj(id="SES-2")]), {"X-Total-Count": "2"}),
    )
    with fast_client(scripted.url) as client:
        assert [s.id for s in client.iter_sessions(limit=1)] == ["SES-1", "SES-2"]
    assert scripted.seen[1].path == "/ocpi/cpo/2.2.1/sessions?offset=1&limit=1"


def test_missing_link_header_continues_by_offset_while_total_count_says_more(scripted):
    scripted.play(
        Reply(200, envelope([session_obj(id="SES-1"), session_obj(id="SES-2")]), {"X-Total-Count": "3", "X-Limit": "2"}),
        Reply(200, envelope([session_obj(id="SES-3")]), {"X-Total-Count": "3", "X-Limit": "2"}),
    )
    with fast_client(scripted.url) as client:
        assert [s.id for s in client.iter_sessions()] == ["SES-1", "SES-2", "SES-3"]
    assert "offset=2" in scripted.seen[1].path and "limit=2" in scripted.seen[1].path


def test_lowercased_cistrings_are_normalised(scripted):
    scripted.play(Reply(200, envelope([session_obj(id="ses-1", status="active", country_code="nl", party_id="grn")])))
    with fast_client(scripted.url) as client:
        session = client.find_session("SES-1")
    assert (session.status, session.country_code, session.party_id) == ("ACTIVE", "NL", "GRN")


# --- peers that do not answer ----------------------------------------------------------


def test_slow_peer_times_out_without_retrying_the_read(scripted):
    scripted.play(Reply(200, envelope([]), delay_s=2.0))
    started = time.monotonic()
    with fast_client(scripted.url, read_timeout_s=0.3) as client, pytest.raises(OcpiTimeout):
        client.find_session("SES-1")
    assert time.monotonic() - started < 1.0
    assert len(scripted.seen) == 1


def test_slow_peer_makes_the_provider_unavailable_within_the_budget(scripted):
    scripted.play(Reply(200, envelope([session_obj()]), delay_s=3.0))
    started = time.monotonic()
    view = check_provider(scripted.url, TOKEN, "SES-1", "LOC-1", START, timeout_s=1.0)
    assert (view.outcome, view.reason) == ("unavailable", "timeout")
    assert time.monotonic() - started < 1.5  # the budget, not the peer's 3-5 s


def test_peer_trickling_bytes_cannot_hold_the_conversation_past_its_budget(scripted):
    # Never silent for a whole read timeout, so only the overall deadline can stop it.
    scripted.play(trickle(every_s=0.1, total_s=5.0))
    started = time.monotonic()
    view = check_provider(scripted.url, TOKEN, "SES-1", "LOC-1", START, timeout_s=1.0)
    assert (view.outcome, view.reason) == ("unavailable", "timeout")
    assert time.monotonic() - started < 1.5  # the budget, not the peer's 3-5 s


def test_peer_that_is_down_is_unavailable_quickly():
    url = f"http://127.0.0.1:{free_port()}/ocpi/cpo/2.2.1"  # bound, released: nobody listens
    with fast_client(url) as client, pytest.raises(OcpiUnavailable) as caught:
        client.get_location("LOC-1")
    assert not isinstance(caught.value, OcpiTimeout)

    started = time.monotonic()
    view = check_provider(url, TOKEN, "SES-1", "LOC-1", START, timeout_s=2.0)
    assert (view.outcome, view.reason) == ("unavailable", "unreachable")
    assert time.monotonic() - started < 2.0


# --- garbage and errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, "<html><body><h1>Welcome to nginx!</h1></body></html>"),
        Reply(200, {"sessions": [], "ok": True}),  # JSON, but not the OCPI envelope
        Reply(200, envelope({"not": "a list"})),
        Reply(200, envelope([{"id": "SES-1", "status": "ACTIVE"}])),  # a session without kwh or times
        Reply(422, {"detail": [{"msg": "invalid date"}]}),
    ],
    ids=["html", "bare-json", "data-not-a-list", "broken-session", "4xx-without-envelope"],
)
def test_answers_that_are_not_ocpi_raise_protocol_errors(scripted, reply):
    scripted.play(reply)
    with fast_client(scripted.url) as client, pytest.raises(OcpiProtocolError):
        client.find_session("SES-1")
    assert len(scripted.seen) == 1


def test_garbage_makes_the_provider_unavailable_not_an_exception(scripted):
    scripted.play(Reply(200, "<html>Service temporarily moved</html>"))
    view = check_provider(scripted.url, TOKEN, "SES-1", "LOC-1", START, timeout_s=2.0)
    assert (view.outcome, view.reason) == ("unavailable", "protocol")


def test_server_error_then_success_is_retried_transparently(scripted):
    scripted.play(Reply(500, "<html>Internal Server Error</html>"), Reply(200, envelope([session_obj()])))
    with fast_client(scripted.url) as client:
        session = client.find_session("SES-1")
    assert session.kwh == 3.5
    assert len(scripted.seen) == 2


def test_persistent_5xx_gives_up_after_the_retries_ignoring_long_retry_after(scripted):
    scripted.play(Reply(503, "<html>Maintenance</html>", {"Retry-After": "3600"}))
    started = time.monotonic()
    with fast_client(scripted.url, retries=2) as client, pytest.raises(OcpiUnavailable):
        client.get_location("LOC-1")
    assert len(scripted.seen) == 3  # the first try and two retries
    assert time.monotonic() - started < 2.0


def test_client_errors_are_never_retried(scripted):
    scripted.play(Reply(400, envelope([], status_code=2001, message="Invalid or missing parameters")))
    with fast_client(scripted.url) as client, pytest.raises(OcpiStatusError) as caught:
        client.find_session("SES-1")
    assert caught.value.status_code == 2001
    assert len(scripted.seen) == 1


@pytest.mark.parametrize("status", [401, 403])
def test_refused_token_is_an_auth_error_and_not_retried(scripted, status):
    scripted.play(Reply(status, {"detail": "Your authorization token is invalid."}))
    with fast_client(scripted.url) as client, pytest.raises(OcpiAuthError):
        client.get_location("LOC-1")
    assert len(scripted.seen) == 1


def test_ocpi_failure_status_inside_http_200_is_an_error(scripted):
    scripted.play(Reply(200, envelope([], status_code=3000, message="Generic server error")))
    with fast_client(scripted.url) as client, pytest.raises(OcpiStatusError) as caught:
        client.find_session("SES-1")
    assert caught.value.status_code == 3000


def test_unknown_location_status_is_not_found(scripted):
    scripted.play(Reply(200, envelope(None, status_code=2003, message="Unknown Location")))
    with fast_client(scripted.url) as client, pytest.raises(OcpiNotFound):
        client.get_location("LOC-1")


def test_session_found_but_location_broken_keeps_the_session_answer(scripted):
    scripted.play(Reply(200, envelope([session_obj(status="COMPLETED", end_date_time="2025-01-01T10:00:00Z")])), Reply(200, "<html>oops</html>"))
    view = check_provider(scripted.url, TOKEN, "SES-1", "LOC-1", START, timeout_s=2.0)
    assert view.outcome == "completed" and view.kwh == 3.5
    assert view.operator is None


def test_no_endpoint_configured_is_unavailable_without_network():
    view = check_provider(None, None, "SES-1", "LOC-1", START, timeout_s=1.0)
    assert (view.outcome, view.reason) == ("unavailable", "not_configured")
