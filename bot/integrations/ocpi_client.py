"""OCPI 2.2.1 client for the eMSP side: reads a CPO's Sessions and Locations modules.

One `OcpiClient` per operator endpoint (a `requests.Session` underneath, so connections
are pooled). Endpoint and token come from the caller (the Operator row), never from code.

What it guarantees:
- `Authorization: Token <base64(token)>` (OCPI 2.2.1 sends the credentials token
  base64-encoded), a fresh `X-Request-ID` per request and one `X-Correlation-ID` per
  logical operation (all pages of one listing share it).
- Connect/read timeouts on every request; retries with exponential back-off on 5xx and
  connection errors only, never on 4xx (urllib3 `Retry`).
- Answers are checked against the OCPI envelope and turned into typed errors
  (`OcpiError` and subclasses) or frozen dataclasses.
- Pagination follows `Link: <...>; rel="next"`, honouring `X-Total-Count`/`X-Limit`.
  The next link is only ever requested from the configured origin: the token is never
  sent to another host, and peers that advertise the wrong scheme/host behind a proxy
  (extrawest-ocpi always writes `https://`) still paginate.
- CiString values are case-insensitive in OCPI and some peers lowercase them: ids are
  compared case-insensitively, enums and eMI3 identifiers are normalised to upper case.
"""
from __future__ import annotations

import base64
import logging
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Generic, Iterator, Mapping, Optional, Tuple, TypeVar
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import requests
import requests.auth
from dateutil.parser import isoparse
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

log = logging.getLogger(__name__)

SUCCESS = 1000
UNKNOWN_LOCATION = 2003  # OCPI status code for "Unknown Location"


# --- errors -------------------------------------------------------------------------


class OcpiError(Exception):
    """Anything that kept us from getting a usable answer from the peer."""


class OcpiAuthError(OcpiError):
    """The peer refused our token (HTTP 401/403)."""


class OcpiNotFound(OcpiError):
    """The peer does not know the object (HTTP 404 or OCPI 2003 Unknown Location)."""


class OcpiUnavailable(OcpiError):
    """Timeout, connection error, or 5xx after the retries: the peer is not answering."""


class OcpiTimeout(OcpiUnavailable):
    """The peer did not answer in time (read/connect timeout, or the caller's deadline passed)."""


class OcpiProtocolError(OcpiError):
    """The peer answered something that is not an OCPI answer (HTML page, bare JSON, bad object)."""


class OcpiStatusError(OcpiError):
    """A well-formed OCPI envelope reporting failure (2xxx client or 3xxx server error)."""

    def __init__(self, status_code: int, status_message: Optional[str]):
        super().__init__(f"OCPI status {status_code}: {status_message or 'no message'}")
        self.status_code = status_code
        self.status_message = status_message


# --- typed results --------------------------------------------------------------------


@dataclass(frozen=True)
class OcpiSession:
    id: str
    country_code: str
    party_id: str
    status: str  # ACTIVE, COMPLETED, INVALID, PENDING, RESERVATION (upper case)
    start_date_time: datetime
    end_date_time: Optional[datetime]
    kwh: float
    location_id: str
    evse_uid: str
    last_updated: datetime
    cdr_token_uid: Optional[str]
    contract_id: Optional[str]


@dataclass(frozen=True)
class OcpiOperator:
    """OCPI BusinessDetails: name, website; phone only where a peer adds it (not in 2.2.1)."""

    name: str
    website: Optional[str]
    phone: Optional[str]


@dataclass(frozen=True)
class OcpiEvse:
    uid: str
    evse_id: Optional[str]  # eMI3 EVSE ID, NL*EFL*E12345*1 (upper case)
    status: Optional[str]


@dataclass(frozen=True)
class OcpiLocation:
    id: str
    country_code: str
    party_id: str
    name: Optional[str]
    address: Optional[str]
    city: Optional[str]
    country: Optional[str]
    operator: Optional[OcpiOperator]
    evses: Tuple[OcpiEvse, ...]
    last_updated: Optional[datetime]

    def evse_by_uid(self, uid: str) -> Optional[OcpiEvse]:
        return next((e for e in self.evses if same_id(e.uid, uid)), None)


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Tuple[T, ...]
    total_count: Optional[int]  # X-Total-Count: all objects matching the query
    limit: Optional[int]  # X-Limit: the page size the peer applied
    url: str


