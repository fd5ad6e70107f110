"""Times as drivers write them, read at a fixed moment in Amsterdam."""
from __future__ import annotations

import random
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.domain.timeparse import find_time_expression, find_time_expressions, parse_time, parse_time_match

TZ = "Europe/Amsterdam"
AMS = ZoneInfo(TZ)
# Monday 25 November 2024, 10:00 in Amsterdam.
NOW = datetime(2024, 11, 25, 10, 0, tzinfo=AMS)


def ams(*args: int) -> datetime:
    return datetime(*args, tzinfo=AMS)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("yesterday around 6pm", ams(2024, 11, 24, 18, 0)),
        ("yesterday at 18:00", ams(2024, 11, 24, 18, 0)),
        ("yesterday at 6", ams(2024, 11, 24, 18, 0)),
        ("yesterday about 8:30", ams(2024, 11, 24, 8, 30)),
        ("yesterday, roughly 7pm-ish", ams(2024, 11, 24, 19, 0)),
        ("yesterday 18h30", ams(2024, 11, 24, 18, 30)),
        ("last night around 11", ams(2024, 11, 24, 23, 0)),
        ("last night at 1am", ams(2024, 11, 25, 1, 0)),
        ("around 11 last night", ams(2024, 11, 24, 23, 0)),
        ("last night", ams(2024, 11, 24, 22, 0)),
        ("this morning", ams(2024, 11, 25, 9, 0)),
        ("8:30 this morning", ams(2024, 11, 25, 8, 30)),
        ("yesterday evening around 7", ams(2024, 11, 24, 19, 0)),
        ("2 hours ago", ams(2024, 11, 25, 8, 0)),
        ("an hour ago", ams(2024, 11, 25, 9, 0)),
        ("half an hour ago", ams(2024, 11, 25, 9, 30)),
        ("a couple of hours ago", ams(2024, 11, 25, 8, 0)),
        ("monday at 14:00", ams(2024, 11, 18, 14, 0)),
        ("friday evening", ams(2024, 11, 22, 19, 0)),
        ("last sunday around 8", ams(2024, 11, 24, 8, 0)),
        ("23 november 18:30", ams(2024, 11, 23, 18, 30)),
        ("23rd of November at 6pm", ams(2024, 11, 23, 18, 0)),
        ("November 23rd at 6pm", ams(2024, 11, 23, 18, 0)),
        ("saturday 23 november at 7pm", ams(2024, 11, 23, 19, 0)),
        ("23/11 at 7pm", ams(2024, 11, 23, 19, 0)),
        ("23-11-2024 19:00", ams(2024, 11, 23, 19, 0)),
        ("2024-11-23T18:00", ams(2024, 11, 23, 18, 0)),
        ("6pm yesterday", ams(2024, 11, 24, 18, 0)),
        ("yesterday", ams(2024, 11, 24, 0, 0)),
        ("day before yesterday", ams(2024, 11, 23, 0, 0)),
        ("yesterday at midnight", ams(2024, 11, 25, 0, 0)),
        ("yesterday at 5 in the afternoon", ams(2024, 11, 24, 17, 0)),
        ("yesterday at 11 at night", ams(2024, 11, 24, 23, 0)),
        ("earlier today", ams(2024, 11, 25, 0, 0)),
        ("earlier this morning", ams(2024, 11, 25, 9, 0)),
        ("on 23.11 at 18:00", ams(2024, 11, 23, 18, 0)),
    ],
)
def test_driver_phrasings_resolve_to_the_moment_they_mean(text, expected):
    found = find_time_expression(text, NOW, TZ)

    assert found is not None, text
    assert found.value == expected
    assert found.value.utcoffset() == expected.utcoffset()
    assert found.text == text  # the whole expression, nothing less


