"""The OCPI 2.2.1 eMSP receiver over real HTTP on real SQLite: protocol, and what arriving data does."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from bot.domain.ocpi import Clock, check_session, iso
from bot.store.charging_repo import session_case
from bot.store.db import session_scope
from bot.store.models import ChargingSession, Evse, Location, Operator
from bot.domain.stop_command import STOP_SESSION
from bot.store import stop_commands
from bot.store.ocpi_models import OcpiCdr, OcpiCommandResult, OcpiReading, OcpiSession
from bot.apps.ocpi_receiver import make_store
from tests.ocpi.receiver_support import (
    ACCOUNT_ID,
    cdr,
    connector,
    evse,
    location,
    register_directly,
    request_ids,
    session,
    start_receiver,
    utc_now,
)
from tests.ocpi.scripted_http import Reply, envelope


@pytest.fixture
def rx(tmp_path):
    receiver = start_receiver(tmp_path)
    yield receiver
    receiver.site.stop()


def ocpi(response, http=200, code=1000):
    body = response.json()
    assert (response.status_code, body["status_code"]) == (http, code), body
    assert set(body) >= {"data", "status_code", "status_message", "timestamp"}
    return body["data"]


def row(rx, sid="SES-GRN-1"):
    store = make_store(rx.settings)
    with store.reader.connect() as conn:
        found = conn.execute(select(OcpiSession.__table__).where(OcpiSession.session_id == sid)).first()
        readings = conn.execute(select(OcpiReading.timestamp, OcpiReading.kwh)
                                .join(OcpiSession, OcpiSession.id == OcpiReading.session_ref)
                                .where(OcpiSession.session_id == sid).order_by(OcpiReading.timestamp)).all()
        mirror = conn.execute(select(ChargingSession.__table__).where(ChargingSession.id == sid)).first()
    store.dispose()
    return found, [(t, k) for t, k in readings], mirror


# --- protocol ------------------------------------------------------------------------------------


def test_versions_and_details_list_the_emsp_modules(rx):
    versions = ocpi(rx.call("GET", f"{rx.url}/ocpi/versions"))
    assert versions == [{"version": "2.2.1", "url": f"{rx.url}/ocpi/2.2.1"}]
    details = ocpi(rx.call("GET", versions[0]["url"]))
    got = {(e["identifier"], e["role"]) for e in details["endpoints"]}
    assert {("sessions", "RECEIVER"), ("cdrs", "RECEIVER"), ("locations", "RECEIVER"), ("tokens", "SENDER"),
            ("credentials", "SENDER"), ("commands", "SENDER")} <= got


def test_request_and_correlation_ids_are_echoed_even_on_errors(rx):
    ids = request_ids()
    for response in (rx.call("GET", f"{rx.url}/ocpi/versions", headers=ids),
                     rx.call("GET", f"{rx.url}/ocpi/versions", headers=ids, token="wrong"),
                     rx.call("PATCH", "/sessions/NL/GRN/X", raw=b"{not json", headers=ids)):
        assert response.headers["X-Request-ID"] == ids["X-Request-ID"]
        assert response.headers["X-Correlation-ID"] == ids["X-Correlation-ID"]
    fresh = rx.call("GET", f"{rx.url}/ocpi/versions")
    assert len(fresh.headers["X-Request-ID"]) == 36 and len(fresh.headers["X-Correlation-ID"]) == 36


@pytest.mark.parametrize("header", [None, "Bearer abc", "Token", "Token bm90LWEtdG9rZW4="])
def test_without_a_known_token_the_answer_is_401(rx, header):
    response = rx.call("GET", f"{rx.url}/ocpi/versions", token=None,
                       headers={"Authorization": header} if header else None)
    ocpi(response, 401, 2000)


def test_a_token_for_another_party_cannot_write_its_paths(rx):
    response = rx.call("PUT", "/sessions/NL/ALL/SES-1", session("SES-1") | {"party_id": "ALL"})
    assert "does not speak for NL/ALL" in response.json()["status_message"]
    ocpi(response, 404, 2000)
    foreign_cdr = cdr() | {"party_id": "ALL"}
    ocpi(rx.call("POST", "/cdrs", foreign_cdr), 404, 2000)
    assert rx.count(OcpiSession) == 0 and rx.count(OcpiCdr) == 0


def test_token_a_only_opens_versions_and_credentials(rx):
    store = make_store(rx.settings)
    from bot.store import ocpi_ingest

    with store.engine.begin() as conn:
        token_a = ocpi_ingest.issue_token_a(conn, "pending CPO")
    ocpi(rx.call("GET", f"{rx.url}/ocpi/versions", token=token_a))
    ocpi(rx.call("PUT", "/sessions/NL/GRN/SES-1", session("SES-1"), token=token_a), 401, 2000)


def test_credentials_handshake_token_a_for_token_c(rx, scripted):
    store = make_store(rx.settings)
    from bot.store import ocpi_ingest

    with store.engine.begin() as conn:
        token_a = ocpi_ingest.issue_token_a(conn, "Allego")
    versions_url = f"http://127.0.0.1:{scripted.port}/ocpi/versions"
    details_url = f"http://127.0.0.1:{scripted.port}/ocpi/2.2.1"
    peer_answers = (Reply(200, envelope([{"version": "2.1.1", "url": "http://x/2.1.1"},
                                         {"version": "2.2.1", "url": details_url}])),
                    Reply(200, envelope({"version": "2.2.1", "endpoints": [
                        {"identifier": "sessions", "role": "SENDER", "url": "http://x/sessions"}]})))
    scripted.play(*peer_answers)
    creds = {"token": "token-B-for-us", "url": versions_url, "roles": [
        {"role": "CPO", "party_id": "ALL", "country_code": "NL", "business_details": {"name": "Allego"}}]}
    ours = ocpi(rx.call("POST", "/credentials", creds, token=token_a))
    token_c = ours["token"]
    assert token_c != token_a and len(token_c) >= 40
    assert ours["roles"][0]["role"] == "EMSP" and ours["url"] == f"{rx.url}/ocpi/versions"
    assert scripted.seen[0].headers["Authorization"] == "Token dG9rZW4tQi1mb3ItdXM="  # base64(token B)
    # Token A is spent; token C opens the modules; a second POST is refused with 405.
    ocpi(rx.call("GET", f"{rx.url}/ocpi/versions", token=token_a), 401, 2000)
    ocpi(rx.call("PUT", "/sessions/NL/ALL/SES-A", session("SES-A") | {"party_id": "ALL"}, token=token_c), 201)
    ocpi(rx.call("POST", "/credentials", creds, token=token_c), 405, 2000)
    assert ocpi(rx.call("GET", "/credentials", token=token_c))["token"] == token_c
    # Nothing in the database can be used as a token: C and A only as digests, B encrypted.
    with store.reader.connect() as conn:
        reg = conn.execute(text("SELECT * FROM ocpi_registrations WHERE label = 'Allego'")).first()
    assert token_c not in repr(tuple(reg)) and "token-B-for-us" not in repr(tuple(reg))
    assert reg.token_b.startswith("gAAAAA")  # Fernet
    assert reg.token_a_sha256 is None and len(reg.token_c_sha256) == 64 and reg.state == "registered"
    # PUT rotates token C; DELETE unregisters.
    scripted.play(*peer_answers)
    new_c = ocpi(rx.call("PUT", "/credentials", creds, token=token_c))["token"]
    assert new_c != token_c
    ocpi(rx.call("GET", "/credentials", token=token_c), 401, 2000)
    ocpi(rx.call("DELETE", "/credentials", token=new_c))
    ocpi(rx.call("GET", "/credentials", token=new_c), 401, 2000)


def test_registration_fails_with_3001_when_the_peer_cannot_be_read(rx, scripted):
    store = make_store(rx.settings)
    from bot.store import ocpi_ingest

    with store.engine.begin() as conn:
        token_a = ocpi_ingest.issue_token_a(conn, "broken CPO")
    scripted.play(Reply(500, "down"))
    creds = {"token": "b", "url": f"http://127.0.0.1:{scripted.port}/v", "roles": [
        {"role": "CPO", "party_id": "BRK", "country_code": "NL", "business_details": {"name": "Broken"}}]}
    ocpi(rx.call("POST", "/credentials", creds, token=token_a), 400, 3001)
    ocpi(rx.call("GET", f"{rx.url}/ocpi/versions", token=token_a))  # token A still valid: try again later


def test_tokens_sender_pages_with_link_and_total_count(rx):
    first = rx.call("GET", "/tokens?limit=4")
    page = ocpi(first)
    total = int(first.headers["X-Total-Count"])
    assert total >= 1 and first.headers["X-Limit"] == "4"
    seen = [t["uid"] for t in page]
    response = first
    while "Link" in response.headers:
        next_url = response.headers["Link"].split(">")[0].lstrip("<")
        response = rx.call("GET", next_url)
        seen += [t["uid"] for t in ocpi(response)]
    assert len(seen) == len(set(seen)) == total
    assert all(t["type"] == "RFID" and t["party_id"] == "EFL" for t in page)
    ocpi(rx.call("GET", "/tokens?limit=abc"), 400, 2001)
    ocpi(rx.call("GET", "/tokens?date_from=yesterday"), 400, 2001)


def sent_stop(rx, uid: str = "CMD-1", sid: str = "SES-GRN-1") -> None:
    """A STOP_SESSION we sent (its audit row) for a session of NL/GRN, as the stop flow leaves it."""
    if row(rx, sid)[2] is None:
        ocpi(rx.call("PUT", f"/sessions/NL/GRN/{sid}", session(sid)), 201)
    with session_scope(rx.settings) as db:
        assert stop_commands.reserve_attempt(db, uid, STOP_SESSION, sid, ACCOUNT_ID, utc_now())


def stored_results(rx):
    with session_scope(rx.settings) as db:
        return db.execute(select(OcpiCommandResult.uid, OcpiCommandResult.result)).all()


def test_command_result_is_received_once(rx):
    sent_stop(rx)
    ocpi(rx.call("POST", "/commands/STOP_SESSION/CMD-1", {"result": "ACCEPTED"}), 201)
    ocpi(rx.call("POST", "/commands/STOP_SESSION/CMD-1", {"result": "REJECTED"}), 200)
    assert stored_results(rx) == [("CMD-1", "ACCEPTED")], "the first one counts"
    ocpi(rx.call("POST", "/commands/STOP_SESSION/CMD-1", {"result": "MAYBE"}), 400, 2001)
    ocpi(rx.call("POST", "/commands/SELF_DESTRUCT/CMD-1", {"result": "ACCEPTED"}), 404, 2001)


def test_a_command_result_is_taken_only_from_the_party_the_command_went_to(rx):
    sent_stop(rx, "CMD-7")
    other = register_directly(rx.settings, parties=(("NL", "ALG"),), label="another CPO")
    # Another registered CPO that learnt the uid: refused, and nothing stored that could block the real one.
    ocpi(rx.call("POST", "/commands/STOP_SESSION/CMD-7", {"result": "REJECTED"}, token=other), 404, 2001)
    # A uid we never sent, and a command we never send: the same answer, whoever asks.
    ocpi(rx.call("POST", "/commands/STOP_SESSION/CMD-8", {"result": "ACCEPTED"}), 404, 2001)
    ocpi(rx.call("POST", "/commands/START_SESSION/CMD-7", {"result": "ACCEPTED"}), 404, 2001)
    assert stored_results(rx) == []
    ocpi(rx.call("POST", "/commands/STOP_SESSION/CMD-7", {"result": "ACCEPTED"}), 201)
    assert stored_results(rx) == [("CMD-7", "ACCEPTED")]


def test_a_result_after_the_flow_stopped_waiting_is_written_to_the_audit_row_on_arrival(rx):
    sent_stop(rx, "CMD-LATE")
    sent_stop(rx, "CMD-INTIME", "SES-GRN-2")
    with session_scope(rx.settings) as db:  # the flow gave up waiting: no result, a person has it
        stop_commands.record_outcome(db, "CMD-LATE", None, None, None, "no_result", "handoff", utc_now())
    ocpi(rx.call("POST", "/commands/STOP_SESSION/CMD-LATE", {"result": "ACCEPTED"}), 201)
    # Still waiting (no outcome yet): the flow itself reads it as its result, it is not late.
    ocpi(rx.call("POST", "/commands/STOP_SESSION/CMD-INTIME", {"result": "REJECTED"}), 201)
    with session_scope(rx.settings) as db:
        late = stop_commands.attempt(db, "CMD-LATE")
        in_time = stop_commands.attempt(db, "CMD-INTIME")
        assert stop_commands.record_late_results(db) == 0, "nothing left for the sweep"
    assert (late.outcome, late.result, late.late_result) == ("no_result", None, "ACCEPTED")
    assert (in_time.outcome, in_time.late_result) == (None, None)


def test_a_result_arriving_just_before_the_outcome_is_written_is_kept_as_late(rx):
    """The receiver stores it while the flow is between its last look and writing its outcome."""
    sent_stop(rx, "CMD-RACE")
    ocpi(rx.call("POST", "/commands/STOP_SESSION/CMD-RACE", {"result": "FAILED"}), 201)
    with session_scope(rx.settings) as db:
        stop_commands.record_outcome(db, "CMD-RACE", None, None, None, "no_result", "handoff", utc_now())
    with session_scope(rx.settings) as db:
        assert stop_commands.attempt(db, "CMD-RACE").late_result == "FAILED"


# --- sessions ----------------------------------------------------------------------------------------


def test_put_then_patches_become_readings_and_the_mirror_the_assistant_reads(rx):
    start = utc_now() - timedelta(hours=2)
    ocpi(rx.call("PUT", "/sessions/NL/GRN/SES-GRN-1", session(start=start)), 201)
    for minutes, kwh in ((15, 2.5), (30, 5.0), (45, 7.5)):
        ocpi(rx.call("PATCH", "/sessions/NL/GRN/SES-GRN-1",
                     {"kwh": kwh, "last_updated": iso(start + timedelta(minutes=minutes))}))
    stored, readings, mirror = row(rx)
    assert stored.kwh == 7.5 and stored.status == "ACTIVE" and not stored.unknown_card and stored.mirrored
    assert [k for _, k in readings] == [0.0, 2.5, 5.0, 7.5]
    assert mirror.kwh == 7.5 and mirror.account_id == ACCOUNT_ID and mirror.party_id == "GRN"
    got = ocpi(rx.call("GET", "/sessions/NL/GRN/SES-GRN-1"))
    assert got["kwh"] == 7.5 and got["last_updated"] == iso(start + timedelta(minutes=45))
    with session_scope(rx.settings) as db:  # what the assistant reads: the readings and the station
        case = session_case(db, ACCOUNT_ID, "SES-GRN-1")
    assert [r.kwh for r in case.readings] == [0.0, 2.5, 5.0, 7.5]
    assert case.station.party_id == "GRN"


def back_office_closed(rx, sid: str, kwh: float, ended) -> None:
    """What the stop flow's fallback leaves: a refused STOP_SESSION, the session closed in our data."""
    uid = f"CMD-{sid}"
    with session_scope(rx.settings) as db:
        assert stop_commands.reserve_attempt(db, uid, STOP_SESSION, sid, ACCOUNT_ID, utc_now())
        stop_commands.back_office_close(db, uid, sid, kwh, ended, "STOP_SESSION rejected", utc_now())


