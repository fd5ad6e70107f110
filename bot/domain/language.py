"""Which supported language a driver writes in: from the app's locale, or detected from the text.

`language_from_locale("nl-NL")` -> "nl"; `detect_language(text, default)` -> "en" or "nl".

Detection is offline: the detector's model ships inside its PyPI wheel (see `bench/language_detection.py`
for the measurement that chose it). A chat message is often too short or too neutral to tell
("ok", "SES-104233", "Rotterdam Centraal", "23/11 18:30"), so:

1. identifiers (card numbers, session and EVSE IDs), e-mail addresses, web addresses, numbers, times
   and punctuation are removed first: they belong to no language;
2. what is left must have at least MIN_LETTERS letters, or the message keeps `default`;
3. the detector, restricted to the supported languages, must prefer one by at least MIN_MARGIN
   (its confidence for the winner minus that for the runner-up, 0..1), MIN_MARGIN_SHORT when at most
   SHORT_WORDS words are left ("hallo", "thanks", "de andere"), or the message keeps `default`.

So the caller passes the conversation's current language as `default`: a driver who switches
language is followed as soon as they write something that tells, and "ok" or a card number never
switches it. Pure: no network, no database; the model is loaded once, on first use.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import List, Optional, Tuple

from bot.domain.identifiers import find_card_numbers, find_evse_ids, find_session_ids

SUPPORTED = ("en", "nl")
DEFAULT_LANGUAGE = "en"
# Measured on the project's English and Dutch examples (bench/language_detection.py): below these the
# detector is wrong too often to switch a conversation's language on its word.
# With these settings, on the 1,146 English and 1,167 Dutch examples of the project's NLU data, a
# message is taken for the wrong language in 0.5% and 0.8% of cases (mostly keyboard mash, lone
# greetings, lone place names) and for the right one in 81% and 85%; the rest keep `default`.
MIN_LETTERS = 4
MIN_MARGIN = 0.3
MIN_MARGIN_SHORT = 0.7
SHORT_WORDS = 3
# Only this much of a message is read: the language shows in its first sentences.
MAX_CHARS = 400

_NEUTRAL = re.compile(
    r"""(?:
        \S+@\S+                                   # e-mail addresses
      | (?:https?://|www\.)\S+                    # web addresses
      | \S*[0-9]\S*                               # numbers, times, dates, kWh values, IDs with digits
    )""",
    re.VERBOSE,
)
_NOT_LETTERS = re.compile(r"[^\w]+|_+")
_SENTENCE_END = re.compile(r"[.!?;:]+(?:\s+|$)|\n+")


def language_from_locale(locale: Optional[str], default: Optional[str] = None) -> Optional[str]:
    """The supported language of a locale tag ("nl-NL", "nl_BE", "en-GB", "NL") or `default`."""
    if not isinstance(locale, str):
        return default
    primary = re.split(r"[-_.@]", locale.strip(), maxsplit=1)[0].lower()
    return primary if primary in SUPPORTED else default


def prepare(text: str) -> str:
    """The words of a message that can tell its language: identifiers, numbers and punctuation removed."""
    text = text[:MAX_CHARS]
    spans = [(m.start, m.end) for finder in (find_card_numbers, find_evse_ids, find_session_ids) for m in finder(text)]
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + " " + text[end:]
    return " ".join(word for sentence in _SENTENCE_END.split(text) for word in _common_words(sentence))


def _common_words(sentence: str) -> List[str]:
    """The words of a sentence that are not names, numbers or addresses. A name is a capitalised word
    after the first ("at Jaarbeurs Utrecht", "in Den Haag"), or the first when a name or a number
    follows it ("Rotterdam Centraal", "Keizersgracht 12"). A sentence in capitals keeps its words."""
    words = _NOT_LETTERS.sub(" ", _NEUTRAL.sub(" 0 ", sentence)).split()  # "0" stands for any number
    shouting = len([w for w in words if w != "0"]) > 1 and all(w.isupper() for w in words if w != "0")
    keep = []
    for i, word in enumerate(words):
        if word == "0":
            continue
        following = words[i + 1] if i + 1 < len(words) else ""
        capital = len(word) > 1 and word[0].isupper() and not shouting  # not "I"
        if capital and (i > 0 or following == "0" or (following[:1].isupper() and not shouting)):
            continue
        keep.append(word)
    return keep


def detect_language(text: str, default: str = DEFAULT_LANGUAGE) -> str:
    """"en" or "nl": the language `text` is written in, or `default` when it is too short or ambiguous."""
    if not isinstance(text, str):
        return default
    words = prepare(text)
    if sum(c.isalpha() for c in words) < MIN_LETTERS:
        return default
    language, margin = _classify(words)
    return language if decided(words, margin) else default


def decided(words: str, margin: float) -> bool:
    """Whether the detector's margin on these (prepared) words is enough to follow it."""
    if sum(c.isalpha() for c in words) < MIN_LETTERS:
        return False
    return margin >= (MIN_MARGIN_SHORT if len(words.split()) <= SHORT_WORDS else MIN_MARGIN)


def classify(text: str) -> Tuple[str, float]:
    """The detector's own choice between the supported languages and its margin (0..1), after `prepare`."""
    return _classify(prepare(text))


@lru_cache(maxsize=1024)
def _classify(words: str) -> Tuple[str, float]:
    detector, codes = _detector()
    values = detector.compute_language_confidence_values(words)
    if not values or values[0].value <= 0.0:
        return DEFAULT_LANGUAGE, 0.0
    second = values[1].value if len(values) > 1 else 0.0
    return codes[values[0].language], values[0].value - second


@lru_cache(maxsize=1)
def _detector():
    from lingua import Language, LanguageDetectorBuilder

    codes = {Language.ENGLISH: "en", Language.DUTCH: "nl"}
    detector = LanguageDetectorBuilder.from_languages(*codes).with_preloaded_language_models().build()
    return detector, codes
