"""The receiver on PostgreSQL, as it runs past one machine: two receiver processes, one database.

Updates of one session arrive at both processes at once and out of order; the end state is the newest
update and every reading once. Skips (or fails with CI=true) where PostgreSQL is not running.
"""
from __future__ import annotations

import base64
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
from tests.ocpi.receiver_support import add_driver, cdr, register_directly, session, utc_now


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
