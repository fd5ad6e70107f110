"""The agent-facing view of handoffs: an HTML page behind a token, and plain functions for the CLI.

It also lists the STOP_SESSION attempts and the back-office closes awaiting review (`/stops`), where a
close is marked reviewed (a POST); the CLI has the same (`bot stop-attempts`, `bot back-office-closes`).

Access needs the configured token, as `Authorization: Bearer <token>` or `?token=<token>` (for a
link opened in a browser; links on the page then carry it along). With no token configured the
view refuses every request. Everything shown is HTML-escaped by Jinja's autoescape: transcripts
and locations contain text typed by drivers. Stored values are rendered defensively: a time that
cannot be shown in the agents' zone is shown as stored, never as an error page.

Every read of a handoff (page, CLI) is written to the `bot.audit` logger: what was read, by whom
(the client address and a fingerprint of the token, or the operating-system user of the CLI), when.
"""
from __future__ import annotations

import asyncio
import getpass
import hashlib
import hmac
import json
import logging
import unicodedata
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, Dict, List, Optional
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select

from bot.store import stop_commands
from bot.store.db import session_scope
from bot.domain.clock import utcnow
from bot.domain.handoff_record import SUMMARY_FIELDS, HandoffRecord
from bot.domain.identifiers import normalise_session_id
from bot.store.models import Handoff, HandoffOutbox
from bot.settings import Settings

log = logging.getLogger(__name__)
audit = logging.getLogger("bot.audit")

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
MAX_LIST_LIMIT = 500
_SPEAKERS = {"user": "Driver", "bot": "Assistant", "agent": "Agent"}


# --- data, shared by the HTML page and the CLI -------------------------------------------------

def _iso(value: Optional[datetime]) -> Optional[str]:
    return value.isoformat() if value else None


def _summary(handoff: Handoff, outbox: Optional[HandoffOutbox]) -> Dict[str, Any]:
    return {
        **HandoffRecord.from_row(handoff).to_json(),
        "delivery_state": outbox.state if outbox else None,
        "attempts": outbox.attempts if outbox else 0,
        "last_error": outbox.last_error if outbox else None,
        "next_attempt_at": _iso(outbox.next_attempt_at) if outbox else None,
        "delivered_at": _iso(outbox.delivered_at) if outbox else None,
    }


def list_handoffs(settings: Settings, limit: int = 100) -> List[Dict[str, Any]]:
    """Newest first, with delivery state; datetimes as ISO 8601 UTC strings."""
    limit = max(1, min(limit, MAX_LIST_LIMIT))
    with session_scope(settings) as db:
        rows = db.execute(
            select(Handoff, HandoffOutbox)
            .outerjoin(HandoffOutbox, HandoffOutbox.handoff_id == Handoff.id)
            .order_by(Handoff.created_at.desc(), Handoff.id.desc())
            .limit(limit)
        ).all()
        return [_summary(handoff, outbox) for handoff, outbox in rows]


def get_handoff(settings: Settings, reference: str) -> Optional[Dict[str, Any]]:
    """Every field, the findings and the transcript of one handoff; None if the reference is unknown."""
    with session_scope(settings) as db:
        row = db.execute(
            select(Handoff, HandoffOutbox)
            .outerjoin(HandoffOutbox, HandoffOutbox.handoff_id == Handoff.id)
            .where(Handoff.reference == reference.strip().upper())
        ).first()
        if row is None:
            return None
        handoff, outbox = row
        return _summary(handoff, outbox)


# --- stop commands: every attempt, and the back-office closes awaiting review ---------------------------
# Who asked is the verified account: the audit row holds no card number and no token, nor is one shown here.


