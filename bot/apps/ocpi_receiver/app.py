"""The OCPI 2.2.1 eMSP receiver: the HTTP side (aiohttp).

Versions, version details, credentials (token A -> token C), Sessions receiver (GET, PUT, PATCH),
CDRs receiver (POST, GET), Locations receiver (GET, PUT, PATCH on a location, EVSE or connector),
Tokens sender (GET, paginated) and the route CommandResults are posted to.

Every answer is an OCPI envelope (`data`, `status_code`, `status_message`, `timestamp`) and echoes
`X-Request-ID` and `X-Correlation-ID` (made up when the request has none). Bodies are checked by
`bot.domain.ocpi` before anything is written; writes go through the process's group-commit writer.
The process keeps no state of its own (only a few seconds' cache of token lookups), so any number can
run behind a balancer on one PostgreSQL database.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from functools import partial
from random import getrandbits
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from bot.domain.clock import utcnow
from bot.domain.ocpi import (
    COMMANDS,
    Clock,
    Credentials,
    Invalid,
    PartyMismatch,
    check_cdr,
    check_command_result,
    check_credentials,
    check_ids,
    check_location,
    check_session,
    iso,
    parse_time,
)
from bot.settings import Settings
from bot.store import ocpi_ingest
from bot.store.ocpi_ingest import OcpiStore, Peer, Result
from bot.apps.ocpi_receiver.writer import GroupWriter

log = logging.getLogger(__name__)

VERSION = "2.2.1"
MAX_BODY = 1024 * 1024
MAX_PAGE = 1000
DEFAULT_PAGE = 100
TOKEN_CACHE_S = 5.0
# Cards carry no change time yet: the Tokens sender reports this one for all of them.
CARDS_LAST_UPDATED = datetime(2024, 1, 1, tzinfo=timezone.utc)
_HEADER_VALUE = re.compile(r"^[\x21-\x7e]{1,255}$")

STORE = web.AppKey("ocpi_store", OcpiStore)
WRITER = web.AppKey("ocpi_writer", GroupWriter)
SETTINGS = web.AppKey("ocpi_settings", Settings)
CACHE = web.AppKey("ocpi_token_cache", dict)
PENDING = web.AppKey("ocpi_token_lookups", dict)


class Failure(Exception):
    """Answer with this OCPI status code, message and HTTP status."""

    def __init__(self, status_code: int, message: str, http_status: int = 400):
        super().__init__(message)
        self.status_code, self.message, self.http_status = status_code, message, http_status


def envelope(data: Any, status_code: int = 1000, message: str = "OK", http_status: int = 200,
             headers: Optional[Dict[str, str]] = None) -> web.Response:
    body = {"data": data, "status_code": status_code, "status_message": message,
            "timestamp": iso(utcnow())}
    return web.Response(text=json.dumps(body, separators=(",", ":")), status=http_status,
                        content_type="application/json", headers=headers)


def from_result(result: Result, headers: Optional[Dict[str, str]] = None) -> web.Response:
    return envelope(result.data, result.status_code, result.message, result.http_status, headers)


def _header(request: web.Request, name: str) -> str:
    value = request.headers.get(name, "")
    return value if _HEADER_VALUE.match(value) else _made_up_id()


def _made_up_id() -> str:
    """A version 4 UUID for a request that came without its id. Not a secret: from `random`, which spares
    the system call (and the UUID object) `uuid.uuid4()` costs on every such request."""
    n = getrandbits(128) & _UUID_CLEAR | _UUID_V4
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))  # version nibble and variant bits
_UUID_V4 = (0x4000 << 64) | (0x8000 << 48)


@web.middleware
async def ocpi_middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    request_id, correlation_id = _header(request, "X-Request-ID"), _header(request, "X-Correlation-ID")
    try:
        response = await handler(request)
    except Failure as failure:
        response = envelope(None, failure.status_code, failure.message, failure.http_status)
    except web.HTTPMethodNotAllowed as error:
        response = envelope(None, 2000, f"method {request.method} not allowed here", 405,
                            {"Allow": ", ".join(sorted(error.allowed_methods))})
    except web.HTTPRequestEntityTooLarge:
        response = envelope(None, 2001, f"body larger than {MAX_BODY} bytes", 413)
    except web.HTTPNotFound:
        response = envelope(None, 2000, "no such OCPI endpoint", 404)
    except web.HTTPException as error:
        response = envelope(None, 2000 if error.status < 500 else 3000, error.reason or "error", error.status)
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001 - a bug must still answer in OCPI's terms
        log.exception("OCPI %s %s failed", request.method, request.path)
        response = envelope(None, 3000, "internal error", 500)
    response.headers["X-Request-ID"] = request_id
    response.headers["X-Correlation-ID"] = correlation_id
    return response


# --- authentication ------------------------------------------------------------------------------------


def _presented_tokens(request: web.Request) -> List[str]:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() != "token" or not value or len(value) > 512:
        raise Failure(2000, "missing or malformed Authorization header (expected: Token <base64 token>)", 401)
    tokens = []
    try:  # OCPI 2.2.1 sends the token base64-encoded; 2.1.1 peers send it as it is
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
        if decoded and decoded.isprintable():
            tokens.append(decoded)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    tokens.append(value)
    return tokens


async def peer_of(request: web.Request) -> Peer:
    cache: Dict[str, Tuple[float, Optional[Peer]]] = request.app[CACHE]
    store = request.app[STORE]
    now = time.monotonic()
    pending: Dict[str, asyncio.Future] = request.app[PENDING]
    for token in _presented_tokens(request):
        hit = cache.get(token)
        if hit is None or hit[0] < now:
            # One lookup per token at a time: when the cache entry expires under load, the requests
            # that find it expired wait for the same lookup instead of each taking a connection.
            lookup = pending.get(token)
            if lookup is None:
                lookup = asyncio.ensure_future(in_thread(_authenticate, store, token))
                pending[token] = lookup
                lookup.add_done_callback(lambda _f, t=token: pending.pop(t, None))
            peer = await asyncio.shield(lookup)
            if len(cache) > 10_000:
                cache.clear()
            hit = (now + TOKEN_CACHE_S, peer)
            cache[token] = hit
        if hit[1] is not None:
            request["ocpi_token"] = token
            return hit[1]
    raise Failure(2000, "unknown credentials token", 401)


def _authenticate(store: OcpiStore, token: str) -> Optional[Peer]:
    with store.reader.connect() as conn:
        return ocpi_ingest.authenticate(conn, token)


async def registered_peer(request: web.Request) -> Peer:
    peer = await peer_of(request)
    if peer.token_kind != "C":  # OCPI: token A only opens versions and credentials
        raise Failure(2000, "register first: token A only opens versions and credentials", 401)
    return peer


def require_party(peer: Peer, country_code: str, party_id: str) -> None:
    if (country_code, party_id) not in peer.parties:
        # OCPI 2.2.1 transport_and_format 4.1.4: 404 blocks access to objects of parties not registered.
        raise Failure(2000, f"this credentials token does not speak for {country_code}/{party_id}", 404)


def ids(request: web.Request, *names: Tuple[str, int]) -> List[Optional[str]]:
    try:
        return check_ids(*[(name, request.match_info.get(name), limit) for name, limit in names])
    except Invalid as invalid:
        raise Failure(2001, str(invalid), 400) from None


async def read_json(request: web.Request) -> Any:
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise Failure(2001, f"body larger than {MAX_BODY} bytes", 413) from None
    if not raw:
        raise Failure(2001, "empty body", 400)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise Failure(2001, "body is not valid JSON", 400) from None


def clock(request: web.Request) -> Clock:
    settings = request.app[SETTINGS]
    return Clock(utcnow(), max_skew=timedelta(seconds=settings.ocpi_receiver.max_clock_skew_s))


def checked(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except PartyMismatch as mismatch:
        raise Failure(2000, str(mismatch), 404) from None
    except Invalid as invalid:
        raise Failure(2001, str(invalid), 400) from None


async def in_thread(fn, *args):
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


# --- URLs ----------------------------------------------------------------------------------------------


def base_url(app: web.Application) -> str:
    return app[SETTINGS].ocpi_receiver.public_url.rstrip("/") + "/ocpi"


def module_url(app: web.Application, module: str) -> str:
    # With a trailing slash: some peers (extrawest-ocpi) append `{country}/{party}/{id}` to it as it is.
    return f"{base_url(app)}/emsp/{VERSION}/{module}/"


# --- versions and credentials ------------------------------------------------------------------------


async def versions(request: web.Request) -> web.Response:
    await peer_of(request)
    return envelope([{"version": VERSION, "url": f"{base_url(request.app)}/{VERSION}"}])


async def version_details(request: web.Request) -> web.Response:
    await peer_of(request)
    app = request.app
    endpoints = [("credentials", "SENDER"), ("credentials", "RECEIVER"), ("sessions", "RECEIVER"),
                 ("cdrs", "RECEIVER"), ("locations", "RECEIVER"), ("tokens", "SENDER"), ("commands", "SENDER")]
    return envelope({"version": VERSION, "endpoints": [
        {"identifier": module, "role": role, "url": module_url(app, module).rstrip("/")
         if module == "credentials" else module_url(app, module)} for module, role in endpoints]})


def our_credentials(app: web.Application, token: str) -> Dict[str, Any]:
    settings = app[SETTINGS]
    return {"token": token, "url": f"{base_url(app)}/versions", "roles": [{
        "role": "EMSP", "party_id": settings.ocpi_receiver.party_id, "country_code": settings.ocpi_receiver.country_code,
        "business_details": {"name": settings.brand}}]}


async def get_credentials(request: web.Request) -> web.Response:
    await registered_peer(request)
    return envelope(our_credentials(request.app, request["ocpi_token"]))


async def post_credentials(request: web.Request) -> web.Response:
    peer = await peer_of(request)
    if peer.token_kind == "C":
        raise Failure(2000, "already registered: use PUT to update the credentials", 405)
    return await _register(request, peer)


async def put_credentials(request: web.Request) -> web.Response:
    peer = await peer_of(request)
    if peer.token_kind != "C":
        raise Failure(2000, "not registered yet: use POST", 405)
    return await _register(request, peer)


async def delete_credentials(request: web.Request) -> web.Response:
    peer = await peer_of(request)
    if peer.token_kind != "C":
        raise Failure(2000, "not registered", 405)
    await in_thread(_in_transaction, request.app[STORE], ocpi_ingest.unregister, peer.registration_id)
    request.app[CACHE].clear()
    return envelope(None, 1000, "unregistered")


async def _register(request: web.Request, peer: Peer) -> web.Response:
    creds: Credentials = checked(check_credentials, await read_json(request))
    endpoints = await fetch_peer_endpoints(creds)
    try:
        token_c = await in_thread(_in_transaction, request.app[STORE], ocpi_ingest.register, peer.registration_id,
                                  creds, endpoints)
    except Invalid as invalid:
        raise Failure(2001, str(invalid), 400) from None
    request.app[CACHE].clear()
    log.info("OCPI peer %r registered as %s", peer.label,
             ", ".join(f"{r.role} {r.country_code}/{r.party_id}" for r in creds.roles))
    return envelope(our_credentials(request.app, token_c))


def _in_transaction(store: OcpiStore, fn, *args):
    with store.engine.begin() as conn:
        return fn(conn, *args)


async def fetch_peer_endpoints(creds: Credentials, timeout_s: float = 10.0) -> List[Dict[str, Any]]:
    """The peer's 2.2.1 endpoints, read with its token B (OCPI credentials 5.2: the server asks the client)."""
    headers = {"Authorization": "Token " + base64.b64encode(creds.token.encode()).decode(),
               "X-Correlation-ID": str(uuid.uuid4())}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as client:
            listing = await _peer_get(client, creds.url, headers)
            if not isinstance(listing, list):
                raise Failure(3001, "the peer's versions endpoint did not list versions", 400)
            url = next((v.get("url") for v in listing if isinstance(v, dict) and v.get("version") == VERSION), None)
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise Failure(3002, f"the peer offers no OCPI {VERSION}", 400)
            details = await _peer_get(client, url, headers)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
        raise Failure(3001, f"cannot use the peer's versions endpoint ({type(error).__name__})", 400) from None
    endpoints = details.get("endpoints") if isinstance(details, dict) else None
    if not isinstance(endpoints, list):
        raise Failure(3001, "the peer's version details list no endpoints", 400)
    return [e for e in endpoints if isinstance(e, dict)][:100]


