"""Reads the times drivers write ("yesterday around 6pm", "last night around 11", "23/11 at 7pm").

Duckling is not available and dateparser alone misreads what drivers write ("yesterday
around 6pm" -> None, "yesterday at 6" -> ignores the 6, "18h" -> 18 hours ago, "may" -> a
date), so this module works in two steps:

1. A grammar of the phrasings drivers use finds the whole expression and its span
   ("yesterday around 6pm" in "it was yesterday around 6pm at the Jaarbeurs"). A lone
   "today", "may", "march", "second" or "now" is not a time; a leading "at"/"@" is not
   part of the span, approximation words ("around 6pm") are.
2. The parts are resolved against `now` in the driver's time zone, preferring the past:
   relative days, clock times and "... ago" by arithmetic, month names and weekdays with
   dateparser. Hours without am/pm are read the way people mean them ("last night
   around 11" -> 23:00, "yesterday at 6" -> 18:00).

Values are aware datetimes in the given time zone. `grain` says how precise the value is
("minute", "hour", "part_of_day", "day"); a day alone resolves to its midnight, a part of
day to a typical hour (morning 09:00, afternoon 15:00, evening 19:00, night 22:00).

Dutch (and Flemish) has a grammar of its own, read the same two ways ("gisteravond rond negen
uur", "vanochtend om half acht", "maandag rond 17:00", "gisteren om 18.30", "een uur geleden",
"om tien voor half negen"; "half acht" is 07:30, "vannacht" is last night). `language` chooses the
grammars: "en" reads English only (exactly as before), "nl" Dutch first and English too (drivers
mix), None (the default) both, English first. When two readings overlap, the one that starts first
wins, then the longer one, then the first grammar. As in the Dutch training data, a leading "om",
"sinds", "vanaf", "ongeveer", "tegen" or "zo'n" is not part of a Dutch span; "rond" and "op" are.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime, time, timedelta, timezone
from typing import Callable, List, Optional, Tuple
from zoneinfo import ZoneInfo

import dateparser

# Only this much of a message is searched, so a 100 kB message costs no more than a short one.
MAX_CHARS = 1000

_FLAGS = re.IGNORECASE | re.ASCII | re.VERBOSE

# Building blocks. Every repetition is bounded, so matching stays linear.
_S = r"\s{1,3}"
_APPROX = r"(?:around|about|approximately|approx\.?|roughly|circa|ca\.|~)"
_AT = r"(?:at|@)"
_PART = r"(?:morning|afternoon|evening|night)"
_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_MONTH = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december"
    r"|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)(?![a-z])\.?"
)
_DAYNUM = r"(?:3[01]|[12][0-9]|0?[1-9])(?:st|nd|rd|th)?(?![0-9])"
_YEAR = r"(?:20[0-9]{2})(?![0-9])"
_H24 = r"(?:2[0-3]|[01]?[0-9])"
_H12 = r"(?:1[0-2]|0?[1-9])"
_AMPM = r"(?:[ap]\.?m\b\.?)"
_ISH = r"(?:\s?-?ish\b)?"

# A number followed by one of these is a quantity, not a time or a date ("at 22 kW", "15.2 kWh").
_UNIT = r"""(?:%|percent|[a-z]*kwh|kw\b|eur|euros?\b|x\b|times|min|minutes?|hours?|hrs?|h\b|days?
        |weeks?|months?|years?|stations?|chargers?|sessions?|cards?|km|miles?|cents?)"""
# Clock times in words: "half past nine", "quarter to seven", "ten past 8", "nine o'clock", "six thirty".
_EN_HWORD = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_EN_MINWORD = r"(?:half|quarter|five|ten|twenty(?:[\s-]five)?|[0-5]?[0-9](?:\s?minutes?)?)"
_WORD_CLOCK = rf"""(?:
    (?:a{_S})?{_EN_MINWORD}{_S}(?:past|after|to|before){_S}(?:{_EN_HWORD}|{_H12})(?![0-9a-z])(?!\s?{_UNIT})
  | {_EN_HWORD}\s?o'?\s?clock\b
  | {_EN_HWORD}[\s-](?:thirty|fifteen|forty[\s-]five|o[\s-]five)(?![a-z])
  )(?:{_S}(?:in{_S}the{_S}(?:morning|afternoon|evening)|at{_S}night)\b)?"""

# Times of day that read as times on their own.
_TOD = rf"""(?:
    {_WORD_CLOCK}
  | {_H24}:[0-5][0-9](?::[0-5][0-9])?(?:\s?{_AMPM})?     # 18:00, 6:30pm
  | {_H12}(?:[.:][0-5][0-9])?\s?{_AMPM}                  # 6pm, 6.30 p.m.
  | {_H24}h(?:[0-5][0-9])?\b                             # 18h, 18h30
  | {_H12}\s?o'?\s?clock\b                               # 6 o'clock
  | {_H12}(?:[.:][0-5][0-9])?{_S}(?:in{_S}the{_S}(?:morning|afternoon|evening)|at{_S}night)\b  # 5 in the afternoon
  | noon | midday | midnight
  ){_ISH}(?![0-9])"""
# A bare hour ("around 11") is a time only next to a day or after "at"/"around";
# never when a unit follows ("at 22 kW", "around 6 stations").
_BARE = rf"""{_H24}(?:[.:][0-5][0-9])?{_ISH}(?![0-9])(?!\s?{_UNIT})"""
_PREFIX = rf"(?:(?:{_AT}{_S})?{_APPROX}\s{{0,3}}|{_AT}\s{{0,3}})"
_TOD_AFTER_DAY = rf"""(?:
    {_PREFIX}?{_TOD}
  | {_PREFIX}{_BARE}
  | {_H24}\.[0-5][0-9](?![0-9])                          # yesterday 18.30
  )"""

_RELATIVE_DAY = rf"""(?:
    (?:(?:the{_S})?day{_S}before{_S}yesterday|yesterday|(?:earlier{_S})?today)(?:{_S}{_PART})?
  | tonight | last{_S}night | (?:earlier{_S})?this{_S}(?:morning|afternoon|evening)
  )"""
_NAMED_DATE = rf"""(?:(?:{_WEEKDAY},?{_S})?(?:the{_S})?
    (?: {_DAYNUM}(?:{_S}of)?{_S}{_MONTH}(?:,?{_S}{_YEAR})?
      | {_MONTH}{_S}(?:the{_S})?{_DAYNUM}(?:,?{_S}{_YEAR})?
    ))"""
# Day first. A dotted day and month without a year needs a two-digit month and no unit after it:
# "23.11" is a date, "15.2" and "23.40 kWh" are meter readings.
_NUMERIC_DATE = rf"""(?<![0-9/.:-])(?:
    20[0-9]{{2}}-[01]?[0-9]-[0-3]?[0-9]
  | [0-3]?[0-9][/-][01]?[0-9](?:[/.-](?:20)?[0-9]{{2}})?
  | [0-3]?[0-9]\.[01]?[0-9]\.(?:20)?[0-9]{{2}}
  | [0-3]?[0-9]\.[01][0-9](?!\s?{_UNIT})
  )(?![0-9]|[/.:-][0-9])"""
_WEEKDAY_DAY = rf"(?:(?:last|past|this{_S}past){_S})?{_WEEKDAY}(?:{_S}{_PART})?"
# "on monday" is annotated whole in the training data, so the span takes the "on" too.
_DAY = rf"(?:{_RELATIVE_DAY}|(?:on{_S})?(?:{_NAMED_DATE}|{_NUMERIC_DATE}|{_WEEKDAY_DAY}))"

_AGO_NUMBER = rf"""(?:[0-9]{{1,3}}(?:[.,][0-9])?|an?|one|two|three|four|five|six|seven|eight|nine|ten
    |eleven|twelve|a{_S}few|a{_S}couple(?:{_S}of)?|several|half{_S}an?)"""
_AGO = rf"(?:{_APPROX}\s{{0,3}})?{_AGO_NUMBER}\s{{0,3}}(?:minutes?|mins?|hours?|hrs?|h|days?){_S}ago\b"

_DAY_TO_TOD = r"(?:T|\s{0,3},?\s{0,3})"
_TOD_TO_DAY = rf"\s{{0,3}},?\s{{0,3}}(?:(?:on|of){_S})?"



def _expression(answer: bool) -> "re.Pattern[str]":
    # Alternatives are tried in this order at each position; the first that fits wins.
    # Only a whole answer may be a bare hour ("around 6"): in a sentence it could be anything.
    lone_hour = rf"| (?P<tod_d>{_PREFIX}{_BARE})" if answer else ""
    return re.compile(
        rf"""(?<![A-Za-z0-9])(?:
            (?P<ago>{_AGO})
          | (?P<day_a>{_DAY})(?:{_DAY_TO_TOD}(?P<tod_a>{_TOD_AFTER_DAY}))?
          | (?P<tod_b>(?:{_APPROX}\s{{0,3}})?{_TOD}|{_PREFIX}{_H24}\.[0-5][0-9](?![0-9]))
                (?:{_TOD_TO_DAY}(?P<day_b>{_DAY}))?
          | (?P<tod_c>{_PREFIX}{_BARE}){_TOD_TO_DAY}(?P<day_c>{_DAY})
          {lone_hour}
        )(?![A-Za-z0-9])""",
        _FLAGS,
    )


_IN_MESSAGE = _expression(answer=False)
_IN_ANSWER = _expression(answer=True)

_LEADING_AT = re.compile(rf"^{_AT}\s{{0,3}}", _FLAGS)
_PART_HOURS = {"morning": 9, "afternoon": 15, "evening": 19, "night": 22}
_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "several": 3,
}


@dataclass(frozen=True)
class TimeMatch:
    """A time expression in a text: its span, the text as typed, its value and precision."""

    start: int
    end: int
    text: str
    value: datetime
    grain: str = "minute"


@dataclass(frozen=True)
class _Day:
    day: date
    part: Optional[str] = None  # morning / afternoon / evening / night
    hour: Optional[int] = None  # the part's hour when the driver said more ("vanmorgen vroeg": 07:00)


@dataclass(frozen=True)
class _ClockTime:
    hour: int
    minute: int
    explicit: bool  # am/pm, 24-hour or leading zero: no guessing needed
    midnight: bool = False


def find_time_expressions(text: str, now: datetime, tz: str, language: Optional[str] = None) -> List[TimeMatch]:
    """Every time expression in the first MAX_CHARS characters of `text`, in order.

    `now` may be aware (any zone) or naive (then read as wall-clock time in `tz`).
    `language`: "en", "nl", or None for every language this module reads.
    """
    return _find(text, now, tz, answer=False, language=language)


def find_time_expression(text: str, now: datetime, tz: str, language: Optional[str] = None) -> Optional[TimeMatch]:
    """The first time expression in `text` ("yesterday around 6pm", "gisteravond rond negen uur"), or None."""
    found = find_time_expressions(text, now, tz, language)
    return found[0] if found else None


def parse_time(text: str, now: datetime, tz: str, language: Optional[str] = None) -> Optional[datetime]:
    """The time a whole answer to "when was the session?" names, or None.

    More lenient than searching a message: here "today" or "around 6" alone is an answer.
    """
    found = parse_time_match(text, now, tz, language)
    return found.value if found else None


def parse_time_match(text: str, now: datetime, tz: str, language: Optional[str] = None) -> Optional["TimeMatch"]:
    """Like parse_time, with the match's grain: "day" means no clock time was named."""
    found = _find(text, now, tz, answer=True, language=language)
    return found[0] if found else None


