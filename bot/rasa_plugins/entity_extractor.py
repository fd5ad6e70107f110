"""Rasa 3.6 entity extractor for what drivers type: card numbers, session IDs, EVSE IDs,
times and charge point operators, with normalised values.

It runs after the other extractors (CRF) and is authoritative for those five entity types: it drops
whatever other extractors found for them and adds its own, leaving other types
(``location``) alone. It owns a blank spaCy English pipeline (tokenizer only, nothing to
download), because Rasa's SpacyNLP cannot load a blank model.

config.yml::

  - name: bot.rasa_plugins.entity_extractor.ChargingEntityExtractor
    timezone: Europe/Amsterdam      # how drivers' times ("yesterday at 6pm") are read
    operator_lookup: operator       # the lookup table listing operator names
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Dict, Iterable, List, Optional, Set, Text, Tuple
from zoneinfo import ZoneInfo

import rasa.shared.utils.io
import spacy
from rapidfuzz.distance import OSA
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.utils.pattern_utils import read_lookup_table_file
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from bot.conversation.facts import not_a_place
from bot.domain.identifiers import find_card_numbers, find_evse_ids, find_session_ids
from bot.domain.timeparse import find_time_expressions
from bot.settings import get_settings

logger = logging.getLogger(__name__)

CARD_NUMBER = "card_number"
SESSION_ID = "session_id"
EVSE_ID = "evse_id"
TIME = "time"
OPERATOR = "operator"
# When two findings overlap, the earlier type wins: a card number is never also a time.
OWNED_TYPES = (CARD_NUMBER, EVSE_ID, SESSION_ID, TIME, OPERATOR)
LOCATION = "location"  # found by the CRF; dropped here when it is a greeting or a name

# Real messages are short; only this much of a pasted wall of text is read.
MAX_CHARS = 10_000
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

# Operator names shorter than this are matched exactly only: short words have too many
# one-letter neighbours ("shell" / "spell").
FUZZY_MIN_LETTERS = 6
# Up to this length one typo is tolerated, above it two.
FUZZY_ONE_TYPO_MAX_LETTERS = 8
# English words one typo away from common operator names (Allego, Fastned) that drivers
# may use; the training data's vocabulary and spaCy's stop words are never guessed either.
NEAR_MISS_WORDS = frozenset({"allege", "alleged", "alleges", "fastened", "fastener"})


@lru_cache(maxsize=1)
def _blank_english() -> Language:
    return spacy.blank("en")


@dataclass(frozen=True)
class _Found:
    entity: str
    start: int
    end: int
    value: Any
    additional_info: Optional[Dict[str, Any]] = None


class OperatorMatcher:
    """Finds operator names: exact phrases (case-insensitive) and typos of longer names."""

    def __init__(self, nlp: Language, phrases: Dict[str, str], ordinary_words: Iterable[str]) -> None:
        # phrases: lower-cased phrase as drivers type it -> canonical operator name
        self._nlp = nlp
        self._matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        self._fuzzy_targets: Dict[int, List[Tuple[str, str]]] = {}
        self._ordinary = frozenset(ordinary_words) | STOP_WORDS | NEAR_MISS_WORDS
        for phrase, name in phrases.items():
            pattern = nlp.make_doc(phrase)
            self._matcher.add(name, [pattern])
            if sum(ch.isalpha() for ch in phrase) >= FUZZY_MIN_LETTERS:
                self._fuzzy_targets.setdefault(len(pattern), []).append((phrase, name))

    def find(self, doc: Doc) -> List[Tuple[int, int, str]]:
        """(start_char, end_char, canonical name) of every operator mention in `doc`."""
        # The match ID is the hash of the canonical name the phrase was added under.
        exact = filter_spans([Span(doc, start, end, label=name) for name, start, end in self._matcher(doc)])
        taken = {i for span in exact for i in range(span.start, span.end)}
        found = [(span.start_char, span.end_char, span.label_) for span in exact]
        found.extend(self._find_typos(doc, taken))
        return sorted(found)

    def _find_typos(self, doc: Doc, taken: Set[int]) -> List[Tuple[int, int, str]]:
        found: List[Tuple[int, int, str]] = []
        for length, targets in self._fuzzy_targets.items():
            for start in range(len(doc) - length + 1):
                if any(i in taken for i in range(start, start + length)):
                    continue
                span = doc[start : start + length]
                match = self._closest(span, targets)
                if match:
                    found.append((span.start_char, span.end_char, match))
                    taken.update(range(span.start, span.end))
        return found

    def _closest(self, span: Span, targets: List[Tuple[str, str]]) -> Optional[str]:
        words = [t.lower_ for t in span if t.is_alpha]
        if not words or all(w in self._ordinary for w in words):
            return None
        candidate = span.text.lower()
        for phrase, name in targets:
            letters = sum(ch.isalpha() for ch in phrase)
            allowed = 1 if letters <= FUZZY_ONE_TYPO_MAX_LETTERS else 2
            # Typos rarely hit the first letter; demanding it keeps unrelated words out.
            if candidate[:1] != phrase[:1] or abs(len(candidate) - len(phrase)) > allowed:
                continue
            if OSA.distance(candidate, phrase, score_cutoff=allowed) <= allowed:
                return name
        return None


def _variants(phrase: str) -> Set[str]:
    # "E-Flux" is also typed "e flux" and "eflux".
    lowered = " ".join(phrase.lower().split())
    return {lowered, lowered.replace("-", " "), lowered.replace("-", "")}


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class ChargingEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Authoritative extractor for card_number, session_id, evse_id, time and operator."""

    PHRASES_FILE = "operator_phrases.json"

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"operator_lookup": OPERATOR}

    @staticmethod
    def required_packages() -> List[Text]:
        return ["spacy", "rapidfuzz", "dateparser"]

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        phrases: Optional[Dict[str, str]] = None,
        ordinary_words: Optional[List[str]] = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._timezone = get_settings().timezone
        ZoneInfo(self._timezone)  # a misspelt zone fails at startup, not on every message
        self._model_storage = model_storage
        self._resource = resource
        self._phrases = dict(phrases or {})
        self._ordinary_words = sorted(ordinary_words or [])
        self._nlp = _blank_english()
        self._operators = OperatorMatcher(self._nlp, self._phrases, self._ordinary_words)

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ChargingEntityExtractor:
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> ChargingEntityExtractor:
        try:
            with model_storage.read_from(resource) as path:
                stored = rasa.shared.utils.io.read_json_file(path / cls.PHRASES_FILE)
            return cls(config, model_storage, resource, stored["phrases"], stored["ordinary_words"])
        except (ValueError, FileNotFoundError, KeyError, TypeError):
            logger.warning("%s found no trained operator names; it will extract no operators.", cls.__name__)
            return cls(config, model_storage, resource)

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as path:
            rasa.shared.utils.io.dump_obj_as_json_to_file(
                path / self.PHRASES_FILE,
                {"phrases": self._phrases, "ordinary_words": self._ordinary_words},
            )

    def train(self, training_data: TrainingData) -> Resource:
        """Learns operator names from the lookup table, synonyms and annotations."""
        self._phrases = self._operator_phrases(training_data)
        self._ordinary_words = sorted(self._vocabulary(training_data))
        self._operators = OperatorMatcher(self._nlp, self._phrases, self._ordinary_words)
        if not self._phrases:
            rasa.shared.utils.io.raise_warning(
                f"No lookup table named '{self._config['operator_lookup']}' and no '{OPERATOR}' "
                f"annotations in the training data: {self.name} will not extract operators."
            )
        self.persist()
        return self._resource

    def _operator_phrases(self, training_data: TrainingData) -> Dict[str, str]:
        names: Dict[str, str] = {}  # lower-cased canonical name -> canonical spelling
        for table in training_data.lookup_tables:
            if table.get("name") != self._config["operator_lookup"]:
                continue
            elements = table.get("elements") or []
            if isinstance(elements, str):
                elements = read_lookup_table_file(elements)
            for element in elements:
                if str(element).strip():
                    names.setdefault(str(element).strip().lower(), str(element).strip())

        typed: Dict[str, str] = {}  # what drivers typed -> canonical value
        for example in training_data.training_examples:
            text = example.get(TEXT) or ""
            for entity in example.get(ENTITIES) or []:
                if entity.get(ENTITY_ATTRIBUTE_TYPE) == OPERATOR:
                    value = str(entity.get(ENTITY_ATTRIBUTE_VALUE))
                    names.setdefault(value.lower(), value)
                    typed[text[entity[ENTITY_ATTRIBUTE_START] : entity[ENTITY_ATTRIBUTE_END]]] = value
        for synonym, value in training_data.entity_synonyms.items():
            if str(value).lower() in names:
                typed[synonym] = value

        phrases: Dict[str, str] = {}
        for name in names.values():
            for variant in _variants(name):
                phrases[variant] = name
        for synonym, value in typed.items():
            for variant in _variants(synonym):
                phrases.setdefault(variant, names[str(value).lower()])
        phrases.pop("", None)
        return phrases

    def _vocabulary(self, training_data: TrainingData) -> Set[str]:
        """Words of the training examples outside operator annotations: ordinary words."""
        words: Set[str] = set()
        for example in training_data.training_examples:
            text = example.get(TEXT) or ""
            operator_spans = [
                (e[ENTITY_ATTRIBUTE_START], e[ENTITY_ATTRIBUTE_END])
                for e in example.get(ENTITIES) or []
                if e.get(ENTITY_ATTRIBUTE_TYPE) == OPERATOR
            ]
            for token in self._nlp.make_doc(text):
                inside = any(s < token.idx + len(token) and token.idx < e for s, e in operator_spans)
                if token.is_alpha and not inside:
                    words.add(token.lower_)
        return words - set(self._phrases)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not isinstance(text, str) or not text:
                continue
            try:
                found = self.extract(text, datetime.now(timezone.utc))
                # Other extractors' findings of other types stay, unless they are only the words of one
                # of ours ("the vattenfall station": vattenfall is the operator, not a place).
                others = [
                    e for e in message.get(ENTITIES, [])
                    if e.get(ENTITY_ATTRIBUTE_TYPE) not in OWNED_TYPES and not _within_any(e, found)
                    and not _no_place(e, text)
                ]
                message.set(ENTITIES, others + self.add_extractor_name(found), add_to_output=True)
            except Exception as exc:  # noqa: BLE001 - one odd message must not break the assistant
                # Not the text: it may hold a card number.
                logger.warning("%s skipped a message after %s", self.name, type(exc).__name__)
        return messages

    def extract(self, text: str, now: datetime) -> List[Dict[str, Any]]:
        """Rasa entity dicts for the five owned types found in `text`, spans aligned to tokens."""
        # Lone surrogates (JSON allows "\ud800") crash spaCy; same-length replacement keeps offsets.
        text = _LONE_SURROGATE.sub("\ufffd", text[:MAX_CHARS])
        doc = self._nlp.make_doc(text)
        candidates: List[_Found] = []
        candidates += [_Found(CARD_NUMBER, m.start, m.end, m.value) for m in find_card_numbers(text)]
        candidates += [_Found(EVSE_ID, m.start, m.end, m.value) for m in find_evse_ids(text)]
        candidates += [_Found(SESSION_ID, m.start, m.end, m.value) for m in find_session_ids(text)]
        candidates += [
            _Found(TIME, m.start, m.end, m.value.isoformat(), {"grain": m.grain})
            for m in find_time_expressions(text, now, self._timezone)
        ]
        candidates += [_Found(OPERATOR, s, e, name) for s, e, name in self._operators.find(doc)]

        kept: List[_Found] = []
        for found in sorted(candidates, key=lambda f: OWNED_TYPES.index(f.entity)):
            found = _aligned(doc, found)
            if not any(found.start < k.end and k.start < found.end for k in kept):
                kept.append(found)
        return [_as_rasa_entity(f) for f in sorted(kept, key=lambda f: f.start)]


