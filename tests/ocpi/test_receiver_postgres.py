"""The receiver on PostgreSQL, as it runs past one machine: two receiver processes, one database.

Updates of one session arrive at both processes at once and out of order; the end state is the newest
update and every reading once. The data rules of test_receiver.py run again here, because on PostgreSQL
a batch goes through statements of its own (prepared, BEGIN and COMMIT riding on them). Skips (or fails
with CI=true) where PostgreSQL is not running.
"""
from __future__ import annotations

import base64
import json
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from bot.apps.ocpi_receiver import READY_PATH, make_store, start_ocpi_receiver
from bot.apps.servers import wait_ready
from bot.domain.ocpi import iso
from bot.settings import settings_from_env
from bot.store.db import create_schema
from bot.store.models import ChargingSession
from bot.store.ocpi_models import OcpiReading, OcpiSession
from harness.stack import free_port
from tests.ocpi import test_receiver as on_sqlite
from tests.ocpi.receiver_support import add_driver, cdr, register_directly, session, start_receiver, utc_now


@pytest.fixture
def rx(postgres_databases, tmp_path):
    receiver = start_receiver(tmp_path, database_url=postgres_databases.create("ocpi"))
    yield receiver
    receiver.site.stop()


# The data rules, on PostgreSQL (each takes the `rx` above).
test_put_then_patches_become_readings = on_sqlite.test_put_then_patches_become_readings_and_the_mirror_the_assistant_reads
test_older_updates_and_repeats = on_sqlite.test_older_updates_do_not_change_the_session_and_repeats_change_nothing
test_patch_of_an_unknown_session = on_sqlite.test_patch_of_an_unknown_session_is_refused_and_writes_nothing
test_unknown_card_is_stored_and_flagged = on_sqlite.test_unknown_card_is_stored_and_flagged_not_mirrored
test_cdr_completes_the_session = on_sqlite.test_cdr_completes_the_session_with_its_final_kwh
test_a_cdr_before_its_session = on_sqlite.test_a_cdr_before_its_session_settles_it_on_arrival
test_invalid_patch_is_2001 = on_sqlite.test_invalid_patch_is_2001_and_changes_nothing
test_invalid_put_is_2001 = on_sqlite.test_invalid_put_with_missing_fields_is_2001_and_writes_nothing
test_location_evse_and_connector = on_sqlite.test_location_evse_and_connector_put_and_patch
test_session_before_its_location = on_sqlite.test_session_before_its_location_gets_a_placeholder_station_filled_in_later
test_compaction = on_sqlite.test_readings_of_long_completed_sessions_are_compacted_to_first_and_last
test_back_office_close_not_reopened = on_sqlite.test_a_back_office_closed_session_is_not_reopened_by_the_cpos_later_updates
test_one_batch_of_several_sessions = on_sqlite.test_patches_of_several_sessions_arriving_together_are_written_as_one_batch
test_back_office_close_then_first_put = on_sqlite.test_a_back_office_close_holds_when_the_cpo_first_pushes_the_session_afterwards
test_command_result_once = on_sqlite.test_command_result_is_received_once
test_command_result_only_from_its_party = on_sqlite.test_a_command_result_is_taken_only_from_the_party_the_command_went_to
test_late_result_on_arrival = on_sqlite.test_a_result_after_the_flow_stopped_waiting_is_written_to_the_audit_row_on_arrival


def test_updates_out_of_order_end_in_the_same_state(postgres_databases, tmp_path):
    start = utc_now() - timedelta(hours=2)
    updates = [{"kwh": 1.5 * n, "last_updated": iso(start + timedelta(minutes=10 * n))} for n in range(1, 9)]
    states = []
    for n, order in enumerate([updates, list(reversed(updates)), updates[::2] + updates[1::2]]):
        rx = start_receiver(tmp_path / str(n), database_url=postgres_databases.create("ocpi"))
        try:
            on_sqlite.ocpi(rx.call("PUT", "/sessions/NL/GRN/SES-GRN-1", session(start=start)), 201)
            for update in order:
                on_sqlite.ocpi(rx.call("PATCH", "/sessions/NL/GRN/SES-GRN-1", update))
            stored, readings, mirror = on_sqlite.row(rx)
            states.append((json.loads(stored.object), stored.kwh, readings, mirror.kwh, mirror.last_updated))
        finally:
            rx.site.stop()
    assert states[0] == states[1] == states[2]
    assert states[0][1] == 12.0 and len(states[0][2]) == 9