@pytest.mark.parametrize(
    "sentence, expression",
    [
        ("it was yesterday around 6pm at the Jaarbeurs", "yesterday around 6pm"),
        # "on" before a date belongs to it, as annotated in data/nlu.yml ("[on monday at 14:00](time)").
        ("I started charging on monday at 14:00 in Utrecht", "on monday at 14:00"),
        ("unplugged at 6pm yesterday, still active", "6pm yesterday"),
        ("plugged in at around 9 this morning", "around 9 this morning"),
        ("it has been active since yesterday and I stopped", "yesterday"),
        ("on 23/11 at 7pm at Allego", "on 23/11 at 7pm"),
        ("my charge at the Vrijthof earlier today is still open", "earlier today"),
    ],
)
def test_the_span_is_the_whole_expression_as_typed(sentence, expression):
    found = find_time_expression(sentence, NOW, TZ)

    assert found is not None
    assert (found.start, found.end, found.text) == (
        sentence.index(expression),
        sentence.index(expression) + len(expression),
        expression,
    )
    assert sentence[found.start : found.end] == expression


@pytest.mark.parametrize(
    "text",
    [
        "I may have a problem",
        "since march it happens a second time",
        "now it is still active",
        "today the app still says active",
        "I charged at 22 kW",
        "your 24/7 support",
        "call 06-12345678",
        "postcode 1012 AB",
        "card NL-EFL-C12345678-9",
        "I was there at 6 and left",
        # Meter readings with a decimal point are not day.month dates.
        "kwh stays at 23.4",
        "it's stuck at 15.2 kWh",
        "it shows 23.11 kWh",
        "",
    ],
)
def test_words_that_only_look_like_times_are_not_times(text):
    assert find_time_expressions(text, NOW, TZ) == []


def test_a_number_of_things_after_a_day_is_not_its_hour():
    found = find_time_expressions("yesterday at 6 stations it failed", NOW, TZ)

    assert [(m.text, m.value) for m in found] == [("yesterday", ams(2024, 11, 24, 0, 0))]


def test_dates_without_a_year_are_read_in_the_past():
    nov_20 = datetime(2024, 11, 20, 10, 0, tzinfo=AMS)

    assert find_time_expression("23 november", nov_20, TZ).value == ams(2023, 11, 23, 0, 0)
    assert find_time_expression("23/11", nov_20, TZ).value == ams(2023, 11, 23, 0, 0)


def test_a_clock_time_without_a_day_is_its_most_recent_occurrence():
    assert find_time_expression("it stopped at 18:00", NOW, TZ).value == ams(2024, 11, 24, 18, 0)
    assert find_time_expression("it stopped at 08:00", NOW, TZ).value == ams(2024, 11, 25, 8, 0)


def test_hours_ago_count_real_hours_across_the_dst_change():
    # 31 March 2024: clocks jump from 02:00 to 03:00 in Amsterdam.
    just_after = datetime(2024, 3, 31, 3, 30, tzinfo=AMS)

    found = find_time_expression("2 hours ago", just_after, TZ)

    assert found.value == datetime(2024, 3, 30, 23, 30, tzinfo=timezone.utc)
    assert found.value.isoformat() == "2024-03-31T00:30:00+01:00"


def test_times_are_read_in_the_drivers_time_zone_whatever_zone_now_is_in():
    now_utc = NOW.astimezone(timezone.utc)

    amsterdam = find_time_expression("yesterday at 18:00", now_utc, TZ).value
    new_york = find_time_expression("yesterday at 18:00", now_utc, "America/New_York").value

    assert amsterdam.isoformat() == "2024-11-24T18:00:00+01:00"
    assert new_york.isoformat() == "2024-11-24T18:00:00-05:00"


def test_every_expression_in_a_message_is_found_in_order():
    found = find_time_expressions("from yesterday at 18:00 until 2 hours ago", NOW, TZ)

    assert [m.text for m in found] == ["yesterday at 18:00", "2 hours ago"]


def test_grain_tells_how_precise_the_driver_was():
    def grain(text: str) -> str:
        return find_time_expression(text, NOW, TZ).grain

    assert grain("yesterday") == "day"
    assert grain("last night") == "part_of_day"
    assert grain("yesterday around 6pm") == "hour"
    assert grain("yesterday at 18:30") == "minute"


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("yesterday around 6pm", ams(2024, 11, 24, 18, 0)),
        ("I think it was yesterday around 6pm", ams(2024, 11, 24, 18, 0)),
        ("today", ams(2024, 11, 25, 0, 0)),
        ("around 6", ams(2024, 11, 25, 6, 0)),
        ("last night around 11", ams(2024, 11, 24, 23, 0)),
    ],
)
def test_parse_time_reads_a_whole_answer(answer, expected):
    assert parse_time(answer, NOW, TZ) == expected


