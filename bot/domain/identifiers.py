"""Finds and normalises the identifiers drivers type: card numbers, session IDs, EVSE IDs.

Canonical forms (seed data, database, training data):
- card number (eMAID contract ID): ``NL-EFL-C12345678-9``
- session ID: ``SES-104233``
- EVSE ID (eMI3): ``NL*EFL*E10001*1``

Drivers type them in any case, with dashes, spaces, underscores or nothing between
the parts. The parts have fixed widths, so the parts can be recovered without separators.
Every quantifier is bounded and every pattern is anchored on fixed-width parts, so a
scan is linear in the text length (no catastrophic backtracking).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, List, Optional, Pattern

# ASCII: with IGNORECASE alone, [A-Za-z] would also match the Kelvin sign and the long s.
_FLAGS = re.IGNORECASE | re.ASCII

# A separator a driver might type between two parts, or none.
_SEP = r"[ \t_-]?"
_EVSE_SEP = r"[ \t_*-]?"
# An identifier never starts or ends in the middle of a word or number.
_START = r"(?<![A-Za-z0-9])"
_END = r"(?![A-Za-z0-9])"

_CARD = re.compile(
    _START
    + r"(?P<country>[A-Z]{2})" + _SEP
    + r"(?P<party>[A-Z0-9]{3})" + _SEP
    # "it is now completely ..." has the shape of a card number without separators;
    # real contract instances always carry a digit.
    + r"C" + _SEP + r"(?P<instance>(?=[A-Z]{0,7}[0-9])[A-Z0-9]{8})" + _SEP
    + r"(?P<check>[A-Z0-9])"
    + _END,
    _FLAGS,
)
_SESSION = re.compile(_START + r"SES" + _SEP + r"(?P<number>[0-9]{6})" + _END, _FLAGS)
_EVSE = re.compile(
    _START
    + r"(?P<country>[A-Z]{2})" + _EVSE_SEP
    + r"(?P<party>[A-Z0-9]{3})" + _EVSE_SEP
    + r"E(?P<outlet>[0-9]{5})" + _EVSE_SEP
    + r"(?P<connector>[0-9]{1,2})"
    + _END,
    _FLAGS,
)


@dataclass(frozen=True)
class Match:
    """An identifier found in a text: its character span, the text as typed, the canonical value."""

    start: int
    end: int
    text: str
    value: str


def _card_value(m: "re.Match[str]") -> str:
    return f"{m['country']}-{m['party']}-C{m['instance']}-{m['check']}".upper()


def _session_value(m: "re.Match[str]") -> str:
    return f"SES-{m['number']}"


def _evse_value(m: "re.Match[str]") -> str:
    return f"{m['country']}*{m['party']}*E{m['outlet']}*{m['connector']}".upper()


def _find(pattern: Pattern[str], to_value: Callable[["re.Match[str]"], str], text: str) -> List[Match]:
    return [Match(m.start(), m.end(), m.group(0), to_value(m)) for m in pattern.finditer(text)]


def _overlaps(match: Match, others: List[Match]) -> bool:
    return any(match.start < o.end and o.start < match.end for o in others)


def find_card_numbers(text: str) -> List[Match]:
    """Card numbers (contract IDs) in `text`, in order, with values like ``NL-EFL-C12345678-9``."""
    return _find(_CARD, _card_value, text)


def find_evse_ids(text: str) -> List[Match]:
    """EVSE IDs in `text` that are not part of a card number, with values like ``NL*EFL*E10001*1``."""
    cards = find_card_numbers(text)
    return [m for m in _find(_EVSE, _evse_value, text) if not _overlaps(m, cards)]


def find_session_ids(text: str) -> List[Match]:
    """Session IDs in `text` that are not part of a card or EVSE ID, with values like ``SES-104233``."""
    taken = find_card_numbers(text) + find_evse_ids(text)
    return [m for m in _find(_SESSION, _session_value, text) if not _overlaps(m, taken)]


def _normalise(finder: Callable[[str], List[Match]], text: str) -> Optional[str]:
    if not isinstance(text, str):
        return None
    stripped = text.strip()
    found = finder(stripped)
    if len(found) == 1 and found[0].start == 0 and found[0].end == len(stripped):
        return found[0].value
    return None


def normalise_card_number(text: str) -> Optional[str]:
    """``NL-EFL-C12345678-9`` if the whole of `text` is a card number, else None."""
    return _normalise(find_card_numbers, text)


def normalise_session_id(text: str) -> Optional[str]:
    """``SES-104233`` if the whole of `text` is a session ID, else None."""
    return _normalise(find_session_ids, text)


def normalise_evse_id(text: str) -> Optional[str]:
    """``NL*EFL*E10001*1`` if the whole of `text` is an EVSE ID, else None."""
    return _normalise(find_evse_ids, text)
