"""Everything one driver message tells, whatever its top intent.

Drivers put several facts in one message ("still active in the app, and now my card is refused"): the
classifier names one intent, the others show up lower in its ranking, and some facts are plain words.
A fact counts when it is the top intent, ranks high enough below it, or its words are there; the
words are data per language (texts/<lang>.yml, `patterns`), and every language's words count: drivers mix
them ("mijn sessie staat nog op active"), and a short answer ("nee", "yep") tells no language.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Dict, Mapping, Optional, Pattern

from bot.conversation.texts import languages, template

# A second intent this confident is a second fact (measured: a refused card in a long story ranked 0.36).
SECONDARY_CONFIDENCE = 0.3
FAQ_INTENTS = ("ask_why_still_active", "ask_billing_impact", "ask_update_time")
# What an unsure classification (nlu_fallback) may still be read as, when it is the best real guess.
CHARGING_INTENTS = ("session_still_active", "cannot_start_session", "kwh_increasing", "kwh_not_increasing",
                    "inform", "request_human") + FAQ_INTENTS
UNSURE_CONFIDENCE = 0.25
# Where a request for a person ranked second is no request: "thanks, I'll ring them".
_CLOSING_INTENTS = ("thank", "goodbye", "affirm", "deny", "greet")


@lru_cache(maxsize=None)
def pattern(name: str) -> Pattern[str]:
    """The words for `name` in every supported language, as one pattern."""
    return re.compile("|".join(f"(?:{template(f'patterns.{name}', code)})" for code in languages()), re.IGNORECASE)


def says(name: str, text: str) -> bool:
    return bool(text) and pattern(name).search(text) is not None


def not_a_place(text: str, start: int, end: int) -> bool:
    """Whether a place the NLU found in `text` at [start, end) is none: a greeting on its own ("Goedendag")
    or part of the driver's name ("mijn naam is Kees Breda")."""
    if says("greeting_only", text[start:end]):
        return True
    return any(m.start() <= start and end <= m.end() for m in pattern("own_name").finditer(text))


@dataclass(frozen=True)
class TurnFacts:
    text: str
    intent: str  # the top intent
    ranked: Mapping[str, float] = field(default_factory=dict)  # intent -> confidence
    entities: Mapping[str, str] = field(default_factory=dict)  # entity type -> its first value

    def has_intent(self, name: str, threshold: float = SECONDARY_CONFIDENCE) -> bool:
        return self.intent == name or self.ranked.get(name, 0.0) >= threshold

    @property
    def cannot_start(self) -> bool:
        return self.has_intent("cannot_start_session") or says("cannot_start", self.text)

    @property
    def self_help(self) -> bool:
        """The driver will act themselves ("then I'll call them", "ok dan ga ik hem stoppen"), and asks
        for no person in the same breath."""
        return says("self_help", self.text) and not says("wants_person", self.text)

    @property
    def wants_person(self) -> bool:
        if says("wants_person", self.text):
            return True
        if says("self_help", self.text):
            return False  # calling the provider themselves is not asking us for a person
        if self.intent == "request_human":
            return True
        # "Are you a real person?" is a question about the bot, not a request; the words of wanting one count.
        return self.intent not in _CLOSING_INTENTS and self.has_intent("request_human", SECONDARY_CONFIDENCE)

    @property
    def kwh(self) -> Optional[str]:
        """What the driver says of the kWh: "rising", "flat" or None."""
        if self.intent == "kwh_increasing":
            return "rising"
        if self.intent == "kwh_not_increasing":
            return "flat"
        rising, flat = self.ranked.get("kwh_increasing", 0.0), self.ranked.get("kwh_not_increasing", 0.0)
        if max(rising, flat) >= SECONDARY_CONFIDENCE:
            return "rising" if rising > flat else "flat"
        # The words, when the message is mainly about something else ("why ... the kWh doesn't change").
        said_flat, said_rising = says("kwh_flat", self.text), says("kwh_rising", self.text)
        if said_flat != said_rising:
            return "flat" if said_flat else "rising"
        return None

    @property
    def kwh_in_words(self) -> bool:
        """The message itself says what the meter does ("the kWh stopped going up")."""
        return says("kwh_flat", self.text) or says("kwh_rising", self.text)

    @property
    def unplugged(self) -> bool:
        return says("unplugged", self.text) and not self.still_plugged

    @property
    def still_plugged(self) -> bool:
        """The car is still connected: "oh right, it's actually still plugged in", "hij hangt er nog aan"."""
        return says("still_plugged", self.text)

    @property
    def dont_know(self) -> bool:
        return says("dont_know", self.text)

    @property
    def leaving(self) -> bool:
        return self.intent == "cancel" or says("leaving", self.text)

    @property
    def faq(self) -> Optional[str]:
        """The article's question asked: by the classifier, or by its words in a message about the session."""
        if self.intent in FAQ_INTENTS:
            return self.intent
        if self.intent in ("session_still_active", "inform", "kwh_increasing", "kwh_not_increasing", "affirm"):
            for intent in FAQ_INTENTS:
                if says(f"faq_{intent[len('ask_'):].replace('_still_active', '').replace('_impact', '')}", self.text):
                    return intent
        return None

    @property
    def yes(self) -> bool:
        if self.self_help:
            return False  # "ok, I'll call them": a no thanks to an offer of a person
        return self.intent == "affirm" or (self.intent not in ("deny", "cancel", "thank", "goodbye")
                                           and says("answer_yes", self.text))

    @property
    def no(self) -> bool:
        return self.intent == "deny" or self.self_help or (self.intent != "affirm" and says("answer_no", self.text))


def read_message(message: Mapping[str, Any]) -> TurnFacts:
    """The facts of a parsed message as Rasa hands it to actions (tracker.latest_message)."""
    intent = ((message.get("intent") or {}).get("name")) or ""
    ranked: Dict[str, float] = {}
    for item in message.get("intent_ranking") or []:
        name, confidence = item.get("name"), item.get("confidence")
        if isinstance(name, str) and isinstance(confidence, (int, float)):
            ranked.setdefault(name, float(confidence))
    entities: Dict[str, str] = {}
    for entity in message.get("entities") or []:
        kind, value = entity.get("entity"), entity.get("value")
        if isinstance(kind, str) and isinstance(value, str) and kind not in entities:
            entities[kind] = value
    text = message.get("text") if isinstance(message.get("text"), str) else ""
    if intent == "nlu_fallback":
        # Unsure: the best real guess still counts when it is about charging and not far off.
        guesses = [(c, n) for n, c in ranked.items() if n in CHARGING_INTENTS and c >= UNSURE_CONFIDENCE]
        if guesses:
            intent = max(guesses)[1]
    if intent in ("nlu_fallback", "out_of_scope") and says("still_active", text):
        # Typos the classifier could not place ("my sesison never closd"): the words say what it is about.
        intent = "session_still_active"
    return TurnFacts(text=text, intent=intent, ranked=ranked, entities=entities)