@pytest.mark.parametrize("answer", ["no idea", "6", "", "may"])
def test_parse_time_returns_none_for_answers_without_a_time(answer):
    assert parse_time(answer, NOW, TZ) is None


_RNG = random.Random(5)


@pytest.mark.parametrize(
    "garbage",
    [
        "".join(chr(_RNG.randint(32, 0x2FFF)) for _ in range(100_000)),
        "yesterday at " * 8_000,
        "23 november " * 9_000,
        "around " * 15_000,
        "1/1/" * 25_000,
    ],
)
def test_100_kb_messages_are_read_quickly(garbage):
    started = time.perf_counter()
    find_time_expressions(garbage, NOW, TZ)
    parse_time(garbage, NOW, TZ)
    assert time.perf_counter() - started < 2.0


# --- Dutch ----------------------------------------------------------------------------------------
# The same fixed moment: Monday 25 November 2024, 10:00 in Amsterdam.


@pytest.mark.parametrize(
    "text, expected, grain",
    [
        ("gisteravond rond negen uur", ams(2024, 11, 24, 21, 0), "hour"),
        ("vanochtend om half acht", ams(2024, 11, 25, 7, 30), "minute"),
        ("maandag rond 17:00", ams(2024, 11, 18, 17, 0), "hour"),
        ("gisteren om 18.30", ams(2024, 11, 24, 18, 30), "minute"),
        ("eergisteren", ams(2024, 11, 23, 0, 0), "day"),
        ("vannacht", ams(2024, 11, 24, 22, 0), "part_of_day"),
        ("een uur geleden", ams(2024, 11, 25, 9, 0), "hour"),
        ("vanmiddag", ams(2024, 11, 25, 15, 0), "part_of_day"),
        ("gisteren", ams(2024, 11, 24, 0, 0), "day"),
        ("zaterdag", ams(2024, 11, 23, 0, 0), "day"),
        ("vannacht om 2 uur", ams(2024, 11, 25, 2, 0), "hour"),
        ("vannacht om elf uur", ams(2024, 11, 24, 23, 0), "hour"),
        ("gisteren om 7 uur 's avonds", ams(2024, 11, 24, 19, 0), "hour"),
        ("gisteren om 3 uur 's middags", ams(2024, 11, 24, 15, 0), "hour"),
        ("gisteren rond zes uur", ams(2024, 11, 24, 18, 0), "hour"),
        ("gisterenavond tegen tienen", ams(2024, 11, 24, 22, 0), "hour"),
        ("gisterochtend om kwart over acht", ams(2024, 11, 24, 8, 15), "minute"),
        ("gistermiddag om vijf uur", ams(2024, 11, 24, 17, 0), "hour"),
        ("gister avond", ams(2024, 11, 24, 19, 0), "part_of_day"),
        ("eergisteravond", ams(2024, 11, 23, 19, 0), "part_of_day"),
        ("afgelopen nacht", ams(2024, 11, 24, 22, 0), "part_of_day"),
        ("vanmorgen vroeg", ams(2024, 11, 25, 7, 0), "part_of_day"),
        ("eerder vandaag", ams(2024, 11, 25, 0, 0), "day"),
        ("zondagmiddag", ams(2024, 11, 24, 15, 0), "part_of_day"),
        ("op zaterdagochtend", ams(2024, 11, 23, 9, 0), "part_of_day"),
        ("op maandag om 14:00", ams(2024, 11, 18, 14, 0), "hour"),
        ("vrijdag rond 20:00", ams(2024, 11, 22, 20, 0), "hour"),
        ("woensdag rond 9 uur", ams(2024, 11, 20, 9, 0), "hour"),
        ("afgelopen maandag", ams(2024, 11, 18, 0, 0), "day"),
        ("vorige week vrijdag", ams(2024, 11, 22, 0, 0), "day"),
        ("vorige week", ams(2024, 11, 18, 0, 0), "day"),
        ("23 november 18:30", ams(2024, 11, 23, 18, 30), "minute"),
        ("zaterdag 23 november om 19:00", ams(2024, 11, 23, 19, 0), "hour"),
        ("za 23 nov", ams(2024, 11, 23, 0, 0), "day"),
        ("op 23/11 om 19.00", ams(2024, 11, 23, 19, 0), "hour"),
        ("rond 8 uur vanochtend", ams(2024, 11, 25, 8, 0), "hour"),
        ("rond middernacht", ams(2024, 11, 25, 0, 0), "hour"),
        ("rond het middaguur", ams(2024, 11, 24, 12, 0), "hour"),
        ("gisteren rond 9u30", ams(2024, 11, 24, 9, 30), "minute"),
        ("kwart over zes", ams(2024, 11, 25, 6, 15), "minute"),
        ("tien voor half negen", ams(2024, 11, 25, 8, 20), "minute"),
        ("vijf over half negen", ams(2024, 11, 25, 8, 35), "minute"),
        ("kwart voor zeven", ams(2024, 11, 25, 6, 45), "minute"),
        ("2 uur geleden", ams(2024, 11, 25, 8, 0), "hour"),
        ("een half uurtje geleden", ams(2024, 11, 25, 9, 30), "minute"),
        ("anderhalf uur geleden", ams(2024, 11, 25, 8, 30), "minute"),
        ("drie kwartier geleden", ams(2024, 11, 25, 9, 15), "minute"),
        ("een uur of 3 geleden", ams(2024, 11, 25, 7, 0), "hour"),
        ("3 dagen geleden", ams(2024, 11, 22, 10, 0), "day"),
    ],
)
@pytest.mark.parametrize("language", [None, "nl"])
def test_dutch_phrasings_resolve_to_the_moment_they_mean(text, expected, grain, language):
    found = find_time_expression(text, NOW, TZ, language=language)

    assert found is not None, text
    assert (found.text, found.value, found.grain) == (text, expected, grain)
    assert found.value.utcoffset() == expected.utcoffset()


