"""The custom entity extractor, trained, persisted and loaded through Rasa's own machinery."""
from __future__ import annotations

import logging
import random
import time
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.recipes.recipe import Recipe
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.engine.validation import validate
from rasa.shared.data import TrainingType
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.rasa_plugins.entity_extractor import ChargingEntityExtractor
from bot.settings import get_settings

CONFIG = {}
RESOURCE = Resource("charging_entity_extractor")
CONTEXT = ExecutionContext(GraphSchema({}), "1")
OPERATORS = ["Allego", "Shell Recharge", "E-Flux", "Fastned", "Ionity", "Vattenfall InCharge"]


def _example(text: str, intent: str, entities: Optional[List[Dict[str, Any]]] = None) -> Message:
    return Message(data={"text": text, "intent": intent, "entities": entities or []})


def _training_data() -> TrainingData:
    at_ionity = "my session at Ionity is still active"
    return TrainingData(
        training_examples=[
            _example(
                at_ionity,
                "session_still_active",
                [{"entity": "operator", "start": 14, "end": 20, "value": "Ionity"}],
            ),
            _example("the charger in Utrecht is still charging", "session_still_active"),
            # "allegro" is one letter from "Allego", but the drivers' own vocabulary.
            _example("I paid with allegro pay", "inform"),
        ],
        lookup_tables=[{"name": "operator", "elements": OPERATORS}],
        entity_synonyms={"shell": "Shell Recharge", "gemeente utrecht": "Utrecht"},
    )


@pytest.fixture(scope="module")
def storage_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("model_storage")
    component = ChargingEntityExtractor.create(CONFIG, LocalModelStorage(path), RESOURCE, CONTEXT)
    component.train(_training_data())  # persists into the model storage
    return path


@pytest.fixture(scope="module")
def extractor(storage_path):
    # A fresh storage object on the same directory: only what was persisted is there.
    return ChargingEntityExtractor.load(CONFIG, LocalModelStorage(storage_path), RESOURCE, CONTEXT)


def _process(component: ChargingEntityExtractor, text: str, entities=None) -> List[Dict[str, Any]]:
    message = Message(data={"text": text, **({"entities": entities} if entities is not None else {})})
    component.process([message])
    return message.get("entities", [])


def _found(component, text: str, entities=None):
    entities = _process(component, text, entities)
    return [(e["entity"], text[e["start"] : e["end"]], e["value"]) for e in entities]


def test_identifiers_are_extracted_with_canonical_values_and_spans(extractor):
    text = "card nleflc123456789, session ses 104233 on NL-EFL-E10001-1"

    assert _found(extractor, text) == [
        ("card_number", "nleflc123456789", "NL-EFL-C12345678-9"),
        ("session_id", "ses 104233", "SES-104233"),
        ("evse_id", "NL-EFL-E10001-1", "NL*EFL*E10001*1"),
    ]


def test_every_entity_names_this_extractor(extractor):
    entities = _process(extractor, "NL-EFL-C12345678-9 at Allego yesterday at 18:00")

    assert {e["extractor"] for e in entities} == {"ChargingEntityExtractor"}
    assert len(entities) == 3


def test_time_value_is_iso_8601_with_the_amsterdam_offset(extractor):
    text = "it was yesterday at 18:00 at the Jaarbeurs"
    before = datetime.now(ZoneInfo("Europe/Amsterdam"))
    entities = _process(extractor, text)
    after = datetime.now(ZoneInfo("Europe/Amsterdam"))

    [time_entity] = entities
    assert time_entity["entity"] == "time"
    assert text[time_entity["start"] : time_entity["end"]] == "yesterday at 18:00"
    value = datetime.fromisoformat(time_entity["value"])
    assert value.hour == 18 and value.minute == 0
    assert value.date() in {(before - timedelta(days=1)).date(), (after - timedelta(days=1)).date()}
    assert value.utcoffset() == value.replace(tzinfo=ZoneInfo("Europe/Amsterdam")).utcoffset()
    assert time_entity["additional_info"] == {"grain": "hour"}


