"""The realistic mix the speed benchmark replays: every step of the article and a handoff,
logged in (demo accounts, as the in-app chat) and anonymous (as the website widget),
in English and in Dutch (the same conversations, as Dutch drivers write them).

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


@dataclass(frozen=True)
class Turn:
    expect: str                    # a piece of text the reply must contain
    say: Optional[str] = None      # what the driver types ...
    button: Optional[str] = None   # ... or: press the previous reply's button whose payload contains this


@dataclass(frozen=True)
class Conversation:
    name: str
    account: Optional[str]         # demo scenario (bot.store.seed) of a logged-in driver; None: anonymous
    turns: Tuple[Turn, ...]
    language: str = "en"
    locale: Optional[str] = None   # metadata.locale, as the app and the widget's page send it


def _t(say: str, expect: str) -> Turn:
    return Turn(expect=expect, say=say)


ENGLISH: Tuple[Conversation, ...] = (
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
        _t("hello? are you still there", "under reference HO-"),  # paused: a reminder of the reference
    )),
    Conversation("step3 overdue, handoff (app)", "overdue", (
        _t("my session has been active for days", "past the automatic close"),
    )),
    Conversation("step4 other provider (app)", "other", (
        _t("charging session still shows active in the app", "Allego"),
        _t("why does this happen?", "run by Allego"),  # their own session's cause, not the generic delay
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

# The same conversations in Dutch, answered in Dutch (bot/conversation/texts/nl.yml).
DUTCH: Tuple[Conversation, ...] = tuple(Conversation(name, account, turns, "nl", "nl-NL") for name, account, turns in (
    ("stap 1 wachten (app)", "wait", (
        _t("hoi", "laadassistent"),
        _t("mn laadsessie staat nog op actief maar ik ben allang gestopt met laden", "sluit vanzelf"),
        _t("moet ik hier nu dubbel voor betalen?", "geen invloed"),
        _t("top bedankt", "Graag gedaan"),
    )),
    ("stap 2 laadt nog (app)", "charging", (
        _t("de app zegt dat mijn sessie nog actief is??", "neemt nog stroom af"),
        _t("doei", "Doei"),
    )),
    ("stap 3 geblokkeerd, overdracht (app)", "blocked", (
        _t("sessie staat nog open in de app terwijl ik gisteren de stekker eruit heb gehaald", "sluit vanzelf"),
        _t("ik kan geen nieuwe sessie starten, mijn pas wordt geweigerd", "Je referentie is HO-"),
        _t("hallo? ben je er nog", "onder referentie HO-"),
    )),
    ("stap 3 te lang open, overdracht (app)", "overdue", (
        _t("mijn sessie staat al dagen op actief", "langer dan de automatische afsluiting"),
    )),
    ("stap 4 andere aanbieder (app)", "other", (
        _t("laadsessie staat nog steeds op active in de app", "Allego"),
        _t("waarom gebeurt dit?", "een laadpaal van Allego"),
    )),
    ("twee sessies, kies er een (app)", "two", (
        _t("mijn sessie is nog actief", "Welke bedoel je"),
        Turn(expect="sluit vanzelf", button="SES-100006"),
    )),
    ("algemene uitleg (widget)", None, (
        _t("mijn laadsessie staat nog op actief", "72 uur"),
        _t("nee de kwh blijft gelijk", "pas gewoon blijven gebruiken"),
        _t("hoe lang duurt het voor ie bijgewerkt is", "72 uur"),
        _t("praat ik met een bot?", "virtuele assistent"),
    )),
    ("overdrachtsformulier (widget)", None, (
        _t("ik wil een medewerker spreken", "paar gegevens"),
        _t("nl efl c87654321 3", "Waar was de laadsessie"),
        _t("bij de Jaarbeurs in Utrecht", "Wanneer begon de sessie"),
        _t("gisteravond rond zes uur", "sessie-ID"),
        _t("nee heb ik niet", "Je referentie is HO-"),
    )),
))

# Alternating, so that a phase cut short by its time cap still has both languages.
MIX: Tuple[Conversation, ...] = tuple(c for pair in zip(ENGLISH, DUTCH) for c in pair)


def metadata_for(conversation: Conversation, secret: str) -> Optional[Dict]:
    """The metadata the in-app chat (identity of a demo account) or the widget sends; None: none."""
    metadata: Dict = {}
    if conversation.account is not None:
        s = scenario(conversation.account)
        metadata["identity"] = mint_token(s.account_id, [s.card], secret, timedelta(hours=2))
    if conversation.locale:
        metadata["locale"] = conversation.locale
    return metadata or None


def button_payload(messages: List[Dict], contains: str) -> Optional[str]:
    for message in messages:
        for button in message.get("buttons") or []:
            if contains in (button.get("payload") or ""):
                return button["payload"]
    return None


def answered_as_expected(turn: Turn, messages: List[Dict]) -> bool:
    return turn.expect in texts(messages)
