"""One STOP_SESSION attempt from start to end: reserve, send, wait for the result, confirm, fall back.

1. The audit row is reserved first (one per session, by a unique constraint): a repeat is refused here.
2. The command goes to the own stations' CPO with a `response_url` on our receiver.
3. If the CPO accepted it, we wait for the CommandResult the receiver stores, at most the shorter of the
   CPO's timeout and ours; none in time counts as unknown.
4. An ACCEPTED result is not yet success: the data must show the end (the session COMPLETED, a CDR, the
   EVSE AVAILABLE as pushed to our receiver, or the CPO's Sessions module saying COMPLETED).
5. A refusal takes the configured fallback (back-office close or handoff); every step lands in the audit row.

Blocking (it waits for the charger); the action server calls it off its event loop.
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Optional

from bot.domain.clock import utcnow
from bot.domain.outcomes import ProviderOutcome
from bot.domain.stop_command import STOP_SESSION, NextStep, StopOutcome, next_step, outcome_of
from bot.integrations.ocpi_client import OcpiError
from bot.integrations.ocpi_commands import send_stop_session
from bot.integrations.provider_status import check_provider
from bot.settings import Settings
from bot.store import stop_commands
from bot.store.db import session_scope

log = logging.getLogger(__name__)

POLL_S = 0.25  # how often the receiver's tables are read while waiting


@dataclass(frozen=True)
class StopRequest:
    session_id: str
    account_id: str  # the verified account that asked (the audit's "who")
    final_kwh: float  # the last meter value: what is billed, and what a back-office close records
    ended_at: datetime  # when energy stopped (the last reading): a back-office close's end time
    start: datetime
    location_id: Optional[str]
    evse_uid: Optional[str]


@dataclass(frozen=True)
class StopReport:
    outcome: StopOutcome
    next_step: NextStep
    uid: Optional[str] = None
    response: Optional[str] = None
    result: Optional[str] = None
    confirmed_by: Optional[str] = None


def response_url(settings: Settings, uid: str) -> str:
    return f"{settings.ocpi_receiver.public_url}/ocpi/emsp/2.2.1/commands/{STOP_SESSION}/{uid}"


def stop_session(settings: Settings, request: StopRequest, clock: Callable[[], datetime] = utcnow) -> StopReport:
    stop = settings.stop
    if not stop.enabled:
        raise RuntimeError("no own CPO endpoint configured (BOT_OWN_CPO_OCPI_URL, BOT_OWN_CPO_TOKEN)")
    uid = uuid.uuid4().hex.upper()  # upper case: the receiver stores OCPI ids (CiStrings) upper case
    with session_scope(settings) as db:
        if not stop_commands.reserve_attempt(db, uid, STOP_SESSION, request.session_id, request.account_id, clock()):
            return StopReport(StopOutcome.ALREADY_TRIED, NextStep.HANDOFF)

    response = timeout = message = error = None
    try:
        answer = send_stop_session(stop.cpo_ocpi_url, stop.cpo_token, request.session_id, response_url(settings, uid),
                                   stop.request_timeout_s)
        response, timeout, message = answer.result, answer.timeout_s, answer.message
    except OcpiError as exc:
        error = f"{type(exc).__name__}: {exc}"
        log.warning("STOP_SESSION %s: no usable answer from the CPO (%s)", uid, type(exc).__name__)
    with session_scope(settings) as db:
        stop_commands.record_response(db, uid, response, timeout, message, error)

    result = result_at = confirmed_by = None
    if response == "ACCEPTED":
        # A timeout of 0 from the CPO gives no bound of its own: ours applies.
        wait_s = min(stop.result_timeout_s, timeout) if timeout else stop.result_timeout_s
        received = _wait_for_result(settings, uid, wait_s)
        if received is not None:
            result, result_at = received.result, received.received_at
    if result == "ACCEPTED":
        confirmed_by = _wait_for_end(settings, request, stop.confirm_timeout_s)

    outcome = outcome_of(response, result, confirmed_by is not None)
    step = next_step(outcome, stop.fallback)
    with session_scope(settings) as db:
        if step is NextStep.TELL_STOPPED:
            stop_commands.mark_stopped(db, request.session_id, request.final_kwh, clock())
        if step is NextStep.BACK_OFFICE_CLOSE:
            stop_commands.back_office_close(db, uid, request.session_id, request.final_kwh, request.ended_at,
                                            f"STOP_SESSION {outcome.value}: response {response}, result {result}",
                                            clock())
        stop_commands.record_outcome(db, uid, result, result_at, confirmed_by, outcome.value, step.value, clock())
    return StopReport(outcome, step, uid, response, result, confirmed_by)


def _wait_for_result(settings: Settings, uid: str, wait_s: float) -> Optional[stop_commands.ReceivedResult]:
    deadline = time.monotonic() + wait_s
    while True:
        with session_scope(settings) as db:
            received = stop_commands.received_result(db, STOP_SESSION, uid)
        if received is not None or time.monotonic() >= deadline:
            return received
        time.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))


def _wait_for_end(settings: Settings, request: StopRequest, wait_s: float) -> Optional[str]:
    """What shows the session has ended, within `wait_s`: first what the CPO pushed to our receiver, then
    its Sessions module (the CPO may settle the session before it pushes anything)."""
    deadline = time.monotonic() + wait_s
    parties = settings.policy.own_party_ids
    while True:
        with session_scope(settings) as db:
            why = stop_commands.ended_in_received_data(db, request.session_id, parties, request.location_id,
                                                       request.evse_uid)
        if why is not None:
            return why
        left = deadline - time.monotonic()
        if left > 0.2:
            view = check_provider(settings.stop.cpo_ocpi_url, settings.stop.cpo_token, request.session_id,
                                  None, request.start, timeout_s=min(left, settings.stop.request_timeout_s))
            if view.outcome is ProviderOutcome.COMPLETED:
                return "cpo_session"
        if time.monotonic() >= deadline:
            return None
        time.sleep(min(POLL_S * 2, max(0.0, deadline - time.monotonic())))