def _no_place(entity: Dict[str, Any], text: str) -> bool:
    """A "place" that is a greeting or the driver's own name (the CRF takes "Goedendag" and "Kees Breda" for places)."""
    start, end = entity.get(ENTITY_ATTRIBUTE_START), entity.get(ENTITY_ATTRIBUTE_END)
    return entity.get(ENTITY_ATTRIBUTE_TYPE) == LOCATION and isinstance(start, int) and isinstance(end, int) \
        and not_a_place(text, start, end)


def _within_any(entity: Dict[str, Any], found: List[Dict[str, Any]]) -> bool:
    start, end = entity.get(ENTITY_ATTRIBUTE_START), entity.get(ENTITY_ATTRIBUTE_END)
    if not isinstance(start, int) or not isinstance(end, int):
        return False
    return any(f[ENTITY_ATTRIBUTE_START] <= start and end <= f[ENTITY_ATTRIBUTE_END] for f in found)


def _aligned(doc: Doc, found: _Found) -> _Found:
    # Rasa compares entity spans by token; widen a span that ends inside a token.
    span = doc.char_span(found.start, found.end, alignment_mode="expand")
    if span is None:
        return found
    return _Found(found.entity, span.start_char, span.end_char, found.value, found.additional_info)


def _as_rasa_entity(found: _Found) -> Dict[str, Any]:
    entity = {
        ENTITY_ATTRIBUTE_TYPE: found.entity,
        ENTITY_ATTRIBUTE_START: found.start,
        ENTITY_ATTRIBUTE_END: found.end,
        ENTITY_ATTRIBUTE_VALUE: found.value,
    }
    if found.additional_info:
        entity["additional_info"] = found.additional_info
    return entity