def test_a_back_office_closed_session_is_not_reopened_by_the_cpos_later_updates(rx):
    start = utc_now() - timedelta(hours=30)
    ocpi(rx.call("PUT", "/sessions/NL/GRN/SES-GRN-1", session(start=start, kwh=16.5,
                                                              updated=start + timedelta(minutes=90))), 201)
    ended = start + timedelta(minutes=90)
    back_office_closed(rx, "SES-GRN-1", 16.5, ended)
    # The CPO, still believing it runs, says ACTIVE again (a PATCH, then a whole PUT).
    ocpi(rx.call("PATCH", "/sessions/NL/GRN/SES-GRN-1",
                 {"status": "ACTIVE", "kwh": 16.5, "last_updated": iso(utc_now() - timedelta(minutes=2))}))
    ocpi(rx.call("PUT", "/sessions/NL/GRN/SES-GRN-1",
                 session(start=start, kwh=16.5, updated=utc_now() - timedelta(minutes=1))))
    stored, readings, mirror = row(rx)
    assert stored.status == "ACTIVE", "the CPO's own copy is kept as it sent it"
    assert len(readings) == 3, "its readings too"
    assert (mirror.status, mirror.kwh, mirror.end_datetime) == ("COMPLETED", 16.5, ended), \
        "what the assistant reads stays closed"
    with session_scope(rx.settings) as db:
        assert session_case(db, ACCOUNT_ID, "SES-GRN-1").facts.status == "COMPLETED"
    # The CPO's own end is still taken: its data are better than our close.
    end = utc_now()
    ocpi(rx.call("PATCH", "/sessions/NL/GRN/SES-GRN-1",
                 {"status": "COMPLETED", "kwh": 16.7, "end_date_time": iso(end), "last_updated": iso(end)}))
    mirror = row(rx)[2]
    assert (mirror.status, mirror.kwh, mirror.end_datetime) == ("COMPLETED", 16.7, end)


