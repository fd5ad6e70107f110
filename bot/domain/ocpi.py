"""OCPI 2.2.1 objects a CPO pushes to this eMSP: checked and normalised in plain Python, no I/O.

The receiver (`bot/apps/ocpi_receiver/`) hands every body it accepts to one of the `check_*`
functions; anything that is not a well-formed OCPI 2.2.1 object raises `Invalid` (OCPI status 2001)
before a single row is written. What the functions return is what the store writes: the keys it
needs, typed, and the object to keep (as received, with ids normalised).

Rules fixed here (the store applies them):
- CiStrings are case-insensitive: country codes, party IDs and object ids are kept upper case.
- Timestamps are RFC 3339, UTC when they carry no zone; a timestamp more than `max_skew` ahead of
  our clock or more than `max_age` behind it is refused (a `last_updated` fifty years ahead would
  otherwise freeze the object forever, since older updates are ignored).
- A PATCH carries `last_updated` and any subset of the fields; `charging_periods` in a Session
  PATCH are appended, every other field replaces the stored one (OCPI 2.2.1, mod_sessions 8.2.2.3).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Tuple

SESSION_STATUSES = frozenset({"ACTIVE", "COMPLETED", "INVALID", "PENDING", "RESERVATION"})
AUTH_METHODS = frozenset({"AUTH_REQUEST", "COMMAND", "WHITELIST"})
TOKEN_TYPES = frozenset({"AD_HOC_USER", "APP_USER", "OTHER", "RFID"})
EVSE_STATUSES = frozenset({"AVAILABLE", "BLOCKED", "CHARGING", "INOPERATIVE", "OUTOFORDER", "PLANNED",
                           "REMOVED", "RESERVED", "UNKNOWN"})
CONNECTOR_FORMATS = frozenset({"SOCKET", "CABLE"})
POWER_TYPES = frozenset({"AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"})
CONNECTOR_STANDARDS = frozenset(
    "CHADEMO CHAOJI DOMESTIC_A DOMESTIC_B DOMESTIC_C DOMESTIC_D DOMESTIC_E DOMESTIC_F DOMESTIC_G DOMESTIC_H "
    "DOMESTIC_I DOMESTIC_J DOMESTIC_K DOMESTIC_L DOMESTIC_M DOMESTIC_N DOMESTIC_O GBT_AC GBT_DC "
    "IEC_60309_2_SINGLE_16 IEC_60309_2_THREE_16 IEC_60309_2_THREE_32 IEC_60309_2_THREE_64 IEC_62196_T1 "
    "IEC_62196_T1_COMBO IEC_62196_T2 IEC_62196_T2_COMBO IEC_62196_T3A IEC_62196_T3C NEMA_5_20 NEMA_6_30 "
    "NEMA_6_50 NEMA_10_30 NEMA_10_50 NEMA_14_30 NEMA_14_50 PANTOGRAPH_BOTTOM_UP PANTOGRAPH_TOP_DOWN "
    "TESLA_R TESLA_S".split())
ROLES = frozenset({"CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP"})
COMMAND_RESULTS = frozenset({"ACCEPTED", "CANCELED_RESERVATION", "EVSE_OCCUPIED", "EVSE_INOPERATIVE", "FAILED",
                             "NOT_SUPPORTED", "REJECTED", "TIMEOUT", "UNKNOWN_RESERVATION"})
COMMANDS = frozenset({"CANCEL_RESERVATION", "RESERVE_NOW", "START_SESSION", "STOP_SESSION", "UNLOCK_CONNECTOR"})

NOT_AVAILABLE = "#NA"  # OCPI: evse_uid / connector_id of a session for a reservation without EVSE yet
_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII without whitespace (credentials tokens, ids)
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|z|[+-]\d{2}:\d{2})?$")


class Invalid(ValueError):
    """The object is not acceptable: OCPI status 2001, nothing stored."""


@dataclass(frozen=True)
class Clock:
    """Our clock and the window of timestamps accepted from a peer."""

    now: datetime
    max_skew: timedelta = timedelta(minutes=15)
    max_age: timedelta = timedelta(days=3650)

    def check(self, value: datetime, name: str) -> datetime:
        if value > self.now + self.max_skew:
            raise Invalid(f"{name}: {iso(value)} is in the future")
        if value < self.now - self.max_age:
            raise Invalid(f"{name}: {iso(value)} is too far in the past")
        return value


def iso(value: datetime) -> str:
    """RFC 3339 in UTC with a Z, as OCPI writes it."""
    value = value.astimezone(timezone.utc)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_time(value: Any, name: str) -> datetime:
    if not isinstance(value, str) or len(value) > 40 or not _RFC3339.match(value):
        raise Invalid(f"{name}: expected an RFC 3339 date-time")
    text = value.rstrip("Zz")
    if "." in text:  # Python 3.10 reads at most microseconds
        head, _, tail = text.partition(".")
        digits = re.match(r"\d+", tail).group(0)
        text = f"{head}.{digits[:6].ljust(6, '0')}{tail[len(digits):]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{name}: not a valid date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)  # OCPI: no zone designator means UTC
    return parsed.astimezone(timezone.utc)


# --- field readers ----------------------------------------------------------------------------------


def _obj(value: Any, name: str) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(f"{name}: expected an object")
    return value


def _list(value: Any, name: str, min_items: int = 0, max_items: int = 10_000) -> List[Any]:
    if not isinstance(value, list):
        raise Invalid(f"{name}: expected a list")
    if not min_items <= len(value) <= max_items:
        raise Invalid(f"{name}: expected {min_items} to {max_items} items")
    return value


def _string(value: Any, name: str, max_len: int, min_len: int = 1) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{name}: expected a string")
    if not min_len <= len(value) <= max_len:
        raise Invalid(f"{name}: expected {min_len} to {max_len} characters")
    if "\x00" in value:
        raise Invalid(f"{name}: contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Invalid(f"{name}: not valid Unicode") from None
    return value


def _cistring(value: Any, name: str, max_len: int) -> str:
    text = _string(value, name, max_len)
    if not _PRINTABLE.match(text):
        raise Invalid(f"{name}: expected printable ASCII without spaces")
    return text.upper()


def _number(value: Any, name: str, minimum: float = 0.0, maximum: float = 1e9) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(f"{name}: expected a number")
    try:
        number = float(value)
    except OverflowError:
        raise Invalid(f"{name}: out of range") from None
    if not math.isfinite(number) or not minimum <= number <= maximum:
        raise Invalid(f"{name}: out of range")
    return number


def _int(value: Any, name: str, minimum: int = 0, maximum: int = 10**9) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise Invalid(f"{name}: expected an integer from {minimum} to {maximum}")
    return value


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"{name}: expected true or false")
    return value


def _enum(value: Any, name: str, allowed: FrozenSet[str]) -> str:
    if not isinstance(value, str) or value.upper() not in allowed:
        raise Invalid(f"{name}: not one of {', '.join(sorted(allowed))}")
    return value.upper()


def _time(obj: Mapping[str, Any], key: str, clock: Clock, prefix: str = "") -> datetime:
    return clock.check(parse_time(obj.get(key), prefix + key), prefix + key)


def _required(obj: Mapping[str, Any], keys: Tuple[str, ...], name: str) -> None:
    missing = [k for k in keys if obj.get(k) is None]
    if missing:
        raise Invalid(f"{name}: missing {', '.join(missing)}")


def _same_id(value: Any, name: str, expected: str, max_len: int) -> None:
    if value is not None and _cistring(value, name, max_len) != expected:
        raise Invalid(f"{name}: {value!r} differs from the URL's {expected!r}")


def _price(value: Any, name: str) -> None:
    price = _obj(value, name)
    _number(price.get("excl_vat"), f"{name}.excl_vat", 0, 1e9)
    if price.get("incl_vat") is not None:
        _number(price["incl_vat"], f"{name}.incl_vat", 0, 1e9)


def _charging_periods(value: Any, name: str, clock: Clock, min_items: int = 0) -> None:
    for n, period in enumerate(_list(value, name, min_items)):
        period = _obj(period, f"{name}[{n}]")
        _time(period, "start_date_time", clock, f"{name}[{n}].")
        for m, dim in enumerate(_list(period.get("dimensions"), f"{name}[{n}].dimensions", 1, 100)):
            dim = _obj(dim, f"{name}[{n}].dimensions[{m}]")
            _string(dim.get("type"), f"{name}[{n}].dimensions[{m}].type", 30)
            _number(dim.get("volume"), f"{name}[{n}].dimensions[{m}].volume", -1e9, 1e9)


@dataclass(frozen=True)
class CdrToken:
    country_code: str
    party_id: str
    uid: str
    type: str
    contract_id: str


def _cdr_token(value: Any, name: str) -> CdrToken:
    token = _obj(value, name)
    _required(token, ("country_code", "party_id", "uid", "type", "contract_id"), name)
    return CdrToken(
        country_code=_cistring(token["country_code"], f"{name}.country_code", 2),
        party_id=_cistring(token["party_id"], f"{name}.party_id", 3),
        uid=_cistring(token["uid"], f"{name}.uid", 36),
        type=_enum(token["type"], f"{name}.type", TOKEN_TYPES),
        contract_id=_cistring(token["contract_id"], f"{name}.contract_id", 36),
    )


# --- Sessions -----------------------------------------------------------------------------------------

SESSION_REQUIRED = ("country_code", "party_id", "id", "start_date_time", "kwh", "cdr_token", "auth_method",
                    "location_id", "evse_uid", "connector_id", "currency", "status", "last_updated")


@dataclass(frozen=True)
class SessionUpdate:
    """A checked Session PUT (`partial` False: every required field) or PATCH (`partial` True)."""

    country_code: str
    party_id: str
    session_id: str
    last_updated: datetime
    partial: bool
    body: Dict[str, Any] = field(repr=False)  # the fields as received (ids normalised)
    kwh: Optional[float] = None
    status: Optional[str] = None
    start: Optional[datetime] = None
    end: Optional[datetime] = None
    end_given: bool = False  # a PATCH may set end_date_time to null
    location_id: Optional[str] = None
    evse_uid: Optional[str] = None
    token: Optional[CdrToken] = None

    @property
    def key(self) -> Tuple[str, str, str]:
        return (self.country_code, self.party_id, self.session_id)


def check_session(body: Any, country_code: str, party_id: str, session_id: str, clock: Clock,
                  partial: bool) -> SessionUpdate:
    """A Session PUT (`partial=False`) or PATCH body for /sessions/{country_code}/{party_id}/{session_id}."""
    obj = _obj(body, "session")
    if not partial:
        _required(obj, SESSION_REQUIRED, "session")
    elif obj.get("last_updated") is None:
        raise Invalid("session: a PATCH must carry last_updated")
    _same_id(obj.get("country_code"), "country_code", country_code, 2)
    _same_id(obj.get("party_id"), "party_id", party_id, 3)
    _same_id(obj.get("id"), "id", session_id, 36)
    values: Dict[str, Any] = {}
    if "start_date_time" in obj:
        values["start"] = _time(obj, "start_date_time", clock)
    if "end_date_time" in obj:
        values["end_given"] = True
        values["end"] = None if obj["end_date_time"] is None else _time(obj, "end_date_time", clock)
    if "kwh" in obj:
        values["kwh"] = _number(obj["kwh"], "kwh", 0, 100_000)
    if "status" in obj:
        values["status"] = _enum(obj["status"], "status", SESSION_STATUSES)
    if "cdr_token" in obj:
        values["token"] = _cdr_token(obj["cdr_token"], "cdr_token")
    if "auth_method" in obj:
        _enum(obj["auth_method"], "auth_method", AUTH_METHODS)
    if "location_id" in obj:
        values["location_id"] = _cistring(obj["location_id"], "location_id", 36)
    if "evse_uid" in obj:
        values["evse_uid"] = _cistring(obj["evse_uid"], "evse_uid", 36)
    if "connector_id" in obj:
        _cistring(obj["connector_id"], "connector_id", 36)
    if "currency" in obj:
        _string(obj["currency"], "currency", 3, 3)
    for key, limit in (("authorization_reference", 36), ("meter_id", 255)):
        if obj.get(key) is not None:
            _string(obj[key], key, limit)
    if obj.get("charging_periods") is not None:
        _charging_periods(obj["charging_periods"], "charging_periods", clock)
    if obj.get("total_cost") is not None:
        _price(obj["total_cost"], "total_cost")
    last_updated = _time(obj, "last_updated", clock)
    start, end = values.get("start"), values.get("end")
    if start is not None and end is not None and end < start:
        raise Invalid("end_date_time: before start_date_time")
    stored = dict(obj)
    if not partial:
        stored.update(country_code=country_code, party_id=party_id, id=session_id)
    return SessionUpdate(country_code, party_id, session_id, last_updated, partial, stored, **values)


def merge_session(stored: Dict[str, Any], update: SessionUpdate) -> Dict[str, Any]:
    """The stored Session object after applying a checked PUT (replace) or PATCH (merge)."""
    if not update.partial:
        return dict(update.body)
    merged = dict(stored)
    for key, value in update.body.items():
        if key == "charging_periods":
            if value:
                merged["charging_periods"] = list(merged.get("charging_periods") or []) + list(value)
        elif key not in ("country_code", "party_id", "id"):
            merged[key] = value
    return merged


# --- CDRs ----------------------------------------------------------------------------------------------

CDR_REQUIRED = ("country_code", "party_id", "id", "start_date_time", "end_date_time", "cdr_token", "auth_method",
                "cdr_location", "currency", "charging_periods", "total_cost", "total_energy", "total_time",
                "last_updated")
# `evse_uid` is required by OCPI 2.2.1 but missing from extrawest-ocpi's CdrLocation model: accepted without it.
CDR_LOCATION_REQUIRED = ("id", "address", "city", "country", "coordinates", "evse_id", "connector_id",
                         "connector_standard", "connector_format", "connector_power_type")


@dataclass(frozen=True)
class CdrRecord:
    country_code: str
    party_id: str
    cdr_id: str
    session_id: Optional[str]
    start: datetime
    end: datetime
    total_energy: float
    last_updated: datetime
    token: CdrToken
    location_id: str
    evse_uid: Optional[str]
    body: Dict[str, Any] = field(repr=False)


def check_cdr(body: Any, parties: FrozenSet[Tuple[str, str]], clock: Clock) -> CdrRecord:
    """A CDR POSTed to /cdrs by a peer allowed to speak for `parties` ((country_code, party_id) pairs)."""
    obj = _obj(body, "cdr")
    _required(obj, CDR_REQUIRED, "cdr")
    country_code = _cistring(obj["country_code"], "country_code", 2)
    party_id = _cistring(obj["party_id"], "party_id", 3)
    if (country_code, party_id) not in parties:
        raise PartyMismatch(f"this token does not speak for {country_code}/{party_id}")
    cdr_id = _cistring(obj["id"], "id", 39)
    session_id = None if obj.get("session_id") is None else _cistring(obj["session_id"], "session_id", 36)
    start, end = _time(obj, "start_date_time", clock), _time(obj, "end_date_time", clock)
    if end < start:
        raise Invalid("end_date_time: before start_date_time")
    token = _cdr_token(obj["cdr_token"], "cdr_token")
    _enum(obj["auth_method"], "auth_method", AUTH_METHODS)
    loc = _obj(obj["cdr_location"], "cdr_location")
    _required(loc, CDR_LOCATION_REQUIRED, "cdr_location")
    location_id = _cistring(loc["id"], "cdr_location.id", 36)
    evse_uid = None if loc.get("evse_uid") is None else _cistring(loc["evse_uid"], "cdr_location.evse_uid", 36)
    _cistring(loc["evse_id"], "cdr_location.evse_id", 48)
    _cistring(loc["connector_id"], "cdr_location.connector_id", 36)
    _string(loc["address"], "cdr_location.address", 45)
    _string(loc["city"], "cdr_location.city", 45)
    _string(loc["country"], "cdr_location.country", 3, 3)
    _coordinates(loc["coordinates"], "cdr_location.coordinates")
    _enum(loc["connector_standard"], "cdr_location.connector_standard", CONNECTOR_STANDARDS)
    _enum(loc["connector_format"], "cdr_location.connector_format", CONNECTOR_FORMATS)
    _enum(loc["connector_power_type"], "cdr_location.connector_power_type", POWER_TYPES)
    _string(obj["currency"], "currency", 3, 3)
    _charging_periods(obj["charging_periods"], "charging_periods", clock, min_items=1)
    _price(obj["total_cost"], "total_cost")
    total_energy = _number(obj["total_energy"], "total_energy", 0, 100_000)
    _number(obj["total_time"], "total_time", 0, 100_000)
    if obj.get("credit") is not None:
        _bool(obj["credit"], "credit")
    stored = dict(obj, country_code=country_code, party_id=party_id, id=cdr_id)
    return CdrRecord(country_code, party_id, cdr_id, session_id, start, end, total_energy,
                     _time(obj, "last_updated", clock), token, location_id, evse_uid, stored)


class PartyMismatch(Invalid):
    """The object or path names a party this credentials token does not speak for."""


# --- Locations, EVSEs, connectors ------------------------------------------------------------------

LOCATION_REQUIRED = ("country_code", "party_id", "id", "publish", "address", "city", "country", "coordinates",
                     "time_zone", "last_updated")
EVSE_REQUIRED = ("uid", "status", "connectors", "last_updated")
CONNECTOR_REQUIRED = ("id", "standard", "format", "power_type", "max_voltage", "max_amperage", "last_updated")


def _coordinates(value: Any, name: str) -> None:
    coords = _obj(value, name)
    for key, limit in (("latitude", 90), ("longitude", 180)):
        text = _string(coords.get(key), f"{name}.{key}", 11)
        try:
            number = float(text)
        except ValueError:
            raise Invalid(f"{name}.{key}: not a decimal number") from None
        if not math.isfinite(number) or abs(number) > limit:
            raise Invalid(f"{name}.{key}: out of range")


def _business(value: Any, name: str) -> Dict[str, Any]:
    details = _obj(value, name)
    _string(details.get("name"), f"{name}.name", 100)
    if details.get("website") is not None:
        _string(details["website"], f"{name}.website", 255)
    return details


def _connector(obj: Dict[str, Any], name: str, clock: Clock, partial: bool) -> None:
    if not partial:
        _required(obj, CONNECTOR_REQUIRED, name)
    if "id" in obj:
        _cistring(obj["id"], f"{name}.id", 36)
    if "standard" in obj:
        _enum(obj["standard"], f"{name}.standard", CONNECTOR_STANDARDS)
    if "format" in obj:
        _enum(obj["format"], f"{name}.format", CONNECTOR_FORMATS)
    if "power_type" in obj:
        _enum(obj["power_type"], f"{name}.power_type", POWER_TYPES)
    for key in ("max_voltage", "max_amperage"):
        if key in obj:
            _int(obj[key], f"{name}.{key}", 0, 10_000)
    if obj.get("max_electric_power") is not None:
        _int(obj["max_electric_power"], f"{name}.max_electric_power", 0, 10_000_000)
    _time(obj, "last_updated", clock, f"{name}.")


def _evse(obj: Dict[str, Any], name: str, clock: Clock, partial: bool) -> None:
    if not partial:
        _required(obj, EVSE_REQUIRED, name)
    if "uid" in obj:
        _cistring(obj["uid"], f"{name}.uid", 36)
    if obj.get("evse_id") is not None:
        _cistring(obj["evse_id"], f"{name}.evse_id", 48)
    if "status" in obj:
        _enum(obj["status"], f"{name}.status", EVSE_STATUSES)
    if "connectors" in obj:
        for n, connector in enumerate(_list(obj["connectors"], f"{name}.connectors", 1, 100)):
            _connector(_obj(connector, f"{name}.connectors[{n}]"), f"{name}.connectors[{n}]", clock, False)
    if obj.get("coordinates") is not None:
        _coordinates(obj["coordinates"], f"{name}.coordinates")
    _time(obj, "last_updated", clock, f"{name}.")


def _location(obj: Dict[str, Any], clock: Clock, partial: bool) -> None:
    if not partial:
        _required(obj, LOCATION_REQUIRED, "location")
        _bool(obj["publish"], "publish")
    for key, limit in (("name", 255), ("address", 45), ("city", 45), ("postal_code", 10), ("state", 20),
                       ("time_zone", 255)):
        if obj.get(key) is not None:
            _string(obj[key], key, limit)
    if obj.get("country") is not None:
        _string(obj["country"], "country", 3, 3)
    if obj.get("coordinates") is not None:
        _coordinates(obj["coordinates"], "coordinates")
    for key in ("operator", "suboperator", "owner"):
        if obj.get(key) is not None:
            _business(obj[key], key)
    if obj.get("evses") is not None:
        for n, evse in enumerate(_list(obj["evses"], "evses", 0, 1000)):
            _evse(_obj(evse, f"evses[{n}]"), f"evses[{n}]", clock, False)
    _time(obj, "last_updated", clock)


@dataclass(frozen=True)
class LocationUpdate:
    """A checked PUT or PATCH on a Location, one of its EVSEs, or one of an EVSE's connectors."""

    country_code: str
    party_id: str
    location_id: str
    evse_uid: Optional[str]
    connector_id: Optional[str]
    partial: bool
    last_updated: datetime
    body: Dict[str, Any] = field(repr=False)

    @property
    def target(self) -> str:
        return "connector" if self.connector_id else "evse" if self.evse_uid else "location"


