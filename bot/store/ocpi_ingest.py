"""What arriving OCPI data does to the database: the receiver's data rules, in one place.

`OcpiStore.apply(ops)` writes a batch of checked objects (`bot.domain.ocpi`) in ONE transaction (the
receiver's group commit: many PATCHes, one commit) and returns one `Result` per op. The rules:

- Every session update that carries `kwh` becomes a reading (`ocpi_readings`, unique per session and
  timestamp, so a repeat adds nothing).
- An update whose `last_updated` is older than (or equal to) the stored one does not change the session.
  Its kWh value is still a true reading of the meter at that time and is kept, so updates that arrive
  out of order end in the same state (the same session row and the same readings) as in order.
- A CDR completes the session (status COMPLETED, its end time, its total energy as the final reading);
  nothing after it reopens the session. A CDR that arrives before its session completes it on arrival.
- A session for a card we did not issue is stored with `unknown_card` set; one for our card is mirrored
  into `charging_sessions` (with its location and EVSE), which is what the assistant reads.
- Every decision is taken before anything of that op is written, and a batch that fails is rolled
  back and retried op by op, so an op is either written whole or not at all.
- Readings of sessions completed more than N days ago are compacted to their first and last value.

Rows of many processes: PostgreSQL row locks (`FOR UPDATE`, taken in id order) serialise writers of
one session; SQLite takes its write lock at BEGIN (`BEGIN IMMEDIATE`).
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple, Union

from sqlalchemy import bindparam, delete, event, func, insert, or_, select, tuple_, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from bot.domain.clock import utcnow
from bot.domain.ocpi import (
    CdrRecord,
    CommandResult,
    Credentials,
    NOT_AVAILABLE,
    Invalid,
    LocationUpdate,
    SessionUpdate,
    Unknown,
    iso,
    merge_location,
    merge_session,
    parse_time,
    stored_last_updated,
)
from bot.domain.stop_command import LATE_RESULT_OUTCOMES
from bot.store.command_models import BackOfficeClose, CommandAttempt
from bot.store.models import ChargeCard, ChargingSession, Evse, Location, Operator
from bot.store.ocpi_models import (
    OcpiCdr,
    OcpiCommandResult,
    OcpiLocation,
    OcpiParty,
    OcpiReading,
    OcpiRegistration,
    OcpiSession,
)

log = logging.getLogger(__name__)

Op = Union[SessionUpdate, CdrRecord, LocationUpdate]
_S = OcpiSession.__table__
_R = OcpiReading.__table__
_CS = ChargingSession.__table__
_CA = CommandAttempt.__table__
_BOC = BackOfficeClose.__table__
_CLOSED = ("COMPLETED", "INVALID")


@dataclass(frozen=True)
class Result:
    """What the receiver answers: OCPI status code, message, HTTP status."""

    status_code: int = 1000
    message: str = "OK"
    http_status: int = 200
    data: Any = None

    @property
    def ok(self) -> bool:
        return 1000 <= self.status_code < 2000


CREATED = Result(1000, "created", 201)
UPDATED = Result(1000, "updated", 200)


def sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))  # ASCII: no lone surrogate reaches the database


def make_engines(url: str, timeout_s: float = 5.0) -> Tuple[Engine, Engine]:
    """(writer, reader) engines for the receiver. PostgreSQL: one pooled engine for both. SQLite: pooled
    connections too (the charging engine opens one per use); the writer takes the write lock at BEGIN
    (`BEGIN IMMEDIATE`), so two processes never deadlock upgrading a read lock, and reads never wait for it."""
    from pathlib import Path

    from sqlalchemy import create_engine
    from sqlalchemy.pool import QueuePool

    if url.startswith("postgresql"):
        # As bot.store.db.make_engine (bounded connect and statements), and the batch's UPDATEs sent as
        # pages of statements (psycopg2 execute_batch) instead of one round trip each.
        # No pre-ping (a round trip per batch): a connection PostgreSQL dropped fails its batch, SQLAlchemy
        # invalidates it, and `apply` retries once on a fresh one.
        engine = create_engine(url, future=True, pool_pre_ping=False, hide_parameters=True, pool_size=4,
                               max_overflow=16, executemany_mode="values_plus_batch",
                               connect_args={"connect_timeout": max(1, int(timeout_s)),
                                             "options": f"-c statement_timeout={int(timeout_s * 1000)}"})
        from bot.store.db import make_engine

        return engine, make_engine(url, timeout_s)  # reads: bot.store.db's engine, with its pre-ping
    if not url.startswith("sqlite"):
        from bot.store.db import make_engine

        engine = make_engine(url, timeout_s)
        return engine, engine

    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)

    def engine_for(writer: bool) -> Engine:
        engine = create_engine(url, future=True, hide_parameters=True, poolclass=QueuePool, pool_size=4,
                               max_overflow=16, connect_args={"timeout": timeout_s, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
            if writer:
                dbapi_connection.isolation_level = None  # SQLAlchemy's BEGIN below, not pysqlite's

        if writer:
            @event.listens_for(engine, "begin")
            def _begin_immediate(connection):
                connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    return engine_for(True), engine_for(False)


def _insert_ignore(conn: Connection, table):
    """INSERT ... ON CONFLICT DO NOTHING, in the connection's dialect."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    return insert(table).prefix_with("IGNORE")


# --- who may push ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Peer:
    registration_id: int
    label: str
    token_kind: str  # "A" (may only register) or "C"
    parties: FrozenSet[Tuple[str, str]]  # (country code, party ID) it may write as


def issue_token_a(conn: Connection, label: str) -> str:
    """A new registration waiting for its peer: the token A to hand over (out of band), shown once."""
    token = secrets.token_urlsafe(32)
    conn.execute(insert(OcpiRegistration.__table__).values(label=label, token_a_sha256=sha256(token),
                                                           state="pending", created_at=utcnow(),
                                                           updated_at=utcnow()))
    return token


