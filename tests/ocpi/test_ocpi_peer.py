"""The client and the provider check against a real OCPI 2.2.1 peer (extrawest-ocpi).

The peer lowercases every CiString it serves, answers 403 for a token it does not know,
404 for an unknown location, and writes pagination links with `https://` and
`date_from=None`: the client has to cope with all of that by itself.
"""
from __future__ import annotations

import math
from datetime import timedelta

import pytest

from bot.integrations.ocpi_client import OcpiAuthError, OcpiClient, OcpiNotFound
from bot.integrations.provider_status import check_provider
from tests.ocpi.ocpi_seed import (
    ACTIVE_SESSION_ID,
    COMPLETED_SESSION_ID,
    CONTRACT_ID,
    EVSE_ID,
    EVSE_UID,
    LOCATION_ID,
    OLD_SESSION_ID,
    OPERATOR_NAME,
    OPERATOR_WEBSITE,
    TOKEN_UID,
)


@pytest.fixture
def client(ocpi_peer):
    with OcpiClient(ocpi_peer.base_url, ocpi_peer.token, page_limit=5) as c:
        yield c


def upper_ids(objects):
    return sorted(o["id"].upper() for o in objects)


def test_every_session_is_listed_once_by_following_next_links(client, ocpi_peer):
    pages = list(client.iter_session_pages())

    sessions = ocpi_peer.seed["sessions"]
    assert len(pages) == math.ceil(len(sessions) / 5) > 1
    assert all(p.total_count == len(sessions) and p.limit == 5 for p in pages)
    assert sorted(s.id.upper() for p in pages for s in p.items) == upper_ids(sessions)


def test_date_window_returns_only_sessions_updated_inside_it(client, ocpi_peer):
    week = list(client.iter_sessions(date_from=ocpi_peer.now - timedelta(days=7)))
    ids = {s.id.upper() for s in week}
    assert ACTIVE_SESSION_ID in ids and OLD_SESSION_ID not in ids
    assert len(ids) == len(ocpi_peer.seed["sessions"]) - 1

    # date_to is exclusive: a window ending just before the active session's update holds the completed one only.
    narrow = list(
        client.iter_sessions(
            date_from=ocpi_peer.now - timedelta(hours=96),
            date_to=ocpi_peer.now - timedelta(hours=79),
        )
    )
    assert [s.id.upper() for s in narrow] == [COMPLETED_SESSION_ID]


@pytest.mark.parametrize("asked_as", [ACTIVE_SESSION_ID, ACTIVE_SESSION_ID.lower()])
def test_stale_active_session_is_found_with_its_kwh_whatever_the_case(client, ocpi_peer, asked_as):
    session = client.find_session(asked_as, date_from=ocpi_peer.now - timedelta(days=4))

    assert session is not None
    assert session.status == "ACTIVE"
    assert session.kwh == pytest.approx(17.4)
    assert (session.country_code, session.party_id) == ("NL", "GRN")  # peer sent "nl", "grn"
    assert session.contract_id == CONTRACT_ID and session.cdr_token_uid == TOKEN_UID
    assert session.evse_uid.upper() == EVSE_UID and session.location_id.upper() == LOCATION_ID
    assert session.end_date_time is None
    assert session.start_date_time == ocpi_peer.now - timedelta(hours=80)
    assert session.last_updated == ocpi_peer.now - timedelta(hours=79)


def test_completed_session_carries_its_end_time(client, ocpi_peer):
    session = client.find_session(COMPLETED_SESSION_ID, date_from=ocpi_peer.now - timedelta(days=5))

    assert session.status == "COMPLETED"
    assert session.end_date_time == ocpi_peer.now - timedelta(hours=96)
    assert session.kwh == pytest.approx(22.75)


def test_session_outside_the_window_or_unknown_is_not_found(client, ocpi_peer):
    assert client.find_session(OLD_SESSION_ID, date_from=ocpi_peer.now - timedelta(days=7)) is None
    assert client.find_session("SES-999999") is None


def test_location_names_its_operator_and_evses(client):
    location = client.get_location(LOCATION_ID)

    assert location.operator.name == OPERATOR_NAME
    assert location.operator.website == OPERATOR_WEBSITE
    assert location.operator.phone is None  # OCPI 2.2.1 BusinessDetails has no phone
    assert location.city == "Utrecht"
    assert [e.evse_id for e in location.evses] == [EVSE_ID, "NL*GRN*E0042*2"]  # peer sent them lowercased
    assert location.evse_by_uid(EVSE_UID).evse_id == EVSE_ID


def test_unknown_location_is_not_found(client):
    with pytest.raises(OcpiNotFound):
        client.get_location("LOC-NOPE")


def test_locations_paginate_too(ocpi_peer):
    with OcpiClient(ocpi_peer.base_url, ocpi_peer.token) as client:
        pages = list(client.iter_location_pages(limit=3))

    assert len(pages) == 3
    assert sorted(l.id.upper() for p in pages for l in p.items) == upper_ids(ocpi_peer.seed["locations"])


def test_a_token_the_peer_does_not_know_is_refused(ocpi_peer):
    with OcpiClient(ocpi_peer.base_url, "not-our-token") as client:
        with pytest.raises(OcpiAuthError):
            client.find_session(ACTIVE_SESSION_ID)
        with pytest.raises(OcpiAuthError):
            client.get_location(LOCATION_ID)


# --- the provider check the conversation uses ----------------------------------------


def test_provider_says_a_stale_session_is_still_active_and_who_to_contact(ocpi_peer):
    view = check_provider(ocpi_peer.base_url, ocpi_peer.token, ACTIVE_SESSION_ID, LOCATION_ID, ocpi_peer.now - timedelta(hours=80), timeout_s=5)

    assert view.outcome == "active" and view.status == "ACTIVE"
    assert view.kwh == pytest.approx(17.4)
    assert view.last_updated == ocpi_peer.now - timedelta(hours=79)
    assert view.operator.name == OPERATOR_NAME and view.operator.website == OPERATOR_WEBSITE


def test_provider_says_a_completed_session_ended(ocpi_peer):
    # No location id given: the session's own location supplies the operator.
    view = check_provider(ocpi_peer.base_url, ocpi_peer.token, COMPLETED_SESSION_ID, None, ocpi_peer.now - timedelta(hours=100), timeout_s=5)

    assert view.outcome == "completed"
    assert view.ended_at == ocpi_peer.now - timedelta(hours=96)
    assert view.operator.name == OPERATOR_NAME


def test_session_the_provider_does_not_know_still_names_the_operator(ocpi_peer):
    view = check_provider(ocpi_peer.base_url, ocpi_peer.token, "SES-999999", LOCATION_ID, ocpi_peer.now - timedelta(hours=10), timeout_s=5)

    assert view.outcome == "not_found"
    assert view.kwh is None
    assert view.operator.name == OPERATOR_NAME


def test_refused_token_makes_the_provider_unavailable_not_an_error(ocpi_peer):
    view = check_provider(ocpi_peer.base_url, "revoked-token", ACTIVE_SESSION_ID, LOCATION_ID, ocpi_peer.now, timeout_s=5)

    assert (view.outcome, view.reason) == ("unavailable", "auth")
    assert view.operator is None and view.kwh is None