def parse_answer_time(text: str, now: datetime, tz: str, language: Optional[str] = None) -> Optional["TimeMatch"]:
    """The time a whole answer names, where a day and a clock time may come apart:
    "three days ago, in the morning, about 9" -> that day at 09:00 (grain "hour")."""
    found = _find(text, now, tz, answer=True, language=language)
    if not found:
        return None
    first = found[0]
    if first.grain == "day":
        zone = ZoneInfo(tz)
        local_now = now.astimezone(zone)
        for later in found[1:]:
            # A later clock time on its own (resolved to today or the day before) belongs to that day.
            if later.grain in ("hour", "minute") and (local_now.date() - later.value.astimezone(zone).date()).days <= 1:
                clock = later.value.astimezone(zone)
                day = first.value.astimezone(zone).date()
                hour = _in_part_of_day(clock.hour, later.text, text[first.start:later.end + 40])
                value = datetime(day.year, day.month, day.day, hour, clock.minute, tzinfo=zone)
                return TimeMatch(first.start, later.end, text[first.start:later.end], value, later.grain)
    return first


# A part of the day said apart from the clock time ("two days ago, in the morning, about 9"; "'s ochtends").
_SAID_MORNING = re.compile(r"\b(morning|a\.?m\.?|ochtends?|morgens|voormiddag)\b", re.IGNORECASE)
_SAID_LATER = re.compile(r"\b(afternoon|evening|p\.?m\.?|middags?|avonds?|namiddag)\b", re.IGNORECASE)


