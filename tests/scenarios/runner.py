"""Runs the scenario suite (FORMAT.md beside this file) against a running stack of the assistant.

Plain Python, no pytest: `tests/scenarios/test_scenarios.py` and `make bench` (bench/__main__.py) both
call `run_suite`. Each scenario is a new conversation (fresh random sender ID) sent turn by turn through
the REST channel. The checks read state, never wording:

- the conversation's events from Rasa's SQL tracker store (table `events`), replayed as Rasa does
  (restart / session start reset, undo and rewind revert) for slots, the active loop and pause;
- the handoff record (`bot.store.models.Handoff`, by conversation ID) from the charging database;
- the bot's replies only for the data checks (`no_session_data_shown`, `hidden_sessions`,
  `reminds_reference`, `no_repeat`) and, where the domain has no `pending_question` slot yet, the
  offered buttons as the proxy FORMAT.md allows for `asks`.

From the command line, against servers you started yourself (e.g. `make serve`):

    .venv/bin/python -m tests.scenarios.runner --url http://127.0.0.1:5005 \
        --tracker-url sqlite:///var/tracker.db --database-url sqlite:///var/charging.db --secret "$BOT_IDENTITY_SECRET"
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple
from zoneinfo import ZoneInfo

import requests
import yaml
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine

from bot.conversation.texts import languages
from bot.domain.language import detect_language
from bot.domain.identity import mint_token
from bot.domain.outcomes import Outcome
from bot.settings import PROJECT_ROOT, Settings, settings_from_env
from bot.store.db import session_scope
from bot.store.models import Account, ChargingSession, Evse, Handoff, Location
from bot.store.seed import SCENARIOS as DEMO_ACCOUNTS

SCENARIO_DIR = Path(__file__).resolve().parent
REST_PATH = "/webhooks/rest/webhook"
CLASS_ORDER = ["A", "B", "C", "D", "E", "F", "G", "H", "baseline"]

# FORMAT.md "Step values" -> the `step` slot values (bot.domain.outcomes.Outcome) that mean it.
STEP_SLOT_VALUES: Dict[str, Tuple[Outcome, ...]] = {
    "wait_for_auto_close": (Outcome.WAIT,),
    "still_charging": (Outcome.STILL_CHARGING,),
    "check_kwh": (Outcome.CHECK_KWH,),
    "handoff_own_station": (Outcome.OWN_STATION_PERSON,),
    "other_provider": (Outcome.OTHER_PROVIDER,),
    "anonymous_guidance": (Outcome.ANONYMOUS,),
    "no_active_session": (Outcome.NO_SESSION, Outcome.NOT_ACTIVE),
    "choose_session": (Outcome.CHOOSE_SESSION,),
    "unknown_session": (Outcome.UNKNOWN_SESSION,),
    "provider_completed": (Outcome.PROVIDER_COMPLETED,),
}
STEP_OF_SLOT = {outcome.value: step for step, outcomes in STEP_SLOT_VALUES.items() for outcome in outcomes}
FORM = "handoff_form"
FORM_SLOTS = ("card_number", "location", "time", "session_id")
PENDING_QUESTIONS = ("kwh_trend", "which_session", "confirm_handoff")
# A stored field that holds no real value (FORMAT.md `absent`); `not_known` is the "don't have it" marker.
ABSENT_MARKERS = {"", "not known", "not_known", "unknown", "not given", "not_given", "none", "null", "n/a", "-"}
NOT_KNOWN_MARKERS = {"not known", "not_known", "unknown", "not given", "not_given"}
APPROXIMATE = re.compile(r"approx|unknown|not known|~|\bca\.|around|about|date only|no time", re.I)
ISO = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?")
SESSION_PAYLOAD = re.compile(r"SES-\d+", re.I)
DAY = re.compile(r"^day:(-?\d+)(?: (\d{2}):(\d{2}))?$")


# --------------------------------------------------------------------------------------------- loading

# A scenario in one of these languages must end with the assistant answering in it (`mixed` may end in either).
ANSWERED_IN = languages()

@dataclass(frozen=True)
class Scenario:
    name: str
    cls: str
    lang: str
    account: Optional[str]  # demo account ID; None: anonymous
    turns: Tuple[Mapping[str, Any], ...]
    expect: Mapping[str, Any]
    file: str
    locale: Optional[str] = None  # the app's locale sent as metadata.locale with every turn


def load_scenarios(directory: Path = SCENARIO_DIR) -> List[Scenario]:
    out = []
    for path in sorted(directory.glob("*.yml")):
        for raw in yaml.safe_load(path.read_text()) or []:
            out.append(Scenario(name=raw["name"], cls=str(raw["class"]), lang=raw.get("lang", "en"),
                                account=raw.get("as"), turns=tuple(raw["turns"]), expect=raw.get("expect") or {},
                                file=path.name, locale=raw.get("locale")))
    return out


def domain_has_slot(name: str, domain_file: Path = PROJECT_ROOT / "domain.yml") -> bool:
    try:
        return name in ((yaml.safe_load(domain_file.read_text()) or {}).get("slots") or {})
    except (OSError, yaml.YAMLError):
        return True


# ---------------------------------------------------------------------------------------------- target

@dataclass
class Target:
    """A running stack: where to talk to it and where its state is stored."""

    url: str
    tracker_url: str  # Rasa's SQL tracker store (TRACKER_STORE_URL)
    settings: Settings  # the charging database (handoff records, the seeded data) and the time zone
    secret: str  # BOT_IDENTITY_SECRET, to mint the demo accounts' identity tokens
    timeout_s: float = 60.0
    _engine: Optional[Engine] = field(default=None, repr=False)

    @classmethod
    def from_env(cls, url: str, env: Mapping[str, str]) -> "Target":
        return cls(url=url, tracker_url=env["TRACKER_STORE_URL"], settings=settings_from_env(env),
                   secret=env["BOT_IDENTITY_SECRET"])

    @property
    def tracker(self) -> Engine:
        if self._engine is None:
            args = {"timeout": 30, "check_same_thread": False} if self.tracker_url.startswith("sqlite") else {}
            self._engine = create_engine(self.tracker_url, connect_args=args)
        return self._engine


def token_for(account: str, secret: str) -> str:
    demo = next(d for d in DEMO_ACCOUNTS if d.account_id == account)
    return mint_token(demo.account_id, [demo.card], secret, timedelta(hours=2))


# ----------------------------------------------------------------------------------------------- state

def read_events(target: Target, sender: str) -> List[Dict[str, Any]]:
    with target.tracker.connect() as conn:
        rows = conn.execute(text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"), {"s": sender})
        return [json.loads(row[0]) for row in rows]


def _undo_till(kind: str, done: List[Dict[str, Any]]) -> None:
    while done:
        if done.pop().get("event") == kind:
            return


def applied_events(events: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The events still in effect, as rasa.shared.core.trackers.DialogueStateTracker.applied_events."""
    done: List[Dict[str, Any]] = []
    for event in events:
        kind = event.get("event")
        if kind in ("restart", "session_started"):
            done = []
        elif kind == "undo":
            _undo_till("action", done)
        elif kind == "rewind":
            _undo_till("user", done)
            _undo_till("action", done)
        else:
            done.append(event)
    return done