def list_stop_attempts(settings: Settings, limit: int = 50) -> List[Dict[str, Any]]:
    """Every STOP_SESSION attempt, newest first; datetimes as ISO 8601 UTC strings."""
    limit = max(1, min(limit, MAX_LIST_LIMIT))
    with session_scope(settings) as db:
        attempts = stop_commands.recent_attempts(db, limit)
    return [{"created_at": _iso(a.created_at), "account_id": a.account_id, "session_id": a.session_id,
             "command": a.command, "response": a.response, "response_timeout_s": a.response_timeout_s,
             "error": a.error, "result": a.result, "late_result": a.late_result, "confirmed_by": a.confirmed_by,
             "outcome": a.outcome, "next_step": a.next_step, "finished_at": _iso(a.finished_at)}
            for a in attempts]


def list_back_office_closes(settings: Settings, pending_only: bool = False) -> List[Dict[str, Any]]:
    """Sessions the assistant closed in our own data after a refused stop; oldest first."""
    with session_scope(settings) as db:
        closes = stop_commands.back_office_closes(db, pending_only)
    return [{"session_id": c.session_id, "account_id": c.account_id, "closed_at": _iso(c.closed_at),
             "ended_at": _iso(c.ended_at), "final_kwh": c.final_kwh, "reason": c.reason,
             "needs_review": c.needs_review, "reviewed_at": _iso(c.reviewed_at)} for c in closes]


def mark_close_reviewed(settings: Settings, session_id: str, who: str) -> Optional[bool]:
    """True: marked reviewed now; False: it already was; None: no back-office close of that session."""
    # "ses 104233" is our SES-104233; a CPO's own id is taken as typed.
    session_id = normalise_session_id(session_id) or session_id.strip()
    with session_scope(settings) as db:
        done = stop_commands.mark_reviewed(db, session_id, utcnow())
    if done:
        audit.info("%s marked the back-office close of session %s reviewed at %s", who, session_id,
                   datetime.now(timezone.utc).isoformat(timespec="seconds"))
    return done


def render_stop_attempts_text(settings: Settings, limit: int = 50) -> str:
    """The attempts for the terminal, one line each."""
    attempts = list_stop_attempts(settings, limit)
    audit_read(f"the stop attempts ({len(attempts)})", f"cli user {getpass.getuser()}")
    if not attempts:
        return "No stop attempts yet."
    zone = _zone(settings)
    lines = [f"{'when':<24} {'account':<16} {'session':<14} {'command':<12} {'response':<26} {'result':<16} "
             f"{'outcome':<28} next step"]
    for a in attempts:
        response = a["response"] or ("no answer: " + (a["error"] or "?").split(":")[0])
        result = a["result"] or ("late " + a["late_result"] if a["late_result"] else "-")
        outcome = a["outcome"] or "under way"
        if a["confirmed_by"]:
            outcome += f" ({a['confirmed_by']})"
        lines.append(f"{local_time(a['created_at'], zone):<24} {a['account_id']:<16} {a['session_id']:<14} "
                     f"{a['command']:<12} {response:<26} {result:<16} {outcome:<28} {a['next_step'] or '-'}")
    return _printable("\n".join(lines))


def render_back_office_closes_text(settings: Settings, pending_only: bool = False) -> str:
    closes = list_back_office_closes(settings, pending_only)
    audit_read(f"the back-office closes ({len(closes)})", f"cli user {getpass.getuser()}")
    if not closes:
        return "No back-office closes awaiting review." if pending_only else "No back-office closes."
    zone = _zone(settings)
    lines = [f"{'session':<14} {'account':<16} {'closed':<24} {'ended (last reading)':<24} {'final kWh':>9}  "
             f"{'review':<32} reason"]
    for c in closes:
        review = "awaiting review" if c["needs_review"] else f"reviewed {local_time(c['reviewed_at'], zone)}"
        lines.append(f"{c['session_id']:<14} {c['account_id']:<16} {local_time(c['closed_at'], zone):<24} "
                     f"{local_time(c['ended_at'], zone):<24} {c['final_kwh']:>9.3f}  {review:<32} {c['reason']}")
    return _printable("\n".join(lines))