async def _peer_get(client: aiohttp.ClientSession, url: str, headers: Dict[str, str]) -> Any:
    async with client.get(url, headers=dict(headers, **{"X-Request-ID": str(uuid.uuid4())})) as response:
        if response.status != 200:
            raise Failure(3001, f"the peer answered HTTP {response.status} at {url.split('?')[0]}", 400)
        body = await response.json(content_type=None)
    if not isinstance(body, dict) or body.get("status_code") != 1000:
        raise Failure(3001, "the peer's answer is not an OCPI success", 400)
    return body.get("data")


# --- Sessions ----------------------------------------------------------------------------------------


def _session_ids(request: web.Request) -> List[str]:
    return ids(request, ("country_code", 2), ("party_id", 3), ("session_id", 36))


async def get_session(request: web.Request) -> web.Response:
    peer = await registered_peer(request)
    cc, pid, sid = _session_ids(request)
    require_party(peer, cc, pid)
    obj = await in_thread(request.app[STORE].session_object, (cc, pid, sid))
    if obj is None:
        raise Failure(2001, "unknown session", 404)
    return envelope(obj)


async def put_or_patch_session(request: web.Request) -> web.Response:
    peer = await registered_peer(request)
    cc, pid, sid = _session_ids(request)
    require_party(peer, cc, pid)
    update = checked(check_session, await read_json(request), cc, pid, sid, clock(request),
                     partial=request.method == "PATCH")
    return from_result(await request.app[WRITER].submit(update))