@dataclass
class State:
    slots: Dict[str, Any]
    active_loop: Optional[str]
    paused: bool
    session: Optional[str]  # slot `session_id`: the session the latest assessment was about
    requested: List[str]  # every `requested_slot` value the conversation ever had


def replay(events: Sequence[Dict[str, Any]]) -> State:
    slots: Dict[str, Any] = {}
    loop: Optional[str] = None
    paused = False
    for event in applied_events(events):
        kind = event.get("event")
        if kind == "slot":
            slots[event.get("name")] = event.get("value")
        elif kind == "reset_slots":
            slots = {}
        elif kind == "active_loop":
            loop = event.get("name")
        elif kind == "pause":
            paused = True
        elif kind == "resume":
            paused = False
    requested = [e.get("value") for e in events if e.get("event") == "slot" and e.get("name") == "requested_slot"]
    return State(slots, loop, paused, slots.get("session_id"), [r for r in requested if r])


def handoff_record(target: Target, sender: str) -> Optional[Dict[str, Any]]:
    with session_scope(target.settings) as db:
        row = db.execute(select(Handoff).where(Handoff.conversation_id == sender).order_by(Handoff.id.desc())
                         ).scalars().first()
        if row is None:
            return None
        return {"reference": row.reference, "account": row.account_id, "card": row.card_number,
                "location": row.location, "time": row.session_time, "session_id": row.session_id,
                "reason": row.reason, "findings": row.findings or {}}


