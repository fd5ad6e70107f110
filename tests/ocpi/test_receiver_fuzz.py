"""Hostile OCPI input against the receiver, with a fixed budget (`OCPI_FUZZ_REQUESTS`, default 1,500).

Wrong types, huge bodies, missing fields, unknown enum values, dates fifty years off, a valid token on
another party's path, broken JSON: every answer must be an OCPI envelope below HTTP 500, and what is
stored afterwards must be whole: exactly the sessions whose PUT was accepted, each consistent with its
object, every mirror matching, no reading without its session.
"""
from __future__ import annotations

import copy
import json
import os
import random
import time
from datetime import timedelta

from sqlalchemy import select

from bot.apps.ocpi_receiver import make_store
from bot.domain.ocpi import iso, parse_time
from bot.store.models import ChargingSession
from bot.store.ocpi_models import OcpiReading, OcpiSession
from tests.ocpi.receiver_support import cdr, connector, evse, location, session, start_receiver, utc_now

BUDGET = int(os.environ.get("OCPI_FUZZ_REQUESTS", "1500"))
TIME_BOUND_S = float(os.environ.get("OCPI_FUZZ_SECONDS", "90"))
SEED = int(os.environ.get("OCPI_FUZZ_SEED", "20261202"))

WEIRD_VALUES = [None, True, 0, -1, 1e308, float("nan"), 10**40, "", " ", "x" * 5000, "ACTIVE\x00", "\ud800",
                [], {}, [1, 2], {"a": {"b": {"c": []}}}, "2076-01-01T00:00:00Z", "1976-01-01T00:00:00Z",
                "2026-13-45T99:99:99Z", "NOT_AN_ENUM", "nl", "🚗⚡", "'; DROP TABLE ocpi_sessions; --"]


def mutate(rng: random.Random, obj):
    obj = copy.deepcopy(obj)
    for _ in range(rng.randint(1, 3)):
        target = obj
        path = []
        while isinstance(target, dict) and target and rng.random() < 0.6:
            key = rng.choice(list(target))
            if not isinstance(target[key], (dict, list)):
                break
            path.append(key)
            target = target[key]
            if isinstance(target, list) and target and isinstance(target[0], dict):
                target = rng.choice(target)
        if not isinstance(target, dict) or not target:
            continue
        key = rng.choice(list(target))
        action = rng.random()
        if action < 0.3:
            del target[key]
        elif action < 0.8:
            target[key] = rng.choice(WEIRD_VALUES)
        elif action < 0.9 and isinstance(target[key], str) and target[key].endswith("Z"):
            try:
                shifted = parse_time(target[key], key) + timedelta(days=rng.choice([-1, 1]) * 365 * 50)
                target[key] = iso(shifted)
            except Exception:  # noqa: BLE001
                target[key] = "2076-01-01T00:00:00Z"
        else:
            target["unexpected_" + str(rng.randint(0, 9))] = rng.choice(WEIRD_VALUES)
    return obj


