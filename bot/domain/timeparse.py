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
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime, time, timedelta, timezone
from typing import List, Optional, Tuple
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

# Times of day that read as times on their own.
_TOD = rf"""(?:
    {_H24}:[0-5][0-9](?::[0-5][0-9])?(?:\s?{_AMPM})?     # 18:00, 6:30pm
  | {_H12}(?:[.:][0-5][0-9])?\s?{_AMPM}                  # 6pm, 6.30 p.m.
  | {_H24}h(?:[0-5][0-9])?\b                             # 18h, 18h30
  | {_H12}\s?o'?\s?clock\b                               # 6 o'clock
  | {_H12}(?:[.:][0-5][0-9])?{_S}(?:in{_S}the{_S}(?:morning|afternoon|evening)|at{_S}night)\b  # 5 in the afternoon
  | noon | midday | midnight
  ){_ISH}(?![0-9])"""
# A bare hour ("around 11") is a time only next to a day or after "at"/"around";
# never when a unit follows ("at 22 kW", "around 6 stations").
# A number followed by one of these is a quantity, not a time or a date ("at 22 kW", "15.2 kWh").
_UNIT = r"""(?:%|percent|[a-z]*kwh|kw\b|eur|euros?\b|x\b|times|min|minutes?|hours?|hrs?|h\b|days?
        |weeks?|months?|years?|stations?|chargers?|sessions?|cards?|km|miles?|cents?)"""
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


@dataclass(frozen=True)
class _ClockTime:
    hour: int
    minute: int
    explicit: bool  # am/pm, 24-hour or leading zero: no guessing needed
    midnight: bool = False


def find_time_expressions(text: str, now: datetime, tz: str) -> List[TimeMatch]:
    """Every time expression in the first MAX_CHARS characters of `text`, in order.

    `now` may be aware (any zone) or naive (then read as wall-clock time in `tz`).
    """
    return _find(text, now, tz, answer=False)


def find_time_expression(text: str, now: datetime, tz: str) -> Optional[TimeMatch]:
    """The first time expression in `text` ("yesterday around 6pm"), or None."""
    found = find_time_expressions(text, now, tz)
    return found[0] if found else None


def parse_time(text: str, now: datetime, tz: str) -> Optional[datetime]:
    """The time a whole answer to "when was the session?" names, or None.

    More lenient than searching a message: here "today" or "around 6" alone is an answer.
    """
    found = _find(text, now, tz, answer=True)
    return found[0].value if found else None


def _find(text: str, now: datetime, tz: str, answer: bool) -> List[TimeMatch]:
    if not isinstance(text, str) or not text:
        return []
    zone = ZoneInfo(tz)
    local_now = now.astimezone(zone) if now.tzinfo else now.replace(tzinfo=zone)
    found = []
    pattern = _IN_ANSWER if answer else _IN_MESSAGE
    for m in pattern.finditer(text[:MAX_CHARS]):
        try:
            resolved = _resolve(m, local_now, answer)
        except (ValueError, OverflowError):  # e.g. a date past the year 9999
            continue
        if resolved is None:
            continue
        value, grain = resolved
        start = m.start()
        lead = _LEADING_AT.match(m.group(0))
        if lead:
            start += lead.end()
        found.append(TimeMatch(start, m.end(), text[start:m.end()], value, grain))
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


def _parse_clock(text: str) -> Optional[_ClockTime]:
    body = re.sub(rf"^(?:{_AT}\s*)?(?:{_APPROX}\s*)?", "", text.strip(), flags=re.I | re.X)
    body = re.sub(r"\s?-?ish$", "", body, flags=re.I).strip().lower()
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
            return _at(day.day, _PART_HOURS[day.part], 0, zone), "part_of_day"
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