def test_patches_of_several_sessions_arriving_together_are_written_as_one_batch(rx, caplog):
    """The writer gathers what arrives at once into one transaction; one of the sessions closed by us."""
    start = utc_now() - timedelta(hours=3)
    for sid in ("SES-GRN-1", "SES-GRN-2", "SES-GRN-3"):
        ocpi(rx.call("PUT", f"/sessions/NL/GRN/{sid}", session(sid, start=start)), 201)
    back_office_closed(rx, "SES-GRN-3", 0.0, start + timedelta(minutes=5))
    now = utc_now()
    clock = Clock(now, max_skew=timedelta(minutes=15))
    updates = [check_session({"kwh": 4.0 + n, "status": "ACTIVE", "last_updated": iso(now - timedelta(seconds=n))},
                             "NL", "GRN", sid, clock, partial=True)
               for n, sid in enumerate(("SES-GRN-1", "SES-GRN-2", "SES-GRN-3"))]
    store = make_store(rx.settings)
    with caplog.at_level("INFO", logger="bot.store.ocpi_ingest"):
        results = store.apply(updates)
    store.dispose()
    assert [r.status_code for r in results] == [1000, 1000, 1000]
    assert not [r for r in caplog.records if "failed" in r.getMessage()], "the batch was written one by one"
    assert [row(rx, sid)[2].kwh for sid in ("SES-GRN-1", "SES-GRN-2")] == [4.0, 5.0]
    assert row(rx, "SES-GRN-2")[1][-1][1] == 5.0, "each update is a reading"
    assert row(rx, "SES-GRN-3")[2].status == "COMPLETED", "the one we closed stays closed"