_EXPLICIT_CLOCK = re.compile(r"\b(0[0-9]|1[3-9]|2[0-3])[:.h]?[0-5]?[0-9]?\b|[ap]\.?m\b", re.IGNORECASE)


def _in_part_of_day(hour: int, clock_text: str, words: str) -> int:
    """A guessed 12-hour clock time ("about 9") moved into the part of the day the driver named elsewhere in
    the answer; a clock time that says it ("20:00", "9pm") stays."""
    if _EXPLICIT_CLOCK.search(clock_text):
        return hour
    morning, later = _SAID_MORNING.search(words), _SAID_LATER.search(words)
    if morning and not later and 12 < hour < 24:
        return hour - 12
    if later and not morning and 1 <= hour < 12:
        return hour + 12
    return hour


def _grammars(language: Optional[str]) -> Tuple[str, ...]:
    if language == "en":
        return ("en",)
    if language == "nl":
        return ("nl", "en")
    return ("en", "nl")  # None, or a language without a grammar of its own yet


def _find(text: str, now: datetime, tz: str, answer: bool, language: Optional[str] = None) -> List[TimeMatch]:
    if not isinstance(text, str) or not text:
        return []
    zone = ZoneInfo(tz)
    local_now = now.astimezone(zone) if now.tzinfo else now.replace(tzinfo=zone)
    candidates: List[Tuple[int, int, int, TimeMatch]] = []
    for priority, name in enumerate(_grammars(language)):
        grammar = _GRAMMARS[name]
        pattern = grammar.in_answer if answer else grammar.in_message
        for m in pattern.finditer(text[:MAX_CHARS]):
            try:
                resolved = grammar.resolve(m, local_now, answer)
            except (ValueError, OverflowError):  # e.g. a date past the year 9999
                continue
            if resolved is None:
                continue
            value, grain = resolved
            start = m.start()
            lead = grammar.leading.match(m.group(0))
            if lead:
                start += lead.end()
            candidates.append((start, m.end(), priority, TimeMatch(start, m.end(), text[start:m.end()], value, grain)))
    if len(_grammars(language)) == 1:
        return [c[3] for c in candidates]
    # Readings of the same words by two grammars: the earliest, then the longest, then the first grammar's.
    found: List[TimeMatch] = []
    for start, end, _, match in sorted(candidates, key=lambda c: (c[0], c[0] - c[1], c[2])):
        if not found or start >= found[-1].end:
            found.append(match)
    return found


def _resolve(m: "re.Match[str]", now: datetime, answer: bool) -> Optional[Tuple[datetime, str]]:
    if m["ago"]:
        return _resolve_ago(m["ago"], now)
    day_text = m["day_a"] or m["day_b"] or m["day_c"]
    tod_text = m["tod_a"] or m["tod_b"] or m["tod_c"] or m.groupdict().get("tod_d")
    day = _resolve_day(day_text, m, now) if day_text else None
    if day_text and day is None:
        return None
    if day is not None and tod_text is None and not answer and _is_lone_today(day_text):
        return None  # "today the app still shows it": not a time a person would note
    clock = _parse_clock(tod_text) if tod_text else None
    if tod_text and clock is None:
        return None
    return _combine(day, clock, now)


def _is_lone_today(day_text: str) -> bool:
    return day_text.strip().lower() in {"today", "tonight"}


def _resolve_ago(text: str, now: datetime) -> Optional[Tuple[datetime, str]]:
    m = re.search(r"(?P<n>.+?)\s*(?P<unit>minutes?|mins?|hours?|hrs?|h|days?)\s+ago$", text, re.I)
    if not m:
        return None
    words = re.sub(rf"^{_APPROX}\s*", "", m["n"].strip(), flags=re.I).lower()
    words = re.sub(r"\s+", " ", words)
    if words.startswith("half"):
        amount = 0.5
    elif words.startswith("a few"):
        amount = 3.0
    elif words.startswith("a couple"):
        amount = 2.0
    elif words in _NUMBER_WORDS:
        amount = float(_NUMBER_WORDS[words])
    else:
        amount = float(words.replace(",", "."))
    unit = m["unit"].lower()
    if unit.startswith("m"):
        delta, grain = timedelta(minutes=amount), "minute"
    elif unit.startswith("d"):
        delta, grain = timedelta(days=amount), "day"
    else:
        delta, grain = timedelta(hours=amount), "minute" if amount % 1 else "hour"
    # Subtract in UTC: wall-clock arithmetic would be an hour off across a DST change.
    value = (now.astimezone(timezone.utc) - delta).astimezone(now.tzinfo)
    return value, grain


def _resolve_day(text: str, m: "re.Match[str]", now: datetime) -> Optional[_Day]:
    lowered = re.sub(r"^(?:on|earlier) ", "", re.sub(r"\s+", " ", text.strip().lower()))
    today = now.date()
    part_match = re.search(r"(morning|afternoon|evening|night)$", lowered)
    part = part_match.group(1) if part_match else None

    if lowered == "last night":
        return _Day(today - timedelta(days=1), "night")
    if lowered == "tonight":
        return _Day(today, "night")
    if lowered.startswith("this ") and part:
        return _Day(today, part)
    if "day before yesterday" in lowered:
        return _Day(today - timedelta(days=2), part)
    if lowered.startswith("yesterday"):
        return _Day(today - timedelta(days=1), part)
    if lowered.startswith("today"):
        return _Day(today, part)

    numeric = _numeric_date(lowered, today)
    if numeric is not None or re.fullmatch(_NUMERIC_DATE, lowered, _FLAGS):
        return _Day(numeric) if numeric else None

    # Month names and weekdays: dateparser knows the words; we pass only the date part.
    date_words = lowered[: part_match.start()].strip() if part else lowered
    date_words = re.sub(r"^(?:last|this past|past) ", "", date_words)
    if _is_may_the_verb(date_words, text):
        return None
    parsed = _dateparser_date(date_words, today)
    return _Day(parsed, part) if parsed else None


