"""Hostile messages through the REST channel of running Rasa servers.

Each generated case is a short conversation: sometimes an opener that puts the assistant into its
handoff form or its session check, then hostile messages (tests/fuzz/hostile.py) with hostile
metadata and identity, mixed with malformed requests (not JSON, not an object, bad sender, bad
message). Checked: no 5xx (malformed requests get 400, the rest 200), every message answered unless
the conversation was handed to a person, no internal error or technical detail shown, nobody shown
a station they have not proven is theirs, the charging database unchanged except by handoffs the
conversation could legitimately make, no traceback in the servers' logs, and normal answers
afterwards on every server.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set

import requests
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from bot.conversation import replies
from bot.rasa_plugins.channels import MAX_SENDER_LENGTH, admission_reply
from bot.apps.chat_client import REST_PATH
from bot.domain.identity import mint_token
from bot.store.seed import scenario
from bot.settings import ChannelLimits, Settings
from tests.conftest import TEST_SECRET
from tests.fuzz.action_fuzz import SEEDED_PLACES, TECHNICAL
from tests.fuzz.charging_snapshot import handoffs, places_by_account, snapshot
from tests.fuzz.hostile import Claim, json_value, message_text, metadata

APOLOGY = replies.action_failed()  # the action's apology, in English (the default)

PER_CASE = 4
OPENERS = [None, "I want to talk to a person", "my charging session is still active"]


@dataclass
class Message:
    """A well-formed request: {"sender", "message", "metadata"} (+ a forged "input_channel" sometimes)."""

    text: Optional[str]
    metadata: Any
    claim: Optional[Claim]
    forged_channel: bool


@dataclass
class Malformed:
    """A request the channel must refuse with 400."""

    body: bytes


def _dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


bad_sender = st.sampled_from([None, "", "a" * (MAX_SENDER_LENGTH + 1), "a\x00b", "line\nbreak", "\u202e",
                              True, 1.5, ["x"], {"id": "x"}])
malformed = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([b"", b"{", b"null", b"[]", b'"text"', b"42", b"{'sender': 'x'}", b'{"sender": "x",}']),
    json_value.filter(lambda v: not isinstance(v, dict)).map(_dumps),
    st.tuples(bad_sender, message_text).map(lambda p: _dumps(
        {"message": p[1]} if p[0] is None else {"sender": p[0], "message": p[1]})),
    json_value.filter(lambda v: v is not None and not isinstance(v, str)).map(
        lambda m: _dumps({"sender": "fuzz-bad-message", "message": m})),
).map(Malformed)
message = st.builds(lambda text, meta, forged: Message(text, meta[0], meta[1], forged),
                    st.one_of(message_text, st.none()), metadata(TEST_SECRET), st.sampled_from([False] * 3 + [True]))
case = st.tuples(st.sampled_from(OPENERS),
                 st.lists(st.sampled_from(["message"] * 3 + ["malformed"]).flatmap(
                     lambda kind: message if kind == "message" else malformed),
                     min_size=PER_CASE - 1, max_size=PER_CASE - 1))


def stored_by_rasa(text: Optional[str]) -> bool:
    """Whether the channel passes the message to Rasa (it answers empty, overlong and command ones itself)."""
    return admission_reply((text or "").replace("\x00", "")) is None


MAX_BODY = ChannelLimits().max_request_bytes  # larger bodies are refused with 413 before they are read


def traceback_count(path) -> int:
    return path.read_text(errors="replace").count("Traceback")


def run_rest_fuzz(rasa_urls: Sequence[str], settings: Settings, logs: Sequence[Path], messages: int,
                  sender_prefix: str) -> Counter:
    """Sends at least `messages` requests, each conversation's turns spread over `rasa_urls`; returns counts."""
    urls = [url + REST_PATH for url in rasa_urls]
    http = requests.Session()
    places_of = places_by_account(settings)
    before = snapshot(settings)
    handoffs_before = len(handoffs(settings))
    tracebacks_before = {log: traceback_count(log) for log in logs}
    stats: Counter = Counter()
    claimed: Dict[str, Set[str]] = defaultdict(set)  # sender -> accounts it validly proved
    quiet: Set[str] = set()  # senders that got no answer at all to some message

    def post(body: bytes) -> requests.Response:
        stats["requests"] += 1
        url = urls[stats["requests"] % len(urls)]
        response = http.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=60)
        assert response.status_code < 500, (response.status_code, response.text[:300])
        return response

    def check_answer(sender: str, answer: List[Dict[str, Any]], current: Optional[str]) -> None:
        if not answer:
            quiet.add(sender)
            return
        allowed = places_of.get(current, set()) if current else set()
        for reply in answer:
            assert reply.get("recipient_id") == sender, reply
            text = reply.get("text")
            assert isinstance(text, str) and text.strip(), reply
            assert text not in (replies.turn_failed().text, APOLOGY.text), f"internal error answering {sender}"
            for word in TECHNICAL:
                assert word not in text, text
            for place in SEEDED_PLACES - allowed:
                assert place not in text, f"{sender} ({current or 'anonymous'}) shown {place!r}: {text!r}"

    # Every case sends at least PER_CASE - 1 requests (the opener is optional).
    @hypothesis_settings(max_examples=-(-messages // (PER_CASE - 1)), deadline=None, database=None, print_blob=True,
                         suppress_health_check=list(HealthCheck))
    @given(conversation=case)
    def one_conversation(conversation) -> None:
        opener, items = conversation
        stats["cases"] += 1
        sender = f"{sender_prefix}-{stats['cases']}"
        if opener:
            check_answer(sender, post(_dumps({"sender": sender, "message": opener})).json(), None)
            stats["openers"] += 1
        for item in items:
            if isinstance(item, Malformed):
                response = post(item.body)
                expected = 413 if len(item.body) > MAX_BODY else 400
                assert response.status_code == expected, (item.body[:200], response.status_code, response.text[:200])
                stats["malformed"] += 1
                continue
            body: Dict[str, Any] = {"sender": sender, "message": item.text, "metadata": item.metadata}
            if item.forged_channel:
                body["input_channel"] = "socketio"
            # Only the message's own token counts (actions.common.identity_of).
            current = None
            if stored_by_rasa(item.text) and isinstance(item.metadata, dict) and item.metadata.get("identity"):
                current = item.claim.account_id if item.claim else None
                if current:
                    claimed[sender].add(current)
            payload = _dumps(body)
            response = post(payload)
            if len(payload) > MAX_BODY:
                assert response.status_code == 413, (response.status_code, response.text[:300])
                stats["too large (413)"] += 1
                continue
            assert response.status_code == 200, (response.status_code, response.text[:300])
            check_answer(sender, response.json(), current)
            stats["messages"] += 1
            stats["with valid token" if item.claim and item.claim.valid else "no valid token"] += 1

    one_conversation()
    assert stats["requests"] >= messages

    assert snapshot(settings) == before, "hostile input changed the charging database"
    new = handoffs(settings)[handoffs_before:]
    stats["handoffs"] = len(new)
    for record in new:
        assert record.conversation_id.startswith(sender_prefix), record.conversation_id
        assert record.channel == "rest", record.channel  # the forged input_channel is ignored
        assert record.account_id in claimed[record.conversation_id] | {None}, "handoff for an unproven account"
    assert quiet <= {record.conversation_id for record in new}, "silence without a handoff"
    for log in logs:
        assert traceback_count(log) == tracebacks_before[log], f"traceback in {log}"

    # Still answering normally.
    s = scenario("wait")
    token = mint_token(s.account_id, [s.card], TEST_SECRET, timedelta(minutes=5))
    for number, url in enumerate(urls):
        assert "72 hours" in " ".join(m["text"] for m in http.post(url, json={
            "sender": f"{sender_prefix}-after-{number}", "message": "my charging session is still active"},
            timeout=60).json())
        assert "SES-100001" in " ".join(m["text"] for m in http.post(url, json={
            "sender": f"{sender_prefix}-after-app-{number}", "message": "my charging session is still active",
            "metadata": {"identity": token}}, timeout=60).json())
    return stats