def test_a_back_office_close_holds_when_the_cpo_first_pushes_the_session_afterwards(rx):
    """Our copy came from elsewhere (no OCPI row yet); the CPO's first PUT of it must not reopen it."""
    start = utc_now() - timedelta(hours=30)
    ocpi(rx.call("PUT", "/sessions/NL/GRN/SES-GRN-1", session(start=start)), 201)  # the station's rows
    ended = start + timedelta(minutes=90)
    with session_scope(rx.settings) as db:
        card = db.get(ChargingSession, "SES-GRN-1").card_contract_id
        db.add(ChargingSession(id="SES-GRN-9", country_code="NL", party_id="GRN", status="ACTIVE",
                               start_datetime=start, kwh=16.5, card_contract_id=card, account_id=ACCOUNT_ID,
                               location_id="LOC-GRN-1", evse_uid="EVSE-GRN-1-1", last_updated=ended))
    back_office_closed(rx, "SES-GRN-9", 16.5, ended)
    ocpi(rx.call("PUT", "/sessions/NL/GRN/SES-GRN-9",
                 session("SES-GRN-9", start=start, kwh=16.5, updated=utc_now() - timedelta(minutes=1))), 201)
    stored, _, mirror = row(rx, "SES-GRN-9")
    assert stored.status == "ACTIVE" and stored.mirrored
    assert (mirror.status, mirror.kwh, mirror.end_datetime) == ("COMPLETED", 16.5, ended)


