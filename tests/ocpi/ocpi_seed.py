"""Demo data the OCPI test peer serves: what a CPO (here "GreenCharge", NL*GRN) would publish.

Times are relative to the start of the test run so the date-window filters behave as they
do against a live operator. Ids are written in mixed case on purpose: the peer lowercases
CiStrings, and the client must still match them.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List

TOKEN = "peer-token-C-3f9a7d"  # the credentials token C we hold for this CPO (plain text)

ACTIVE_SESSION_ID = "SES-104233"
COMPLETED_SESSION_ID = "SES-104200"
OLD_SESSION_ID = "SES-090001"  # last updated two months ago: outside any recent window
FILLER_SESSIONS = 21  # with the three above: 24 sessions, five pages of five

LOCATION_ID = "LOC-UTR-0042"
EVSE_UID = "EVSE-0042-1"
EVSE_ID = "NL*GRN*E0042*1"
OPERATOR_NAME = "GreenCharge B.V."
OPERATOR_WEBSITE = "https://www.greencharge.example/support"
FILLER_LOCATIONS = 6
CONTRACT_ID = "NL-EFL-C12345678-9"
TOKEN_UID = "04A2B3C4D5E6F7"


def iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _session(sid: str, status: str, start: datetime, end, kwh: float, updated: datetime, location_id: str, evse_uid: str) -> Dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "GRN",
        "id": sid,
        "start_date_time": iso(start),
        "end_date_time": iso(end) if end else None,
        "kwh": kwh,
        "cdr_token": {"country_code": "NL", "party_id": "EFL", "uid": TOKEN_UID, "type": "RFID", "contract_id": CONTRACT_ID},
        "auth_method": "WHITELIST",
        "location_id": location_id,
        "evse_uid": evse_uid,
        "connector_id": "1",
        "currency": "EUR",
        "status": status,
        "last_updated": iso(updated),
    }


def _location(lid: str, name: str, evse_uids_ids: List[tuple], updated: datetime, operator: Dict[str, Any]) -> Dict[str, Any]:
    connector = {
        "id": "1",
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": 400,
        "max_amperage": 32,
        "last_updated": iso(updated),
    }
    return {
        "country_code": "NL",
        "party_id": "GRN",
        "id": lid,
        "publish": True,
        "name": name,
        "address": "Stationsplein 42",
        "city": "Utrecht",
        "country": "NLD",
        "coordinates": {"latitude": "52.089", "longitude": "5.110"},
        "operator": operator,
        "time_zone": "Europe/Amsterdam",
        "last_updated": iso(updated),
        "evses": [
            {"uid": uid, "evse_id": evse_id, "status": "CHARGING", "connectors": [connector], "last_updated": iso(updated)}
            for uid, evse_id in evse_uids_ids
        ],
    }


def build_seed(now: datetime) -> Dict[str, Any]:
    sessions = [
        # Stale: the charger never sent the stop; still ACTIVE 80 hours later.
        _session(ACTIVE_SESSION_ID, "ACTIVE", now - timedelta(hours=80), None, 17.4, now - timedelta(hours=79), LOCATION_ID, EVSE_UID),
        _session(COMPLETED_SESSION_ID, "COMPLETED", now - timedelta(hours=100), now - timedelta(hours=96), 22.75, now - timedelta(hours=95), LOCATION_ID, "EVSE-0042-2"),
        _session(OLD_SESSION_ID, "COMPLETED", now - timedelta(days=60, hours=3), now - timedelta(days=60), 9.0, now - timedelta(days=60), LOCATION_ID, EVSE_UID),
    ]
    for n in range(FILLER_SESSIONS):
        updated = now - timedelta(hours=2 + 3 * n)
        sessions.append(_session(f"SES-2{n:05d}", "COMPLETED", updated - timedelta(hours=2), updated, 5.0 + n, updated, f"LOC-FILL-{n % FILLER_LOCATIONS}", "EVSE-F-1"))
    locations = [
        _location(
            LOCATION_ID,
            "P+R Utrecht Centraal",
            [(EVSE_UID, EVSE_ID), ("EVSE-0042-2", "NL*GRN*E0042*2")],
            now - timedelta(days=3),
            {"name": OPERATOR_NAME, "website": OPERATOR_WEBSITE},
        )
    ]
    for n in range(FILLER_LOCATIONS):
        locations.append(
            _location(f"LOC-FILL-{n}", f"Filler {n}", [("EVSE-F-1", f"NL*GRN*E9{n:03d}*1")], now - timedelta(days=10 + n), {"name": OPERATOR_NAME})
        )
    return {"tokens": [TOKEN], "sessions": sessions, "locations": locations}