def check_location(body: Any, country_code: str, party_id: str, location_id: str, evse_uid: Optional[str],
                   connector_id: Optional[str], clock: Clock, partial: bool) -> LocationUpdate:
    obj = _obj(body, "body")
    if partial and obj.get("last_updated") is None:
        raise Invalid("a PATCH must carry last_updated")
    if connector_id is not None:
        _same_id(obj.get("id"), "id", connector_id, 36)
        _connector(obj, "connector", clock, partial)
        stored = dict(obj) if partial else dict(obj, id=connector_id)
    elif evse_uid is not None:
        _same_id(obj.get("uid"), "uid", evse_uid, 36)
        _evse(obj, "evse", clock, partial)
        stored = dict(obj) if partial else dict(obj, uid=evse_uid)
    else:
        _same_id(obj.get("country_code"), "country_code", country_code, 2)
        _same_id(obj.get("party_id"), "party_id", party_id, 3)
        _same_id(obj.get("id"), "id", location_id, 36)
        _location(obj, clock, partial)
        stored = dict(obj) if partial else dict(obj, country_code=country_code, party_id=party_id, id=location_id)
    return LocationUpdate(country_code, party_id, location_id, evse_uid, connector_id, partial,
                          _time(obj, "last_updated", clock), stored)


def _find(items: List[Dict[str, Any]], key: str, value: str) -> Optional[int]:
    for n, item in enumerate(items):
        if isinstance(item.get(key), str) and item[key].upper() == value:
            return n
    return None


