"""Which supported language a driver writes in: from the app's locale, or detected from the text.

`choose_language(text, locale, current, supported)` is the conversation's language after a message;
`language_from_locale("nl-NL", supported)` -> "nl"; `detect_language(text, default, supported)` -> "en" or "nl".
The supported languages are whatever the caller has texts for (ISO 639-1 codes): adding one adds no code here.

Detection is offline: the detector's model ships inside its PyPI wheel (see `bench/language_detection.py`
for the measurement that chose it). A chat message is often too short or too neutral to tell
("ok", "SES-104233", "Rotterdam Centraal", "23/11 18:30"), so:

1. identifiers (card numbers, session and EVSE IDs), e-mail addresses, web addresses, numbers, times
   and punctuation are removed first: they belong to no language;
2. chat words of one language alone (`markers`, from the catalogues), at least MIN_MARKER_WORDS of them
   and none of another language's, decide without the detector;
   what is left must have at least MIN_LETTERS letters, or the message keeps `default`;
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
from types import MappingProxyType
from typing import Collection, Dict, List, Mapping, Optional, Sequence, Tuple

from bot.domain.identifiers import find_card_numbers, find_evse_ids, find_session_ids

SUPPORTED = ("en", "nl")  # the default set, for callers that do not pass their own
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
# A conversation that has a language switches only on a sentence: a short answer is often a place name,
# and Dutch place names are Dutch words ("Heerlen", "den haag" in "the den haag one").
MIN_SWITCH_WORDS = 3
# Chat words (`markers`) of one language and none of another: that many decide without the detector.
MIN_MARKER_WORDS = 2
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


def language_from_locale(locale: Optional[str], default: Optional[str] = None,
                         supported: Sequence[str] = SUPPORTED) -> Optional[str]:
    """The supported language of a locale tag ("nl-NL", "nl_BE", "en-GB", "NL") or `default`."""
    if not isinstance(locale, str):
        return default
    primary = re.split(r"[-_.@]", locale.strip()[:35], maxsplit=1)[0].lower()
    return primary if primary in supported else default


def choose_language(text: Optional[str], locale: Optional[str], current: Optional[str],
                    supported: Sequence[str] = SUPPORTED,
                    markers: Mapping[str, Collection[str]] = MappingProxyType({})) -> str:
    """The conversation's language after this message.

    The driver's own words decide when they tell (a driver who switches is followed, on a sentence of
    at least MIN_SWITCH_WORDS words); a message that does not tell ("ok", a card number, a place) keeps
    the conversation's language; a conversation's first such message takes the app's locale when it
    sent one; else DEFAULT_LANGUAGE. Callers remove what they know belongs to no language (the places,
    operators and times the NLU found) from `text` first."""
    kept = current if current in supported else language_from_locale(locale, None, supported)
    words = prepare(text) if isinstance(text, str) else ""
    if kept and len(words.split()) < MIN_SWITCH_WORDS:
        return kept  # a word or two ("ja hoor", "de tweede", "Heerlen") never switches a conversation
    fallback = kept or (DEFAULT_LANGUAGE if DEFAULT_LANGUAGE in supported else supported[0])
    chosen = _detect(words, fallback, supported, markers)
    if kept and chosen != kept:
        counts = _marker_counts(words, markers, supported)
        if counts[kept] > counts[chosen]:
            return kept  # "the den haag one": the sentence's own words are the conversation's language
    return chosen


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


def detect_language(text: str, default: str = DEFAULT_LANGUAGE, supported: Sequence[str] = SUPPORTED,
                    markers: Mapping[str, Collection[str]] = MappingProxyType({})) -> str:
    """One of `supported`: the language `text` is written in, or `default` when it is too short or ambiguous.

    `markers`: per language, chat words that belong to it alone ("aub", "hoi", "bedankt"). The detector
    needs more letters than a chat message often has ("een mens aub"); when it cannot decide and the
    words of exactly one language are there, that language is taken."""
    return _detect(prepare(text), default, supported, markers) if isinstance(text, str) else default


def _detect(words: str, default: str, supported: Sequence[str], markers: Mapping[str, Collection[str]]) -> str:
    """detect_language on words `prepare` has already made."""
    if len(supported) < 2:
        return default
    counts = _marker_counts(words, markers, supported)
    marked = [language for language, count in counts.items() if count]
    if len(marked) == 1 and counts[marked[0]] >= MIN_MARKER_WORDS:
        # Chat words of one language alone ("my ... its been open since the weekend"): the detector can be
        # misled by a lower-case place name ("utrecht jaarbeurs") or typos; these words cannot.
        return marked[0]
    if sum(c.isalpha() for c in words) >= MIN_LETTERS:
        language, margin = _classify(words, tuple(supported))
        if decided(words, margin):
            return language
    return _marked(words, markers, supported) or default


def _marker_counts(words: str, markers: Mapping[str, Collection[str]], supported: Sequence[str]) -> Dict[str, int]:
    """Per language, how many of the words are its own chat words (`markers`)."""
    lowered = words.lower().split()
    return {language: sum(word in markers.get(language, ()) for word in lowered) for language in supported}


def _marked(words: str, markers: Mapping[str, Collection[str]], supported: Sequence[str]) -> Optional[str]:
    found = {language for word in words.lower().split() for language in supported
             if word in markers.get(language, ())}
    return found.pop() if len(found) == 1 else None


def decided(words: str, margin: float) -> bool:
    """Whether the detector's margin on these (prepared) words is enough to follow it."""
    if sum(c.isalpha() for c in words) < MIN_LETTERS:
        return False
    return margin >= (MIN_MARGIN_SHORT if len(words.split()) <= SHORT_WORDS else MIN_MARGIN)


def classify(text: str, supported: Sequence[str] = SUPPORTED) -> Tuple[str, float]:
    """The detector's own choice between the supported languages and its margin (0..1), after `prepare`."""
    return _classify(prepare(text), tuple(supported))


@lru_cache(maxsize=1024)
def _classify(words: str, supported: Tuple[str, ...]) -> Tuple[str, float]:
    detector, codes = _detector(tuple(sorted(supported)))
    values = detector.compute_language_confidence_values(words)
    if not values or values[0].value <= 0.0:
        return supported[0], 0.0
    second = values[1].value if len(values) > 1 else 0.0
    return codes[values[0].language], values[0].value - second


@lru_cache(maxsize=4)
def _detector(supported: Tuple[str, ...]):
    """A detector restricted to these ISO 639-1 codes (a language lingua does not know raises here)."""
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    codes = {Language.from_iso_code_639_1(IsoCode639_1.from_str(code)): code for code in supported}
    detector = LanguageDetectorBuilder.from_languages(*codes).with_preloaded_language_models().build()
    return detector, codes