@lru_cache(maxsize=256)
def _dateparser_date(words: str, today: date) -> Optional[date]:
    # Cached: a message repeating "23 november" a hundred times costs one parse.
    parsed = dateparser.parse(
        words,
        languages=["en"],
        settings={
            "PREFER_DATES_FROM": "past",
            "RELATIVE_BASE": datetime.combine(today, time(12, 0)),
            "DATE_ORDER": "DMY",
        },
    )
    return parsed.date() if parsed else None


def _is_may_the_verb(date_words: str, typed: str) -> bool:
    # "you may 2 ..." is not the 2nd of May; "May 2" and "may 2nd" are.
    m = re.match(r"may ([0-9]{1,2})(?: |$)", date_words)
    return bool(m) and typed.lstrip()[:1] == "m"


def _numeric_date(text: str, today: date) -> Optional[date]:
    """23/11, 23-11-2024, 23.11.24 (day first, as in Europe) or 2024-11-23; None if invalid."""
    if text == "24/7":  # "24/7 support", not the 24th of July
        return None
    iso = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    if iso:
        year, month, day = (int(g) for g in iso.groups())
        return _safe_date(year, month, day)
    dmy = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{2}|\d{4}))?", text)
    if not dmy:
        return None
    day, month = int(dmy.group(1)), int(dmy.group(2))
    if dmy.group(3):
        year = int(dmy.group(3))
        return _safe_date(year + 2000 if year < 100 else year, month, day)
    candidate = _safe_date(today.year, month, day)
    if candidate is not None and candidate > today:
        candidate = _safe_date(today.year - 1, month, day)
    return candidate


def _safe_date(year: int, month: int, day: int) -> Optional[date]:
    try:
        return date(year, month, day)
    except ValueError:
        return None


_EN_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
               "ten": 10, "eleven": 11, "twelve": 12, "half": 30, "quarter": 15, "twenty": 20, "twenty five": 25,
               "thirty": 30, "fifteen": 15, "forty five": 45, "o five": 5}


def _in_digits(body: str) -> str:
    """A clock time in words as digits, the rest kept: "half past nine in the morning" -> "9:30 in the morning"."""
    words = re.sub(r"[\s-]+", " ", body)
    relative = re.match(r"(?:a )?(half|quarter|five|ten|twenty(?: five)?|\d{1,2})(?: minutes?)? "
                        r"(past|after|to|before) (\w+)(.*)$", words)
    if relative:
        minutes = _EN_NUMBERS.get(relative[1]) or int(relative[1])
        hour = _EN_NUMBERS.get(relative[3]) or (int(relative[3]) if relative[3].isdigit() else None)
        if hour is None or not 1 <= hour <= 12 or minutes >= 60:
            return body
        if relative[2] in ("to", "before"):
            hour, minutes = (hour - 2) % 12 + 1, 60 - minutes
        return f"{hour}:{minutes:02d}{relative[4]}"
    named = re.match(r"(\w+) (o ?'? ?clock|thirty|fifteen|forty five|o five)(.*)$", words)
    if named and named[1] in _EN_NUMBERS and _EN_NUMBERS[named[1]] <= 12:
        minutes = 0 if named[2].startswith("o") and "clock" in named[2] else _EN_NUMBERS[named[2]]
        return f"{_EN_NUMBERS[named[1]]}:{minutes:02d}{named[3]}"
    return body


def _parse_clock(text: str) -> Optional[_ClockTime]:
    body = re.sub(rf"^(?:{_AT}\s*)?(?:{_APPROX}\s*)?", "", text.strip(), flags=re.I | re.X)
    body = _in_digits(re.sub(r"\s?-?ish$", "", body, flags=re.I).strip().lower())
    part = re.search(r"\s+(?:in\s+the\s+(morning|afternoon|evening)|at\s+(night))$", body)
    if part:  # "5 in the afternoon" is 5pm, "11 at night" 11pm, "2 at night" 2am
        body = body[: part.start()]
        hour = int(re.match(r"\d+", body).group(0))
        night_am = part.group(2) and (hour < 5 or hour == 12)
        body += " am" if part.group(1) == "morning" or night_am else " pm"
    if body in ("noon", "midday"):
        return _ClockTime(12, 0, explicit=True)
    if body == "midnight":
        return _ClockTime(0, 0, explicit=True, midnight=True)
    m = re.fullmatch(
        r"(?P<h>\d{1,2})(?:[:.h](?P<m>\d{2})(?::\d{2})?)?\s?(?P<h_suffix>h)?"
        r"\s?(?:(?P<ampm>[ap])\.?m\.?|o'?\s?clock)?",
        body,
    )
    if not m:
        return None
    hour, minute = int(m["h"]), int(m["m"] or 0)
    if hour > 23 or minute > 59:
        return None
    if m["ampm"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if m["ampm"] == "p" else 0)
        return _ClockTime(hour, minute, explicit=True)
    explicit = hour == 0 or hour > 12 or m["h"].startswith("0") or bool(m["h_suffix"]) or "h" in body[:3]
    return _ClockTime(hour, minute, explicit=explicit)


def _combine(day: Optional[_Day], clock: Optional[_ClockTime], now: datetime) -> Tuple[datetime, str]:
    zone = now.tzinfo
    if clock is None:
        if day.part:
            hour = day.hour if day.hour is not None else _PART_HOURS[day.part]
            return _at(day.day, hour, 0, zone), "part_of_day"
        return _at(day.day, 0, 0, zone), "day"

    grain = "minute" if clock.minute else "hour"
    if day is None:
        # A time without a day: its most recent occurrence.
        candidates = [
            _at(d, h, clock.minute, zone)
            for d in (now.date(), now.date() - timedelta(days=1))
            for h in _hour_readings(clock)
        ]
        past = [c for c in candidates if c <= now]
        return (max(past) if past else min(candidates)), grain

    if clock.midnight:
        return _at(day.day + timedelta(days=1), 0, 0, zone), grain
    hour = clock.hour if clock.explicit else _guess_hour(clock.hour, day, clock.minute, now)
    on = day.day
    if day.part == "night" and hour < 5:
        on += timedelta(days=1)  # "last night at 1am" is early this morning
    return _at(on, hour, clock.minute, zone), grain