def authenticate(conn: Connection, token: str) -> Optional[Peer]:
    digest = sha256(token)
    reg = conn.execute(select(OcpiRegistration.id, OcpiRegistration.label, OcpiRegistration.token_a_sha256,
                              OcpiRegistration.state)
                       .where(or_(OcpiRegistration.token_a_sha256 == digest,
                                  OcpiRegistration.token_c_sha256 == digest))).first()
    if reg is None:
        return None
    if reg.token_a_sha256 == digest:
        return Peer(reg.id, reg.label, "A", frozenset()) if reg.state == "pending" else None
    parties = conn.execute(select(OcpiParty.country_code, OcpiParty.party_id)
                           .where(OcpiParty.registration_id == reg.id)).all()
    return Peer(reg.id, reg.label, "C", frozenset((p.country_code, p.party_id) for p in parties))


def register(conn: Connection, registration_id: int, creds: Credentials, endpoints: List[Dict[str, Any]]) -> str:
    """Stores the peer's credentials (POST with token A, or PUT with token C) and returns a new token C.

    Raises `Invalid` when one of its roles is already registered by another platform."""
    taken = conn.execute(select(OcpiParty.country_code, OcpiParty.party_id, OcpiParty.role)
                         .where(OcpiParty.registration_id != registration_id,
                                tuple_(OcpiParty.country_code, OcpiParty.party_id, OcpiParty.role).in_(
                                    [(r.country_code, r.party_id, r.role) for r in creds.roles]))).first()
    if taken is not None:
        raise Invalid(f"role {taken.role} {taken.country_code}/{taken.party_id} is registered by another platform")
    token_c = secrets.token_urlsafe(32)
    conn.execute(delete(OcpiParty.__table__).where(OcpiParty.registration_id == registration_id))
    seen = set()
    for role in creds.roles:
        if (role.country_code, role.party_id, role.role) in seen:
            continue
        seen.add((role.country_code, role.party_id, role.role))
        conn.execute(insert(OcpiParty.__table__).values(
            registration_id=registration_id, country_code=role.country_code, party_id=role.party_id,
            role=role.role, name=role.name[:100], website=(role.website or None)))
    conn.execute(update(OcpiRegistration.__table__).where(OcpiRegistration.id == registration_id).values(
        token_a_sha256=None, token_c_sha256=sha256(token_c), token_b=creds.token,
        versions_url=creds.url, version_endpoints=endpoints, state="registered", updated_at=utcnow()))
    for role in creds.roles:
        if role.role == "CPO":
            _operator(conn, role.country_code, role.party_id, role.name, role.website)
    return token_c


def unregister(conn: Connection, registration_id: int) -> None:
    conn.execute(delete(OcpiParty.__table__).where(OcpiParty.registration_id == registration_id))
    conn.execute(update(OcpiRegistration.__table__).where(OcpiRegistration.id == registration_id).values(
        token_c_sha256=None, token_b=None, state="unregistered", updated_at=utcnow()))


# The same answer for a uid we never sent and for one sent to another party: the uid's existence is not told.
NOT_OUR_COMMAND = Result(2001, "no command of ours with this id was sent to this party", 404)


def store_command_result(conn: Connection, peer: Peer, command: str, uid: str, result: CommandResult) -> Result:
    """A CommandResult posted to a response_url we gave: kept only when it answers a command we sent (its
    audit row in `command_attempts`) and comes from the platform that speaks for the party running that
    command's session, which is the CPO the command went to. Anyone else, even knowing the uid, gets 2001.

    When we had already stopped waiting for it (outcome decided without a result), it is written to the
    audit row as the late result here, on arrival."""
    sent = conn.execute(select(_CA.c.id, _CS.c.country_code, _CS.c.party_id)
                        .join(_CS, _CS.c.id == _CA.c.session_id)
                        .where(_CA.c.command == command, _CA.c.uid == uid)).first()
    if sent is None or (sent.country_code, sent.party_id) not in peer.parties:
        return NOT_OUR_COMMAND
    values = dict(registration_id=peer.registration_id, command=command, uid=uid, result=result.result,
                  message=result.message, received_at=utcnow())
    done = conn.execute(_insert_ignore(conn, OcpiCommandResult.__table__).values(**values))
    if not done.rowcount:
        return Result(1000, "already received")
    conn.execute(update(_CA).where(_CA.c.id == sent.id, _CA.c.outcome.in_(LATE_RESULT_OUTCOMES),
                                   _CA.c.late_result.is_(None)).values(late_result=result.result))
    return CREATED


# --- the station: operator, location, EVSE rows the assistant reads ------------------------------------


def _operator(conn: Connection, country_code: str, party_id: str, name: Optional[str] = None,
              website: Optional[str] = None) -> int:
    query = select(Operator.id, Operator.name).where(Operator.country_code == country_code,
                                                     Operator.party_id == party_id)
    row = conn.execute(query).first()
    if row is None:
        # Insert-if-absent: another writer (thread or process) may be adding the same placeholder right now.
        conn.execute(_insert_ignore(conn, Operator.__table__).values(
            country_code=country_code, party_id=party_id, name=(name or f"{country_code}*{party_id}")[:200],
            website=website))
        return conn.execute(query).first().id
    if name and row.name == f"{country_code}*{party_id}":  # a placeholder: the peer told us its name now
        conn.execute(update(Operator.__table__).where(Operator.id == row.id).values(name=name[:200], website=website))
    return row.id