def test_older_updates_do_not_change_the_session_and_repeats_change_nothing(rx):
    start = utc_now() - timedelta(hours=2)
    ocpi(rx.call("PUT", "/sessions/NL/GRN/SES-GRN-1", session(start=start)), 201)
    late = {"kwh": 9.0, "last_updated": iso(start + timedelta(minutes=60))}
    ocpi(rx.call("PATCH", "/sessions/NL/GRN/SES-GRN-1", late))
    before = row(rx)
    ocpi(rx.call("PATCH", "/sessions/NL/GRN/SES-GRN-1", late))  # a repeat
    assert row(rx) == before
    older = {"kwh": 4.0, "status": "COMPLETED", "last_updated": iso(start + timedelta(minutes=30))}
    response = rx.call("PATCH", "/sessions/NL/GRN/SES-GRN-1", older)
    assert "not newer" in response.json()["status_message"]
    stored, readings, _ = row(rx)
    assert stored.kwh == 9.0 and stored.status == "ACTIVE"
    assert (start + timedelta(minutes=30), 4.0) in readings  # still a true reading of the meter


def test_updates_out_of_order_end_in_the_same_state(tmp_path):
    start = utc_now() - timedelta(hours=2)
    updates = [{"kwh": 1.5 * n, "last_updated": iso(start + timedelta(minutes=10 * n))} for n in range(1, 9)]
    orders = [updates, list(reversed(updates)), updates[::2] + updates[1::2]]
    states = []
    for n, order in enumerate(orders):
        folder = tmp_path / str(n)
        folder.mkdir()
        rx = start_receiver(folder)
        try:
            ocpi(rx.call("PUT", "/sessions/NL/GRN/SES-GRN-1", session(start=start)), 201)
            for update in order:
                ocpi(rx.call("PATCH", "/sessions/NL/GRN/SES-GRN-1", update))
            stored, readings, mirror = row(rx)
            states.append((json.loads(stored.object), stored.kwh, readings, mirror.kwh, mirror.last_updated))
        finally:
            rx.site.stop()
    assert states[0] == states[1] == states[2]
    assert states[0][1] == 12.0 and len(states[0][2]) == 9


