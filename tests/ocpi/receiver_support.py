"""A running OCPI receiver on a database of its own, and OCPI 2.2.1 objects as a CPO would push them."""
from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Optional

import requests
from sqlalchemy import func, select

from bot.apps.ocpi_receiver import build_app, make_store
from bot.apps.web_server import BackgroundSite
from bot.domain.ocpi import iso
from bot.settings import OcpiReceiverSettings, Settings
from bot.store import ocpi_ingest
from bot.store.db import create_schema
from bot.store.ocpi_models import OcpiCdr, OcpiLocation, OcpiReading, OcpiSession
from bot.store.models import Account, ChargeCard, ChargingSession, Evse, Location, Operator
from harness.stack import free_port

CONTRACT_ID = "NL-EFL-C20000001-1"
CARD_UID = "04AABBCCDD0001"
ACCOUNT_ID = "ocpi-driver"


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def auth(token: str) -> Dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


def add_driver(settings: Settings, account_id: str = ACCOUNT_ID, contract_id: str = CONTRACT_ID,
               uid: str = CARD_UID) -> None:
    store = make_store(settings)
    with store.engine.begin() as conn:
        conn.execute(Account.__table__.insert().values(id=account_id, name="OCPI driver"))
        conn.execute(ChargeCard.__table__.insert().values(contract_id=contract_id, uid=uid, account_id=account_id))
    store.dispose()


def register_directly(settings: Settings, parties=(("NL", "GRN"),), label: str = "test CPO") -> str:
    """A registered CPO without the HTTP handshake (that has tests of its own): its token C."""
    from bot.domain.ocpi import Credentials, CredentialsRole

    store = make_store(settings)
    with store.engine.begin() as conn:
        ocpi_ingest.issue_token_a(conn, label)
        reg_id = conn.execute(select(func.max(ocpi_ingest.OcpiRegistration.id))).scalar_one()
        creds = Credentials("token-b-unused", "http://127.0.0.1:9/versions",
                            tuple(CredentialsRole("CPO", cc, pid, f"{pid} B.V.", None) for cc, pid in parties))
        token = ocpi_ingest.register(conn, reg_id, creds, [])
    store.dispose()
    return token


@dataclass
class Receiver:
    url: str
    settings: Settings
    token: str
    site: Any

    @property
    def m(self) -> str:
        return f"{self.url}/ocpi/emsp/2.2.1"

    def call(self, method: str, path: str, body: Any = None, token: Optional[str] = "default",
             headers: Optional[Dict[str, str]] = None, raw: Optional[bytes] = None) -> requests.Response:
        sent = dict(headers or {})
        if token is not None:
            sent.update(auth(self.token if token == "default" else token))
        url = path if path.startswith("http") else self.m + path
        if raw is not None:
            return requests.request(method, url, data=raw, headers=dict(sent, **{"Content-Type": "application/json"}),
                                    timeout=30)
        return requests.request(method, url, json=body, headers=sent, timeout=30)

    def count(self, model) -> int:
        store = make_store(self.settings)
        try:
            with store.reader.connect() as conn:
                return conn.execute(select(func.count()).select_from(model)).scalar_one()
        finally:
            store.dispose()

    def snapshot(self) -> Dict[str, Any]:
        """Every row the receiver may write, to compare before and after hostile input."""
        store = make_store(self.settings)
        tables = (OcpiSession, OcpiReading, OcpiCdr, OcpiLocation, ChargingSession, Location, Evse, Operator)
        try:
            with store.reader.connect() as conn:
                return {m.__tablename__: sorted(map(tuple, conn.execute(select(m.__table__)).all()), key=repr)
                        for m in tables}
        finally:
            store.dispose()


def start_receiver(tmp_path, database_url: Optional[str] = None, **overrides) -> Receiver:
    """In this process, on a SQLite file in `tmp_path` (or on `database_url`, an empty database)."""
    port = free_port()
    settings = Settings(database_url=database_url or f"sqlite:///{tmp_path / 'charging.db'}", identity_secret="x",
                        ocpi_receiver=OcpiReceiverSettings(public_url=f"http://127.0.0.1:{port}", **overrides))
    create_schema(settings)
    add_driver(settings)
    token = register_directly(settings)
    site = BackgroundSite(build_app(settings, compact_every_s=None), port).start()
    return Receiver(site.url, settings, token, site)