def _station(conn: Connection, country_code: str, party_id: str, location_id: str, evse_uid: str,
             location: Optional[Dict[str, Any]] = None) -> Optional[str]:
    """Makes sure `locations` and `evses` hold the station (placeholders until the CPO sends the Location).

    Returns why it cannot, when the ids belong to another operator's station; None when done."""
    operator_id = _operator(conn, country_code, party_id)
    loc = conn.execute(select(Location.id, Location.operator_id).where(Location.id == location_id)).first()
    values: Dict[str, Any] = {}
    if location is not None:
        operator = location.get("operator") or {}
        if operator.get("name"):
            conn.execute(update(Operator.__table__).where(Operator.id == operator_id).values(
                name=str(operator["name"])[:200], website=operator.get("website")))
        values = dict(name=str(location.get("name") or location_id)[:255], address=str(location.get("address", ""))[:255],
                      city=str(location.get("city", ""))[:100])
    if loc is None:
        added = conn.execute(_insert_ignore(conn, Location.__table__).values(
            id=location_id, operator_id=operator_id, country_code=country_code,
            **(values or dict(name=location_id, address="", city="")))).rowcount
        loc = conn.execute(select(Location.id, Location.operator_id).where(Location.id == location_id)).first()
        if added:
            values = {}
    if loc.operator_id != operator_id:
        return f"location {location_id} belongs to another operator"
    elif values:
        conn.execute(update(Location.__table__).where(Location.id == location_id).values(**values))
    evses = (location or {}).get("evses") or []
    wanted = {str(e["uid"]).upper(): e for e in evses if isinstance(e, dict) and e.get("uid")}
    if evse_uid and evse_uid != "#NA":
        wanted.setdefault(evse_uid, {})
    for uid, evse in wanted.items():
        evse_id = str(evse.get("evse_id") or "").upper() or None
        row = conn.execute(select(Evse.uid, Evse.location_id, Evse.evse_id).where(Evse.uid == uid)).first()
        if row is not None and row.location_id != location_id:
            return f"EVSE {uid} belongs to another location"
        if evse_id and conn.execute(select(Evse.uid).where(Evse.evse_id == evse_id, Evse.uid != uid)).first():
            evse_id = None  # the EVSE ID is another EVSE's: keep the placeholder
        if row is None:
            conn.execute(_insert_ignore(conn, Evse.__table__).values(
                uid=uid, location_id=location_id, evse_id=evse_id or f"{country_code}*{party_id}*{uid}"[:48]))
            row = conn.execute(select(Evse.uid, Evse.location_id, Evse.evse_id).where(Evse.uid == uid)).first()
            if row is None:
                return f"EVSE {uid}: its EVSE ID is another EVSE's"
            if row.location_id != location_id:
                return f"EVSE {uid} belongs to another location"
        elif evse_id and evse_id != row.evse_id:
            conn.execute(update(Evse.__table__).where(Evse.uid == uid).values(evse_id=evse_id))
    return None


def _card(conn: Connection, contract_id: Optional[str], uid: Optional[str]) -> Optional[Tuple[str, str]]:
    """(contract ID, account ID) of our card with this contract ID or RFID UID, else None."""
    if not contract_id and not uid:
        return None
    from bot.domain.identifiers import normalise_card_number

    conditions = []
    if contract_id:
        conditions.append(ChargeCard.contract_id == (normalise_card_number(contract_id) or contract_id))
    if uid:
        conditions.append(func.upper(ChargeCard.uid) == uid)
    row = conn.execute(select(ChargeCard.contract_id, ChargeCard.account_id).where(or_(*conditions))
                       .order_by(ChargeCard.contract_id).limit(1)).first()
    return (row.contract_id, row.account_id) if row else None


# --- sessions, CDRs and locations arriving -------------------------------------------------------------


@dataclass
class _State:
    """A session row being changed by a batch."""

    pk: Optional[int]
    key: Tuple[str, str, str]
    obj: Dict[str, Any]
    status: str
    kwh: float
    start: datetime
    end: Optional[datetime]
    last_updated: datetime
    location_id: str
    evse_uid: str
    token_uid: str
    contract_id: str
    unknown_card: bool
    mirrored: bool
    conflict: Optional[str]
    cdr_id: Optional[str]
    compacted: bool
    dirty: bool = False
    readings: List[Tuple[datetime, float]] = field(default_factory=list)


_STATE_COLUMNS = (_S.c.id, _S.c.country_code, _S.c.party_id, _S.c.session_id, _S.c.object, _S.c.status, _S.c.kwh,
                  _S.c.start_datetime, _S.c.end_datetime, _S.c.last_updated, _S.c.location_id, _S.c.evse_uid,
                  _S.c.token_uid, _S.c.contract_id, _S.c.unknown_card, _S.c.mirrored, _S.c.conflict, _S.c.cdr_id,
                  _S.c.readings_compacted_at)


def _state(row: Sequence[Any]) -> _State:
    """A state from a row of `_STATE_COLUMNS`, or from the JSON array `_PG_LOCK` reads (object already
    decoded, times as text, whether compacted as a boolean)."""
    obj = row[4] if isinstance(row[4], dict) else json.loads(row[4])
    compacted = row[18] if isinstance(row[18], bool) else row[18] is not None
    return _State(row[0], (row[1], row[2], row[3]), obj, row[5], float(row[6]), _aware(row[7]), _aware(row[8]),
                  _aware(row[9]), row[10], row[11], row[12], row[13], row[14], row[15], row[16], row[17], compacted)


_ROW_COLUMNS = ("country_code", "party_id", "session_id", "status", "kwh", "start_datetime", "end_datetime",
                "last_updated", "location_id", "evse_uid", "token_uid", "contract_id", "unknown_card", "mirrored",
                "conflict", "cdr_id", "object")