def hostile_request(rng: random.Random, n: int):
    """(method, path, body or raw bytes, token override) of one hostile request."""
    sid = f"SES-F{rng.randint(0, 30)}"
    party = rng.choice(["GRN", "GRN", "GRN", "ALL", "grn", "G%2FR", "GRNX"])
    kind = rng.random()
    if kind < 0.35:
        base = session(sid, kwh=rng.uniform(0, 50), updated=utc_now() - timedelta(minutes=rng.randint(0, 600)))
        return rng.choice(["PUT", "PUT", "PATCH"]), f"/sessions/NL/{party}/{sid}", mutate(rng, base), None
    if kind < 0.55:
        patch = {"kwh": rng.uniform(0, 50), "last_updated": iso(utc_now() - timedelta(minutes=rng.randint(0, 600)))}
        return "PATCH", f"/sessions/NL/{party}/{sid}", mutate(rng, patch) if rng.random() < 0.7 else patch, None
    if kind < 0.65:
        return "POST", "/cdrs", mutate(rng, cdr(f"CDR-F{n}", sid)), None
    if kind < 0.75:
        target = rng.choice([("/locations/NL/GRN/LOC-F1", location("LOC-F1")),
                             ("/locations/NL/GRN/LOC-F1/EVSE-GRN-1-1", evse()),
                             ("/locations/NL/GRN/LOC-F1/EVSE-GRN-1-1/1", connector())])
        return rng.choice(["PUT", "PATCH"]), target[0], mutate(rng, target[1]), None
    if kind < 0.82:
        raw = rng.choice([b"{", b"[]", b"null", b"\xff\xfe", b'{"kwh": 1e999999}', b"[" * 100_000,
                          b'{"a":' * 5000, b"x" * 2_000_000, json.dumps({"kwh": 1, "pad": "y" * 1_100_000}).encode()])
        return rng.choice(["PUT", "PATCH", "POST"]), rng.choice([f"/sessions/NL/GRN/{sid}", "/cdrs",
                                                                 "/locations/NL/GRN/L1"]), raw, None
    if kind < 0.9:
        path = rng.choice([f"/sessions/NL/GRN/{'S' * 300}", "/sessions/NL/GRN", "/sessions//NL/GRN/S1/extra",
                           "/tokens?offset=-1", "/tokens?limit=99999999999", "/tokens?date_to=2026-99-01",
                           "/commands/START_SESSION/" + "u" * 80, "/nope", "/sessions/N%00/GRN/S1"])
        return rng.choice(["GET", "DELETE", "POST", "PUT"]), path, {"kwh": 1}, None
    return rng.choice(["GET", "PUT", "PATCH"]), f"/sessions/NL/GRN/{sid}", session(sid), rng.choice(
        ["", "garbage", "Token x", "Token " + "A" * 600])


def test_hostile_input_gets_ocpi_errors_and_leaves_nothing_half_written(tmp_path):
    rx = start_receiver(tmp_path)
    rng = random.Random(SEED)
    accepted_puts = set()
    statuses = {}
    started = time.monotonic()
    sent = 0
    try:
        for n in range(BUDGET):
            if time.monotonic() - started > TIME_BOUND_S:
                break
            method, path, body, token = hostile_request(rng, n)
            if isinstance(body, bytes):
                response = rx.call(method, path, raw=body)
            else:
                response = rx.call(method, path, body=None, raw=json.dumps(body).encode("utf-8", "surrogatepass"),
                                   token="default" if token is None else token)
            sent += 1
            assert response.status_code < 500, (method, path, response.status_code, response.text[:300])
            answer = response.json()
            assert isinstance(answer.get("status_code"), int) and "timestamp" in answer, response.text[:300]
            statuses[answer["status_code"]] = statuses.get(answer["status_code"], 0) + 1
            if method == "PUT" and path.upper().startswith("/SESSIONS/NL/GRN/") and answer["status_code"] == 1000:
                accepted_puts.add(path.rsplit("/", 1)[1])
    finally:
        rx.site.stop()
    print(f"\n[ocpi fuzz] {sent} hostile requests in {time.monotonic() - started:.1f}s; OCPI codes {statuses}")
    assert sent >= min(BUDGET, 200)
    assert statuses.get(2001, 0) > sent // 4 and statuses.get(1000, 0) > 0

    store = make_store(rx.settings)
    with store.reader.connect() as conn:
        sessions = conn.execute(select(OcpiSession.__table__)).all()
        mirrors = {r.id: r for r in conn.execute(select(ChargingSession.__table__)
                                                  .where(ChargingSession.party_id == "GRN")).all()}
        orphans = conn.execute(select(OcpiReading.id).where(
            OcpiReading.session_ref.notin_(select(OcpiSession.id)))).all()
    assert {s.session_id for s in sessions} == accepted_puts
    assert not orphans
    for s in sessions:
        obj = json.loads(s.object)
        assert obj["kwh"] == s.kwh and obj["status"].upper() == s.status
        assert parse_time(obj["last_updated"], "last_updated") == s.last_updated
        if s.mirrored:
            mirror = mirrors[s.session_id]
            assert (mirror.kwh, mirror.status, mirror.last_updated) == (s.kwh, s.status, s.last_updated)
    assert set(mirrors) == {s.session_id for s in sessions if s.mirrored}
