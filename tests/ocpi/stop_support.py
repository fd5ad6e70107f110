"""The world of the stop tests: a charging database, our receiver (where CommandResults arrive), and the
own stations' CPO (extrawest-ocpi's Commands module, tests/ocpi/peer/serve.py with a `commands` script) playing the charger.

Every case is a session of its own (one command per session), scripted in the peer by its id.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

from bot.apps.ocpi_receiver import build_app
from bot.apps.web_server import BackgroundSite
from bot.domain.clock import utcnow
from bot.settings import OcpiReceiverSettings, Settings, StopSettings
from bot.store.db import session_scope
from bot.store.models import Account, ChargeCard, ChargingSession, MeterReading
from bot.store.seed import seed_demo
from harness.stack import free_port
from tests.ocpi.conftest import _stop, start_peer
from tests.ocpi.ocpi_seed import TOKEN, iso
from tests.ocpi.receiver_support import register_directly

ACCOUNT = "stop-driver"
CARD = "NL-EFL-C40000001-1"
LOCATION = "LOC-EFL-003"  # an own station of the demo seed (Rotterdam Centraal garage)
EVSE = "EVSE-EFL-10003"

# What the charger does with each session's STOP_SESSION (see the peer's docstring).
SCRIPT: Dict[str, Dict[str, Any]] = {
    # accepted, the session COMPLETED
    "SES-900001": {"response": "ACCEPTED", "timeout": 30, "result": "ACCEPTED", "complete": True},
    # accepted (conversation: declined, then rising)
    "SES-900002": {"response": "ACCEPTED", "timeout": 30, "result": "ACCEPTED", "complete": True},
    # the charger forgot it: REJECTED
    "SES-900003": {"response": "ACCEPTED", "timeout": 30, "result": "REJECTED"},
    # REJECTED again (the handoff fallback)
    "SES-900004": {"response": "ACCEPTED", "timeout": 30, "result": "REJECTED"},
    # the CPO refuses at once
    "SES-900005": {"response": "REJECTED", "timeout": 0},
    # cannot stop remotely
    "SES-900006": {"response": "NOT_SUPPORTED", "timeout": 0},
    # no result ever
    "SES-900007": {"response": "ACCEPTED", "timeout": 30, "result": None},
    # no result ever (conversation)
    "SES-900008": {"response": "ACCEPTED", "timeout": 30, "result": None},
    # a result after our timeout
    "SES-900009": {"response": "ACCEPTED", "timeout": 30, "result": "ACCEPTED", "after_s": 5},
    # late (conversation)
    "SES-900010": {"response": "ACCEPTED", "timeout": 30, "result": "ACCEPTED", "after_s": 5},
    # the CPO's own timeout (1 s) is shorter than ours
    "SES-900011": {"response": "ACCEPTED", "timeout": 1, "result": "ACCEPTED", "after_s": 4},
    # ACCEPTED but the data never show the end
    "SES-900012": {"response": "ACCEPTED", "timeout": 30, "result": "ACCEPTED", "complete": False},
}
# Sessions of ours the peer does not know at all (its answer: UNKNOWN_SESSION), and for the peer-down case.
# 900013: UNKNOWN_SESSION; 900014/900015: peer down; 900016: a repeat; 900017: four at once.
UNSCRIPTED = ("SES-900013", "SES-900014", "SES-900015", "SES-900016", "SES-900017")
START_HOURS_AGO = 30
CHARGED_MINUTES = 90  # then quiet: 16.5 kWh at 11 kW


@dataclass
class StopWorld:
    settings: Settings  # stop configured against the peer, fallback `handoff`
    peer_url: str
    receiver_url: str
    token_c: str  # the peer's token at our receiver
    stop_peer: Any = None  # stops the commands peer: from then on it is down

    def with_fallback(self, fallback: str) -> Settings:
        return replace(self.settings, stop=replace(self.settings.stop, fallback=fallback))

    def peer_down(self) -> Settings:
        """The own CPO's URL on a port nobody listens on."""
        return replace(self.settings, stop=replace(self.settings.stop,
                                                   cpo_ocpi_url=f"http://127.0.0.1:{free_port()}/ocpi/cpo/2.2.1"))