# Built once: building a Core statement (and its cache key) per batch cost more CPU than executing it.
_UPDATE_SESSIONS = update(_S).where(_S.c.id == bindparam("b_pk")).values({c: bindparam("b_" + c) for c in _ROW_COLUMNS})
# A session we closed ourselves (a back-office close after a refused STOP_SESSION) stays closed in what the
# assistant reads: the CPO's later updates are kept in ocpi_sessions and its readings, but one that would
# make the mirror anything but COMPLETED or INVALID is not mirrored. A CPO's own end still is.
# (Equalities, not IN: an IN of a bound value expands per execution, which executemany refuses, and every
# batch of more than one session would then be written one by one.)
_NOT_REOPENING_A_CLOSE = or_(*(bindparam("b_status") == status for status in _CLOSED),
                             ~select(_BOC.c.id).where(_BOC.c.session_id == _CS.c.id).exists())
_UPDATE_MIRRORS = update(_CS).where(_CS.c.id == bindparam("b_id"), _NOT_REOPENING_A_CLOSE).values(
    status=bindparam("b_status"), kwh=bindparam("b_kwh"), end_datetime=bindparam("b_end"),
    last_updated=bindparam("b_last_updated"), start_datetime=bindparam("b_start"))


# --- PostgreSQL: a batch in two prepared statements ------------------------------------------------------
# The receiver's time goes into its PATCH batches. On PostgreSQL a batch locks and reads its sessions with one
# statement and writes sessions, mirrors and readings with one more (arrays unnested in data-modifying CTEs):
# planned once per connection (PREPARE), the same two statements whatever the batch size, and no Core
# statement to build. The writer threads' connections also carry BEGIN on the first and COMMIT on the last,
# so a batch costs two round trips (`PgTransaction`). Driver SQL still runs through SQLAlchemy's
# connection, so a connection the server dropped is detected and replaced as before.


@dataclass(frozen=True)
class _Prepared:
    name: str
    prepare: str  # PREPARE name (types) AS body, with $n parameters
    execute: str  # EXECUTE name(%(arg)s::type, ...), for the driver's named parameters


def _prepared(name: str, args: Sequence[Tuple[str, str]], body: str) -> _Prepared:
    """`body` names its parameters `$name`; `args` gives their order and types."""
    number = {arg: n for n, (arg, _) in enumerate(args, 1)}
    sql = re.sub(r"\$([a-z_]+)", lambda m: f"${number[m.group(1)]}", body)
    return _Prepared(name, f"PREPARE {name} ({', '.join(t for _, t in args)}) AS {sql}",
                     f"EXECUTE {name}({', '.join(f'%({a})s::{t}' for a, t in args)})")


# Each row as one JSON array (the columns of `_STATE_COLUMNS`, the object inline, times with all six digits):
# SQLAlchemy describes a result's columns on every execution of driver SQL, which for 19 columns cost more
# CPU than the rest of a one-PATCH batch.
_PG_TIME = "to_char({}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
_PG_LOCK = _prepared("ocpi_lock_sessions", (("ccs", "varchar[]"), ("pids", "varchar[]"), ("sids", "varchar[]")),
    "SELECT json_build_array(id, country_code, party_id, session_id, object::json, status, kwh,"
    f" {_PG_TIME.format('start_datetime')}, {_PG_TIME.format('end_datetime')}, {_PG_TIME.format('last_updated')},"
    " location_id, evse_uid, token_uid, contract_id, unknown_card, mirrored, conflict, cdr_id,"
    " readings_compacted_at IS NOT NULL)::text"
    " FROM ocpi_sessions WHERE session_id = ANY($sids) AND (country_code, party_id, session_id) IN"
    " (SELECT * FROM unnest($ccs, $pids, $sids)) ORDER BY id FOR UPDATE")

_FLUSH_ARGS = (("id", "bigint[]"), ("sid", "varchar[]"), ("status", "varchar[]"), ("kwh", "float8[]"),
               ("start", "timestamp[]"), ("end", "timestamp[]"), ("lu", "timestamp[]"), ("loc", "varchar[]"),
               ("evse", "varchar[]"), ("tuid", "varchar[]"), ("cid", "varchar[]"), ("unknown", "boolean[]"),
               ("mirrored", "boolean[]"), ("conflict", "varchar[]"), ("cdr", "varchar[]"), ("object", "text[]"),
               ("r_ref", "bigint[]"), ("r_ts", "timestamp[]"), ("r_kwh", "float8[]"))
_PG_FLUSH = _prepared("ocpi_flush_sessions", _FLUSH_ARGS,
    "WITH v AS (SELECT * FROM unnest($id, $sid, $status, $kwh, $start, $end, $lu, $loc, $evse, $tuid, $cid,"
    " $unknown, $mirrored, $conflict, $cdr, $object) AS v(id, sid, status, kwh, start_datetime, end_datetime,"
    " last_updated, location_id, evse_uid, token_uid, contract_id, unknown_card, mirrored, conflict, cdr_id, object)),"
    " s AS (UPDATE ocpi_sessions t SET status = v.status, kwh = v.kwh, start_datetime = v.start_datetime,"
    " end_datetime = v.end_datetime, last_updated = v.last_updated, location_id = v.location_id,"
    " evse_uid = v.evse_uid, token_uid = v.token_uid, contract_id = v.contract_id, unknown_card = v.unknown_card,"
    " mirrored = v.mirrored, conflict = v.conflict, cdr_id = v.cdr_id, object = v.object FROM v WHERE t.id = v.id),"
    " m AS (UPDATE charging_sessions c SET status = v.status, kwh = v.kwh, end_datetime = v.end_datetime,"
    " last_updated = v.last_updated, start_datetime = v.start_datetime FROM v WHERE v.mirrored AND c.id = v.sid"
    " AND (v.status IN ('COMPLETED', 'INVALID')"  # as _NOT_REOPENING_A_CLOSE
    " OR NOT EXISTS (SELECT 1 FROM back_office_closes b WHERE b.session_id = c.id)))"
    " INSERT INTO ocpi_readings (session_ref, timestamp, kwh) SELECT * FROM unnest($r_ref, $r_ts, $r_kwh)"
    " ON CONFLICT DO NOTHING")