def test_patch_of_an_unknown_session_is_refused_and_writes_nothing(rx):
    ocpi(rx.call("PATCH", "/sessions/NL/GRN/NOPE", {"kwh": 1.0, "last_updated": iso(utc_now())}), 404, 2001)
    assert rx.count(OcpiSession) == 0 and rx.count(OcpiReading) == 0


def test_unknown_card_is_stored_and_flagged_not_mirrored(rx):
    ocpi(rx.call("PUT", "/sessions/NL/GRN/SES-X", session("SES-X", contract_id="DE-XYZ-C99999999-9",
                                                           uid="FFFF0000")), 201)
    stored, _, mirror = row(rx, "SES-X")
    assert stored.unknown_card and not stored.mirrored and mirror is None
    flagged = make_store(rx.settings).flagged_sessions()
    assert [f["session_id"] for f in flagged] == ["SES-X"]


def test_cdr_completes_the_session_with_its_final_kwh(rx):
    ocpi(rx.call("PUT", "/sessions/NL/GRN/SES-GRN-1", session(kwh=3.0)), 201)
    response = rx.call("POST", "/cdrs", cdr(energy=12.5))
    ocpi(response, 201)
    assert response.headers["Location"].endswith("/ocpi/emsp/2.2.1/cdrs/NL/GRN/CDR-GRN-1")
    assert ocpi(rx.call("GET", response.headers["Location"]))["total_energy"] == 12.5
    stored, readings, mirror = row(rx)
    assert stored.status == "COMPLETED" and stored.kwh == 12.5 and stored.cdr_id == "CDR-GRN-1"
    assert mirror.status == "COMPLETED" and mirror.kwh == 12.5 and mirror.end_datetime is not None
    assert readings[-1][1] == 12.5
    # Nothing reopens a settled session; the CDR again is a no-op.
    ocpi(rx.call("PATCH", "/sessions/NL/GRN/SES-GRN-1", {"status": "ACTIVE", "kwh": 13, "last_updated": iso(utc_now())}))
    ocpi(rx.call("POST", "/cdrs", cdr(energy=12.5)))
    assert row(rx)[0].status == "COMPLETED" and rx.count(OcpiCdr) == 1


