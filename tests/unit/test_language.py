"""The driver's language: from the app's locale, or from the text, keeping the conversation's when unsure."""
from __future__ import annotations

import time

import pytest

from bot.domain.language import choose_language, classify, detect_language, language_from_locale, prepare


@pytest.mark.parametrize(
    "locale, expected",
    [("nl-NL", "nl"), ("nl_BE", "nl"), ("NL", "nl"), ("nl-NL.UTF-8", "nl"), ("en-GB", "en"), ("en", "en"),
     (" en-US ", "en")],
)
def test_a_supported_locale_names_its_language(locale, expected):
    assert language_from_locale(locale) == expected


@pytest.mark.parametrize("locale", ["de-DE", "fr", "", None, 42, "xx-nl"])
def test_an_unsupported_or_missing_locale_gives_the_default(locale):
    assert language_from_locale(locale) is None
    assert language_from_locale(locale, "en") == "en"


@pytest.mark.parametrize(
    "text",
    [
        "mijn laadsessie staat nog steeds op actief maar ik ben al uren geleden gestopt met laden",
        "de paal zegt dat mijn pas geblokkeerd is",
        "ik wil een medewerker spreken",
        "de kwh loopt nog op",
        "waarom staat mijn sessie nog op actief?",
        "mijn sessie staat nog op active",  # Dutch with an English word
        "ge kunt hier ni laden met mijn kaart",  # Flemish
        "hoe lang duurt het voordat hij stopt",
        "bedankt voor de hulp",
    ],
)
def test_dutch_messages_are_dutch_whatever_the_conversation_was(text):
    assert detect_language(text, default="en") == "nl"


@pytest.mark.parametrize(
    "text",
    [
        "my charging session still shows as active but I unplugged hours ago",
        "the charger says my card is blocked",
        "I want to talk to a person",
        "the kwh is still going up",
        "why is my session still active?",
        "thanks for the help",
        "how long does it take before it closes",
    ],
)
def test_english_messages_are_english_whatever_the_conversation_was(text):
    assert detect_language(text, default="nl") == "en"


@pytest.mark.parametrize(
    "text",
    [
        "ok",
        "",
        "   ",
        "?!",
        "NL-EFL-C12345678-9",
        "ses 104233",
        "NL*EFL*E10001*1",
        "23/11 18:30",
        "driver@example.com",
        "Rotterdam Centraal",  # a place's name tells nothing about the driver's language
        "Keizersgracht 12",
        "Amsterdam Zuidas",
    ],
)
def test_messages_that_cannot_tell_keep_the_conversations_language(text):
    assert detect_language(text, default="en") == "en"
    assert detect_language(text, default="nl") == "nl"


def test_place_names_in_a_sentence_do_not_outvote_its_words():
    assert detect_language("it was at the Albert Heijn in Leiden, near Rotterdam Centraal", default="nl") == "en"
    assert detect_language("ik stond bij de Jaarbeurs in Utrecht", default="en") == "nl"


def test_not_a_string_gives_the_default():
    assert detect_language(None, default="nl") == "nl"  # type: ignore[arg-type]


def test_prepare_keeps_only_the_words_that_can_tell():
    assert prepare("mijn pas NL-EFL-C12345678-9, sessie SES-104233 om 18:30!") == "mijn pas sessie om"
    assert prepare("at Jaarbeurs Utrecht") == "at"
    assert prepare("SESSIE NOG STEEDS ACTIEF") == "SESSIE NOG STEEDS ACTIEF"


def test_classify_gives_the_detectors_choice_and_margin():
    language, margin = classify("de sessie staat nog open in de app")

    assert language == "nl"
    assert 0.7 <= margin <= 1.0


def test_a_100_kb_message_is_read_quickly():
    detect_language("warm up the model")
    started = time.perf_counter()
    detect_language("de sessie loopt nog " * 5_000)
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("text, locale, current, expected", [
    ("hoi, mijn sessie staat nog open", None, None, "nl"),  # the words tell
    ("hi, my session is still open", "nl-NL", None, "en"),  # the words beat the app's locale
    ("ok", "nl-NL", None, "nl"),  # a first message that does not tell: the locale
    ("ok", "nl_BE", "en", "en"),  # later: the conversation keeps its language
    ("SES-104233", None, "nl", "nl"),
    ("ok", None, None, "en"),  # nothing tells: the default
    ("ok", "de-DE", None, "en"),  # a locale without texts: the default
    ("my session is still active in the app", None, "nl", "en"),  # the driver switched
    ("Heerlen", None, "en", "en"),  # a place is no switch
    ("ja hoor", None, "en", "en"),  # nor are two words
    ("de tweede", None, None, "nl"),  # but a first message may tell in two
])
def test_the_conversations_language_follows_the_driver(text, locale, current, expected):
    assert choose_language(text, locale, current) == expected


def test_a_third_language_is_one_more_code():
    assert choose_language("meine Ladesitzung ist immer noch aktiv in der App", None, "en", ("en", "nl", "de")) == "de"
    assert language_from_locale("de-AT", supported=("en", "de")) == "de"


def test_what_the_nlu_found_is_left_out_before_detecting():
    from bot.conversation.texts import choose_language as conversation_language

    text = "my sesison at utrecht jaarbeurs never closd, its been open since the weekend or so"
    place = {"entity": "location", "start": text.index("utrecht"), "end": text.index(" never")}
    assert conversation_language(text, None, "en", [place]) == "en"
    assert conversation_language("/kwh_not_increasing", None, "nl") == "nl"  # a button's payload


@pytest.mark.parametrize("text, expected", [("een mens aub", "nl"), ("hoi", "nl"), ("thx pls", "en"), ("ok", "en")])
def test_chat_words_of_one_language_tell_what_the_detector_cannot(text, expected):
    from bot.conversation.texts import choose_language as conversation_language

    assert conversation_language(text, None, None) == expected


@pytest.mark.parametrize("text, current, expected", [
    # Words of one language alone decide, where the detector is misled by a lower-case place or typos.
    ("my sesison at utrecht jaarbeurs never closd, its been open since the weekend or so", None, "en"),
    ("Amersfoort, the garage by the station", "en", "en"),
    # A sentence with more of the conversation's own words than the other's does not switch it.
    ("the den haag one", "en", "en"),
    ("Apeldoorn, the charger at the Orpheus theatre", "en", "en"),
    # A driver who switches is still followed.
    ("sorry het was zeven uur nie zes", "en", "nl"),
    ("can u help me with my session", "nl", "en"),
])
def test_the_words_of_one_language_outweigh_the_detector(text, current, expected):
    from bot.conversation.texts import choose_language as conversation_language

    assert conversation_language(text, None, current) == expected
