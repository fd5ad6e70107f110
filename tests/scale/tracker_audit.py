"""Reads one conversation back from the SQL tracker store and checks it against what was said.

"No event lost, duplicated or out of order": every user message stored once, in the order sent;
every bot message the driver saw stored once, inside its own turn; each turn complete
(ends listening) before the next user message; one session start.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any, Dict, List, Sequence

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from bot.conversation import replies
from bot.conversation.texts import template
from bot.rasa_plugins.channels import MAX_MESSAGE_CHARS

CHANNEL_TEXTS = {reply.text for reply in (replies.turn_failed(), replies.not_understood(), replies.empty_message(),
                                          replies.too_long(MAX_MESSAGE_CHARS))}
# The channel's reminder to a paused (handed-off) conversation: its reference varies.
PAUSED_REMINDER = re.compile(re.escape(template("handoff_flow.paused_reminder")).replace(r"\{reference\}", r"HO-\w+"))


def _channel_text(text) -> bool:
    return text in CHANNEL_TEXTS or (isinstance(text, str) and PAUSED_REMINDER.fullmatch(text) is not None)


@lru_cache(maxsize=None)
def _engine(url: str) -> Engine:
    return create_engine(url, future=True, pool_pre_ping=True)


def stored_events(tracker_url: str, sender_id: str) -> List[Dict[str, Any]]:
    """The conversation's events in the order the tracker store keeps them (by row id)."""
    with _engine(tracker_url).connect() as connection:
        rows = connection.execute(
            text("SELECT id, data FROM events WHERE sender_id = :sender ORDER BY id"), {"sender": sender_id}
        ).all()
    return [dict(json.loads(row.data), _row_id=row.id) for row in rows]


def final_slots(events: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    slots: Dict[str, Any] = {}
    for event in events:
        if event.get("event") == "slot":
            slots[event["name"]] = event.get("value")
    return slots


def _turns(events: Sequence[Dict[str, Any]]) -> List[List[Dict[str, Any]]]:
    turns: List[List[Dict[str, Any]]] = []
    for event in events:
        if event.get("event") == "user":
            turns.append([event])
        elif turns:
            turns[-1].append(event)
    return turns


def audit(events: Sequence[Dict[str, Any]], sent: Sequence[str], answers: Sequence[Sequence[Dict]]) -> List[str]:
    """What is wrong with the stored conversation (empty: nothing)."""
    problems: List[str] = []
    stamps = [e.get("timestamp") or 0 for e in events]
    if stamps != sorted(stamps):
        problems.append("event timestamps go backwards in store order")
    starts = sum(1 for e in events if e.get("event") == "session_started")
    if starts != 1:
        problems.append(f"{starts} session starts instead of 1")
    turns = _turns(events)
    stored_user = [turn[0].get("text") for turn in turns]
    if stored_user != list(sent):
        problems.append(f"user messages stored {stored_user!r}, sent {list(sent)!r}")
        return problems
    for number, (turn, answer) in enumerate(zip(turns, answers), start=1):
        said = [e.get("text") for e in turn if e.get("event") == "bot"]
        # The channel's own apologies are not part of the conversation Rasa stores.
        seen = [m.get("text") for m in answer if not _channel_text(m.get("text"))]
        if said != seen:
            problems.append(f"turn {number}: stored bot messages {said!r}, driver saw {seen!r}")
        actions = [e.get("name") for e in turn if e.get("event") == "action"]
        if any(e.get("event") == "pause" for e in turn) or (not actions and not said):
            continue  # handed to a person: the bot stops (no listen), later messages are only stored
        if not actions or actions[-1] != "action_listen":
            problems.append(f"turn {number} does not end listening: {actions!r}")
        elif "action_listen" in actions[:-1]:
            problems.append(f"turn {number} listens twice (two turns interleaved?): {actions!r}")
    return problems