def test_one_batch_with_repeats_and_old_updates_of_one_session(rx):
    """Many PATCHes of one session in flight at once (one batch, or a few): newest wins, readings once."""
    start = utc_now() - timedelta(hours=3)
    on_sqlite.ocpi(rx.call("PUT", "/sessions/NL/GRN/SES-GRN-1", session(start=start)), 201)
    updates = [{"kwh": 0.25 * n, "last_updated": iso(start + timedelta(seconds=20 * n))} for n in range(1, 61)]
    sends = updates * 3
    random.Random(3).shuffle(sends)
    with ThreadPoolExecutor(32) as pool:
        codes = list(pool.map(lambda body: rx.call("PATCH", "/sessions/NL/GRN/SES-GRN-1", body).json()["status_code"],
                              sends))
    assert set(codes) == {1000}
    stored, readings, mirror = on_sqlite.row(rx)
    assert stored.kwh == 15.0 and stored.last_updated == start + timedelta(seconds=1200)
    assert [k for _, k in readings] == [0.0] + [0.25 * n for n in range(1, 61)]
    assert (mirror.kwh, mirror.last_updated) == (15.0, stored.last_updated)


@pytest.fixture
def two_receivers(postgres_databases, tmp_path):
    url = postgres_databases.create("ocpi")
    ports = [free_port(), free_port()]
    env = {"BOT_DATABASE_URL": url, "BOT_OCPI_PUBLIC_URL": f"http://127.0.0.1:{ports[0]}"}
    import os

    env = dict(os.environ, **env)
    settings = settings_from_env(env)
    create_schema(settings)
    add_driver(settings)
    token = register_directly(settings)
    servers = [start_ocpi_receiver(port, tmp_path / f"rx-{port}.log", env) for port in ports]
    try:
        for server in servers:
            wait_ready(server, READY_PATH, deadline_s=60)
        yield settings, token, [s.url for s in servers]
    finally:
        for server in servers:
            server.stop()


def test_two_processes_one_database_out_of_order_and_repeated(two_receivers):
    settings, token, urls = two_receivers
    headers = {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}
    start = utc_now() - timedelta(hours=3)
    path = "/ocpi/emsp/2.2.1/sessions/NL/GRN/SES-PG-1"
    put = requests.put(urls[0] + path, json=session("SES-PG-1", start=start), headers=headers, timeout=10)
    assert put.json()["status_code"] == 1000
    updates = [{"kwh": 0.5 * n, "last_updated": iso(start + timedelta(seconds=30 * n))} for n in range(1, 121)]
    sends = updates * 2  # every update twice, to both processes, in a shuffled order, 16 at a time
    random.Random(7).shuffle(sends)

    def send(pair):
        n, body = pair
        return requests.patch(urls[n % 2] + path, json=body, headers=headers, timeout=30).json()["status_code"]

    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(send, enumerate(sends)))
    assert set(codes) == {1000}
    store = make_store(settings)
    with store.reader.connect() as conn:
        stored = conn.execute(select(OcpiSession.__table__).where(OcpiSession.session_id == "SES-PG-1")).one()
        readings = conn.execute(select(OcpiReading.kwh).where(OcpiReading.session_ref == stored.id)
                                .order_by(OcpiReading.timestamp)).scalars().all()
        mirror = conn.execute(select(ChargingSession.__table__).where(ChargingSession.id == "SES-PG-1")).one()
    assert stored.kwh == 60.0 and stored.last_updated == start + timedelta(seconds=3600)
    assert readings == [0.0] + [0.5 * n for n in range(1, 121)]
    assert (mirror.kwh, mirror.last_updated) == (60.0, stored.last_updated)

    posted = requests.post(urls[1] + "/ocpi/emsp/2.2.1/cdrs", json=cdr("CDR-PG-1", "SES-PG-1", energy=61.0),
                           headers=headers, timeout=10)
    assert posted.status_code == 201 and posted.json()["status_code"] == 1000
    with store.reader.connect() as conn:
        assert conn.execute(select(ChargingSession.status, ChargingSession.kwh)
                            .where(ChargingSession.id == "SES-PG-1")).one() == ("COMPLETED", 61.0)
    store.dispose()


def test_connections_postgresql_dropped_are_replaced_without_an_error(two_receivers, postgres_databases):
    settings, token, urls = two_receivers
    headers = {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}
    path = "/ocpi/emsp/2.2.1/sessions/NL/GRN/SES-PG-2"
    start = utc_now() - timedelta(hours=1)
    assert requests.put(urls[0] + path, json=session("SES-PG-2", start=start), headers=headers,
                        timeout=10).json()["status_code"] == 1000
    postgres_databases.set_accepting(settings.database_url, False)  # ends every open connection
    postgres_databases.set_accepting(settings.database_url, True)
    for n, url in enumerate(urls * 2, start=1):
        answer = requests.patch(url + path, json={"kwh": n, "last_updated": iso(start + timedelta(minutes=n))},
                                headers=headers, timeout=10)
        assert (answer.status_code, answer.json()["status_code"]) == (200, 1000), answer.text