def test_a_cdr_before_its_session_settles_it_on_arrival(rx):
    ocpi(rx.call("POST", "/cdrs", cdr(energy=20.0)), 201)
    ocpi(rx.call("PUT", "/sessions/NL/GRN/SES-GRN-1", session(kwh=5.0)), 201)
    stored, _, mirror = row(rx)
    assert stored.status == "COMPLETED" and stored.kwh == 20.0 and mirror.status == "COMPLETED"


@pytest.mark.parametrize("body, why", [
    ({"kwh": "12"}, "last_updated"),
    ({"kwh": "12", "last_updated": "2026-01-01T00:00:00Z"}, "kwh"),
    ({"kwh": -1, "last_updated": "2026-01-01T00:00:00Z"}, "kwh"),
    ({"status": "CHARGING_MAYBE", "last_updated": "2026-01-01T00:00:00Z"}, "status"),
    ({"kwh": 1, "last_updated": "2076-01-01T00:00:00Z"}, "future"),
    ({"kwh": 1, "last_updated": "1976-01-01T00:00:00Z"}, "past"),
    ({"kwh": 1, "last_updated": "yesterday"}, "last_updated"),
    ({"id": "OTHER", "last_updated": "2026-01-01T00:00:00Z"}, "differs"),
])
def test_invalid_patch_is_2001_and_changes_nothing(rx, body, why):
    ocpi(rx.call("PUT", "/sessions/NL/GRN/SES-GRN-1", session()), 201)
    before = rx.snapshot()
    response = rx.call("PATCH", "/sessions/NL/GRN/SES-GRN-1", body)
    ocpi(response, 400, 2001)
    assert why in response.json()["status_message"]
    assert rx.snapshot() == before


def test_invalid_put_with_missing_fields_is_2001_and_writes_nothing(rx):
    body = session()
    del body["cdr_token"]
    response = rx.call("PUT", "/sessions/NL/GRN/SES-GRN-1", body)
    ocpi(response, 400, 2001)
    assert "cdr_token" in response.json()["status_message"]
    assert rx.count(OcpiSession) == 0 and rx.count(ChargingSession) == 0


# --- locations -----------------------------------------------------------------------------------------