class PgTransaction:
    """The writer's own transaction on an AUTOCOMMIT connection: BEGIN is sent with the batch's first
    statement and COMMIT with its last, instead of a round trip each."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.begun = self.ended = False

    def execute_first(self, sql: str, params: Dict[str, Any]):
        if not self.begun:
            self.begun = True  # set before: if this fails, BEGIN may have run, and `rollback` ends it
            sql = "BEGIN; " + sql
        return self.conn.exec_driver_sql(sql, params)

    def execute_last(self, sql: str, params: Dict[str, Any]) -> None:
        # PostgreSQL stops at the first error of the string: COMMIT runs only if the statement did.
        self.execute_first(sql + "; COMMIT", params)
        self.ended = True

    def begin(self) -> None:
        if not self.begun:
            self.execute_first("SELECT 1", {})

    def commit(self) -> None:
        if self.begun and not self.ended:
            self.conn.exec_driver_sql("COMMIT")
            self.ended = True

    def rollback(self) -> None:
        if self.begun and not self.ended:
            self.ended = True
            try:
                self.conn.exec_driver_sql("ROLLBACK")
            except Exception:  # noqa: BLE001 - a dropped connection has no transaction left to end
                pass


def _pg_ready(conn: Connection) -> None:
    """PREPAREs the two statements once per database connection (they live as long as it does)."""
    info = conn.connection.info
    if not info.get("ocpi_prepared"):
        conn.exec_driver_sql(f"SET plan_cache_mode = force_generic_plan; {_PG_LOCK.prepare}; {_PG_FLUSH.prepare}")
        info["ocpi_prepared"] = True


def _pg_lock(conn: Connection, keys: Iterable[Tuple[str, str, str]], tx: Optional[PgTransaction]) -> List[Tuple]:
    _pg_ready(conn)
    ccs, pids, sids = (list(column) for column in zip(*keys))
    run = tx.execute_first if tx else conn.exec_driver_sql
    return [json.loads(text) for (text,) in run(_PG_LOCK.execute, {"ccs": ccs, "pids": pids, "sids": sids})]


def _pg_flush(conn: Connection, dirty: List["_State"], readings: List[Tuple[int, datetime, float]],
              tx: Optional[PgTransaction]) -> None:
    _pg_ready(conn)
    run = tx.execute_last if tx else conn.exec_driver_sql
    run(_PG_FLUSH.execute, {
        "id": [s.pk for s in dirty], "sid": [s.key[2] for s in dirty], "status": [s.status for s in dirty],
        "kwh": [s.kwh for s in dirty], "start": [_naive(s.start) for s in dirty],
        "end": [_naive(s.end) for s in dirty], "lu": [_naive(s.last_updated) for s in dirty],
        "loc": [s.location_id for s in dirty], "evse": [s.evse_uid for s in dirty],
        "tuid": [s.token_uid for s in dirty], "cid": [s.contract_id for s in dirty],
        "unknown": [s.unknown_card for s in dirty], "mirrored": [s.mirrored for s in dirty],
        "conflict": [s.conflict for s in dirty], "cdr": [s.cdr_id for s in dirty],
        "object": [dumps({k: v for k, v in s.obj.items() if k != "_card"}) for s in dirty],
        "r_ref": [r for r, _, _ in readings], "r_ts": [_naive(t) for _, t, _ in readings],
        "r_kwh": [k for _, _, k in readings]})


def _aware(value: Union[datetime, str, None]) -> Optional[datetime]:
    # `_PG_LOCK` reads naive UTC as text (as UTCDateTime stores it); Core rows are already aware.
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
    return value


def _naive(value: Optional[datetime]) -> Optional[datetime]:
    return None if value is None else value.astimezone(timezone.utc).replace(tzinfo=None)


def _set_from(state: _State, obj: Dict[str, Any], changed: Optional[Iterable[str]] = None) -> None:
    """The state's columns from the stored Session object (already checked).

    `changed`: the fields a PATCH carried; the other columns already match the object (saves parsing
    the same times again for every kWh update)."""
    state.obj = obj
    fields = _DERIVED if changed is None else _DERIVED.intersection(changed)
    if "status" in fields:
        state.status = str(obj["status"]).upper()
    if "kwh" in fields:
        state.kwh = float(obj["kwh"])
    if "start_date_time" in fields:
        state.start = parse_time(obj["start_date_time"], "start_date_time")
    if "end_date_time" in fields:
        state.end = parse_time(obj["end_date_time"], "end_date_time") if obj.get("end_date_time") else None
    if "last_updated" in fields:
        state.last_updated = parse_time(obj["last_updated"], "last_updated")
    if "location_id" in fields:
        state.location_id = str(obj["location_id"]).upper()
    if "evse_uid" in fields:
        state.evse_uid = str(obj["evse_uid"]).upper()
    if "cdr_token" in fields:
        token = obj["cdr_token"]
        state.token_uid = str(token["uid"]).upper()
        state.contract_id = str(token["contract_id"]).upper()


_DERIVED = frozenset({"status", "kwh", "start_date_time", "end_date_time", "last_updated", "location_id", "evse_uid",
                      "cdr_token"})


class HeldConnection:
    """One connection kept by one thread across batches; replaced when the database dropped it.

    On PostgreSQL it is in AUTOCOMMIT mode: the batch's `PgTransaction` sends BEGIN and COMMIT itself."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.conn: Optional[Connection] = None
        self.autocommit = engine.dialect.name == "postgresql"

    def get(self) -> Connection:
        if self.conn is not None and (self.conn.closed or self.conn.invalidated):
            self.close()
        if self.conn is None:
            conn = self.engine.connect()
            self.conn = conn.execution_options(isolation_level="AUTOCOMMIT") if self.autocommit else conn
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail too
                pass
            self.conn = None


