"""The realistic mix the speed benchmark replays: every step of the article and a handoff,
logged in (demo accounts, as the in-app chat) and anonymous (as the website widget).

Each turn names what the reply must contain, so a run that got faster by answering wrongly
shows up as failed turns instead of better numbers.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Dict, List, Optional, Tuple

from bot.apps.chat_client import texts
from bot.domain.identity import mint_token
from bot.store.seed import scenario

PAUSED = ""  # expect no answer at all: the conversation is paused for a person


@dataclass(frozen=True)
class Turn:
    expect: str                    # a piece of text the reply must contain; PAUSED: the reply must be empty
    say: Optional[str] = None      # what the driver types ...
    button: Optional[str] = None   # ... or: press the previous reply's button whose payload contains this


@dataclass(frozen=True)
class Conversation:
    name: str
    account: Optional[str]         # demo scenario (bot.store.seed) of a logged-in driver; None: anonymous
    turns: Tuple[Turn, ...]


def _t(say: str, expect: str) -> Turn:
    return Turn(expect=expect, say=say)


MIX: Tuple[Conversation, ...] = (
    Conversation("step1 wait (app)", "wait", (
        _t("hi", "charging assistant"),
        _t("my charging session is still active but I stopped charging", "close automatically by"),
        _t("will I be charged twice for this?", "does not affect"),
        _t("thanks", "You're welcome"),
    )),
    Conversation("step2 still charging (app)", "charging", (
        _t("the app says my session is stil active??", "still drawing energy"),
        _t("bye", "Goodbye"),
    )),
    Conversation("step3 blocked, handoff (app)", "blocked", (
        _t("session still open in the app even though I unplugged yesterday", "close automatically by"),
        _t("I can't start a new session, my card gets refused", "Your reference is HO-"),
        _t("hello? are you still there", PAUSED),
    )),
    Conversation("step3 overdue, handoff (app)", "overdue", (
        _t("my session has been active for days", "past the automatic close"),
    )),
    Conversation("step4 other provider (app)", "other", (
        _t("charging session still shows active in the app", "Allego"),
        _t("why does this happen?", "delay in receiving"),
    )),
    Conversation("two sessions, pick one (app)", "two", (
        _t("my session is still active", "Which one do you mean"),
        Turn(expect="close automatically by", button="SES-100006"),
    )),
    Conversation("general guidance (widget)", None, (
        _t("my charging session is still active", "72 hours"),
        _t("no the kwh stays the same", "safely keep using your card"),
        _t("how long does it take to update", "72 hours"),
        _t("am I talking to a bot?", "virtual assistant"),
    )),
    Conversation("handoff form (widget)", None, (
        _t("I want to talk to a person", "few details"),
        _t("nl efl c87654321 3", "Where was the charging session"),
        _t("Jaarbeurs Utrecht", "When did the session start"),
        _t("yesterday around 6pm", "session ID"),
        _t("no I don't have it", "Your reference is HO-"),
    )),
)


def metadata_for(conversation: Conversation, secret: str) -> Optional[Dict]:
    """The identity metadata the in-app chat sends for a demo account; None for the widget."""
    if conversation.account is None:
        return None
    s = scenario(conversation.account)
    return {"identity": mint_token(s.account_id, [s.card], secret, timedelta(hours=2))}


def button_payload(messages: List[Dict], contains: str) -> Optional[str]:
    for message in messages:
        for button in message.get("buttons") or []:
            if contains in (button.get("payload") or ""):
                return button["payload"]
    return None


def answered_as_expected(turn: Turn, messages: List[Dict]) -> bool:
    if turn.expect == PAUSED:
        return messages == []
    return turn.expect in texts(messages)