# ------------------------------------------------------------------------------------ seeded data facts

@dataclass(frozen=True)
class SessionData:
    session_id: str
    account: str
    holder: str
    location: str
    address: str
    city: str
    evse_id: str
    start: datetime
    kwh: float


def seeded_sessions(settings: Settings) -> List[SessionData]:
    accounts = [d.account_id for d in DEMO_ACCOUNTS]
    with session_scope(settings) as db:
        rows = db.execute(
            select(ChargingSession, Location, Evse, Account)
            .join(Location, ChargingSession.location_id == Location.id)
            .join(Evse, ChargingSession.evse_uid == Evse.uid)
            .join(Account, ChargingSession.account_id == Account.id)
            .where(ChargingSession.account_id.in_(accounts))).all()
        return [SessionData(s.id, s.account_id, a.name, loc.name, loc.address, loc.city, e.evse_id,
                            s.start_datetime, s.kwh) for s, loc, e, a in rows]


def _alnum(value: str) -> str:
    return re.sub(r"[\W_]+", "", value.lower())


def _kwh_forms(value: float) -> List[str]:
    forms = {f"{value:.1f}", f"{value:.1f}".replace(".", ","), f"{value:.2f}", f"{value:g}"}
    return sorted(forms, key=len, reverse=True)


def leaked(bot_texts: Sequence[str], user_texts: Sequence[str], session: SessionData, tz: ZoneInfo,
           kinds: Iterable[str], skip: Iterable[str] = ()) -> List[str]:
    """What of `session` the bot's messages contain that the driver did not type themselves."""
    said_lower = " ".join(user_texts).lower()
    said_alnum = _alnum(" ".join(user_texts))
    skip = set(skip)
    found = []
    strings = {"session_id": session.session_id, "location": session.location, "address": session.address,
               "city": session.city, "evse_id": session.evse_id, "holder": session.holder}
    for kind in kinds:
        if kind in strings:
            value = strings[kind]
            if value in skip or _alnum(value) in said_alnum:
                continue
            if any(value.lower() in t.lower() for t in bot_texts):
                found.append(f"{session.session_id} {kind} {value!r}")
        elif kind == "kwh":
            forms = _kwh_forms(session.kwh)
            if f"kwh:{session.kwh}" in skip or any(re.search(rf"(?<![\d.,]){re.escape(f)}(?![\d])", said_lower)
                                                   for f in forms):
                continue
            pattern = re.compile("|".join(rf"(?<![\d.,]){re.escape(f)}\s*kwh" for f in forms), re.I)
            if any(pattern.search(t) for t in bot_texts):
                found.append(f"{session.session_id} kWh {session.kwh}")
        elif kind == "start":
            local = session.start.astimezone(tz)
            clock = local.strftime("%H:%M")
            if clock in said_lower or f"start:{clock}" in skip:
                continue
            days = {local.strftime("%d %b").lower(), f"{local.day} {local.strftime('%b')}".lower(),
                    local.strftime("%a ").lower(), local.strftime("%A").lower(), local.date().isoformat()}
            if any(clock in t and any(d in t.lower() for d in days) for t in bot_texts):
                found.append(f"{session.session_id} start {local.isoformat(timespec='minutes')}")
    return found


# ------------------------------------------------------------------------------------------- checking

@dataclass
class Point:
    """What is known at one check point (after a turn)."""

    turn: int  # 1-based; the scenario's last turn for `expect`
    state: State
    record: Optional[Dict[str, Any]]
    turn_messages: List[Dict[str, Any]]
    today: date  # the conversation's first turn, in the stack's time zone


def _asks(point: Point, use_pending_slot: bool) -> str:
    slots = point.state.slots
    if point.state.active_loop == FORM:
        requested = slots.get("requested_slot")
        if requested in FORM_SLOTS:
            return requested
    pending = slots.get("pending_question")
    if pending in PENDING_QUESTIONS:
        return pending
    if not use_pending_slot:  # FORMAT.md: the offered buttons stand in where the state does not exist yet
        payloads = [b.get("payload") or "" for m in point.turn_messages for b in (m.get("buttons") or [])]
        if any(p.startswith("/kwh_") for p in payloads):
            return "kwh_trend"
        if any(SESSION_PAYLOAD.search(p) for p in payloads):
            return "which_session"
    if point.state.active_loop == FORM:
        return f"handoff_form without a form question (requested_slot={slots.get('requested_slot')!r})"
    return "nothing"


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in ABSENT_MARKERS)