def test_location_evse_and_connector_put_and_patch(rx):
    updated = utc_now() - timedelta(hours=1)
    ocpi(rx.call("PUT", "/locations/NL/GRN/LOC-GRN-1", location(updated=updated)), 201)
    ocpi(rx.call("PATCH", "/locations/NL/GRN/LOC-GRN-1/EVSE-GRN-1-1",
                 {"status": "AVAILABLE", "last_updated": iso(updated + timedelta(minutes=5))}))
    ocpi(rx.call("PUT", "/locations/NL/GRN/LOC-GRN-1/EVSE-GRN-1-2",
                 evse("EVSE-GRN-1-2", "AVAILABLE", updated + timedelta(minutes=6)) | {"evse_id": "NL*GRN*E0001*2"}), 200)
    ocpi(rx.call("PUT", "/locations/NL/GRN/LOC-GRN-1/EVSE-GRN-1-2/2", connector("2", updated + timedelta(minutes=7))))
    ocpi(rx.call("PATCH", "/locations/NL/GRN/LOC-GRN-1/EVSE-GRN-1-2/2",
                 {"max_amperage": 16, "last_updated": iso(updated + timedelta(minutes=8))}))
    got = ocpi(rx.call("GET", "/locations/NL/GRN/LOC-GRN-1"))
    assert [e["status"] for e in got["evses"]] == ["AVAILABLE", "AVAILABLE"]
    assert got["evses"][1]["connectors"][1]["max_amperage"] == 16
    assert got["last_updated"] == iso(updated + timedelta(minutes=8))
    # An older status change is ignored; a PATCH of an EVSE we never got is refused.
    ocpi(rx.call("PATCH", "/locations/NL/GRN/LOC-GRN-1/EVSE-GRN-1-1",
                 {"status": "OUTOFORDER", "last_updated": iso(updated)}))
    assert ocpi(rx.call("GET", "/locations/NL/GRN/LOC-GRN-1/EVSE-GRN-1-1"))["status"] == "AVAILABLE"
    ocpi(rx.call("PATCH", "/locations/NL/GRN/LOC-GRN-1/NOPE", {"status": "AVAILABLE", "last_updated": iso(utc_now())}),
         404, 2001)
    ocpi(rx.call("PATCH", "/locations/NL/GRN/LOC-NOPE", {"name": "x", "last_updated": iso(utc_now())}), 404, 2003)
    with session_scope(rx.settings) as db:  # what the assistant shows drivers
        loc = db.execute(select(Location).where(Location.id == "LOC-GRN-1")).scalar_one()
        assert (loc.name, loc.city, loc.operator.name) == ("GreenCharge Utrecht", "Utrecht", "GreenCharge B.V.")
        assert {e.evse_id for e in db.execute(select(Evse).where(Evse.location_id == "LOC-GRN-1")).scalars()} == {
            "NL*GRN*E0001*1", "NL*GRN*E0001*2"}


def test_session_before_its_location_gets_a_placeholder_station_filled_in_later(rx):
    ocpi(rx.call("PUT", "/sessions/NL/GRN/SES-GRN-1", session()), 201)
    ocpi(rx.call("PUT", "/locations/NL/GRN/LOC-GRN-1", location()), 201)
    with session_scope(rx.settings) as db:
        mirror = db.get(ChargingSession, "SES-GRN-1")
        assert mirror.location.name == "GreenCharge Utrecht" and mirror.evse.evse_id == "NL*GRN*E0001*1"
        assert db.execute(select(Operator).where(Operator.party_id == "GRN")).scalar_one().name == "GreenCharge B.V."


# --- compaction ----------------------------------------------------------------------------------------


def test_readings_of_long_completed_sessions_are_compacted_to_first_and_last(rx):
    start = utc_now() - timedelta(days=40)
    ocpi(rx.call("PUT", "/sessions/NL/GRN/SES-OLD", session("SES-OLD", start=start)), 201)
    for n in range(1, 6):
        ocpi(rx.call("PATCH", "/sessions/NL/GRN/SES-OLD", {"kwh": 2.0 * n, "last_updated": iso(start + timedelta(minutes=n))}))
    ocpi(rx.call("POST", "/cdrs", cdr("CDR-OLD", "SES-OLD", energy=11.0, start=start, end=start + timedelta(hours=1))), 201)
    ocpi(rx.call("PUT", "/sessions/NL/GRN/SES-NEW", session("SES-NEW")), 201)
    ocpi(rx.call("PATCH", "/sessions/NL/GRN/SES-NEW", {"kwh": 1.0, "last_updated": iso(utc_now())}))
    store = make_store(rx.settings)
    assert len(row(rx, "SES-OLD")[1]) == 7
    assert store.compact() == 1
    assert [k for _, k in row(rx, "SES-OLD")[1]] == [0.0, 11.0]
    assert len(row(rx, "SES-NEW")[1]) == 2
    assert store.compact() == 0  # done once; a late reading of a compacted session is not kept
    ocpi(rx.call("PATCH", "/sessions/NL/GRN/SES-OLD", {"kwh": 3.0, "last_updated": iso(start + timedelta(minutes=3))}))
    assert len(row(rx, "SES-OLD")[1]) == 2


def test_compaction_age_is_a_setting(tmp_path):
    from bot.settings import settings_from_env

    assert settings_from_env({"BOT_OCPI_COMPACT_AFTER_DAYS": "7"}).ocpi_receiver.compact_after_days == 7
    assert settings_from_env({}).ocpi_receiver.compact_after_days == 30