class OcpiStore:
    """The receiver's writes and reads. Thread-safe: every call takes its own connection."""

    def __init__(self, engine: Engine, compact_after: timedelta = timedelta(days=30), reader: Optional[Engine] = None):
        self.engine = engine  # writes
        self.reader = reader or engine
        self.compact_after = compact_after

    def dispose(self) -> None:
        self.engine.dispose()
        self.reader.dispose()

    # -- writes

    def apply(self, ops: Sequence[Op], held: Optional["HeldConnection"] = None, _retry: bool = True) -> List[Result]:
        """Writes a batch in one transaction; if that fails, op by op, so one bad op fails alone.

        `held`: a connection the caller keeps between batches (the receiver's writer threads), which saves
        a pool checkout and the pool's reset round trip per batch."""
        if not ops:
            return []
        try:
            if held is None:
                with self.engine.begin() as conn:
                    return self._apply(conn, ops)
            conn = held.get()
            if held.autocommit:
                tx = PgTransaction(conn)
                try:
                    results = self._apply(conn, ops, tx)
                    tx.commit()
                    return results
                except BaseException:
                    tx.rollback()
                    raise
            with conn.begin():
                return self._apply(conn, ops)
        except DBAPIError as error:
            if _retry and error.connection_invalidated:  # the server dropped the connection: once more, anew
                return self.apply(ops, held, _retry=False)
            return self._one_by_one(ops, error, held)
        except Exception as error:  # noqa: BLE001 - any database error: retry alone, then answer 3000
            return self._one_by_one(ops, error, held)

    def _one_by_one(self, ops: Sequence[Op], error: Exception, held: Optional["HeldConnection"]) -> List[Result]:
        if len(ops) == 1:
            log.warning("OCPI write failed: %s: %s", type(error).__name__, str(error).splitlines()[0][:300])
            return [Result(3000, "could not store the object; try again", 503)]
        log.info("OCPI batch of %d failed (%s); writing op by op", len(ops), type(error).__name__)
        return [self.apply([op], held, _retry=False)[0] for op in ops]

    def _apply(self, conn: Connection, ops: Sequence[Op], tx: Optional[PgTransaction] = None) -> List[Result]:
        keys = set()
        for op in ops:
            if isinstance(op, SessionUpdate):
                keys.add(op.key)
            elif isinstance(op, CdrRecord) and op.session_id:
                keys.add((op.country_code, op.party_id, op.session_id))
        states: Dict[Tuple[str, str, str], _State] = {}
        if keys:
            if conn.dialect.name == "postgresql":
                rows = _pg_lock(conn, keys, tx)
            else:
                rows = conn.execute(select(*_STATE_COLUMNS).where(
                    tuple_(_S.c.country_code, _S.c.party_id, _S.c.session_id).in_(sorted(keys)))
                    .order_by(_S.c.id).with_for_update())
            for row in rows:
                state = _state(row)
                states[state.key] = state
        if tx is not None:
            tx.begin()  # when no session lock went first
        results = []
        for op in ops:
            if isinstance(op, SessionUpdate):
                results.append(self._session(conn, states, op))
            elif isinstance(op, CdrRecord):
                results.append(self._cdr(conn, states, op))
            else:
                results.append(self._location(conn, op))
        self._flush(conn, states.values(), tx)
        return results

    def _session(self, conn: Connection, states: Dict, op: SessionUpdate) -> Result:
        state = states.get(op.key)
        if state is None:
            if op.partial:
                return Result(2001, "unknown session: PUT it first", 404)
            state = self._new_session(conn, op)
            states[op.key] = state
            if op.kwh is not None:
                state.readings.append((op.last_updated, op.kwh))
            return CREATED
        if op.kwh is not None and not state.compacted:
            state.readings.append((op.last_updated, op.kwh))
        if state.cdr_id:
            return Result(1000, "the session is settled by a CDR; update not applied")
        if op.last_updated <= state.last_updated:
            return Result(1000, "not newer than the stored session; not applied")
        merged = merge_session(state.obj, op)
        _set_from(state, merged, op.body.keys() if op.partial else None)
        if op.token is not None or not op.partial or (
                not state.mirrored and not state.unknown_card and (op.evse_uid or op.location_id)):
            self._match_card(conn, state)
        state.dirty = True
        return UPDATED

    def _new_session(self, conn: Connection, op: SessionUpdate) -> _State:
        state = _State(None, op.key, {}, "", 0.0, op.last_updated, None, op.last_updated, "", "", "", "", False,
                       False, None, None, False)
        _set_from(state, dict(op.body))
        cdr = conn.execute(select(OcpiCdr.cdr_id, OcpiCdr.total_energy, OcpiCdr.end_datetime, OcpiCdr.last_updated)
                           .where(OcpiCdr.country_code == op.country_code, OcpiCdr.party_id == op.party_id,
                                  OcpiCdr.session_id == op.session_id)).first()
        if cdr is not None:  # the CDR came first: the session is settled on arrival
            self._settle(state, cdr.cdr_id, cdr.total_energy, cdr.end_datetime, cdr.last_updated)
        self._match_card(conn, state, new=True)
        state.pk = conn.execute(insert(_S).values(**self._row(state), received_at=utcnow())).inserted_primary_key[0]
        if state.mirrored:
            self._mirror_insert(conn, state)
        return state

    def _match_card(self, conn: Connection, state: _State, new: bool = False) -> None:
        card = _card(conn, state.contract_id, state.token_uid)
        state.unknown_card = card is None
        if card is None or state.mirrored:
            return
        cc, pid, sid = state.key
        if NOT_AVAILABLE in (state.evse_uid, state.location_id):
            state.conflict = "no EVSE assigned yet"
            return
        other = conn.execute(select(_CS.c.country_code, _CS.c.party_id).where(_CS.c.id == sid)).first()
        if other is not None and (other.country_code, other.party_id) != (cc, pid):
            state.conflict = f"session id {sid} is another operator's"
            return
        why = _station(conn, cc, pid, state.location_id, state.evse_uid)
        if why:
            state.conflict = why
            return
        state.conflict = None
        state.mirrored = True
        state.obj["_card"] = card  # carried to the mirror insert only
        if not new:
            self._mirror_insert(conn, state)

    def _mirror_insert(self, conn: Connection, state: _State) -> None:
        contract_id, account_id = state.obj.pop("_card")
        sid = state.key[2]
        values = dict(country_code=state.key[0], party_id=state.key[1], status=state.status,
                      start_datetime=state.start, end_datetime=state.end, kwh=state.kwh,
                      card_contract_id=contract_id, account_id=account_id, location_id=state.location_id,
                      evse_uid=state.evse_uid, last_updated=state.last_updated)
        if conn.execute(select(_CS.c.id).where(_CS.c.id == sid)).first():
            if state.status not in _CLOSED and conn.execute(
                    select(_BOC.c.id).where(_BOC.c.session_id == sid)).first() is not None:
                for closed in ("status", "end_datetime", "kwh", "last_updated"):  # as _NOT_REOPENING_A_CLOSE
                    del values[closed]
            conn.execute(update(_CS).where(_CS.c.id == sid).values(**values))
        else:
            conn.execute(insert(_CS).values(id=sid, **values))

    @staticmethod
    def _settle(state: _State, cdr_id: str, energy: float, end: datetime, last_updated: datetime) -> None:
        state.cdr_id = cdr_id
        state.status, state.kwh, state.end = "COMPLETED", energy, end
        state.last_updated = max(state.last_updated, last_updated)
        state.obj = dict(state.obj, status="COMPLETED", kwh=energy, end_date_time=iso(end),
                         last_updated=iso(state.last_updated))
        state.readings.append((end, energy))
        state.dirty = True

    @staticmethod
    def _row(state: _State) -> Dict[str, Any]:
        obj = {k: v for k, v in state.obj.items() if k != "_card"}
        return dict(country_code=state.key[0], party_id=state.key[1], session_id=state.key[2], status=state.status,
                    kwh=state.kwh, start_datetime=state.start, end_datetime=state.end, last_updated=state.last_updated,
                    location_id=state.location_id, evse_uid=state.evse_uid, token_uid=state.token_uid,
                    contract_id=state.contract_id, unknown_card=state.unknown_card, mirrored=state.mirrored,
                    conflict=state.conflict, cdr_id=state.cdr_id, object=dumps(obj))

    def _cdr(self, conn: Connection, states: Dict, cdr: CdrRecord) -> Result:
        exists = conn.execute(select(OcpiCdr.id).where(OcpiCdr.country_code == cdr.country_code,
                                                       OcpiCdr.party_id == cdr.party_id,
                                                       OcpiCdr.cdr_id == cdr.cdr_id)).first()
        if exists is not None:
            return Result(1000, "CDR already received; CDRs are not updated")
        conn.execute(insert(OcpiCdr.__table__).values(
            country_code=cdr.country_code, party_id=cdr.party_id, cdr_id=cdr.cdr_id, session_id=cdr.session_id,
            total_energy=cdr.total_energy, start_datetime=cdr.start, end_datetime=cdr.end,
            last_updated=cdr.last_updated, contract_id=cdr.token.contract_id,
            unknown_card=_card(conn, cdr.token.contract_id, cdr.token.uid) is None, object=dumps(cdr.body),
            received_at=utcnow()))
        state = states.get((cdr.country_code, cdr.party_id, cdr.session_id)) if cdr.session_id else None
        if state is not None and not state.cdr_id:
            self._settle(state, cdr.cdr_id, cdr.total_energy, cdr.end, cdr.last_updated)
        return CREATED

    def _location(self, conn: Connection, op: LocationUpdate) -> Result:
        table = OcpiLocation.__table__
        row = conn.execute(select(table.c.id, table.c.object).where(
            table.c.country_code == op.country_code, table.c.party_id == op.party_id,
            table.c.location_id == op.location_id).with_for_update()).first()
        stored = json.loads(row.object) if row else None
        if stored is not None:
            before = stored_last_updated(stored, op)
            if before is not None and op.last_updated <= before:
                return Result(1000, "not newer than the stored object; not applied")
        try:
            merged = merge_location(stored, op)
        except Unknown as unknown:
            return Result(2003 if op.target == "location" else 2001, str(unknown), 404)
        try:
            parse_time(merged.get("last_updated"), "last_updated")
            for key in ("address", "city"):
                if not isinstance(merged.get(key), str):
                    raise Invalid(f"the stored location has no {key}")
        except Invalid as invalid:
            return Result(2001, str(invalid), 400)
        why = _station(conn, op.country_code, op.party_id, op.location_id, "", merged)
        values = dict(last_updated=parse_time(merged["last_updated"], "last_updated"), object=dumps(merged),
                      conflict=why)
        if row is None:
            conn.execute(insert(table).values(country_code=op.country_code, party_id=op.party_id,
                                              location_id=op.location_id, **values))
            return CREATED if op.target == "location" or not op.partial else UPDATED
        conn.execute(update(table).where(table.c.id == row.id).values(**values))
        return UPDATED

    def _flush(self, conn: Connection, states: Iterable[_State], tx: Optional[PgTransaction] = None) -> None:
        """The batch's changed sessions, their mirrors and its readings."""
        dirty = []
        readings: List[Tuple[int, datetime, float]] = []
        for state in states:
            if state.dirty:
                dirty.append(state)
            readings.extend((state.pk, t, k) for t, k in state.readings)
        if not dirty and not readings:
            return
        if conn.dialect.name == "postgresql":
            _pg_flush(conn, dirty, readings, tx)
            return
        if dirty:
            conn.execute(_UPDATE_SESSIONS, [{"b_" + k: v for k, v in self._row(s).items()} | {"b_pk": s.pk}
                                            for s in dirty])
        mirrors = [dict(b_id=s.key[2], b_status=s.status, b_kwh=s.kwh, b_end=s.end, b_last_updated=s.last_updated,
                        b_start=s.start) for s in dirty if s.mirrored]
        if mirrors:
            conn.execute(_UPDATE_MIRRORS, mirrors)
        if readings:
            conn.execute(_insert_ignore(conn, _R), [dict(session_ref=r, timestamp=t, kwh=k) for r, t, k in readings])

    # -- reads

    def session_object(self, key: Tuple[str, str, str]) -> Optional[Dict[str, Any]]:
        with self.reader.connect() as conn:
            row = conn.execute(select(_S.c.object).where(_S.c.country_code == key[0], _S.c.party_id == key[1],
                                                         _S.c.session_id == key[2])).first()
        return json.loads(row.object) if row else None

    def cdr_object(self, country_code: str, party_id: str, cdr_id: str) -> Optional[Dict[str, Any]]:
        with self.reader.connect() as conn:
            row = conn.execute(select(OcpiCdr.object).where(OcpiCdr.country_code == country_code,
                                                            OcpiCdr.party_id == party_id,
                                                            OcpiCdr.cdr_id == cdr_id)).first()
        return json.loads(row.object) if row else None

    def location_object(self, country_code: str, party_id: str, location_id: str) -> Optional[Dict[str, Any]]:
        table = OcpiLocation.__table__
        with self.reader.connect() as conn:
            row = conn.execute(select(table.c.object).where(table.c.country_code == country_code,
                                                            table.c.party_id == party_id,
                                                            table.c.location_id == location_id)).first()
        return json.loads(row.object) if row else None

    def cards_page(self, offset: int, limit: int) -> Tuple[List[Tuple[str, str]], int]:
        """(contract ID, RFID UID) of the cards this eMSP issued, in a stable order, and how many there are."""
        with self.reader.connect() as conn:
            total = conn.execute(select(func.count()).select_from(ChargeCard)).scalar_one()
            rows = conn.execute(select(ChargeCard.contract_id, ChargeCard.uid).order_by(ChargeCard.contract_id)
                                .offset(offset).limit(limit)).all()
        return [(r.contract_id, r.uid) for r in rows], total

    # -- housekeeping

    def compact(self, now: Optional[datetime] = None, batch: int = 500) -> int:
        """Readings of sessions completed more than `compact_after` ago, down to their first and last value.

        Returns how many sessions were compacted. Safe to run from many processes at once."""
        cutoff = (now or utcnow()) - self.compact_after
        done = 0
        while True:
            with self.engine.begin() as conn:
                ids = [r.id for r in conn.execute(
                    select(_S.c.id).where(_S.c.status.in_(_CLOSED), _S.c.readings_compacted_at.is_(None),
                                          func.coalesce(_S.c.end_datetime, _S.c.last_updated) < cutoff)
                    .order_by(_S.c.id).limit(batch))]
                if not ids:
                    return done
                bounds = conn.execute(select(_R.c.session_ref, func.min(_R.c.timestamp).label("first"),
                                             func.max(_R.c.timestamp).label("last"))
                                      .where(_R.c.session_ref.in_(ids)).group_by(_R.c.session_ref)).all()
                if bounds:
                    conn.execute(delete(_R).where(_R.c.session_ref == bindparam("b_ref"),
                                                  _R.c.timestamp > bindparam("b_first"),
                                                  _R.c.timestamp < bindparam("b_last")),
                                 [dict(b_ref=b.session_ref, b_first=b.first, b_last=b.last) for b in bounds])
                conn.execute(update(_S).where(_S.c.id.in_(ids)).values(readings_compacted_at=utcnow()))
                done += len(ids)

    def flagged_sessions(self, limit: int = 100) -> List[Dict[str, Any]]:
        """Sessions kept but not shown to any driver: unknown card, or ids that clash."""
        with self.reader.connect() as conn:
            rows = conn.execute(select(_S.c.country_code, _S.c.party_id, _S.c.session_id, _S.c.contract_id,
                                       _S.c.status, _S.c.last_updated, _S.c.unknown_card, _S.c.conflict)
                                .where(or_(_S.c.unknown_card.is_(True), _S.c.conflict.isnot(None)))
                                .order_by(_S.c.last_updated.desc()).limit(limit)).all()
        return [dict(r._mapping) for r in rows]


def readings_for_session(conn: Connection, session_id: str) -> List[Tuple[datetime, float]]:
    """The OCPI readings of the received session mirrored as charging session `session_id`."""
    rows = conn.execute(select(_R.c.timestamp, _R.c.kwh).join(_S, _S.c.id == _R.c.session_ref)
                        .where(_S.c.session_id == session_id, _S.c.mirrored.is_(True))
                        .order_by(_R.c.timestamp)).all()
    return [(r.timestamp, r.kwh) for r in rows]