def test_half_eight_in_dutch_is_half_past_seven():
    assert find_time_expression("vanochtend om half acht", NOW, TZ).value == ams(2024, 11, 25, 7, 30)
    assert find_time_expression("gisteravond om half 8", NOW, TZ).value == ams(2024, 11, 24, 19, 30)
    assert parse_time("half acht", NOW, TZ) == ams(2024, 11, 25, 7, 30)


@pytest.mark.parametrize(
    "sentence, expression",
    [
        ("ik ben gisteravond rond negen uur gestopt met laden bij de Jaarbeurs", "gisteravond rond negen uur"),
        # As annotated in data/nl/nlu.yml: "om", "sinds", "ongeveer" stay outside, "op" and "rond" inside.
        ("ik heb om kwart over zes uitgeplugd", "kwart over zes"),
        ("beste, sinds zaterdag staat er een sessie open", "zaterdag"),
        ("ongeveer 2 uur geleden weggereden", "2 uur geleden"),
        ("de sessie was bij de IKEA op zaterdag om 10:30", "op zaterdag om 10:30"),
        ("heb rond middernacht uitgeplugd", "rond middernacht"),
        ("ik denk rond 8 uur vanochtend", "rond 8 uur vanochtend"),
        ("de sessie staat al op actief sinds vannacht om 2 uur", "vannacht om 2 uur"),
    ],
)
def test_the_dutch_span_is_the_expression_as_annotated(sentence, expression):
    found = find_time_expression(sentence, NOW, TZ)

    assert found is not None
    assert (found.start, found.end, found.text) == (
        sentence.index(expression), sentence.index(expression) + len(expression), expression)


@pytest.mark.parametrize(
    "text",
    [
        "ik probeer om een nieuwe sessie te starten",
        "ik laad om 22 kW",
        "ik wacht al 2 uur",
        "over 2 uur kom ik terug",
        "sinds 2 dagen staat hij open",
        "ik heb 3 palen geprobeerd",
        "vandaag werkt mijn pas niet",
        "goedemorgen",
        "morgen of later?",
        "ik was er om 6 en ging weg",
        "een half uur",
        "één voor één",
        "de kwh staat op 23,4",
        "het is 15.2 kWh",
        "bel me op 06-12345678",
    ],
)
def test_dutch_words_that_only_look_like_times_are_not_times(text):
    assert find_time_expressions(text, NOW, TZ) == []
    assert find_time_expressions(text, NOW, TZ, language="nl") == []


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("om 6", ams(2024, 11, 25, 6, 0)),
        ("rond negen", ams(2024, 11, 25, 9, 0)),
        ("vandaag", ams(2024, 11, 25, 0, 0)),
        ("ik denk gisteravond rond negen uur", ams(2024, 11, 24, 21, 0)),
        ("een uur of negen", ams(2024, 11, 25, 9, 0)),
    ],
)
def test_parse_time_reads_a_whole_dutch_answer(answer, expected):
    assert parse_time(answer, NOW, TZ, language="nl") == expected
    assert parse_time(answer, NOW, TZ) == expected


