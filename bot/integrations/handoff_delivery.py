"""Delivers stored handoffs from the durable outbox to the helpdesk webhook.

Guarantees:
- Nothing is lost: a row leaves the outbox only when the webhook answered 2xx. Transient
  failures (timeout, connection error, 408, 429, 5xx) are retried with capped exponential
  back-off and jitter; other 4xx (a misconfigured helpdesk) are retried on a slow schedule.
- Nothing is sent twice at the same time: a worker *claims* a row before sending by bumping
  `attempts` and moving `next_attempt_at` to the end of a lease, with a conditional UPDATE that
  only one worker can win (PostgreSQL additionally uses SELECT ... FOR UPDATE SKIP LOCKED so
  workers do not even wait on each other). If the worker dies mid-send, the lease expires and
  another worker retries the row.
- Retries reuse the row's `Idempotency-Key`, so the helpdesk can drop a repeat of a request whose
  answer was lost (e.g. it accepted, then the worker crashed before recording it).

Without a webhook URL nothing is sent and nothing is changed: rows keep their state
(`not_configured` as `bot.store.handoff_store` writes them, or `pending`) and agents read them in the agent
view. Once a URL is configured, `not_configured` rows are delivered too: a handoff that reached
nobody's inbox must not be lost.

Authenticity: every payload is signed with HMAC-SHA256 over `<timestamp>.<body>` with
BOT_HANDOFF_WEBHOOK_SECRET (headers `X-Signature: sha256=<hex>` and `X-Signature-Timestamp`), so the
helpdesk can refuse forged or replayed handoffs; without a secret payloads go unsigned, with a warning.
The URL must be https, except on this machine (localhost, 127.0.0.1, ::1): an http URL elsewhere
is refused as a configuration error (nothing is sent, the row waits).

Card numbers and identity tokens never go to the log: log lines carry the reference only.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional
from urllib.parse import urlsplit

import requests
from sqlalchemy import select, update

from bot.store.db import session_scope
from bot.domain.handoff_record import HandoffRecord
from bot.domain.clock import utcnow
from bot.store.models import DeliveryState, Handoff, HandoffOutbox
from bot.settings import Settings

log = logging.getLogger(__name__)

_CLAIMABLE = (DeliveryState.PENDING.value, DeliveryState.NOT_CONFIGURED.value)
_TRANSIENT_STATUS = {408, 429}


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait before the next attempt. Defaults suit production; tests shrink them."""

    initial_delay_s: float = 2.0
    multiplier: float = 2.0
    max_delay_s: float = 300.0
    # Each delay is drawn from [base * (1 - jitter), base] so workers do not retry in lockstep.
    jitter: float = 0.25
    # A 4xx other than 408/429 means the helpdesk refuses the request: retry, but rarely.
    rejected_delay_s: float = 900.0
    # How long a claimed row stays invisible to other workers; must outlast one send.
    lease_s: float = 60.0

    def lease_for(self, timeout_s: float) -> timedelta:
        # A send can take a connect timeout plus a read timeout; keep a margin on top.
        return timedelta(seconds=max(self.lease_s, 2 * timeout_s + 5))


def retry_delay(attempt: int, policy: RetryPolicy, rng: Optional[random.Random] = None) -> float:
    """Seconds to wait after the `attempt`-th (1-based) transient failure."""
    base = min(policy.max_delay_s, policy.initial_delay_s * policy.multiplier ** max(0, attempt - 1))
    return (rng or random).uniform(base * (1 - policy.jitter), base)


def rejected_delay(policy: RetryPolicy, rng: Optional[random.Random] = None) -> float:
    """Seconds to wait after the helpdesk refused a request (4xx other than 408/429)."""
    base = policy.rejected_delay_s
    return (rng or random).uniform(base * (1 - policy.jitter), base)


def handoff_payload(handoff: Handoff) -> Dict[str, Any]:
    """The JSON document the helpdesk receives for one handoff."""
    return HandoffRecord.from_row(handoff).to_json()


