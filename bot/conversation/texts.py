"""The catalogue of what drivers read: one YAML file per language beside this module (texts/<lang>.yml).

A language is supported when its file is here (and the NLU data speaks it): adding one is texts and
data, not code. Only bot.conversation.replies composes texts; everything else asks replies for a
composed Reply. Which language a reply is composed in is the conversation's, set around a turn with
`in_language` (as a request's locale is set in web frameworks), so no reply function takes it as an argument.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any, FrozenSet, Iterable, Iterator, Mapping, Optional, Tuple

import yaml

from bot.domain import language as detection

TEXTS_DIR = Path(__file__).resolve().parent / "texts"
DEFAULT_LANGUAGE = detection.DEFAULT_LANGUAGE
_CURRENT: ContextVar[str] = ContextVar("reply_language", default=DEFAULT_LANGUAGE)


@lru_cache(maxsize=1)
def languages() -> Tuple[str, ...]:
    """The supported languages: those with a catalogue, the default first."""
    found = sorted(p.stem for p in TEXTS_DIR.glob("*.yml"))
    return tuple(sorted(found, key=lambda code: code != DEFAULT_LANGUAGE))


def choose_language(text: Optional[str], locale: Optional[str], current: Optional[str],
                    entities: Iterable[Mapping[str, Any]] = (), answers_place: bool = False) -> str:
    """The conversation's language after a message (bot.domain.language.choose_language).

    What the NLU found in the message (`entities`, with `start` and `end`: places, operators, times,
    IDs) belongs to no language and is left out: "Apeldoorn, the charger at the theatre" is English.
    A clicked button sends its payload ("/kwh_not_increasing"), which tells no language either, and
    neither does the answer to "where was it?" (`answers_place`): "Alphen aan den Rijn" is a name."""
    if not isinstance(text, str) or text.lstrip().startswith("/") or (answers_place and current):
        return detection.choose_language(None, locale, current, languages(), language_markers())
    spans = sorted({(e["start"], e["end"]) for e in entities
                    if isinstance(e, Mapping) and isinstance(e.get("start"), int) and isinstance(e.get("end"), int)},
                   reverse=True)
    for start, end in spans:
        text = text[:start] + " " + text[end:]
    return detection.choose_language(text, locale, current, languages(), language_markers())


@lru_cache(maxsize=1)
def language_markers() -> Mapping[str, FrozenSet[str]]:
    """Per language, the chat words that belong to it alone (`language_words` in each catalogue, a
    space-separated text: a YAML list would read yes and no as booleans)."""
    return {code: frozenset(template("language_words", code).lower().split()) for code in languages()}


def current_language() -> str:
    return _CURRENT.get()


@contextmanager
def in_language(language: Optional[str]) -> Iterator[str]:
    """Replies composed inside this block are in `language` (the default when it is not supported)."""
    chosen = language if language in languages() else DEFAULT_LANGUAGE
    token = _CURRENT.set(chosen)
    try:
        yield chosen
    finally:
        _CURRENT.reset(token)


@lru_cache(maxsize=None)
def catalogue(language: str = DEFAULT_LANGUAGE) -> Mapping[str, Any]:
    with open(TEXTS_DIR / f"{language}.yml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def template(key: str, language: Optional[str] = None) -> str:
    """The raw text at a dotted key, e.g. "verdict.wait", in `language` or the current one."""
    node: Any = catalogue(language or _CURRENT.get())
    for part in key.split("."):
        node = node[part]
    if not isinstance(node, str):
        raise KeyError(f"{key} is not a text")
    return node


def text(key: str, language: Optional[str] = None, **fields: Any) -> str:
    return template(key, language).format(**fields)