def _check_time(expected: str, stored: Any, tz: ZoneInfo, today: date, user_texts: Sequence[str]) -> Optional[str]:
    """None when `stored` matches FORMAT.md's `day:N[ HH:MM]`, else why not."""
    m = DAY.match(expected)
    if m is None:
        return f"bad expectation {expected!r}"
    if not isinstance(stored, str):
        return "no time stored"
    iso = ISO.search(stored)
    if iso is None:
        return "not ISO 8601"
    day = today + timedelta(days=int(m.group(1)))
    if iso.group(2) is None:  # a plain date: no clock time claimed
        if m.group(2):
            return "a date without the expected clock time"
        return None if iso.group(1) == day.isoformat() else f"date is not {day.isoformat()}"
    moment = datetime.fromisoformat(iso.group(0).replace("Z", "+00:00").replace(" ", "T"))
    moment = moment.replace(tzinfo=tz) if moment.tzinfo is None else moment.astimezone(tz)
    if moment.date() != day:
        return f"falls on {moment.date().isoformat()}, not {day.isoformat()}"
    if m.group(2):
        want = f"{m.group(2)}:{m.group(3)}"
        return None if moment.strftime("%H:%M") == want else f"clock {moment.strftime('%H:%M')}, not {want}"
    if APPROXIMATE.search(stored[iso.end():] + stored[:iso.start()]):
        return None  # a time marked approximate or unknown
    if moment.strftime("%H:%M") == "00:00":
        said_midnight = any("midnight" in t.lower() for t in user_texts)
        return None if said_midnight else "claims 00:00 (a bare date read as midnight)"
    return f"claims a clock time ({moment.strftime('%H:%M')}) the driver did not give"


def _check_field(key: str, expected: Any, record: Dict[str, Any], tz: ZoneInfo, today: date,
                 user_texts: Sequence[str]) -> Optional[str]:
    stored = record.get(key)
    if expected == "present":
        return None if not _absent(stored) else "absent"
    if expected == "absent":
        return None if _absent(stored) else "present"
    if key == "location":
        spec = expected if isinstance(expected, dict) else {"contains": [expected]}
        have = (stored or "").lower() if isinstance(stored, str) else ""
        missing = [c for c in spec.get("contains", []) if str(c).lower() not in have]
        extra = [c for c in spec.get("not_contains", []) if str(c).lower() in have]
        if missing or extra:
            return "; ".join(filter(None, [missing and f"lacks {missing}", extra and f"contains {extra}"]))
        return None
    if key == "time":
        return _check_time(str(expected), stored, tz, today, user_texts)
    if key == "session_id" and expected == "not_known":
        return None if isinstance(stored, str) and stored.strip().lower() in NOT_KNOWN_MARKERS else "not the marker"
    if key == "card" and isinstance(stored, str) and "@" in str(expected):
        return None if stored.strip().lower() == str(expected).lower() else "differs"
    if key == "session_id" and isinstance(stored, str):
        return None if stored.strip().upper() == str(expected).upper() else "differs"
    return None if stored == expected else "differs"


