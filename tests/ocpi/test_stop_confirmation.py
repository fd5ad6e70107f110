"""What confirms a stop in the data a CPO pushes to our receiver (bot.store.stop_commands), over real HTTP
into a real receiver on SQLite: the session COMPLETED, a CDR for it, the EVSE AVAILABLE; and the EVSE status
that forbids an offer (CHARGING)."""
from __future__ import annotations

import pytest

from bot.store import stop_commands
from bot.store.db import session_scope
from bot.domain.ocpi import iso
from tests.ocpi.receiver_support import cdr, evse, location, session, start_receiver, utc_now

PARTY = ("GRN",)  # the receiver's test CPO


@pytest.fixture
def receiver(tmp_path):
    rx = start_receiver(tmp_path)
    yield rx
    rx.site.stop()


def ended(rx, sid, location_id="LOC-GRN-1", evse_uid="EVSE-GRN-1-1"):
    with session_scope(rx.settings) as db:
        return stop_commands.ended_in_received_data(db, sid, PARTY, location_id, evse_uid)


def test_nothing_received_confirms_nothing(receiver):
    assert ended(receiver, "SES-GRN-1") is None


def test_a_completed_session(receiver):
    assert receiver.call("PUT", "/sessions/NL/GRN/SES-GRN-1", session(kwh=12.0)).status_code in (200, 201)
    assert ended(receiver, "SES-GRN-1") is None
    patched = receiver.call("PATCH", "/sessions/NL/GRN/SES-GRN-1",
                            {"status": "COMPLETED", "last_updated": iso(utc_now())})
    assert patched.status_code == 200, patched.text
    assert ended(receiver, "SES-GRN-1") == "session_completed"


def test_a_cdr(receiver):
    assert receiver.call("POST", "/cdrs", cdr("CDR-GRN-9", "SES-GRN-9")).status_code in (200, 201)
    assert ended(receiver, "SES-GRN-9") == "cdr"


def test_the_evse_available_again_and_charging_read_for_the_offer(receiver):
    assert receiver.call("PUT", "/locations/NL/GRN/LOC-GRN-1", location()).status_code in (200, 201)
    with session_scope(receiver.settings) as db:
        assert stop_commands.evse_status(db, PARTY, "LOC-GRN-1", "EVSE-GRN-1-1") == "CHARGING"
        assert stop_commands.evse_status(db, ("EFL",), "LOC-GRN-1", "EVSE-GRN-1-1") is None, "own parties only"
    assert ended(receiver, "SES-GRN-2") is None
    put = receiver.call("PUT", "/locations/NL/GRN/LOC-GRN-1/EVSE-GRN-1-1", evse(status="AVAILABLE", updated=utc_now()))
    assert put.status_code in (200, 201), put.text
    assert ended(receiver, "SES-GRN-2") == "evse_available"