def test_a_bare_dutch_day_has_grain_day():
    assert parse_time_match("gisteren", NOW, TZ).grain == "day"
    assert parse_time_match("eergisteren", NOW, TZ, language="nl").grain == "day"
    assert find_time_expression("sinds zaterdag", NOW, TZ).grain == "day"


def test_english_only_reads_no_dutch():
    assert find_time_expressions("gisteravond rond negen uur", NOW, TZ, language="en") == []
    assert parse_time("vanochtend om half acht", NOW, TZ, language="en") is None


@pytest.mark.parametrize(
    "text",
    ["yesterday around 6pm", "last night at 1am", "23/11 at 7pm", "it was yesterday around 6pm at the Jaarbeurs",
     "I started charging on monday at 14:00 in Utrecht", "at half 8", "from yesterday at 18:00 until 2 hours ago",
     "I was there at 6 and left", "half an hour ago"],
)
def test_english_reads_the_same_with_or_without_dutch(text):
    def readings(language):
        return [(m.start, m.end, m.value, m.grain) for m in find_time_expressions(text, NOW, TZ, language=language)]

    assert readings(None) == readings("en") == readings("nl")


def test_a_dutch_and_an_english_reading_of_the_same_words_give_one_match():
    found = find_time_expressions("om 18:00 gisteren, en yesterday at 6pm", NOW, TZ)

    assert [m.text for m in found] == ["18:00 gisteren", "yesterday at 6pm"]


@pytest.mark.parametrize(
    "garbage",
    ["gisteren om " * 8_000, "om half " * 12_000, "een uur of " * 9_000, "rond " * 20_000, "vannacht om 2 uur " * 5_000],
)
def test_100_kb_dutch_messages_are_read_quickly(garbage):
    started = time.perf_counter()
    find_time_expressions(garbage, NOW, TZ)
    parse_time(garbage, NOW, TZ, language="nl")
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize("answer, hour, minute", [
    ("yesterday, half past nine in the morning", 9, 30), ("quarter to seven yesterday evening", 18, 45),
    ("a quarter past 11 last night", 23, 15), ("yesterday around six thirty pm", 18, 30),
    ("nine o'clock yesterday morning", 9, 0), ("ten to 8 yesterday evening", 19, 50),
])
def test_english_clock_times_in_words(answer, hour, minute):
    found = parse_time(answer, NOW, TZ, language="en")
    assert (found.hour, found.minute) == (hour, minute) and found.date() < NOW.date()


def test_a_range_of_minutes_is_no_clock_time():
    assert find_time_expressions("I waited ten to twelve minutes", NOW, TZ, language="en") == []


@pytest.mark.parametrize("text, expected", [
    # A day, then a clock time whose part of the day is said apart from it (NOW is Monday 25 Nov 2024).
    ("two days ago at 8 in the morning", datetime(2024, 11, 23, 8, 0, tzinfo=AMS)),
    ("ok. three days ago, in the morning, about 9", datetime(2024, 11, 22, 9, 0, tzinfo=AMS)),
    ("three days ago, about 9 in the evening", datetime(2024, 11, 22, 21, 0, tzinfo=AMS)),
    ("drie dagen terug, 's ochtends rond negen uur", datetime(2024, 11, 22, 9, 0, tzinfo=AMS)),
    # A clock time that says which one it is stays as said.
    ("two days ago at 20:00 in the morning", datetime(2024, 11, 23, 20, 0, tzinfo=AMS)),
    ("two days ago, in the evening, at 9am", datetime(2024, 11, 23, 9, 0, tzinfo=AMS)),
])
def test_an_answer_names_its_day_and_its_part_of_the_day_apart_from_the_clock(text, expected):
    from bot.domain.timeparse import parse_answer_time

    found = parse_answer_time(text, NOW, TZ)
    assert found is not None and found.value == expected and found.grain == "hour"