def check_point(checks: Mapping[str, Any], point: Point, scenario: Scenario, use_pending_slot: bool,
                tz: ZoneInfo, user_texts: Sequence[str]) -> List[Dict[str, Any]]:
    """The failed checks of one `expect_after` / `expect` mapping (whole-conversation keys excluded)."""
    failures = []

    def fail(check: str, expected: Any, got: Any) -> None:
        failures.append({"at": f"turn {point.turn}", "check": check, "expected": expected, "got": got})

    slots, record = point.state.slots, point.record
    for key, expected in checks.items():
        if key == "step":
            value = slots.get("step")
            got = STEP_OF_SLOT.get(value, value)
            if got != expected:
                fail(key, expected, got if value is None else f"{got} (step={value})")
        elif key == "session":
            if (point.state.session or "").upper() != str(expected).upper():
                fail(key, expected, point.state.session)
        elif key == "advice":
            if slots.get("advice") != expected:
                fail(key, expected, slots.get("advice"))
        elif key == "handoff":
            if (record is not None) != expected:
                fail(key, expected, record is not None)
        elif key == "handoff_fields":
            if record is None:
                fail(key, expected, "no handoff record")
                continue
            for name, want in expected.items():
                why = _check_field(name, want, record, tz, point.today, user_texts)
                if why:
                    fail(f"handoff_fields.{name}", want, f"{record.get(name)!r}: {why}")
        elif key == "handoff_flags":
            flags = list((record or {}).get("findings", {}).get("flags") or []) if record else None
            if record is None or not set(expected) <= set(flags or []):
                fail(key, expected, flags if record else "no handoff record")
        elif key == "paused":
            if point.state.paused != expected:
                fail(key, expected, point.state.paused)
        elif key == "form":
            got = FORM if point.state.active_loop == FORM else (point.state.active_loop or "none")
            if got != expected:
                fail(key, expected, got)
        elif key == "asks":
            got = _asks(point, use_pending_slot)
            if got != expected:
                fail(key, expected, got)
        elif key == "reminds_reference":
            said = " ".join(m.get("text") or "" for m in point.turn_messages)
            if not said.strip():
                fail(key, True, "silent")
            elif record is None:
                fail(key, True, "no handoff record")
            elif record["reference"] not in said:
                fail(key, True, f"reply lacks {record['reference']}")
            elif not point.state.paused:
                fail(key, True, "reference given but the conversation is not paused")
    return failures


# -------------------------------------------------------------------------------------------- running

def run_scenario(scenario: Scenario, target: Target, sessions: Sequence[SessionData], use_pending_slot: bool
                 ) -> Dict[str, Any]:
    tz = ZoneInfo(target.settings.timezone)
    sender = f"scn-{uuid.uuid4().hex[:12]}"
    today = datetime.now(tz).date()
    metadata = {"identity": token_for(scenario.account, target.secret)} if scenario.account else {}
    if scenario.locale:
        metadata["locale"] = scenario.locale
    http = requests.Session()
    failures: List[Dict[str, Any]] = []
    transcript: List[Dict[str, Any]] = []
    user_texts: List[str] = []
    session_values: List[Optional[str]] = []
    point: Optional[Point] = None
    started = time.monotonic()
    for number, turn in enumerate(scenario.turns, start=1):
        body: Dict[str, Any] = {"sender": sender, "message": turn["user"]}
        if metadata:
            body["metadata"] = metadata
        try:
            response = http.post(target.url.rstrip("/") + REST_PATH, json=body, timeout=target.timeout_s)
            response.raise_for_status()
            messages = response.json()
        except (requests.RequestException, ValueError) as error:
            failures.append({"at": f"turn {number}", "check": "http", "expected": "an answer",
                             "got": f"{type(error).__name__}: {error}"})
            break
        user_texts.append(turn["user"])
        transcript.append({"user": turn["user"],
                           "bot": [m.get("text") or "" for m in messages if m.get("text")],
                           "buttons": [b.get("payload") for m in messages for b in (m.get("buttons") or [])]})
        point = Point(number, replay(read_events(target, sender)), handoff_record(target, sender), messages, today)
        session_values.append(point.state.session)
        if turn.get("expect_after"):
            failures += check_point(turn["expect_after"], point, scenario, use_pending_slot, tz, user_texts)
    if point is not None and not any(f["check"] == "http" for f in failures):
        expect = dict(scenario.expect)
        whole = {k: expect.pop(k) for k in ("never_asks", "no_session_data_shown", "hidden_sessions", "no_repeat")
                 if k in expect}
        failures += [dict(f, at="end") for f in check_point(expect, point, scenario, use_pending_slot, tz, user_texts)]
        spoken = reply_language(transcript[-1]["bot"], point.state.slots.get("language"))
        if scenario.lang in ANSWERED_IN and spoken != scenario.lang:
            # The conversation answers in the driver's language (`mixed` may go either way).
            failures.append({"at": "end", "check": "language", "expected": scenario.lang, "got": spoken})
        failures += whole_conversation_checks(scenario, whole, point, transcript, user_texts, session_values,
                                              sessions, tz)
    return {"name": scenario.name, "class": scenario.cls, "lang": scenario.lang, "as": scenario.account or "anonymous",
            "file": scenario.file, "sender": sender, "passed": not failures, "failures": failures,
            "transcript": transcript, "seconds": round(time.monotonic() - started, 2),
            "final": None if point is None else {
                "step": point.state.slots.get("step"), "session": point.state.session,
                "advice": point.state.slots.get("advice"),
                "pending_question": point.state.slots.get("pending_question"),
                "requested_slot": point.state.slots.get("requested_slot"), "active_loop": point.state.active_loop,
                "paused": point.state.paused,
                "handoff": None if point.record is None else {k: v for k, v in point.record.items()
                                                             if k != "findings"} | {
                    "flags": point.record["findings"].get("flags")}}}


