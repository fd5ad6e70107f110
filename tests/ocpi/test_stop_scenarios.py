"""Scenario scripts for the stop offer (tests/scenarios/stop/*.yml), run with the feature ON against the peer CPO.

The scenario suite (tests/scenarios) runs with the feature off, as the product ships; these run apart, on a stack
of their own: the real Rasa and action servers with `BOT_OWN_CPO_OCPI_URL` set, our real receiver, and
extrawest-ocpi's Commands module playing the own stations' CPO (tests/ocpi/peer/serve.py), fallback `handoff`.
One command per session: every scenario gets an account of its own with one stale session at an own station,
scripted in the peer.

A scenario (YAML list item):

    name: kebab-case, unique
    lang: en | nl              the assistant's last answer must be in it
    open_hours: 30 | 80        how long the session has been open (30: the driver must say the card is blocked;
                               80: past the automatic close); meter flat after 90 minutes of charging
    meter: rising              instead: started 40 minutes ago and still rising (never offered)
    charger: accepts | rejects | silent | refuses
                               what the peer does with STOP_SESSION: ACCEPTED then result ACCEPTED and the session
                               COMPLETED; result REJECTED; no result ever; the CPO answers REJECTED at once
    turns: [driver texts]      sent in order through the REST channel as the logged-in driver
    expect:                    checked after the last turn (absent keys are not checked)
      offer: true | false      the stop was offered (pending question `stop_session` at some point)
      command: stopped | rejected | no_result | ... | none    the audit row's outcome; none: no command sent
      session_status: ACTIVE | COMPLETED                     the session in our data
      handoff: true | false    a handoff record for this conversation
      attempt_in_findings: true    the handoff's findings carry the stop attempt
      step: a FORMAT.md step value (tests/scenarios/FORMAT.md)
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Dict, List, Mapping

import pytest
import requests
import yaml
from sqlalchemy import select

from bot.apps.ocpi_receiver import build_app
from bot.apps.web_server import BackgroundSite
from bot.domain.clock import utcnow
from bot.domain.identity import mint_token
from bot.settings import OcpiReceiverSettings, settings_from_env
from bot.store.command_models import CommandAttempt
from bot.store.db import session_scope
from bot.store.models import Account, ChargeCard, ChargingSession, MeterReading
from bot.store.seed import seed_demo
from harness.stack import embedded_env, free_port
from tests.conftest import TEST_SECRET, running_stack
from tests.ocpi.conftest import _stop, start_peer
from tests.ocpi.ocpi_seed import TOKEN, iso
from tests.ocpi.receiver_support import register_directly
from tests.ocpi.stop_support import EVSE, LOCATION, peer_location
from tests.scenarios.runner import STEP_OF_SLOT, Target, handoff_record, read_events, replay, reply_language

pytestmark = pytest.mark.e2e

SCENARIO_DIR = Path(__file__).resolve().parents[1] / "scenarios" / "stop"
CHARGER = {
    "accepts": {"response": "ACCEPTED", "timeout": 30, "result": "ACCEPTED", "complete": True},
    "rejects": {"response": "ACCEPTED", "timeout": 30, "result": "REJECTED"},
    "silent": {"response": "ACCEPTED", "timeout": 30, "result": None},
    "refuses": {"response": "REJECTED", "timeout": 0},
}
PASS_THRESHOLD = 0.9  # like the scenario suite: a margin for the model's mistakes on drivers' own words


def load() -> List[Dict[str, Any]]:
    scenarios = [s for path in sorted(SCENARIO_DIR.glob("*.yml")) for s in yaml.safe_load(path.read_text())]
    names = [s["name"] for s in scenarios]
    assert len(names) == len(set(names)), "scenario names must be unique"
    for s in scenarios:
        assert s["lang"] in ("en", "nl") and s["charger"] in CHARGER and s["turns"], s["name"]
        assert set(s["expect"]) <= {"offer", "command", "session_status", "handoff", "attempt_in_findings", "step"}
    return scenarios


@dataclass(frozen=True)
class Driver:
    account: str
    card: str
    session_id: str


def drivers_for(scenarios) -> Dict[str, Driver]:
    return {s["name"]: Driver(f"stop-scn-{n:02d}", f"NL-EFL-C5{n:07d}-1", f"SES-95{n:04d}")
            for n, s in enumerate(scenarios, start=1)}


def readings(scenario: Mapping[str, Any], now: datetime):
    if scenario.get("meter") == "rising":
        start = now - timedelta(minutes=40)
        return start, [(start + timedelta(minutes=m), round(11 * m / 60, 3)) for m in range(0, 41, 5)]
    start = now - timedelta(hours=scenario.get("open_hours", 30))
    return start, [(start + timedelta(minutes=m), round(11 * m / 60, 3)) for m in range(0, 91, 15)]


def add_world(settings, scenarios, drivers, now) -> list:
    """Each scenario's account, card and session in our data; the sessions as the peer CPO knows them."""
    peer_sessions = []
    with session_scope(settings) as db:
        for s in scenarios:
            d = drivers[s["name"]]
            start, meter = readings(s, now)
            db.add(Account(id=d.account, name=f"Scenario {d.account}"))
            db.add(ChargeCard(contract_id=d.card, uid=f"UIDSCN{d.session_id[-4:]}", account_id=d.account))
            db.flush()
            db.add(ChargingSession(id=d.session_id, country_code="NL", party_id="EFL", status="ACTIVE",
                                   start_datetime=start, kwh=meter[-1][1], card_contract_id=d.card,
                                   account_id=d.account, location_id=LOCATION, evse_uid=EVSE,
                                   last_updated=meter[-1][0]))
            db.add_all(MeterReading(session_id=d.session_id, timestamp=t, kwh=k) for t, k in meter)
            peer_sessions.append({
                "country_code": "NL", "party_id": "EFL", "id": d.session_id, "start_date_time": iso(start),
                "end_date_time": None, "kwh": meter[-1][1],
                "cdr_token": {"country_code": "NL", "party_id": "EFL", "uid": f"UIDSCN{d.session_id[-4:]}",
                              "type": "RFID", "contract_id": d.card},
                "auth_method": "WHITELIST", "location_id": LOCATION, "evse_uid": EVSE, "connector_id": "1",
                "currency": "EUR", "status": "ACTIVE", "last_updated": iso(meter[-1][0])})
    return peer_sessions