def _zone(settings: Settings):
    try:
        return ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


def local_time(value: Optional[str], zone) -> str:
    """An ISO 8601 string shown in the agents' time zone; anything unparseable is shown as given."""
    if not value:
        return ""
    if not isinstance(value, str):
        return str(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")
    except (OverflowError, ValueError, OSError):
        # Year 1 with a +23:59 offset and the like: not a real time, shown as stored.
        return str(value)


def display_value(name: str, value: Any, zone) -> str:
    """One summary field as agents read it: times in their zone, a dash for nothing."""
    if name in ("created_at", "session_time"):
        return local_time(value, zone) or "-"
    if name == "account_id":
        return value or "anonymous (not logged in)"
    return "-" if value in (None, "") else str(value)


def _printable(text: Any) -> str:
    # Driver text must not drive the agent's terminal (ANSI escapes, carriage returns).
    return "".join(
        ch if ch in "\n\t" or unicodedata.category(ch) != "Cc" else "\N{REPLACEMENT CHARACTER}"
        for ch in str(text)
    )


def audit_read(what: str, who: str) -> None:
    """One line in the audit log: who read which handoff(s)."""
    audit.info("%s read %s at %s", who, what, datetime.now(timezone.utc).isoformat(timespec="seconds"))


def render_handoff_text(settings: Settings, reference: str) -> Optional[str]:
    """A plain-text rendering of one handoff for the terminal; None if the reference is unknown."""
    h = get_handoff(settings, reference)
    if h is None:
        return None
    audit_read(f"handoff {h['reference']}", f"cli user {getpass.getuser()}")
    zone = _zone(settings)
    delivery = f"{h['delivery_state'] or 'no outbox row'} after {h['attempts']} attempt(s)"
    if h["last_error"]:
        delivery += f", last error {h['last_error']}, next attempt {local_time(h['next_attempt_at'], zone)}"
    lines = [f"Handoff {h['reference']}"]
    for name, label in SUMMARY_FIELDS:
        if name != "reference":
            lines.append(f"{label + ':':<17}{display_value(name, h[name], zone)}")
    lines += [f"{'Delivery:':<17}{delivery}", "", "Findings:"]
    findings = h["findings"]
    lines += [f"  {key}: {json.dumps(findings[key], ensure_ascii=False, default=str)}" for key in sorted(findings)] \
        or ["  (none)"]
    lines += ["", "Transcript:"]
    for line in h["transcript"]:
        speaker = _SPEAKERS.get(line.get("sender"), str(line.get("sender")))
        text = str(line.get("text", "")).replace("\n", "\n    ")
        lines.append(f"  [{local_time(line.get('timestamp'), zone)}] {speaker}: {text}")
    if not h["transcript"]:
        lines.append("  (no messages)")
    return _printable("\n".join(lines))


# --- HTML ---------------------------------------------------------------------------------------

def _templates(settings: Settings) -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)), autoescape=select_autoescape(default=True))
    zone = _zone(settings)
    env.filters["local"] = lambda value: local_time(value, zone)
    env.filters["speaker"] = lambda sender: _SPEAKERS.get(sender, str(sender))
    env.filters["pretty"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False, default=str)
    env.globals.update(brand=settings.brand, timezone=settings.timezone, summary_fields=SUMMARY_FIELDS)
    env.filters["display"] = lambda value, name: display_value(name, value, zone)
    return env


def _supplied_token(request: web.Request) -> Optional[str]:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.query.get("token")