def reply_language(bot_texts: Sequence[str], slot: Optional[str]) -> Optional[str]:
    """The language of the assistant's last answer as the driver reads it (its slot `language` when
    the turn said nothing): a paused conversation's reminder follows the driver without any action."""
    said = " ".join(bot_texts)
    return detect_language(said, default=slot or "?", supported=ANSWERED_IN) if said.strip() else slot


def whole_conversation_checks(scenario: Scenario, checks: Mapping[str, Any], point: Point,
                              transcript: Sequence[Dict[str, Any]], user_texts: Sequence[str],
                              session_values: Sequence[Optional[str]], sessions: Sequence[SessionData],
                              tz: ZoneInfo) -> List[Dict[str, Any]]:
    failures = []
    bot_texts = [t for turn in transcript for t in turn["bot"]]
    if "never_asks" in checks:
        asked = sorted(set(checks["never_asks"]) & set(point.state.requested))
        if asked:
            failures.append({"at": "end", "check": "never_asks", "expected": checks["never_asks"], "got": asked})
    if scenario.account is None or checks.get("no_session_data_shown"):  # every anonymous scenario, always
        found = [f for s in sessions for f in leaked(
            bot_texts, user_texts, s, tz, ("session_id", "location", "address", "evse_id", "start", "kwh", "holder"))]
        if found:
            failures.append({"at": "end", "check": "no_session_data_shown", "expected": True, "got": found})
    if checks.get("hidden_sessions"):
        hidden = {s.upper() for s in checks["hidden_sessions"]}
        own = [s for s in sessions if s.account == scenario.account]
        shared = {v for s in own for v in (s.location, s.address, s.city, s.evse_id)}
        shared |= {f"kwh:{s.kwh}" for s in own} | {f"start:{s.start.astimezone(tz).strftime('%H:%M')}" for s in own}
        found = [f for s in sessions if s.session_id in hidden for f in leaked(
            bot_texts, user_texts, s, tz, ("location", "address", "city", "evse_id", "start", "kwh"), skip=shared)]
        chosen = sorted({v for v in session_values if v and v.upper() in hidden})
        if found or chosen:
            failures.append({"at": "end", "check": "hidden_sessions", "expected": sorted(hidden),
                             "got": found + [f"assessed {c}" for c in chosen]})
    if checks.get("no_repeat"):
        seen, repeated = set(), []
        for t in bot_texts:
            key = " ".join(t.split())
            if key in seen:
                repeated.append(key[:120])
            seen.add(key)
        if repeated:
            failures.append({"at": "end", "check": "no_repeat", "expected": True, "got": repeated})
    return failures


def run_suite(target: Target, scenarios: Optional[Sequence[Scenario]] = None, workers: int = 3,
              progress: Optional[Callable[[Dict[str, Any]], None]] = None) -> Dict[str, Any]:
    """Every scenario once, `workers` conversations at a time; the results and their summary."""
    scenarios = list(scenarios if scenarios is not None else load_scenarios())
    use_pending_slot = domain_has_slot("pending_question")
    sessions = seeded_sessions(target.settings)
    started = time.monotonic()

    def one(scenario: Scenario) -> Dict[str, Any]:
        try:
            result = run_scenario(scenario, target, sessions, use_pending_slot)
        except Exception as error:  # noqa: BLE001 - one broken scenario must not hide the others
            result = {"name": scenario.name, "class": scenario.cls, "lang": scenario.lang,
                      "as": scenario.account or "anonymous", "file": scenario.file, "passed": False,
                      "failures": [{"at": "-", "check": "runner", "expected": "-",
                                    "got": f"{type(error).__name__}: {error}"}], "transcript": []}
        if progress:
            progress(result)
        return result

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(one, scenarios))
    return {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seconds": round(time.monotonic() - started, 1),
            "asks_source": "pending_question slot" if use_pending_slot else "buttons (no pending_question slot yet)",
            "summary": summarize(results), "results": results}