def merge_location(stored: Optional[Dict[str, Any]], update: LocationUpdate) -> Dict[str, Any]:
    """The Location object after the update. Raises `Unknown` when a PATCH or a sub-object's parent is missing.

    An EVSE or connector change also sets the parents' `last_updated` (OCPI 2.2.1, mod_locations 8.2.2)."""
    if update.target == "location":
        if stored is None:
            if update.partial:
                raise Unknown("unknown location: PUT it first")
            return dict(update.body)
        if not update.partial:
            return dict(update.body)
        return {**stored, **{k: v for k, v in update.body.items() if k not in ("country_code", "party_id", "id")}}
    if stored is None:
        raise Unknown("unknown location: PUT it first")
    location = dict(stored)
    evses = [dict(e) for e in location.get("evses") or []]
    at = _find(evses, "uid", update.evse_uid)
    if update.target == "evse":
        if at is None:
            if update.partial:
                raise Unknown("unknown EVSE: PUT it first")
            evses.append(dict(update.body))
        elif update.partial:
            evses[at] = {**evses[at], **{k: v for k, v in update.body.items() if k != "uid"}}
        else:
            evses[at] = dict(update.body)
    else:
        if at is None:
            raise Unknown("unknown EVSE: PUT it first")
        evse = evses[at]
        connectors = [dict(c) for c in evse.get("connectors") or []]
        c_at = _find(connectors, "id", update.connector_id)
        if c_at is None:
            if update.partial:
                raise Unknown("unknown connector: PUT it first")
            connectors.append(dict(update.body))
        elif update.partial:
            connectors[c_at] = {**connectors[c_at], **{k: v for k, v in update.body.items() if k != "id"}}
        else:
            connectors[c_at] = dict(update.body)
        evses[at] = dict(evse, connectors=connectors, last_updated=iso(update.last_updated))
    location["evses"] = evses
    location["last_updated"] = iso(max(update.last_updated, parse_time(location.get("last_updated"), "last_updated")))
    return location