def _hour_readings(clock: _ClockTime) -> List[int]:
    if clock.explicit:
        return [clock.hour]
    return [clock.hour % 12, clock.hour % 12 + 12]


def _guess_hour(hour: int, day: _Day, minute: int, now: datetime) -> int:
    """An hour typed without am/pm (1-12), read the way a driver means it."""
    if day.part == "morning":
        return hour % 12 if hour == 12 else hour
    if day.part in ("afternoon", "evening"):
        return hour if hour == 12 else hour + 12
    if day.part == "night":
        if hour == 12:
            return 0
        return hour if hour < 5 else hour + 12
    if day.day == now.date():
        # Today: the latest reading that has already happened.
        readings = [h for h in (hour % 12, hour % 12 + 12) if _at(day.day, h, minute, now.tzinfo) <= now]
        return max(readings) if readings else hour
    # Another day: 1-6 are afternoon/evening hours, 7-12 morning hours and noon.
    return hour + 12 if hour <= 6 else hour


def _at(day: date, hour: int, minute: int, zone) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


# --- Dutch ----------------------------------------------------------------------------------------
# The same two steps for Dutch and Flemish drivers. Resolution shares _combine, so an hour without
# a part of the day is read as in English ("gisteren rond zes uur" -> 18:00), and "vannacht" is
# last night ("vannacht om 2 uur" -> 02:00 today, "vannacht om elf uur" -> 23:00 yesterday).

_NL_APOS = r"['\u2019\u2018`]"
_NL_PARTWORD = r"(?:ochtend|morgen|voormiddag|namiddag|middag|avond|nacht)"
_NL_SPART = rf"(?:{_NL_APOS}?s[\s-]?(?:ochtends|morgens|voormiddags|namiddags|middags|avonds|nachts)(?![a-z]))"
_NL_PART_AFTER = rf"(?:{_NL_SPART}|in{_S}de{_S}{_NL_PARTWORD}(?![a-z]))"
_NL_EARLY_LATE = r"(?:\s{1,3}(?:vroeg|laat)(?![a-z]))"
_NL_RELATIVE_DAY = rf"""(?:
    (?:eerder{_S})?vandaag(?:{_S}{_NL_PART_AFTER}|{_S}eerder(?![a-z]))?
  | (?:eer)?gister(?:en)?(?:{_NL_PARTWORD}(?![a-z])|{_S}{_NL_PART_AFTER}|{_S}{_NL_PARTWORD}(?![a-z]))?
  | (?:eerder{_S})?van(?:nochtend|ochtend|morgen|voormiddag|namiddag|middag|avond|nacht)(?![a-z])
  | deze{_S}(?:ochtend|morgen|voormiddag|namiddag|middag|avond|nacht)(?![a-z])
  | (?:afgelopen|vorige){_S}nacht(?![a-z])
  ){_NL_EARLY_LATE}?"""
_NL_WEEKDAY = r"(?:maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag)"
_NL_WEEKDAY_DAY = rf"""(?:(?:afgelopen|vorige|voorbije|verleden){_S}(?:week{_S})?)?{_NL_WEEKDAY}
    (?:{_NL_PARTWORD}(?![a-z])|{_S}{_NL_PART_AFTER}|{_S}{_NL_PARTWORD}(?![a-z]))?{_NL_EARLY_LATE}?
    (?:{_S}(?:jl\.?|j\.l\.|laatstleden)(?![a-z]))?"""
_NL_LAST_WEEK = rf"(?:vorige|afgelopen|verleden){_S}week(?![a-z])"
_NL_MONTH = (
    r"(?:januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december"
    r"|jan|febr|feb|mrt|apr|jun|jul|aug|sept|sep|okt|nov|dec)(?![a-z])\.?"
)
_NL_DAYNUM = r"(?:3[01]|[12][0-9]|0?[1-9])(?:ste|de|e)?(?![0-9a-z])"
_NL_NAMED_DATE = rf"""(?:(?:{_NL_WEEKDAY}|(?:ma|di|wo|do|vr|za|zo)\.?),?{_S})?
    {_NL_DAYNUM}{_S}{_NL_MONTH}(?:,?{_S}{_YEAR})?"""
_NL_DAY = rf"""(?:{_NL_RELATIVE_DAY}
  | (?:op{_S})?(?:{_NL_NAMED_DATE}|{_NUMERIC_DATE}|{_NL_WEEKDAY_DAY})
  | {_NL_LAST_WEEK})"""

# Hours as words. "een" is an hour only where nothing else fits ("om een uur", "half een"): "om een
# nieuwe sessie te starten" is not one o'clock. The -en forms ("rond negenen") are hours wherever they are.
_NL_HOUR_WORDS = {
    "een": 1, "één": 1, "eén": 1, "twee": 2, "drie": 3, "vier": 4, "vijf": 5, "zes": 6, "zeven": 7,
    "acht": 8, "negen": 9, "tien": 10, "elf": 11, "twaalf": 12,
}
_NL_HOURS_EN = {
    "enen": 1, "tweeën": 2, "tweeen": 2, "drieën": 3, "drieen": 3, "vieren": 4, "vijven": 5, "zessen": 6,
    "zevenen": 7, "achten": 8, "negenen": 9, "tienen": 10, "elven": 11, "twaalven": 12,
}
_NL_MINUTE_WORDS = {
    "twee": 2, "drie": 3, "vier": 4, "vijf": 5, "zes": 6, "zeven": 7, "acht": 8, "negen": 9, "tien": 10,
    "elf": 11, "twaalf": 12, "dertien": 13, "veertien": 14, "kwart": 15, "twintig": 20,
}
_NL_HWORD = r"(?:twaalf|twee|drie|vier|vijf|zeven|zes|acht|negen|tien|elf|één|eén|een)"
_NL_HWORD_BARE = r"(?:twaalf|twee|drie|vier|vijf|zeven|zes|acht|negen|tien|elf|één|eén)"
_NL_HWORD_EN = (
    r"(?:twaalven|tweeën|tweeen|drieën|drieen|vieren|vijven|zevenen|zessen|achten|negenen|tienen|elven|enen)"
)
_NL_MINWORD = r"(?:kwart|twintig|veertien|dertien|twaalf|elf|tien|negen|acht|zeven|zes|vijf|vier|drie|twee)"
_NL_H = rf"(?:{_H24}(?![0-9])|{_NL_HWORD}(?![a-z]))"
_NL_UNIT = r"""(?:%|procent|[a-z]*kwh|kw\b|eur|euros?\b|x\b|keer|min\b|minuut|minuten|minuutjes|uur|uren|u\b|h\b
        |dag|dagen|weken|week|maand|maanden|jaar|paal|palen|laadpalen|stations?|sessies?|pas|passen|kaart
        |kaarten|km|kilometer|cent|kwartier)"""