@dataclass
class DeliveryAttempt:
    """What happened to one outbox row in one pass."""

    reference: str
    attempt: int  # 1-based count of sends started for this row, this one included
    outcome: str  # "delivered" | "retry" (transient failure) | "rejected" (4xx, slow retry)
    status_code: Optional[int] = None
    error: Optional[str] = None
    next_attempt_at: Optional[datetime] = None


@dataclass
class DeliveryReport:
    webhook_configured: bool
    attempts: List[DeliveryAttempt] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for a in self.attempts if a.outcome == outcome)

    @property
    def delivered(self) -> int:
        return self.count("delivered")

    @property
    def retrying(self) -> int:
        return self.count("retry")

    @property
    def rejected(self) -> int:
        return self.count("rejected")


@dataclass(frozen=True)
class _Claim:
    outbox_id: int
    attempt: int
    idempotency_key: str
    reference: str
    payload: Dict[str, Any]


def claim_due(settings: Settings, now: datetime, limit: int, policy: RetryPolicy) -> List[_Claim]:
    """Takes a lease on up to `limit` due rows; only the worker whose UPDATE matched may send."""
    lease_until = now + policy.lease_for(settings.handoff_webhook_timeout_s)
    claims: List[_Claim] = []
    with session_scope(settings) as db:
        candidates = db.execute(
            select(HandoffOutbox.id, HandoffOutbox.attempts)
            .where(HandoffOutbox.state.in_(_CLAIMABLE), HandoffOutbox.next_attempt_at <= now)
            .order_by(HandoffOutbox.next_attempt_at, HandoffOutbox.id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite ignores it
        ).all()
        for outbox_id, attempts in candidates:
            # Compare-and-swap on `attempts`: a second worker that read the same row matches nothing.
            won = db.execute(
                update(HandoffOutbox)
                .where(
                    HandoffOutbox.id == outbox_id,
                    HandoffOutbox.attempts == attempts,
                    HandoffOutbox.state.in_(_CLAIMABLE),
                    HandoffOutbox.next_attempt_at <= now,
                )
                .values(attempts=attempts + 1, next_attempt_at=lease_until, state=DeliveryState.PENDING.value)
                .execution_options(synchronize_session=False)
            ).rowcount
            if won != 1:
                continue
            outbox = db.get(HandoffOutbox, outbox_id)
            claims.append(
                _Claim(
                    outbox_id=outbox_id,
                    attempt=attempts + 1,
                    idempotency_key=outbox.idempotency_key,
                    reference=outbox.handoff.reference,
                    payload=handoff_payload(outbox.handoff),
                )
            )
    return claims


_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


class InsecureWebhook(requests.RequestException):
    """An http:// webhook URL off this machine: the payload would cross the network in clear."""


def webhook_url_allowed(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and (parts.hostname or "") in _LOCAL_HOSTS)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256(secret, timestamp + "." + body): what X-Signature carries."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


_warned_unsigned = threading.Event()


def _send(http: requests.Session, settings: Settings, claim: _Claim) -> requests.Response:
    timeout = settings.handoff_webhook_timeout_s
    if not webhook_url_allowed(settings.handoff_webhook_url):
        raise InsecureWebhook("the webhook URL must be https (http only on localhost)")
    body = json.dumps(claim.payload, ensure_ascii=False, default=str).encode("utf-8")
    headers = {"Idempotency-Key": claim.idempotency_key, "Content-Type": "application/json"}
    if settings.handoff_webhook_secret:
        timestamp = str(int(time.time()))
        headers["X-Signature-Timestamp"] = timestamp
        headers["X-Signature"] = signature(settings.handoff_webhook_secret, timestamp, body)
    elif not _warned_unsigned.is_set():
        _warned_unsigned.set()
        log.warning("BOT_HANDOFF_WEBHOOK_SECRET is not set: handoff payloads are sent unsigned")
    return http.post(
        settings.handoff_webhook_url,
        data=body,
        headers=headers,
        timeout=(timeout, timeout),
        # A redirect on a POST would be replayed as a GET by requests: treat it as misconfiguration.
        allow_redirects=False,
    )


def _retry_after_s(response: requests.Response) -> Optional[float]:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.strip().isdigit() else None


def _deliver_one(http: requests.Session, settings: Settings, claim: _Claim, now: Optional[datetime],
                 policy: RetryPolicy) -> DeliveryAttempt:
    status: Optional[int] = None
    try:
        response = _send(http, settings, claim)
        status = response.status_code
        response.close()
        if 200 <= status < 300:
            outcome, error, delay = "delivered", None, None
        elif status >= 500 or status in _TRANSIENT_STATUS:
            delay = retry_delay(claim.attempt, policy)
            retry_after = _retry_after_s(response)
            if retry_after is not None:
                delay = min(policy.max_delay_s, max(delay, retry_after))
            outcome, error = "retry", f"HTTP {status}"
        else:
            outcome, error, delay = "rejected", f"HTTP {status}", rejected_delay(policy)
    except (requests.Timeout, requests.ConnectionError) as exc:
        # The exception text names the URL, which may carry a secret: keep the class name only.
        outcome, error, delay = "retry", type(exc).__name__, retry_delay(claim.attempt, policy)
    except requests.RequestException as exc:  # invalid URL and the like: a configuration problem
        outcome, error, delay = "rejected", type(exc).__name__, rejected_delay(policy)

    finished = now or utcnow()
    with session_scope(settings) as db:
        if outcome == "delivered":
            # Unconditional: even if our lease lapsed, the helpdesk has it (and dedupes by key).
            db.execute(
                update(HandoffOutbox)
                .where(HandoffOutbox.id == claim.outbox_id)
                .values(state=DeliveryState.DELIVERED.value, delivered_at=finished, last_error=None)
                .execution_options(synchronize_session=False)
            )
            result = DeliveryAttempt(claim.reference, claim.attempt, outcome, status)
        else:
            next_at = finished + timedelta(seconds=delay)
            # Only while we still own the row: if the lease lapsed, the newer claim decides.
            db.execute(
                update(HandoffOutbox)
                .where(
                    HandoffOutbox.id == claim.outbox_id,
                    HandoffOutbox.attempts == claim.attempt,
                    HandoffOutbox.state == DeliveryState.PENDING.value,
                )
                .values(next_attempt_at=next_at, last_error=error)
                .execution_options(synchronize_session=False)
            )
            result = DeliveryAttempt(claim.reference, claim.attempt, outcome, status, error, next_at)
    level = logging.INFO if outcome == "delivered" else logging.WARNING
    log.log(level, "handoff %s attempt %d: %s%s", claim.reference, claim.attempt, outcome,
            f" ({error}), next attempt at {result.next_attempt_at.isoformat()}" if error else "")
    return result


def deliver_due(settings: Settings, now: Optional[datetime] = None, limit: int = 50,
                policy: Optional[RetryPolicy] = None,
                http: Optional[requests.Session] = None) -> DeliveryReport:
    """One pass: sends every due outbox row (up to `limit`) and records the outcome.

    `now` pins the clock (tests); by default the real time is used.
    """
    if not settings.handoff_webhook_url:
        return DeliveryReport(webhook_configured=False)
    policy = policy or RetryPolicy()
    report = DeliveryReport(webhook_configured=True)
    claims = claim_due(settings, now or utcnow(), limit, policy)
    if not claims:
        return report
    own_http = http is None
    http = http or requests.Session()
    try:
        for claim in claims:
            report.attempts.append(_deliver_one(http, settings, claim, now, policy))
    finally:
        if own_http:
            http.close()
    return report


def run_delivery_loop(settings: Settings, stop_event: threading.Event, interval_s: float = 5.0,
                      policy: Optional[RetryPolicy] = None, limit: int = 50) -> None:
    """Delivers until `stop_event` is set: for a background thread or `deliver --loop`."""
    if not settings.handoff_webhook_url:
        log.info("no handoff webhook configured: handoffs wait in the agent view")
    http = requests.Session()  # keeps the connection to the helpdesk alive between passes
    try:
        while not stop_event.is_set():
            backlog = False
            try:
                report = deliver_due(settings, limit=limit, policy=policy, http=http)
                backlog = len(report.attempts) >= limit
            except Exception:  # database down, a bug: log, keep the loop alive, leases expire
                log.exception("handoff delivery pass failed; next pass in %.0f s", interval_s)
            if not backlog:
                stop_event.wait(interval_s)
    finally:
        http.close()