def session(sid: str = "SES-GRN-1", *, kwh: float = 0.0, status: str = "ACTIVE", start: Optional[datetime] = None,
            updated: Optional[datetime] = None, contract_id: str = CONTRACT_ID, uid: str = CARD_UID,
            location_id: str = "LOC-GRN-1", evse_uid: str = "EVSE-GRN-1-1") -> Dict[str, Any]:
    now = utc_now()
    start = start or now - timedelta(hours=3)
    return {
        "country_code": "NL", "party_id": "GRN", "id": sid,
        "start_date_time": iso(start), "end_date_time": None, "kwh": kwh,
        "cdr_token": {"country_code": "NL", "party_id": "EFL", "uid": uid, "type": "RFID", "contract_id": contract_id},
        "auth_method": "WHITELIST", "location_id": location_id, "evse_uid": evse_uid, "connector_id": "1",
        "currency": "EUR", "status": status, "last_updated": iso(updated or start),
    }


def cdr(cid: str = "CDR-GRN-1", sid: Optional[str] = "SES-GRN-1", *, energy: float = 12.5,
        start: Optional[datetime] = None, end: Optional[datetime] = None, contract_id: str = CONTRACT_ID,
        uid: str = CARD_UID) -> Dict[str, Any]:
    now = utc_now()
    start = start or now - timedelta(hours=3)
    end = end or now - timedelta(minutes=5)
    return {
        "country_code": "NL", "party_id": "GRN", "id": cid, "start_date_time": iso(start), "end_date_time": iso(end),
        "session_id": sid,
        "cdr_token": {"country_code": "NL", "party_id": "EFL", "uid": uid, "type": "RFID", "contract_id": contract_id},
        "auth_method": "WHITELIST",
        "cdr_location": {"id": "LOC-GRN-1", "name": "GreenCharge Utrecht", "address": "Stationsplein 42",
                         "city": "Utrecht", "country": "NLD", "coordinates": {"latitude": "52.089", "longitude": "5.110"},
                         "evse_uid": "EVSE-GRN-1-1", "evse_id": "NL*GRN*E0001*1", "connector_id": "1",
                         "connector_standard": "IEC_62196_T2", "connector_format": "SOCKET",
                         "connector_power_type": "AC_3_PHASE"},
        "currency": "EUR",
        "charging_periods": [{"start_date_time": iso(start), "dimensions": [{"type": "ENERGY", "volume": energy}]}],
        "total_cost": {"excl_vat": 4.2, "incl_vat": 5.08}, "total_energy": energy,
        "total_time": round((end - start).total_seconds() / 3600, 3), "last_updated": iso(end),
    }


def connector(cid: str = "1", updated: Optional[datetime] = None) -> Dict[str, Any]:
    return {"id": cid, "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
            "max_voltage": 400, "max_amperage": 32, "last_updated": iso(updated or utc_now() - timedelta(hours=1))}


def evse(uid: str = "EVSE-GRN-1-1", status: str = "CHARGING", updated: Optional[datetime] = None) -> Dict[str, Any]:
    updated = updated or utc_now() - timedelta(hours=1)
    return {"uid": uid, "evse_id": "NL*GRN*E0001*1", "status": status, "connectors": [connector(updated=updated)],
            "last_updated": iso(updated)}


def location(lid: str = "LOC-GRN-1", updated: Optional[datetime] = None) -> Dict[str, Any]:
    updated = updated or utc_now() - timedelta(hours=1)
    return {"country_code": "NL", "party_id": "GRN", "id": lid, "publish": True, "name": "GreenCharge Utrecht",
            "address": "Stationsplein 42", "city": "Utrecht", "country": "NLD",
            "coordinates": {"latitude": "52.089", "longitude": "5.110"}, "time_zone": "Europe/Amsterdam",
            "operator": {"name": "GreenCharge B.V.", "website": "https://www.greencharge.example/support"},
            "evses": [evse(updated=updated)], "last_updated": iso(updated)}


def request_ids() -> Dict[str, str]:
    return {"X-Request-ID": str(uuid.uuid4()), "X-Correlation-ID": str(uuid.uuid4())}