@pytest.fixture(scope="module")
def world(tmp_path_factory, peer_python, trained_model):
    scenarios = load()
    drivers = drivers_for(scenarios)
    run_dir = tmp_path_factory.mktemp("stop-scenarios")
    env = embedded_env(os.environ, run_dir, TEST_SECRET)
    now = utcnow()
    port = free_port()
    settings = replace(settings_from_env(env), ocpi_receiver=OcpiReceiverSettings(public_url=f"http://127.0.0.1:{port}"))
    seed_demo(settings, now=now)
    peer_sessions = add_world(settings, scenarios, drivers, now)
    token_c = register_directly(settings, parties=(("NL", "EFL"),), label="own CPO")
    site = BackgroundSite(build_app(settings, compact_every_s=None), port).start()
    script = {drivers[s["name"]].session_id: CHARGER[s["charger"]] for s in scenarios}
    seed = {"party_id": "EFL", "tokens": [TOKEN], "result_token": token_c, "commands": script,
            "sessions": peer_sessions, "locations": [peer_location(now)]}
    proc, peer_url, _ = start_peer(peer_python, seed, run_dir, name="commands-peer")
    env.update(BOT_OWN_CPO_OCPI_URL=peer_url, BOT_OWN_CPO_TOKEN=TOKEN, BOT_OCPI_PUBLIC_URL=site.url,
               BOT_STOP_RESULT_TIMEOUT_S="3", BOT_STOP_CONFIRM_TIMEOUT_S="6", BOT_STOP_FALLBACK="handoff")
    try:
        for stack in running_stack(trained_model, run_dir, env):
            yield scenarios, drivers, Target.from_env(stack.url, env)
    finally:
        _stop(proc)
        site.stop()


def run(scenario, driver: Driver, target: Target) -> List[str]:
    """The conversation, then every expectation it misses (empty: passed)."""
    sender = f"stop-scn-{uuid.uuid4().hex[:10]}"
    identity = mint_token(driver.account, [driver.card], target.secret, timedelta(minutes=30))
    last: List[str] = []
    for text in scenario["turns"]:
        response = requests.post(target.url + "/webhooks/rest/webhook", timeout=90,
                                 json={"sender": sender, "message": text, "metadata": {"identity": identity}})
        response.raise_for_status()
        last = [m["text"] for m in response.json() if m.get("text")]
    events = read_events(target, sender)
    state = replay(events)
    record = handoff_record(target, sender)
    with session_scope(target.settings) as db:
        attempt = db.execute(select(CommandAttempt).where(CommandAttempt.session_id == driver.session_id)
                             ).scalar_one_or_none()
        status = db.get(ChargingSession, driver.session_id).status
    got = {
        "offer": any(e.get("event") == "slot" and e.get("name") == "pending_question"
                     and e.get("value") == "stop_session" for e in events),
        "command": "none" if attempt is None else attempt.outcome,
        "session_status": status,
        "handoff": record is not None,
        "attempt_in_findings": bool(record and (record.get("findings") or {}).get("stop_attempt")),
        "step": STEP_OF_SLOT.get(state.slots.get("step")),
    }
    misses = [f"{key}: expected {want!r}, got {got[key]!r}" for key, want in scenario["expect"].items()
              if got[key] != want]
    spoken = reply_language(last, state.slots.get("language"))
    if spoken != scenario["lang"]:
        misses.append(f"language: expected {scenario['lang']}, got {spoken}")
    return misses


def test_the_stop_scenarios_have_valid_keys():
    scenarios = load()
    assert {s["lang"] for s in scenarios} == {"en", "nl"} and len(scenarios) >= 20


def test_stop_scenarios_with_the_feature_on(world):
    scenarios, drivers, target = world
    failures = {}
    for scenario in scenarios:
        misses = run(scenario, drivers[scenario["name"]], target)
        if misses:
            failures[scenario["name"]] = misses
    passed = len(scenarios) - len(failures)
    print(f"\nstop scenarios: {passed}/{len(scenarios)} passed")
    for lang in ("en", "nl"):
        of_lang = [s["name"] for s in scenarios if s["lang"] == lang]
        print(f"  {lang}: {sum(1 for n in of_lang if n not in failures)}/{len(of_lang)}")
    for name, misses in failures.items():
        print(f"  FAILED {name}: " + "; ".join(misses))
    assert passed / len(scenarios) >= PASS_THRESHOLD, failures