def same_id(a: Optional[str], b: Optional[str]) -> bool:
    """OCPI ids are CiStrings: equal regardless of case."""
    return a is not None and b is not None and a.casefold() == b.casefold()


def ocpi_datetime(value: datetime) -> str:
    """RFC 3339 in UTC, as OCPI wants it in query parameters."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- parsing -----------------------------------------------------------------------------


def _time(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise OcpiProtocolError(f"{field}: expected a timestamp, got {type(value).__name__}")
    try:
        parsed = isoparse(value)
    except ValueError as exc:
        raise OcpiProtocolError(f"{field}: not an RFC 3339 timestamp: {value!r}") from exc
    # OCPI: a timestamp without zone designator is UTC.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _opt_time(value: Any, field: str) -> Optional[datetime]:
    return None if value is None else _time(value, field)


def _str(obj: Mapping[str, Any], field: str) -> str:
    value = obj.get(field)
    if not isinstance(value, str) or not value:
        raise OcpiProtocolError(f"{field}: missing or not a string")
    return value


def _opt_str(obj: Mapping[str, Any], field: str) -> Optional[str]:
    value = obj.get(field)
    return value if isinstance(value, str) and value else None


def _upper(value: Optional[str]) -> Optional[str]:
    return value.upper() if value else value


def parse_session(obj: Any) -> OcpiSession:
    if not isinstance(obj, dict):
        raise OcpiProtocolError("session: expected an object")
    kwh = obj.get("kwh")
    if isinstance(kwh, bool) or not isinstance(kwh, (int, float)):
        raise OcpiProtocolError("session kwh: missing or not a number")
    token = obj.get("cdr_token") if isinstance(obj.get("cdr_token"), dict) else {}
    return OcpiSession(
        id=_str(obj, "id"),
        country_code=_str(obj, "country_code").upper(),
        party_id=_str(obj, "party_id").upper(),
        status=_str(obj, "status").upper(),
        start_date_time=_time(obj.get("start_date_time"), "start_date_time"),
        end_date_time=_opt_time(obj.get("end_date_time"), "end_date_time"),
        kwh=float(kwh),
        location_id=_str(obj, "location_id"),
        evse_uid=_str(obj, "evse_uid"),
        last_updated=_time(obj.get("last_updated"), "last_updated"),
        cdr_token_uid=_upper(_opt_str(token, "uid")),
        contract_id=_upper(_opt_str(token, "contract_id")),
    )


MAX_OPERATOR_NAME = 200  # OCPI BusinessDetails.name is string(100); some peers send more
MAX_WEBSITE = 300
_PHONE = re.compile(r"\+?[0-9][0-9 ()./-]{2,48}")


def _clean_text(value: Optional[str], limit: int) -> Optional[str]:
    """Printable text on one line, at most `limit` characters: it is shown to drivers."""
    if value is None:
        return None
    text = " ".join("".join(c if c.isprintable() else " " for c in value).split())[:limit]
    return text or None


def _https_url(value: Optional[str]) -> Optional[str]:
    """An https URL with a host and no white space, or None: anything else is not shown to drivers."""
    if not value or len(value) > MAX_WEBSITE or any(c.isspace() or not c.isprintable() for c in value):
        return None
    parts = urlsplit(value)
    return value if parts.scheme == "https" and parts.hostname else None


def parse_operator(obj: Any) -> Optional[OcpiOperator]:
    """The operator's contact details, validated: they go into replies (name at most 200 printable
    characters, website https only, phone digits and separators only)."""
    if not isinstance(obj, dict) or not _opt_str(obj, "name"):
        return None
    name = _clean_text(obj["name"], MAX_OPERATOR_NAME)
    if name is None:
        return None
    phone = _opt_str(obj, "phone")
    return OcpiOperator(name=name, website=_https_url(_opt_str(obj, "website")),
                        phone=phone if phone and _PHONE.fullmatch(phone) else None)


def parse_location(obj: Any) -> OcpiLocation:
    if not isinstance(obj, dict):
        raise OcpiProtocolError("location: expected an object")
    evses = []
    for evse in obj.get("evses") or []:
        if not isinstance(evse, dict):
            raise OcpiProtocolError("location evse: expected an object")
        evses.append(OcpiEvse(uid=_str(evse, "uid"), evse_id=_upper(_opt_str(evse, "evse_id")), status=_upper(_opt_str(evse, "status"))))
    # The operator is who drivers should contact; fall back to the owner if only that is given.
    operator = parse_operator(obj.get("operator")) or parse_operator(obj.get("owner"))
    return OcpiLocation(
        id=_str(obj, "id"),
        country_code=_str(obj, "country_code").upper(),
        party_id=_str(obj, "party_id").upper(),
        name=_opt_str(obj, "name"),
        address=_opt_str(obj, "address"),
        city=_opt_str(obj, "city"),
        country=_opt_str(obj, "country"),
        operator=operator,
        evses=tuple(evses),
        last_updated=_opt_time(obj.get("last_updated"), "last_updated"),
    )


# --- the client ---------------------------------------------------------------------------


class OcpiClient:
    """Reads one CPO's OCPI 2.2.1 endpoint. `base_url` is the version base, e.g.
    `https://ocpi.example.com/ocpi/cpo/2.2.1`; modules live under it (`/sessions`, `/locations`).

    `deadline` (a `time.monotonic()` value) caps every request's timeouts to the time left
    and refuses to start requests after it, so a caller can bound a whole lookup.
    """

    RETRY_STATUSES = (500, 502, 503, 504)

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        connect_timeout_s: float = 2.0,
        read_timeout_s: float = 3.0,
        retries: int = 2,
        backoff_factor_s: float = 0.2,
        backoff_max_s: float = 2.0,
        page_limit: int = 50,
        max_pages: int = 100,
        deadline: Optional[float] = None,
    ):
        if not base_url or not token:
            raise ValueError("an OCPI endpoint needs both a base URL and a token")
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout_s, read_timeout_s)
        self.page_limit = page_limit
        self.max_pages = max_pages
        self.deadline = deadline
        self._origin = urlsplit(self.base_url)[:2]
        self._session = requests.Session()
        # As session auth (not a plain header) so a ~/.netrc entry can never replace it;
        # requests drops it when a redirect leaves the host.
        self._session.auth = _TokenAuth(token)
        self._session.headers["Accept"] = "application/json"
        retry = Retry(
            total=retries,
            connect=retries,
            read=False,  # a read timeout means a slow peer: retrying only doubles the wait (False re-raises it as a timeout)
            status=retries,
            other=0,
            redirect=False,  # requests follows redirects itself
            allowed_methods=frozenset({"GET"}),
            status_forcelist=self.RETRY_STATUSES,
            backoff_factor=backoff_factor_s,
            backoff_max=backoff_max_s,
            raise_on_status=False,  # hand back the last 5xx, mapped to OcpiUnavailable below
            respect_retry_after_header=False,  # a Retry-After of hours must not stall a chat turn
        )
        adapter = HTTPAdapter(max_retries=retry)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> "OcpiClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- Sessions module (CPO, Sender interface) ---

    def iter_session_pages(
        self,
        date_from: Optional[datetime] = None,
        date_to: Optional[datetime] = None,
        limit: Optional[int] = None,
    ) -> Iterator[Page[OcpiSession]]:
        """Pages of sessions whose last_updated is in [date_from, date_to)."""
        return self._iter_pages("sessions", parse_session, date_from, date_to, limit)

    def iter_sessions(
        self,
        date_from: Optional[datetime] = None,
        date_to: Optional[datetime] = None,
        limit: Optional[int] = None,
    ) -> Iterator[OcpiSession]:
        for page in self.iter_session_pages(date_from, date_to, limit):
            yield from page.items

    def find_session(
        self,
        session_id: str,
        date_from: Optional[datetime] = None,
        date_to: Optional[datetime] = None,
    ) -> Optional[OcpiSession]:
        """The session with this id (case-insensitive) updated within the window, or None.

        OCPI 2.2.1 has no GET-by-id for sessions on the CPO side: we page through the
        window and stop at the first match.
        """
        for session in self.iter_sessions(date_from, date_to):
            if same_id(session.id, session_id):
                return session
        return None

    # --- Locations module (CPO, Sender interface) ---

    def iter_location_pages(
        self,
        date_from: Optional[datetime] = None,
        date_to: Optional[datetime] = None,
        limit: Optional[int] = None,
    ) -> Iterator[Page[OcpiLocation]]:
        return self._iter_pages("locations", parse_location, date_from, date_to, limit)

    def iter_locations(
        self,
        date_from: Optional[datetime] = None,
        date_to: Optional[datetime] = None,
        limit: Optional[int] = None,
    ) -> Iterator[OcpiLocation]:
        for page in self.iter_location_pages(date_from, date_to, limit):
            yield from page.items

    def get_location(self, location_id: str) -> OcpiLocation:
        data, _ = self._get(f"{self.base_url}/locations/{quote(location_id, safe='')}", None, _correlation_id())
        # OCPI answers one object; some peers (extrawest-ocpi) wrap it in a one-element list.
        obj = data[0] if isinstance(data, list) and len(data) == 1 else data
        location = parse_location(obj)
        if not same_id(location.id, location_id):
            raise OcpiProtocolError(f"asked for location {location_id!r}, got {location.id!r}")
        return location

    # --- Commands module (CPO, Receiver interface) ---

    def post_command(self, command: str, body: Mapping[str, Any]) -> Any:
        """POST `{base}/commands/{command}`: the envelope's data (a CommandResponse).

        A command is not idempotent, so it is retried only when it never left (connect errors; the
        `Retry` above retries statuses for GET alone); a read timeout is the caller's "no answer".
        """
        url = f"{self.base_url}/commands/{quote(command, safe='')}"
        headers = {"X-Request-ID": str(uuid.uuid4()), "X-Correlation-ID": _correlation_id(),
                   "Content-Type": "application/json"}
        response = self._send("POST", url, headers, json=dict(body))
        log.debug("OCPI POST %s -> %s", _safe_url(response.url), response.status_code)
        return _unwrap(response)

    # --- transport ---

    def _iter_pages(
        self,
        module: str,
        parse: Callable[[Any], T],
        date_from: Optional[datetime],
        date_to: Optional[datetime],
        limit: Optional[int],
    ) -> Iterator[Page[T]]:
        def query(offset: int, page_size: int) -> Dict[str, Any]:
            params: Dict[str, Any] = {"offset": offset, "limit": page_size}
            if date_from is not None:
                params["date_from"] = ocpi_datetime(date_from)
            if date_to is not None:
                params["date_to"] = ocpi_datetime(date_to)
            return params

        module_url = f"{self.base_url}/{module}"
        url: Optional[str] = module_url
        params: Optional[Dict[str, Any]] = query(0, limit or self.page_limit)
        correlation_id = _correlation_id()
        requested = set()
        received = 0
        for _ in range(self.max_pages):
            requested.add((url, str(params)))
            data, response = self._get(url, params, correlation_id)
            if not isinstance(data, list):
                raise OcpiProtocolError(f"{module}: expected a list in data, got {type(data).__name__}")
            page = Page(
                items=tuple(parse(item) for item in data),
                total_count=_int_header(response, "X-Total-Count"),
                limit=_int_header(response, "X-Limit"),
                url=response.url,
            )
            yield page
            received += len(page.items)
            if not page.items or (page.total_count is not None and received >= page.total_count):
                return
            url, params = self._next_url(response), None
            if url is None and page.total_count is not None:
                # No Link header although X-Total-Count says there is more: go on by offset.
                url, params = module_url, query(received, page.limit or limit or self.page_limit)
            if url is None or (url, str(params)) in requested:
                return  # last page, or a peer pointing back at a page we already have
        log.warning("OCPI %s: stopped after %d pages", module, self.max_pages)

    def _next_url(self, response: requests.Response) -> Optional[str]:
        link = response.links.get("next", {}).get("url")
        if not link:
            return None
        scheme, netloc, path, query, _ = urlsplit(link)
        if (scheme, netloc) != self._origin:
            log.debug("OCPI next link points to %s://%s; requesting it from the configured endpoint", scheme, netloc)
        # Python peers write unset filters as the literal "None" (date_from=None): drop them.
        pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if v not in ("", "None", "null")]
        return urlunsplit((*self._origin, path, urlencode(pairs), ""))

    def _get(self, url: str, params: Optional[Mapping[str, Any]], correlation_id: str) -> Tuple[Any, requests.Response]:
        request_id = str(uuid.uuid4())
        headers = {"X-Request-ID": request_id, "X-Correlation-ID": correlation_id}
        response = self._send("GET", url, headers, params=params)
        log.debug("OCPI GET %s -> %s (request %s)", _safe_url(response.url), response.status_code, request_id)
        return _unwrap(response), response

    def _send(self, method: str, url: str, headers: Mapping[str, str], **kwargs: Any) -> requests.Response:
        """One HTTP request, its failures as the OCPI errors callers handle (timeout, unreachable, other)."""
        try:
            return self._session.request(method, url, headers=dict(headers), timeout=self._timeout(), **kwargs)
        except requests.Timeout as exc:
            raise OcpiTimeout(f"timed out ({_safe_url(url)})") from exc
        except (requests.ConnectionError, requests.exceptions.RetryError) as exc:
            raise OcpiUnavailable(f"cannot reach {_safe_url(url)}: {type(exc).__name__}") from exc
        except requests.RequestException as exc:
            raise OcpiError(f"request to {_safe_url(url)} failed: {type(exc).__name__}") from exc

    def _timeout(self) -> Tuple[float, float]:
        if self.deadline is None:
            return self.timeout
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise OcpiTimeout("deadline passed before the request")
        return (min(self.timeout[0], left), min(self.timeout[1], left))


class _TokenAuth(requests.auth.AuthBase):
    """OCPI 2.2.1: `Authorization: Token <base64(credentials token)>`."""

    def __init__(self, token: str):
        self._header = "Token " + base64.b64encode(token.encode("utf-8")).decode("ascii")

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header
        return request


def _unwrap(response: requests.Response) -> Any:
    """The envelope's `data`, or the typed error the answer stands for."""
    code = response.status_code
    if code in (401, 403):
        raise OcpiAuthError(f"token refused (HTTP {code})")
    if code == 404:
        raise OcpiNotFound(f"not found (HTTP 404): {_safe_url(response.url)}")
    if code >= 500:
        raise OcpiUnavailable(f"peer error HTTP {code} after retries")
    try:
        body = response.json()
    except ValueError as exc:
        kind = response.headers.get("Content-Type", "no content type")
        raise OcpiProtocolError(f"HTTP {code} answer is not JSON ({kind})") from exc
    if not isinstance(body, dict) or isinstance(body.get("status_code"), bool) or not isinstance(body.get("status_code"), int):
        raise OcpiProtocolError(f"HTTP {code} answer is not an OCPI envelope")
    status_code, message = body["status_code"], body.get("status_message")
    if status_code == UNKNOWN_LOCATION:
        raise OcpiNotFound(f"OCPI status {status_code}: {message}")
    if not 1000 <= status_code < 2000:
        raise OcpiStatusError(status_code, message)
    if code >= 300:
        raise OcpiProtocolError(f"HTTP {code} with a success envelope")
    if "data" not in body:
        raise OcpiProtocolError("success envelope without data")
    return body["data"]


def _int_header(response: requests.Response, name: str) -> Optional[int]:
    try:
        return int(response.headers[name])
    except (KeyError, ValueError):
        return None


def _correlation_id() -> str:
    return str(uuid.uuid4())


def _safe_url(url: str) -> str:
    """The URL without its query: logs and errors carry no filter values."""
    scheme, netloc, path, _, _ = urlsplit(url)
    return urlunsplit((scheme, netloc, path, "", ""))