# --- CDRs ------------------------------------------------------------------------------------------------


async def post_cdr(request: web.Request) -> web.Response:
    peer = await registered_peer(request)
    cdr = checked(check_cdr, await read_json(request), peer.parties, clock(request))
    result = await request.app[WRITER].submit(cdr)
    headers = None
    if result.ok:
        headers = {"Location": f"{module_url(request.app, 'cdrs')}{cdr.country_code}/{cdr.party_id}/{cdr.cdr_id}"}
    return from_result(result, headers)


async def get_cdr(request: web.Request) -> web.Response:
    peer = await registered_peer(request)
    cc, pid, cdr_id = ids(request, ("country_code", 2), ("party_id", 3), ("cdr_id", 39))
    require_party(peer, cc, pid)
    obj = await in_thread(request.app[STORE].cdr_object, cc, pid, cdr_id)
    if obj is None:
        raise Failure(2001, "unknown CDR", 404)
    return envelope(obj)


# --- Locations -----------------------------------------------------------------------------------------


def _location_ids(request: web.Request) -> List[Optional[str]]:
    return ids(request, ("country_code", 2), ("party_id", 3), ("location_id", 36), ("evse_uid", 36),
               ("connector_id", 36))


async def get_location(request: web.Request) -> web.Response:
    peer = await registered_peer(request)
    cc, pid, lid, evse_uid, connector_id = _location_ids(request)
    require_party(peer, cc, pid)
    obj = await in_thread(request.app[STORE].location_object, cc, pid, lid)
    if obj is not None and evse_uid is not None:
        obj = next((e for e in obj.get("evses") or [] if str(e.get("uid", "")).upper() == evse_uid), None)
        if obj is not None and connector_id is not None:
            obj = next((c for c in obj.get("connectors") or [] if str(c.get("id", "")).upper() == connector_id), None)
    if obj is None:
        raise Failure(2003 if evse_uid is None else 2001, "unknown location, EVSE or connector", 404)
    return envelope(obj)


