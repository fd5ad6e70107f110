"""Rasa 3.6 featurizer: the words that a negation governs, as features of their own.

"it's not going up anymore" and "it's still going up" share most of their words and word pairs; what
tells them apart is which words stand after "not" / "niet" / "geen". Every word within `scope` words
after a negation (and before the next . , ; ! ?) becomes a feature "neg_<word>": the classifier then
learns "neg_increasing" apart from "increasing". Sentence features only (for the intent classifier).

config.yml::

  - name: bot.rasa_plugins.negation_featurizer.NegationScopeFeaturizer
    negations: [not, no, never, niet, geen, nooit]   # words that open a scope ("n't" always does)
    scope: 3
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Any, Dict, List, Optional, Text, Type

import rasa.shared.utils.io
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

_VOCABULARY_FILE = "negated_words.json"
_SCOPE_ENDS = re.compile(r"[.,;!?]")


def negated_words(text: str, spans: List[tuple], negations: frozenset, scope: int) -> List[str]:
    """The words (lower case) that stand within `scope` words after a negation in `text`, given its
    tokens' (word, start, end) spans in order."""
    found: List[str] = []
    left, previous_end = 0, 0
    for word, start, end in spans:
        if _SCOPE_ENDS.search(text[previous_end:start]):
            left = 0
        previous_end = end
        word = word.lower()
        if word in negations or word.endswith("n't"):
            left = scope
            continue
        if left > 0:
            found.append(word)
            left -= 1
    return found


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class NegationScopeFeaturizer(SparseFeaturizer, GraphComponent):
    """Counts of the words each negation governs, over the vocabulary seen in training."""

    @classmethod
    def required_components(cls) -> List[Type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**SparseFeaturizer.get_default_config(), "negations": [], "scope": 3}

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        if not isinstance(config.get("scope"), int) or config["scope"] < 1:
            raise ValueError("NegationScopeFeaturizer: scope must be a whole number of words, 1 or more")

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 execution_context: ExecutionContext, vocabulary: Optional[List[str]] = None) -> None:
        super().__init__(execution_context.node_name, config)
        self._model_storage, self._resource = model_storage, resource
        self.negations = frozenset(str(w).lower() for w in config["negations"])
        self.scope = config["scope"]
        self.vocabulary = {word: index for index, word in enumerate(vocabulary or [])}

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "NegationScopeFeaturizer":
        return cls(config, model_storage, resource, execution_context)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "NegationScopeFeaturizer":
        try:
            with model_storage.read_from(resource) as model_dir:
                vocabulary = rasa.shared.utils.io.read_json_file(model_dir / _VOCABULARY_FILE)
        except (ValueError, FileNotFoundError):
            vocabulary = None
        return cls(config, model_storage, resource, execution_context, vocabulary=vocabulary)

    def _words(self, message: Message) -> List[str]:
        tokens = message.get(TOKENS_NAMES[TEXT]) or []
        return negated_words(message.get(TEXT) or "", [(t.text, t.start, t.end) for t in tokens],
                             self.negations, self.scope)

    def train(self, training_data: TrainingData) -> Resource:
        seen = sorted({w for m in training_data.training_examples if m.get(TEXT) for w in self._words(m)})
        self.vocabulary = {word: index for index, word in enumerate(seen)}
        with self._model_storage.write_to(self._resource) as model_dir:
            rasa.shared.utils.io.dump_obj_as_json_to_file(model_dir / _VOCABULARY_FILE, seen)
        return self._resource

    def _featurize(self, message: Message) -> None:
        if not self.vocabulary or not message.get(TEXT):
            return
        counts = Counter(self.vocabulary[w] for w in self._words(message) if w in self.vocabulary)
        row = scipy.sparse.coo_matrix((list(counts.values()), ([0] * len(counts), list(counts))),
                                      shape=(1, len(self.vocabulary)))
        self.add_features_to_message(None, row, TEXT, message)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for message in training_data.training_examples:
            self._featurize(message)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._featurize(message)
        return messages