def add_stale_sessions(settings: Settings, now: datetime) -> None:
    """The test driver's stale sessions at an own station: 30 h open, charged 90 minutes, then silence."""
    start = now - timedelta(hours=START_HOURS_AGO)
    readings = [(start + timedelta(minutes=m), round(11 * m / 60, 3)) for m in range(0, CHARGED_MINUTES + 1, 15)]
    with session_scope(settings) as db:
        if db.get(Account, ACCOUNT) is None:
            db.add(Account(id=ACCOUNT, name="Stop Driver"))
            db.add(ChargeCard(contract_id=CARD, uid="UIDSTOP0001", account_id=ACCOUNT))
            db.flush()
        for sid in [*SCRIPT, *UNSCRIPTED]:
            db.add(ChargingSession(id=sid, country_code="NL", party_id="EFL", status="ACTIVE", start_datetime=start,
                                   kwh=readings[-1][1], card_contract_id=CARD, account_id=ACCOUNT,
                                   location_id=LOCATION, evse_uid=EVSE, last_updated=readings[-1][0]))
            db.add_all(MeterReading(session_id=sid, timestamp=t, kwh=k) for t, k in readings)


def peer_session(sid: str, now: datetime) -> Dict[str, Any]:
    start = now - timedelta(hours=START_HOURS_AGO)
    return {"country_code": "NL", "party_id": "EFL", "id": sid, "start_date_time": iso(start), "end_date_time": None,
            "kwh": 16.5, "cdr_token": {"country_code": "NL", "party_id": "EFL", "uid": "UIDSTOP0001", "type": "RFID",
                                       "contract_id": CARD},
            "auth_method": "WHITELIST", "location_id": LOCATION, "evse_uid": EVSE, "connector_id": "1",
            "currency": "EUR", "status": "ACTIVE", "last_updated": iso(start + timedelta(minutes=CHARGED_MINUTES))}


def peer_location(now: datetime) -> Dict[str, Any]:
    updated = iso(now - timedelta(hours=40))
    return {"country_code": "NL", "party_id": "EFL", "id": LOCATION, "publish": True,
            "name": "Rotterdam Centraal garage", "address": "Weena 200", "city": "Rotterdam", "country": "NLD",
            "coordinates": {"latitude": "51.924", "longitude": "4.469"}, "time_zone": "Europe/Amsterdam",
            "evses": [{"uid": EVSE, "evse_id": "NL*EFL*E10003*1", "status": "CHARGING", "last_updated": updated,
                       "connectors": [{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET",
                                       "power_type": "AC_3_PHASE", "max_voltage": 400, "max_amperage": 32,
                                       "last_updated": updated}]}],
            "last_updated": updated}


def peer_python_path() -> str:
    """The peer venv's interpreter, outside pytest (scripts/ocpi-peer-venv.sh builds it when missing)."""
    built = subprocess.run(["bash", str(Path(__file__).resolve().parents[2] / "scripts" / "ocpi-peer-venv.sh")],
                           capture_output=True, text=True, timeout=900, check=True)
    return built.stdout.strip().splitlines()[-1]


def start_commands_peer(peer_python: str, workdir: Path, result_token: str, now: datetime,
                        script: Optional[Dict[str, Dict[str, Any]]] = None):
    """The peer as the own stations' CPO, scripted (default: SCRIPT); returns (process, its 2.2.1 base URL,
    its stderr file)."""
    script = SCRIPT if script is None else script
    seed = {"party_id": "EFL", "tokens": [TOKEN], "result_token": result_token, "commands": script,
            "sessions": [peer_session(sid, now) for sid in script], "locations": [peer_location(now)]}
    return start_peer(peer_python, seed, workdir, name="commands-peer")


def stop_world(tmp: Path, peer_python: str, env_settings: Optional[Settings] = None) -> Iterator[StopWorld]:
    """Database (seeded demo + the test driver's sessions), receiver on a free port, commands peer."""
    now = utcnow()
    port = free_port()
    base = env_settings or Settings(database_url=f"sqlite:///{tmp / 'charging.db'}", identity_secret="x")
    settings = replace(base, ocpi_receiver=OcpiReceiverSettings(public_url=f"http://127.0.0.1:{port}"))
    seed_demo(settings, now=now)
    add_stale_sessions(settings, now)
    token_c = register_directly(settings, parties=(("NL", "EFL"),), label="own CPO")
    site = BackgroundSite(build_app(settings, compact_every_s=None), port).start()
    proc, peer_url, stderr_path = start_commands_peer(peer_python, tmp, token_c, now)
    settings = replace(settings, stop=StopSettings(cpo_ocpi_url=peer_url, cpo_token=TOKEN, request_timeout_s=5,
                                                   result_timeout_s=3, confirm_timeout_s=6, fallback="handoff"))
    try:
        yield StopWorld(settings, peer_url, site.url, token_c, lambda: _stop(proc))
    finally:
        _stop(proc)
        site.stop()