def stored_last_updated(location: Dict[str, Any], update: LocationUpdate) -> Optional[datetime]:
    """`last_updated` of the object the update targets, as stored (None when it does not exist yet)."""
    target: Optional[Dict[str, Any]] = location
    if update.evse_uid is not None:
        at = _find(location.get("evses") or [], "uid", update.evse_uid)
        target = None if at is None else location["evses"][at]
        if target is not None and update.connector_id is not None:
            c_at = _find(target.get("connectors") or [], "id", update.connector_id)
            target = None if c_at is None else target["connectors"][c_at]
    if target is None or not target.get("last_updated"):
        return None
    return parse_time(target["last_updated"], "last_updated")


class Unknown(Invalid):
    """A PATCH of an object we never received (OCPI: the client should PUT it)."""


# --- Credentials and command results -----------------------------------------------------------------


@dataclass(frozen=True)
class CredentialsRole:
    role: str
    country_code: str
    party_id: str
    name: str
    website: Optional[str]


@dataclass(frozen=True)
class Credentials:
    token: str
    url: str
    roles: Tuple[CredentialsRole, ...]


def check_credentials(body: Any) -> Credentials:
    obj = _obj(body, "credentials")
    _required(obj, ("token", "url", "roles"), "credentials")
    token = _string(obj["token"], "token", 64)
    if not _PRINTABLE.match(token):
        raise Invalid("token: expected printable ASCII without spaces")
    url = _string(obj["url"], "url", 255)
    if not re.match(r"^https?://[^\s/]+", url):
        raise Invalid("url: expected an http(s) URL")
    roles = []
    for n, role in enumerate(_list(obj["roles"], "roles", 1, 50)):
        role = _obj(role, f"roles[{n}]")
        _required(role, ("role", "business_details", "party_id", "country_code"), f"roles[{n}]")
        details = _business(role["business_details"], f"roles[{n}].business_details")
        roles.append(CredentialsRole(
            role=_enum(role["role"], f"roles[{n}].role", ROLES),
            country_code=_cistring(role["country_code"], f"roles[{n}].country_code", 2),
            party_id=_cistring(role["party_id"], f"roles[{n}].party_id", 3),
            name=details["name"],
            website=details.get("website"),
        ))
    return Credentials(token, url, tuple(roles))


@dataclass(frozen=True)
class CommandResult:
    result: str
    message: Optional[str]


def check_command_result(body: Any) -> CommandResult:
    obj = _obj(body, "command result")
    result = _enum(obj.get("result"), "result", COMMAND_RESULTS)
    message = None
    if obj.get("message") is not None:
        message = "; ".join(_string(_obj(m, "message[]").get("text"), "message.text", 512)
                            for m in _list(obj["message"], "message", 0, 20))
    return CommandResult(result, message)


def check_ids(*pairs: Tuple[str, Optional[str], int]) -> List[Optional[str]]:
    """URL path segments (name, value, max length): CiStrings, upper case; None stays None."""
    return [None if value is None else _cistring(value, name, limit) for name, value, limit in pairs]
