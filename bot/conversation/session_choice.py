"""Which of the driver's sessions a message points at: by ID, order, "the other one", operator or place."""
from __future__ import annotations

import re
from typing import Optional, Sequence

from rapidfuzz import fuzz

from bot.conversation.facts import TurnFacts, pattern, says
from bot.store.charging_repo import SessionSummary

# Words of a place or operator name that say nothing about which one it is.
_GENERIC = {"station", "charger", "charging", "hub", "garage", "parking", "centrum", "centre", "center", "the",
            "recharge", "plaza", "p1", "p2", "p3", "laadplein", "point"}
_MATCH = 85


def _words(*texts: str) -> set:
    return {w for t in texts for w in re.findall(r"[^\W\d_]{3,}", (t or "").lower())} - _GENERIC


def _score(candidate: SessionSummary, text: str) -> float:
    best = 0.0
    lowered = text.lower()
    for word in _words(candidate.location_name, candidate.city, candidate.operator_name, candidate.address):
        if re.search(rf"\b{re.escape(word)}\b", lowered):
            return 100.0
        best = max(best, fuzz.partial_ratio(word, lowered) if len(word) >= 5 else 0.0)
    return best


def choose(facts: TurnFacts, candidates: Sequence[SessionSummary], current: Optional[str],
           answering: bool = False) -> Optional[str]:
    """The session ID the driver means, or None when the message does not single one out.

    `answering`: the message answers "which one?"; then "the one that's been open for days" means the oldest
    (said unasked, it describes their problem, not a choice)."""
    ids = [c.session_id for c in candidates]
    typed = facts.entities.get("session_id")
    if typed in ids:
        return typed
    text = facts.text or ""
    if len(ids) == 1 and says("own_one", text):
        return ids[0]  # "then the one on my account" after an ID that is not theirs
    if len(candidates) >= 2 and current in ids and says("other_one", text):
        others = [i for i in ids if i != current]
        return others[0] if len(others) == 1 else None
    for name, index in (("ordinal_first", 0), ("ordinal_second", 1), ("ordinal_third", 2), ("ordinal_last", -1)):
        if says(name, text) and -len(ids) <= index < len(ids):
            return ids[index]
    if answering and len(candidates) >= 2 and says("open_for_long", text):
        return min(candidates, key=lambda c: c.start).session_id
    return named(text, candidates)


def named(text: str, candidates: Sequence[SessionSummary]) -> Optional[str]:
    """The one session whose place or operator the text names ("the Shell one", "Amsterdam, not Den Haag")."""
    wanted = pattern("negated_place").sub(" ", text or "")
    scored = sorted(((_score(c, wanted), c.session_id) for c in candidates), reverse=True)
    if scored and scored[0][0] >= _MATCH and (len(scored) == 1 or scored[1][0] < scored[0][0]):
        return scored[0][1]
    return None
