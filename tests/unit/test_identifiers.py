"""Card numbers, session IDs and EVSE IDs as drivers type them."""
from __future__ import annotations

import random
import string
import time

import pytest

from bot.domain.identifiers import (
    Match,
    find_card_numbers,
    find_evse_ids,
    find_session_ids,
    normalise_card_number,
    normalise_evse_id,
    normalise_session_id,
)


@pytest.mark.parametrize(
    "typed",
    [
        "NL-EFL-C12345678-9",
        "nl-efl-c12345678-9",
        "nleflc123456789",
        "NLEFLC123456789",
        "NL EFL C12345678 9",
        "nl efl c12345678-9",
        "NL_EFL_C12345678_9",
        "  NL-EFL-C12345678-9 ",
    ],
)
def test_card_number_typed_any_way_normalises_to_dashes(typed):
    assert normalise_card_number(typed) == "NL-EFL-C12345678-9"


@pytest.mark.parametrize("typed", ["SES-104233", "ses104233", "ses 104233", "Ses_104233", "SES104233"])
def test_session_id_typed_any_way_normalises(typed):
    assert normalise_session_id(typed) == "SES-104233"


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("NL*EFL*E10001*1", "NL*EFL*E10001*1"),
        ("nl*efl*e10001*1", "NL*EFL*E10001*1"),
        ("nlefle100011", "NL*EFL*E10001*1"),
        ("NL-EFL-E10001-1", "NL*EFL*E10001*1"),
        ("nl efl e10001 1", "NL*EFL*E10001*1"),
        ("NL*ALL*E20001*12", "NL*ALL*E20001*12"),
        ("nlalle2000112", "NL*ALL*E20001*12"),
    ],
)
def test_evse_id_typed_any_way_normalises_to_stars(typed, expected):
    assert normalise_evse_id(typed) == expected


@pytest.mark.parametrize(
    "normalise, text",
    [
        (normalise_card_number, "my card is NL-EFL-C12345678-9"),
        (normalise_card_number, "NL-EFL-C12345678"),  # check character missing
        (normalise_card_number, ""),
        (normalise_session_id, "SES-104233 please"),
        (normalise_session_id, "SES-10423"),
        (normalise_session_id, "SES-1042334"),
        (normalise_session_id, "104233"),
        (normalise_evse_id, "NL*EFL*E10001"),  # connector missing
        (normalise_evse_id, "NL-EFL-C12345678-9"),
    ],
)
def test_normalise_rejects_anything_but_exactly_one_identifier(normalise, text):
    assert normalise(text) is None


def test_identifiers_are_found_in_a_sentence_with_their_spans():
    text = "Card nl efl c12345678 9, session ses 104233 at NL*EFL*E10002*1."

    def at(typed: str, value: str) -> Match:
        start = text.index(typed)
        return Match(start, start + len(typed), typed, value)

    assert find_card_numbers(text) == [at("nl efl c12345678 9", "NL-EFL-C12345678-9")]
    assert find_session_ids(text) == [at("ses 104233", "SES-104233")]
    assert find_evse_ids(text) == [at("NL*EFL*E10002*1", "NL*EFL*E10002*1")]


def test_several_cards_in_one_message_are_all_found():
    text = "either NL-EFL-C10000001-1 or nleflc100000022?"

    assert [m.value for m in find_card_numbers(text)] == ["NL-EFL-C10000001-1", "NL-EFL-C10000002-2"]


def test_a_session_id_inside_a_card_number_is_reported_only_as_the_card():
    text = "NL EFL C SES123456 7"  # the card's instance happens to read as a session ID

    assert [m.value for m in find_card_numbers(text)] == ["NL-EFL-CSES12345-6"]
    assert find_session_ids(text) == []


@pytest.mark.parametrize(
    "card", ["NL-EFL-C12345678-9", "nleflc123456789", "NL EFL C12345678 9", "NL-EFL-C10000001-1"]
)
def test_a_card_number_is_neither_an_evse_nor_a_session_id(card):
    assert find_evse_ids(card) == []
    assert find_session_ids(card) == []


@pytest.mark.parametrize(
    "text",
    [
        "call me on +31 6 12345678 or 0612345678",
        "helpdesk +31 85 000 1000",
        "I live at 1012 AB Amsterdam",
        "the session number was 104233",
        "it charged 12345678 Wh",
        "it is now completely stuck",  # word shapes of a card number without separators
        "it was completely dead",
        "it uses 104233 points",
        "the station at the e10001 bay",
    ],
)
def test_ordinary_text_phone_numbers_and_postcodes_are_no_identifiers(text):
    assert find_card_numbers(text) == []
    assert find_session_ids(text) == []
    assert find_evse_ids(text) == []


_RNG = random.Random(7)


@pytest.mark.parametrize(
    "garbage",
    [
        "".join(_RNG.choice(string.printable) for _ in range(100_000)),
        "NL-EFL-C1234567" * 7_000,  # near-misses everywhere
        "nl efl e1000 " * 8_000,
        "ses-12345 " * 10_000,
        "a" * 100_000,
        "1-" * 50_000,
    ],
)
def test_100_kb_of_garbage_is_scanned_quickly(garbage):
    started = time.perf_counter()
    find_card_numbers(garbage)
    find_session_ids(garbage)
    find_evse_ids(garbage)
    assert time.perf_counter() - started < 2.0