def test_timezone_comes_from_the_one_timezone_setting(storage_path, monkeypatch):
    monkeypatch.setenv("BOT_TIMEZONE", "America/New_York")
    get_settings.cache_clear()
    try:
        new_york = ChargingEntityExtractor.load(CONFIG, LocalModelStorage(storage_path), RESOURCE, CONTEXT)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()

    [entity] = _process(new_york, "yesterday at 18:00")

    assert datetime.fromisoformat(entity["value"]).utcoffset() in {timedelta(hours=-5), timedelta(hours=-4)}


@pytest.mark.parametrize(
    "text, typed, value",
    [
        ("it was at an Allego station", "Allego", "Allego"),
        ("it was at an ALLEGO station", "ALLEGO", "Allego"),
        ("the shell charger on the A2", "shell", "Shell Recharge"),  # synonym
        ("a Shell Recharge charger", "Shell Recharge", "Shell Recharge"),
        ("an e-flux station", "e-flux", "E-Flux"),
        ("an eflux station", "eflux", "E-Flux"),
        ("at vattenfall incharge", "vattenfall incharge", "Vattenfall InCharge"),
        ("at an alego station", "alego", "Allego"),  # typo
        ("at fasned in Utrecht", "fasned", "Fastned"),  # typo
        ("at a vatenfall incharge pole", "vatenfall incharge", "Vattenfall InCharge"),  # typo
        ("my session at Ionity", "Ionity", "Ionity"),
    ],
)
def test_operators_are_found_with_their_canonical_name(extractor, text, typed, value):
    assert _found(extractor, text) == [("operator", typed, value)]


@pytest.mark.parametrize(
    "text",
    [
        "I can't spell the name of the station",  # one letter from "shell", too short to guess
        "they allege the cable was fastened",  # English words one letter from Allego and Fastned
        "I paid with Allegro pay",  # a word of the training data
        "the charger is still charging in Utrecht",
        "she sells shells",
        "the session is still active and I want to talk to a person",
    ],
)
def test_ordinary_words_are_never_operators(extractor, text):
    assert _found(extractor, text) == []


def test_other_extractors_entities_of_owned_types_are_replaced_and_others_kept(extractor):
    text = "card nleflc123456789 at the Jaarbeurs"
    from_diet = [
        {"entity": "card_number", "start": 5, "end": 11, "value": "nleflc", "extractor": "DIETClassifier"},
        {"entity": "time", "start": 0, "end": 4, "value": "card", "extractor": "DIETClassifier"},
        {"entity": "location", "start": 28, "end": 37, "value": "Jaarbeurs", "extractor": "DIETClassifier"},
    ]

    entities = _process(extractor, text, from_diet)

    assert [(e["entity"], e["value"], e["extractor"]) for e in entities] == [
        ("location", "Jaarbeurs", "DIETClassifier"),
        ("card_number", "NL-EFL-C12345678-9", "ChargingEntityExtractor"),
    ]


def test_a_place_that_is_only_an_operators_name_is_dropped_a_wider_one_kept(extractor):
    text = "stuck at the Ionity station, the Shell station on the A12"
    from_crf = [
        {"entity": "location", "start": 13, "end": 19, "value": "Ionity", "extractor": "CRFEntityExtractor"},
        {"entity": "location", "start": 29, "end": 57, "value": "the Shell station on the A12",
         "extractor": "CRFEntityExtractor"},
    ]

    entities = _process(extractor, text, from_crf)

    assert [(e["entity"], e["value"]) for e in entities] == [
        ("location", "the Shell station on the A12"),
        ("operator", "Ionity"),
        ("operator", "Shell Recharge"),
    ]


def _places(text, *values):
    """The CRF's location entities for these words of `text`."""
    return [{"entity": "location", "start": text.index(v), "end": text.index(v) + len(v), "value": v,
             "extractor": "CRFEntityExtractor"} for v in values]


