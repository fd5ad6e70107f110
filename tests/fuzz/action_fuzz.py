"""Hostile messages straight into the actions, as the action server would call them, on a real database.

Each generated case is a conversation context (hostile metadata and identity, entities and slots:
what `/inform{json}` and a broken or malicious client can put there) with ten hostile messages.
Each message goes through `action_check_session`, the handoff form's slot choice and its four
validators; one case in eight then submits a handoff with the values the validators let through.
Actions run their `handle` (not the apology wrapper), so any exception fails here rather than
turning into an apology. (Ten messages per case: generating the context is what costs time.)
"""
from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.check_session import ActionCheckSession
from actions.common import identity_of
from actions.handoff import ActionSubmitHandoff, ValidateHandoffForm
from bot.domain.outcomes import Outcome
from bot.store.models import Handoff
from bot.store.seed import LOCATIONS
from bot.settings import PROJECT_ROOT, Settings
from tests.fuzz.charging_snapshot import handoffs, snapshot
from tests.fuzz.hostile import Claim, json_value, message_text, metadata

INTENTS = ["session_still_active", "ask_why_still_active", "ask_billing_impact", "ask_update_time",
           "cannot_start_session", "request_human", "kwh_increasing", "kwh_not_increasing", "inform", "greet",
           "goodbye", "affirm", "deny", "thank", "bot_challenge", "out_of_scope", "nlu_fallback", "restart"]
ENTITIES = ["card_number", "session_id", "evse_id", "location", "time", "operator", "step"]
# Slots a driver can fill (from entities, and `/inform{json}` makes those any JSON value) ...
DRIVER_SLOTS = ["card_number", "session_id", "evse_id", "location", "time", "operator"]
FORM_SLOTS = ["card_number", "location", "time", "session_id"]
MESSAGES_PER_TURN = 10
# Lengths of the handoff record's columns: PostgreSQL refuses anything longer.
COLUMN_LENGTHS = {slot: Handoff.__table__.c[column].type.length for slot, column in
                  {"card_number": "card_number", "location": "location", "time": "session_time",
                   "session_id": "session_id"}.items()}
# Station names and addresses: an answer may show them only to the account whose session was there
# (except those the assistant's own wording uses as examples, like "Jaarbeurs P3, Utrecht").
_WORDING = "".join(path.read_text() for path in [PROJECT_ROOT / "domain.yml", PROJECT_ROOT / "bot" / "conversation" / "texts" / "en.yml",
                                                  *sorted((PROJECT_ROOT / "actions").glob("*.py"))])
SEEDED_PLACES = {place for loc in LOCATIONS for place in (loc[2], loc[3]) if place not in _WORDING}
# What a form answer may set besides its field (bot.conversation.handoff_fields.interpret_answer).
FORM_SIDE_SLOTS = ("advice", "handoff_leaving", "foreign_session_id")
# Never in an answer: technical detail.
TECHNICAL = ("Traceback", 'File "', "Exception", "Error:", "sqlalchemy", "psycopg", "sqlite", "NoneType", "KeyError")

slot_value = st.one_of(json_value, message_text)
# ... and slots only the actions or Rasa set (custom or intent mappings): the shapes they really take.
SYSTEM_SLOTS = {
    "cannot_start": st.sampled_from([None, True]),
    "kwh_reported": st.sampled_from([None, "rising", "flat"]),
    "step": st.sampled_from([None, *(s.value for s in Outcome)]),
    "handoff_reference": st.one_of(st.none(), st.from_regex(r"HO-[2-9A-Z]{6}", fullmatch=True)),
    "requested_slot": st.sampled_from([None, "card_number", "location", "time", "session_id"]),
}
slots = st.tuples(st.dictionaries(st.sampled_from(DRIVER_SLOTS), slot_value, max_size=6),
                  st.fixed_dictionaries({}, optional=SYSTEM_SLOTS)).map(lambda pair: {**pair[0], **pair[1]})


@dataclass
class Turn:
    texts: List[str]
    intent: Optional[str]
    entities: List[Dict[str, Any]]
    slots: Dict[str, Any]
    metadata: Any
    claim: Optional[Claim]
    earlier_metadata: Any  # an earlier message's, often with a valid token: it must not count now
    submit: bool

    def expected_account(self) -> Optional[str]:
        """The account identity_of must find: the current message's, if its token is genuinely valid.
        (A valid token on an earlier message proves nothing about who sends this one.)"""
        if isinstance(self.metadata, dict) and self.metadata.get("identity") and self.claim:
            return self.claim.account_id
        return None

    def tracker(self, sender: str, text: str, slots: Optional[Dict[str, Any]] = None) -> Tracker:
        latest = {"text": text, "intent": {"name": self.intent, "confidence": 0.9},
                  "entities": self.entities, "metadata": self.metadata}
        events = [
            {"event": "user", "text": "earlier", "timestamp": 1_764_000_000.0, "metadata": self.earlier_metadata,
             "input_channel": "rest", "parse_data": {"text": "earlier"}},
            {"event": "user", "text": text, "timestamp": 1_764_000_060.0, "metadata": self.metadata,
             "input_channel": "rest", "parse_data": latest},
        ]
        return Tracker(sender, self.slots if slots is None else slots, latest, events, False, None, {},
                       "action_listen")