def _token_guard(settings: Settings):
    @web.middleware
    async def guard(request: web.Request, handler):
        expected = settings.agent_view_token
        if not expected:
            return web.Response(status=403, text="The agent view is disabled: no BOT_AGENT_VIEW_TOKEN is configured.\n")
        supplied = _supplied_token(request)
        if supplied is None or not hmac.compare_digest(supplied.encode(), expected.encode()):
            return web.Response(status=401, text="Unauthorised.\n",
                                headers={"WWW-Authenticate": 'Bearer realm="agent view"'})
        # A browser that came with ?token= has no other way to send it on the next click.
        request["token_qs"] = "?" + urlencode({"token": supplied}) if "token" in request.query else ""
        fingerprint = hashlib.sha256(supplied.encode()).hexdigest()[:12]
        request["who"] = f"agent view client {request.remote} (token {fingerprint})"
        return await handler(request)

    return guard


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token may be in the URL
    response.headers["Cache-Control"] = "no-store"  # personal data
    response.headers["X-Content-Type-Options"] = "nosniff"


class _AccessLogger(AbstractAccessLogger):
    """Logs the path without the query string, so `?token=` never reaches the log."""

    def log(self, request, response, time: float) -> None:
        self.logger.info("%s %s %s %.3fs", request.method, request.path, response.status, time)


def make_app(settings: Settings) -> web.Application:
    templates = _templates(settings)

    def page(name: str, status: int = 200, **context) -> web.Response:
        html = templates.get_template(name).render(**context)
        return web.Response(status=status, text=html, content_type="text/html")

    async def in_thread(fn, *args):
        # The database calls are blocking; keep the event loop free.
        return await asyncio.get_running_loop().run_in_executor(None, partial(fn, *args))

    async def index(request: web.Request) -> web.Response:
        try:
            limit = int(request.query.get("limit", "100"))
        except ValueError:
            raise web.HTTPBadRequest(text="limit must be a number\n")
        handoffs = await in_thread(list_handoffs, settings, limit)
        audit_read(f"the list ({len(handoffs)} handoffs)", request["who"])
        return page("agent_list.html", handoffs=handoffs, token_qs=request["token_qs"])

    async def detail(request: web.Request) -> web.Response:
        handoff = await in_thread(get_handoff, settings, request.match_info["reference"])
        if handoff is None:
            return web.Response(status=404, text="No handoff with that reference.\n")
        audit_read(f"handoff {handoff['reference']}", request["who"])
        return page("agent_detail.html", h=handoff, token_qs=request["token_qs"])

    async def stops(request: web.Request) -> web.Response:
        try:
            limit = int(request.query.get("limit", "100"))
        except ValueError:
            raise web.HTTPBadRequest(text="limit must be a number\n")
        pending_only = request.query.get("pending") == "1"
        attempts = await in_thread(list_stop_attempts, settings, limit)
        closes = await in_thread(list_back_office_closes, settings, pending_only)
        audit_read(f"the stop attempts ({len(attempts)}) and back-office closes ({len(closes)})", request["who"])
        return page("agent_stops.html", attempts=attempts, closes=closes, pending_only=pending_only,
                    token_qs=request["token_qs"])

    async def reviewed(request: web.Request) -> web.Response:
        done = await in_thread(mark_close_reviewed, settings, request.match_info["session_id"], request["who"])
        if done is None:
            return web.Response(status=404, text="No back-office close of that session.\n")
        raise web.HTTPSeeOther("/stops" + request["token_qs"])

    app = web.Application(middlewares=[_token_guard(settings)])
    app.router.add_get("/", index)
    app.router.add_get("/handoffs", index)
    app.router.add_get("/handoffs/{reference}", detail)
    app.router.add_get("/stops", stops)
    app.router.add_post("/stops/closes/{session_id}/reviewed", reviewed)
    app.on_response_prepare.append(_security_headers)
    return app


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 5056) -> None:
    """Runs the agent view until interrupted (binds to localhost unless told otherwise)."""
    if not settings.agent_view_token:
        log.warning("BOT_AGENT_VIEW_TOKEN is not set: the agent view will refuse every request")
    web.run_app(make_app(settings), host=host, port=port, access_log_class=_AccessLogger, print=None)