# ------------------------------------------------------------------------------------------ reporting

def _rate(passed: int, total: int) -> Dict[str, Any]:
    return {"passed": passed, "total": total, "rate": round(passed / total, 4) if total else None}


def summarize(results: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    groups: Dict[str, Dict[str, List[bool]]] = {"class": defaultdict(list), "lang": defaultdict(list),
                                                "account": defaultdict(list)}
    for r in results:
        groups["class"][r["class"]].append(r["passed"])
        groups["lang"][r["lang"]].append(r["passed"])
        groups["account"][r["as"]].append(r["passed"])
    kinds = Counter(f["check"] + (f" expected {f['expected']}" if f["check"] in ("step", "asks", "form", "paused",
                                                                                  "handoff") else "")
                    for r in results for f in r["failures"])
    checks = Counter(f["check"] for r in results for f in r["failures"])
    order = {c: i for i, c in enumerate(CLASS_ORDER)}
    return {
        **_rate(sum(r["passed"] for r in results), len(results)),
        "per_class": {k: _rate(sum(v), len(v)) for k, v in sorted(groups["class"].items(),
                                                                  key=lambda kv: order.get(kv[0], 99))},
        "per_lang": {k: _rate(sum(v), len(v)) for k, v in sorted(groups["lang"].items())},
        "per_account": {k: _rate(sum(v), len(v)) for k, v in sorted(groups["account"].items())},
        "failed_checks": dict(checks.most_common()),
        "failure_kinds": dict(kinds.most_common(25)),
    }


def _pct(rate: Dict[str, Any]) -> str:
    return f"{rate['passed']:>4}/{rate['total']:<4} {100 * (rate['rate'] or 0):5.1f}%"


def format_report(suite: Dict[str, Any], failures: Optional[int] = None) -> str:
    """The pass-rate tables, then every failed scenario: which check, expected, got, and the bot's replies."""
    s = suite["summary"]
    lines = [f"Scenario suite: {_pct(s)} passed ({suite['seconds']} s; asks read from {suite['asks_source']})", ""]
    for title, key in (("class", "per_class"), ("language", "per_lang"), ("account", "per_account")):
        lines.append(f"  {title:<12} passed")
        lines += [f"  {name:<12} {_pct(rate)}" for name, rate in s[key].items()]
        lines.append("")
    lines.append("  most common failed checks:")
    lines += [f"  {n:>4}  {kind}" for kind, n in s["failure_kinds"].items()]
    failed = [r for r in suite["results"] if not r["passed"]]
    if failed:
        lines += ["", f"Failures ({len(failed)}):"]
    for r in failed[:failures]:
        lines.append(f"- [{r['class']}/{r['lang']}] {r['name']} ({r['file']}, as {r['as']}, sender {r.get('sender')})")
        for f in r["failures"]:
            lines.append(f"    {f['at']}: {f['check']}: expected {f['expected']!r}, got {f['got']!r}")
        for number, turn in enumerate(r["transcript"], start=1):
            lines.append(f"    {number}> {turn['user']}")
            for said in turn["bot"] or ["(no answer)"]:
                lines.append(f"       < {' '.join(said.split())[:300]}")
            if turn["buttons"]:
                lines.append(f"       [{' | '.join(turn['buttons'])}]")
    return "\n".join(lines)


def write_json(suite: Dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(suite, indent=2, default=str))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the Rasa server, e.g. http://127.0.0.1:5005")
    parser.add_argument("--tracker-url", required=True, help="its TRACKER_STORE_URL")
    parser.add_argument("--database-url", required=True, help="its BOT_DATABASE_URL (seeded demo data)")
    parser.add_argument("--secret", required=True, help="its BOT_IDENTITY_SECRET")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--only", default=None, help="run the scenarios whose name contains this")
    parser.add_argument("--json", type=Path, default=None, help="write the full results here")
    args = parser.parse_args(argv)
    target = Target(args.url, args.tracker_url, settings_from_env({"BOT_DATABASE_URL": args.database_url}),
                    args.secret)
    scenarios = [s for s in load_scenarios() if args.only is None or args.only in s.name]
    suite = run_suite(target, scenarios, workers=args.workers)
    print(format_report(suite))
    if args.json:
        write_json(suite, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