def turns(secret: str) -> st.SearchStrategy[Turn]:
    meta = metadata(secret)
    entity = st.builds(lambda name, value: {"entity": name, "value": value, "start": 0, "end": 1},
                       st.sampled_from(ENTITIES), slot_value)
    return st.builds(
        lambda texts, intent, entities, slots, now, earlier, submit: Turn(
            texts, intent, entities, slots, now[0], now[1], earlier[0], submit),
        st.lists(message_text, min_size=MESSAGES_PER_TURN, max_size=MESSAGES_PER_TURN), st.sampled_from(INTENTS + [None, ""]), st.lists(entity, max_size=3),
        slots, meta, meta, st.sampled_from([False] * 7 + [True]))


def _check_reply(messages: List[Dict[str, Any]], account: Optional[str], places_of: Dict[str, set]) -> None:
    assert messages, "no answer"
    for message in messages:
        text = message.get("text")
        assert isinstance(text, str) and text.strip(), message
        json.dumps(message)  # what the action server sends must serialise
        for word in TECHNICAL:
            assert word not in text, text
        allowed = places_of.get(account, set()) if account else set()
        for place in SEEDED_PLACES - allowed:
            assert place not in text, f"{'anonymous' if not account else account} shown {place!r}: {text!r}"


def run_action_fuzz(settings: Settings, messages: int, places_of: Dict[str, set], sender_prefix: str) -> Counter:
    """Runs at least `messages` hostile messages; returns what was done. Fails on the first misbehaviour."""
    stats: Counter = Counter()
    check, submit, form = ActionCheckSession(settings), ActionSubmitHandoff(settings), ValidateHandoffForm(settings)
    before = snapshot(settings)
    handoffs_before = len(handoffs(settings))
    submitted: Dict[str, Optional[str]] = {}

    @hypothesis_settings(max_examples=-(-messages // MESSAGES_PER_TURN), deadline=None, database=None,
                         print_blob=True, suppress_health_check=list(HealthCheck))
    @given(turn=turns(settings.identity_secret))
    def one_case(turn: Turn) -> None:
        stats["cases"] += 1
        sender = f"{sender_prefix}-{stats['cases']}"
        account = turn.expected_account()
        validated: Dict[str, Any] = {}
        for text in turn.texts:
            stats["messages"] += 1
            stats["logged_in" if account else "anonymous"] += 1
            tracker = turn.tracker(sender, text)
            found = identity_of(tracker, settings)
            assert (found.account_id if found else None) == account, "identity decided wrongly"

            dispatcher = CollectingDispatcher()
            events = asyncio.run(check.handle(dispatcher, tracker, {}))
            _check_reply(dispatcher.messages, account, places_of)
            assert all(isinstance(e, dict) and e.get("event") for e in events), events
            json.dumps(events)

            asked = asyncio.run(form.required_slots(FORM_SLOTS, CollectingDispatcher(), tracker, {}))
            assert set(asked) <= set(FORM_SLOTS)
            for slot in FORM_SLOTS:
                # What Rasa can put there: the message itself (from_text), the slot, an entity of its name.
                for value in [text, turn.slots.get(slot), *(e["value"] for e in turn.entities if e["entity"] == slot)]:
                    result = getattr(form, f"validate_{slot}")(value, CollectingDispatcher(), tracker, {})
                    # The field, and at most what the answer also said: a question answered, leaving, a foreign ID.
                    assert slot in result and set(result) <= {slot, *FORM_SIDE_SLOTS}, result
                    kept = result[slot]
                    # What the form keeps must fit the handoff record's column (PostgreSQL refuses NUL too).
                    assert kept is None or (isinstance(kept, str) and len(kept) <= COLUMN_LENGTHS[slot]
                                            and "\x00" not in kept), (slot, kept)
                    if kept is not None:
                        validated[slot] = kept
                    stats["validations"] += 1

        if turn.submit:
            slots = dict(turn.slots, **{slot: validated.get(slot) for slot in FORM_SLOTS})
            dispatcher = CollectingDispatcher()
            asyncio.run(submit.handle(dispatcher, turn.tracker(sender, turn.texts[-1], slots), {}))
            assert "Your reference is HO-" in dispatcher.messages[-1]["text"], dispatcher.messages
            submitted[sender] = account
            stats["handoffs"] += 1

    one_case()
    assert snapshot(settings) == before, "hostile input changed the charging database"
    new = handoffs(settings)[handoffs_before:]
    assert {h.conversation_id: h.account_id for h in new} == submitted, "a handoff nobody legitimately asked for"
    assert all(isinstance(h, Handoff) and h.channel == "rest" for h in new)
    return stats