# Read as times on their own.
_NL_TOD_ALONE = rf"""(?:
    {_H24}:[0-5][0-9](?::[0-5][0-9])?(?:\s?uur(?![a-z]))?(?![0-9])       # 18:00, 18:00 uur
  | {_H24}\.[0-5][0-9]\s?uur(?![a-z])                                   # 18.30 uur
  | {_H24}[uh](?:[0-5][0-9])?(?![0-9a-z])                               # 21u, 9u30, 18h
  | {_NL_MINWORD}{_S}(?:minuten{_S})?(?:over|voor){_S}(?:half{_S})?{_NL_H}    # kwart over zes, tien voor half negen
  | [0-9]{{1,2}}{_S}(?:minuten{_S})?(?:over|voor){_S}half{_S}{_NL_H}    # 10 voor half 9
  | half{_S}{_NL_HWORD}(?![a-z])                                        # half acht (07:30)
  | middernacht | (?:het{_S})?middaguur | tussen{_S}de{_S}middag(?![a-z])
  )"""
# Read as times after "om", "rond", ... or next to a day ("om 9 uur", "rond 18.30", "gisteren 9 uur").
_NL_TOD_NEAR = rf"""(?:
    (?:{_H24}(?![0-9])|{_NL_HWORD}(?![a-z]))\s?uur(?![a-z])(?!{_S}(?:geleden|terug|lang|later|eerder|of)(?![a-z]))
  | {_H24}\.[0-5][0-9](?![0-9])(?!\s?{_NL_UNIT})
  | [0-9]{{1,2}}{_S}(?:minuten{_S})?(?:over|voor){_S}{_NL_H}              # 10 over 6
  | half{_S}{_H24}(?![0-9])                                             # half 8
  | de{_S}middag(?![a-z])
  | {_NL_HWORD_EN}(?![a-z])                                              # negenen
  )"""
# A bare hour ("om 9", "rond negen") only in a whole answer, or with a part of the day or a day.
_NL_TOD_BARE = rf"(?:{_H24}(?![0-9])|{_NL_HWORD_BARE}(?![a-z]))(?!\s?{_NL_UNIT})"
_NL_PREFIX = rf"""(?:(?:(?:om|rond|rondom|omstreeks|ongeveer|circa|ca\.|zo{_NL_APOS}n|plusminus|pakweg|tegen|sinds
    |vanaf|ergens|een{_S}uur(?:tje)?{_S}of)(?![a-z])\s{{1,3}}){{1,3}})"""
_NL_PART_SUFFIX = rf"(?:{_S}{_NL_PART_AFTER})"
_NL_TOD_MESSAGE = rf"""(?:(?:{_NL_SPART}{_S})?(?:
    (?:(?:rond|om|ongeveer|tegen|ergens)\s{{1,3}}){{0,2}}een{_S}uur(?:tje)?{_S}of{_S}{_NL_TOD_BARE}{_NL_PART_SUFFIX}?
  | {_NL_PREFIX}?{_NL_TOD_ALONE}{_NL_PART_SUFFIX}?
  | {_NL_PREFIX}{_NL_TOD_NEAR}{_NL_PART_SUFFIX}?
  | {_NL_PREFIX}?(?:{_NL_TOD_NEAR}|{_NL_TOD_BARE}){_NL_PART_SUFFIX}
  ))"""
_NL_TOD_AFTER_DAY = rf"""(?:
    {_NL_TOD_MESSAGE}
  | {_NL_TOD_NEAR}
  | {_NL_PREFIX}{_NL_TOD_BARE}
  )"""

_NL_AGO_NUMBER = rf"""(?:[0-9]{{1,3}}(?:[.,][0-9])?|anderhalf|anderhalve|(?:een{_S})?half|(?:een{_S})?halve
    |(?:een{_S})?paar|enkele|een{_S}aantal|twaalf|twee|drie|vier|vijftien|vijftig|vijf|zes|zeven|acht|negen
    |tien|elf|twintig|dertig|veertig|één|eén|een)"""
_NL_AGO_UNIT = r"""(?:minuutjes|minuutje|minuten|minuut|mins?|kwartiertje|kwartier|halfuurtje|halfuur|uurtjes
    |uurtje|uren|uur|u|dagjes|dagje|dagen|dag|weken|week)"""
_NL_AGO = rf"""(?:{_NL_AGO_NUMBER}\s{{0,3}}{_NL_AGO_UNIT}
    |een{_S}(?:uurtje|uur|dagje|dag|minuutje|minuut|kwartier){_S}of{_S}(?:[0-9]{{1,3}}|{_NL_HWORD}))
    \s{{1,3}}(?:geleden|terug)(?![a-z])"""