def test_a_greeting_or_the_drivers_name_is_no_place(extractor):
    text = "Goedendag, mijn naam is Kees Breda, mijn sessie bij station Deventer staat nog actief"
    entities = _process(extractor, text, _places(text, "Goedendag", "Breda", "station Deventer"))
    assert [(e["entity"], e["value"]) for e in entities] == [("location", "station Deventer")]

    english = "hello, my name is Sam Utrecht, stuck at Utrecht Centraal"
    entities = _process(extractor, english, _places(english, "Utrecht", "Utrecht Centraal"))
    assert [e["value"] for e in entities] == ["Utrecht Centraal"]


def test_a_card_number_is_not_also_a_time_or_an_evse(extractor):
    card = "NL-EFL-C10000001-1"
    assert _found(extractor, card) == [("card_number", card, card)]


def test_spans_are_widened_to_whole_tokens(extractor):
    # The tokenizer keeps "ses104233é" as one token; Rasa compares spans by token.
    assert _found(extractor, "it is ses104233é ok") == [("session_id", "ses104233é", "SES-104233")]
    assert _found(extractor, "(SES-104233) not ses104233x") == [("session_id", "SES-104233", "SES-104233")]


def test_without_a_trained_model_identifiers_and_times_still_work(tmp_path):
    untrained = ChargingEntityExtractor.load(CONFIG, LocalModelStorage(tmp_path), RESOURCE, CONTEXT)

    found = _found(untrained, "SES-104233 at Allego yesterday")

    assert [(kind, typed) for kind, typed, _ in found] == [("session_id", "SES-104233"), ("time", "yesterday")]


def test_an_unknown_timezone_fails_at_startup_not_per_message(tmp_path, monkeypatch):
    monkeypatch.setenv("BOT_TIMEZONE", "Mars/Olympus_Mons")
    get_settings.cache_clear()
    try:
        with pytest.raises(ZoneInfoNotFoundError):
            ChargingEntityExtractor.create(CONFIG, LocalModelStorage(tmp_path), RESOURCE, CONTEXT)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


_RNG = random.Random(11)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\x00\x01\x02\x1b[31m\x7f",
        "😀🔌⚡️ my session 🚗💨 " * 20,
        "שלום مرحبا جلسة الشحن \u202e\u202d",
        "ses\u0000104233 \ud800 NL-EFL-\udfffC12345678-9",  # lone surrogates, as JSON allows
        "".join(chr(_RNG.randint(0, 0x2FFFF)) for _ in range(100_000)),
        "alego shel 23/11 at 7pm nleflc123456789 " * 2_500,
    ],
)
def test_any_text_is_processed_quickly_without_raising(extractor, text):
    started = time.perf_counter()
    entities = _process(extractor, text)
    assert time.perf_counter() - started < 2.0
    for entity in entities:
        assert 0 <= entity["start"] < entity["end"] <= len(text)


def test_a_failure_leaves_the_entities_as_they_were_and_logs_no_text(extractor, caplog):
    # A broken entity list from an earlier component makes the extractor fail part-way.
    broken = [None, {"entity": "location", "start": 0, "end": 4, "value": "card"}]
    message = Message(data={"text": "card NL-EFL-C12345678-9", "entities": broken})

    with caplog.at_level(logging.WARNING):
        extractor.process([message])

    assert message.get("entities") == broken
    assert "ChargingEntityExtractor" in caplog.text
    assert "C12345678" not in caplog.text


def test_rasa_accepts_the_component_in_a_training_pipeline():
    config = {
        "recipe": "default.v1",
        "language": "en",
        "pipeline": [
            {"name": "WhitespaceTokenizer"},
            {"name": "CountVectorsFeaturizer"},
            {"name": "DIETClassifier", "epochs": 1},
            {"name": "bot.rasa_plugins.entity_extractor.ChargingEntityExtractor"},
            {"name": "EntitySynonymMapper"},
        ],
        "policies": [],
    }
    graph_config = Recipe.recipe_for_name("default.v1").graph_config_for_recipe(
        config, {}, training_type=TrainingType.NLU
    )

    validate(graph_config)  # raises if Rasa cannot wire, train or run the component