async def put_or_patch_location(request: web.Request) -> web.Response:
    peer = await registered_peer(request)
    cc, pid, lid, evse_uid, connector_id = _location_ids(request)
    require_party(peer, cc, pid)
    update = checked(check_location, await read_json(request), cc, pid, lid, evse_uid, connector_id,
                     clock(request), partial=request.method == "PATCH")
    return from_result(await request.app[WRITER].submit(update))


# --- Tokens (sender) ---------------------------------------------------------------------------------


def _int_param(request: web.Request, name: str, default: int, maximum: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or len(raw) > 9:
        raise Failure(2001, f"{name}: expected a non-negative integer", 400)
    return min(int(raw), maximum)


async def get_tokens(request: web.Request) -> web.Response:
    await registered_peer(request)
    offset = _int_param(request, "offset", 0, 10**9)
    limit = max(1, _int_param(request, "limit", DEFAULT_PAGE, MAX_PAGE))
    window = {}
    for name in ("date_from", "date_to"):
        if request.query.get(name):
            window[name] = checked(parse_time, request.query[name], name)
    in_window = ((window.get("date_from") is None or CARDS_LAST_UPDATED >= window["date_from"])
                 and (window.get("date_to") is None or CARDS_LAST_UPDATED < window["date_to"]))
    cards, total = await in_thread(request.app[STORE].cards_page, offset, limit) if in_window else ([], 0)
    settings = request.app[SETTINGS]
    data = [{"country_code": settings.ocpi_receiver.country_code, "party_id": settings.ocpi_receiver.party_id, "uid": uid,
             "type": "RFID", "contract_id": contract_id, "issuer": settings.brand, "valid": True,
             "whitelist": "ALLOWED", "last_updated": iso(CARDS_LAST_UPDATED)} for contract_id, uid in cards]
    headers = {"X-Total-Count": str(total), "X-Limit": str(limit)}
    if offset + len(data) < total:
        query = {"offset": offset + len(data), "limit": limit,
                 **{k: iso(v) for k, v in window.items()}}
        headers["Link"] = f'<{module_url(request.app, "tokens")}?{urlencode(query)}>; rel="next"'
    return envelope(data, headers=headers)


# --- Commands (the eMSP sends them; CPOs post the CommandResult here) ----------------------------------


async def post_command_result(request: web.Request) -> web.Response:
    peer = await registered_peer(request)
    command = request.match_info["command"].upper()
    if command not in COMMANDS:
        raise Failure(2001, f"unknown command {request.match_info['command'][:40]!r}", 404)
    (uid,) = ids(request, ("uid", 36))
    result = checked(check_command_result, await read_json(request))
    return from_result(await in_thread(_in_transaction, request.app[STORE], ocpi_ingest.store_command_result,
                                       peer, command, uid, result))


# --- the application ---------------------------------------------------------------------------------


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def make_app(settings: Settings, store: OcpiStore, compact_every_s: Optional[float] = 3600.0) -> web.Application:
    app = web.Application(middlewares=[ocpi_middleware], client_max_size=MAX_BODY)
    app[SETTINGS], app[STORE], app[CACHE], app[PENDING] = settings, store, {}, {}
    # SQLite has one write lock: a second writer thread would only wait for it (in the busy handler's sleeps).
    app[WRITER] = GroupWriter(store, threads=1 if store.engine.dialect.name == "sqlite" else 2)
    s = "{_s:/+}"  # module roots are advertised with a trailing slash; accept either way
    e = "{_e:/*}"
    m = f"/ocpi/emsp/{VERSION}"
    r = app.router
    # aiohttp tries routes in the order added: the session PATCH, nearly all of the traffic, goes first.
    session = f"{m}/sessions{s}{{country_code}}/{{party_id}}/{{session_id}}{e}"
    r.add_route("PATCH", session, put_or_patch_session)
    r.add_route("PUT", session, put_or_patch_session)
    r.add_route("GET", session, get_session)
    r.add_get("/health", health)
    r.add_get("/ocpi/versions" + e, versions)
    r.add_get(f"/ocpi/{VERSION}" + e, version_details)
    r.add_route("GET", f"{m}/credentials{e}", get_credentials)
    r.add_route("POST", f"{m}/credentials{e}", post_credentials)
    r.add_route("PUT", f"{m}/credentials{e}", put_credentials)
    r.add_route("DELETE", f"{m}/credentials{e}", delete_credentials)
    r.add_route("POST", f"{m}/cdrs{e}", post_cdr)
    r.add_route("GET", f"{m}/cdrs{s}{{country_code}}/{{party_id}}/{{cdr_id}}{e}", get_cdr)
    for tail in ("{location_id}", "{location_id}/{evse_uid}", "{location_id}/{evse_uid}/{connector_id}"):
        path = f"{m}/locations{s}{{country_code}}/{{party_id}}/{tail}{e}"
        r.add_route("GET", path, get_location)
        r.add_route("PUT", path, put_or_patch_location)
        r.add_route("PATCH", path, put_or_patch_location)
    r.add_route("GET", f"{m}/tokens{e}", get_tokens)
    r.add_route("POST", f"{m}/commands{s}{{command}}/{{uid}}{e}", post_command_result)

    async def start_writer(app: web.Application) -> None:
        app[WRITER].start()

    async def stop_writer(app: web.Application) -> None:
        await asyncio.get_running_loop().run_in_executor(None, app[WRITER].stop)

    app.on_startup.append(start_writer)
    app.on_cleanup.append(stop_writer)
    if compact_every_s:
        app.cleanup_ctx.append(partial(_compaction, every_s=compact_every_s))
    return app


async def _compaction(app: web.Application, every_s: float):
    """Compacts readings of long-completed sessions now and then (harmless when several processes do)."""

    async def loop() -> None:
        while True:
            try:
                done = await in_thread(app[STORE].compact)
                if done:
                    log.info("OCPI: compacted the readings of %d completed sessions", done)
            except Exception:  # noqa: BLE001 - try again next time
                log.exception("OCPI compaction failed")
            await asyncio.sleep(every_s)

    task = asyncio.get_running_loop().create_task(loop())
    yield
    task.cancel()