def _nl_expression(answer: bool) -> "re.Pattern[str]":
    lone_hour = rf"| (?P<tod_d>{_NL_PREFIX}{_NL_TOD_BARE})" if answer else ""
    return re.compile(
        rf"""(?<![A-Za-z0-9])(?:
            (?P<ago>{_NL_AGO})
          | (?P<day_a>{_NL_DAY})(?:\s{{0,3}},?\s{{0,3}}(?P<tod_a>{_NL_TOD_AFTER_DAY}))?
          | (?P<tod_b>{_NL_TOD_MESSAGE})(?:\s{{0,3}},?\s{{0,3}}(?P<day_b>{_NL_DAY}))?
          | (?P<tod_c>{_NL_PREFIX}{_NL_TOD_BARE}){_S},?\s{{0,3}}(?P<day_c>{_NL_DAY})
          {lone_hour}
        )(?![A-Za-z0-9])""",
        _FLAGS,
    )


_NL_IN_MESSAGE = _nl_expression(answer=False)
_NL_IN_ANSWER = _nl_expression(answer=True)
# Not part of the span, as annotated in the Dutch training data.
_NL_LEADING = re.compile(
    rf"^(?:(?:om|sinds|vanaf|ongeveer|tegen|zo{_NL_APOS}n|circa|ca\.|plusminus|pakweg|ergens)(?![a-z])\s{{1,3}})+",
    _FLAGS,
)
_NL_PARTS = {
    "ochtend": "morning", "morgen": "morning", "voormiddag": "morning",
    "middag": "afternoon", "namiddag": "afternoon", "avond": "evening", "nacht": "night",
}
# "vroeg" and "laat" move a part of the day's typical hour.
_NL_EARLY = {"morning": 7, "afternoon": 13, "evening": 18}
_NL_LATE = {"morning": 11, "afternoon": 17, "evening": 22}
_NL_WEEKDAYS = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
_NL_MONTHS = {
    "jan": 1, "feb": 2, "mrt": 3, "maa": 3, "apr": 4, "mei": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
    "okt": 10, "nov": 11, "dec": 12,
}


def _nl_resolve(m: "re.Match[str]", now: datetime, answer: bool) -> Optional[Tuple[datetime, str]]:
    if m["ago"]:
        return _nl_resolve_ago(m["ago"], now)
    day_text = m["day_a"] or m["day_b"] or m["day_c"]
    tod_text = m["tod_a"] or m["tod_b"] or m["tod_c"] or m.groupdict().get("tod_d")
    day = _nl_resolve_day(day_text, now) if day_text else None
    if day_text and day is None:
        return None
    if day is not None and tod_text is None and not answer and _normal(day_text) == "vandaag":
        return None  # "vandaag werkt mijn pas niet": not a time a person would note
    clock = _nl_parse_clock(tod_text) if tod_text else None
    if tod_text and clock is None:
        return None
    return _combine(day, clock, now)


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(_NL_APOS, "'", text.strip().lower()))


def _nl_part(text: str) -> Tuple[str, Optional[str]]:
    """("gisteren", "evening") for "gisteren 's avonds", "gisterenavond", "gisteren in de avond"."""
    m = re.search(r"(?:'?s[ -]?|in de |\b| )?(voormiddag|namiddag|ochtend|morgen|middag|avond|nacht)s?$", text)
    if not m:
        return text, None
    return text[: m.start()].strip(), _NL_PARTS[m.group(1)]


def _nl_resolve_day(text: str, now: datetime) -> Optional[_Day]:
    lowered = _normal(text)
    lowered = re.sub(r"^(?:op|eerder) ", "", lowered)
    lowered = re.sub(r" (?:jl\.?|j\.l\.|laatstleden|eerder)$", "", lowered)
    modifier = None
    m = re.search(r" (vroeg|laat)$", lowered)
    if m:
        modifier, lowered = m.group(1), lowered[: m.start()]
    today = now.date()

    if re.fullmatch(r"(?:vorige|afgelopen|verleden) week", lowered):
        return _Day(today - timedelta(days=7))
    base, part = _nl_part(lowered)
    hour = None
    if part and modifier:
        hour = (_NL_EARLY if modifier == "vroeg" else _NL_LATE).get(part)

    if base in ("afgelopen", "vorige") and part == "night":
        return _Day(today - timedelta(days=1), "night", hour)
    if base in ("van", "vann", "deze") and part:
        # "vannacht" is the night that has just passed: yesterday's night, as "last night".
        on = today - timedelta(days=1) if part == "night" else today
        return _Day(on, part, hour)
    if base == "vandaag":
        return _Day(today, part, hour)
    if re.fullmatch(r"eergister(?:en)?", base):
        return _Day(today - timedelta(days=2), part, hour)
    if re.fullmatch(r"gister(?:en)?", base):
        return _Day(today - timedelta(days=1), part, hour)

    weekday = re.search(r"(maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag)$", base)
    if weekday and not re.search(r"[0-9]", base):
        index = _NL_WEEKDAYS.index(weekday.group(1))
        if re.search(r"\bweek\b", base):  # "vorige week vrijdag": that day of last week
            on = today - timedelta(days=today.weekday() + 7 - index)
        else:  # the most recent one before today, as dateparser reads "monday" in English
            on = today - timedelta(days=(today.weekday() - index - 1) % 7 + 1)
        return _Day(on, part, hour)

    numeric = _numeric_date(lowered, today)
    if numeric is not None or re.fullmatch(_NUMERIC_DATE, lowered, _FLAGS):
        return _Day(numeric) if numeric else None

    named = re.search(r"([0-9]{1,2})(?:ste|de|e)? ([a-z]{3})[a-z]*\.?(?:,? ([0-9]{4}))?$", lowered)
    if named and named.group(2) in _NL_MONTHS:
        day_number, month = int(named.group(1)), _NL_MONTHS[named.group(2)]
        if named.group(3):
            return _Day(date(int(named.group(3)), month, day_number))
        candidate = _safe_date(today.year, month, day_number)
        if candidate is not None and candidate > today:
            candidate = _safe_date(today.year - 1, month, day_number)
        return _Day(candidate) if candidate else None
    return None


def _nl_number(word: str) -> Optional[int]:
    word = word.strip().lower()
    if word.isdigit():
        return int(word)
    return _NL_HOUR_WORDS.get(word, _NL_MINUTE_WORDS.get(word, _NL_HOURS_EN.get(word)))


def _nl_parse_clock(text: str) -> Optional[_ClockTime]:
    body = _normal(text)
    part = None
    lead = re.match(r"'?s[ -]?(ochtend|morgen|voormiddag|namiddag|middag|avond|nacht)s ", body)
    if lead:
        part, body = _NL_PARTS[lead.group(1)], body[lead.end():]
    body = re.sub(
        r"^(?:(?:om|rond|rondom|omstreeks|ongeveer|circa|ca\.|zo'n|plusminus|pakweg|tegen|sinds|vanaf|ergens"
        r"|een uur(?:tje)? of) )+", "", body)
    tail = re.search(r" (?:'?s[ -]?(ochtend|morgen|voormiddag|namiddag|middag|avond|nacht)s"
                     r"|in de (ochtend|morgen|voormiddag|namiddag|middag|avond|nacht))$", body)
    if tail:
        part, body = _NL_PARTS[tail.group(1) or tail.group(2)], body[: tail.start()]
    if body == "middernacht":
        return _ClockTime(0, 0, explicit=True, midnight=True)
    if body in ("middaguur", "het middaguur", "tussen de middag", "de middag"):
        return _ClockTime(12, 0, explicit=True)

    explicit = False
    m = re.fullmatch(r"(\d{1,2})(?:[:.](\d{2})(?::\d{2})?)?(?: ?uur)?", body)
    h = re.fullmatch(r"(\d{1,2})[uh](\d{2})?", body)
    half = re.fullmatch(r"half (\S+)", body)
    relative = re.fullmatch(r"(\S+) (?:minuten )?(over|voor) (half )?(\S+)", body)
    word = re.fullmatch(r"(\S+)(?: ?uur)?", body)
    if m:
        hour, minute = int(m.group(1)), int(m.group(2) or 0)
        explicit = hour == 0 or hour > 12 or m.group(1).startswith("0")
    elif h:
        hour, minute, explicit = int(h.group(1)), int(h.group(2) or 0), True
    elif half:
        hour, minute = _nl_number(half.group(1)), 30
        if hour is None or not 1 <= hour <= 24:
            return None
        explicit = hour > 12
        hour = (hour - 1) or 12
    elif relative:
        count, base = _nl_number(relative.group(1)), _nl_number(relative.group(4))
        if count is None or base is None or not 1 <= count <= 29 or not 1 <= base <= 24:
            return None
        explicit = base > 12
        minute = 30 if relative.group(3) else 0
        if relative.group(3):
            base -= 1
        minute += count if relative.group(2) == "over" else -count
        if minute < 0:
            base, minute = base - 1, minute + 60
        if minute >= 60:
            base, minute = base + 1, minute - 60
        hour = base % 24 if explicit else (base % 12 or 12)
    elif word and _nl_number(word.group(1)) is not None:
        hour, minute = _nl_number(word.group(1)), 0
        explicit = hour > 12
    else:
        return None
    if hour > 23 or minute > 59:
        return None
    if part and hour <= 12:
        if part == "morning":
            hour = 0 if hour == 12 else hour
        elif part == "afternoon":
            hour = hour if hour == 12 else hour + 12
        elif part == "evening":
            if hour == 12:
                return _ClockTime(0, minute, explicit=True, midnight=minute == 0)
            hour += 12
        elif hour == 12 or hour < 5:  # night: "2 uur 's nachts" is 02:00, "11 uur 's nachts" 23:00
            if hour == 12 and minute == 0:
                return _ClockTime(0, 0, explicit=True, midnight=True)
            hour %= 12
        else:
            hour += 12
        explicit = True
    return _ClockTime(hour, minute, explicit=explicit)


def _nl_resolve_ago(text: str, now: datetime) -> Optional[Tuple[datetime, str]]:
    lowered = _normal(text)
    of = re.match(r"een (uurtje|uur|dagje|dag|minuutje|minuut|kwartier) of (\S+)", lowered)
    if of:
        amount, unit = _nl_number(of.group(2)), of.group(1)
        if amount is None:
            return None
        amount = float(amount)
    else:
        m = re.match(r"(?P<n>.+?) ?(?P<unit>minuutjes|minuutje|minuten|minuut|mins?|kwartiertje|kwartier"
                     r"|halfuurtje|halfuur|uurtjes|uurtje|uren|uur|u|dagjes|dagje|dagen|dag|weken|week)"
                     r" (?:geleden|terug)$", lowered)
        if not m:
            return None
        words, unit = m["n"].strip(), m["unit"]
        if words in ("anderhalf", "anderhalve"):
            amount = 1.5
        elif words in ("half", "een half", "halve", "een halve"):
            amount = 0.5
        elif words in ("paar", "een paar"):
            amount = 2.0
        elif words in ("enkele", "een aantal"):
            amount = 3.0
        elif words in _NL_HOUR_WORDS or words in ("vijftien", "twintig", "dertig", "veertig", "vijftig"):
            amount = float(_NL_HOUR_WORDS.get(words) or
                           {"vijftien": 15, "twintig": 20, "dertig": 30, "veertig": 40, "vijftig": 50}[words])
        else:
            amount = float(words.replace(",", "."))
    if unit.startswith("halfuur"):
        delta, grain = timedelta(minutes=30 * amount), "minute"
    elif unit.startswith("kwartier"):
        delta, grain = timedelta(minutes=15 * amount), "minute"
    elif unit.startswith("m"):
        delta, grain = timedelta(minutes=amount), "minute"
    elif unit.startswith("d"):
        delta, grain = timedelta(days=amount), "day"
    elif unit.startswith("we"):
        delta, grain = timedelta(days=7 * amount), "day"
    else:
        delta, grain = timedelta(hours=amount), "minute" if amount % 1 else "hour"
    value = (now.astimezone(timezone.utc) - delta).astimezone(now.tzinfo)
    return value, grain


@dataclass(frozen=True)
class _Grammar:
    in_message: "re.Pattern[str]"
    in_answer: "re.Pattern[str]"
    resolve: Callable[["re.Match[str]", datetime, bool], Optional[Tuple[datetime, str]]]
    leading: "re.Pattern[str]"


_GRAMMARS = {
    "en": _Grammar(_IN_MESSAGE, _IN_ANSWER, _resolve, _LEADING_AT),
    "nl": _Grammar(_NL_IN_MESSAGE, _NL_IN_ANSWER, _nl_resolve, _NL_LEADING),
}
