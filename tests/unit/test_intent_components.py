"""The intent classifier and the negation featurizer of config.yml, trained by Rasa on a small data set:
negated words read apart from the same words unnegated, the same model from the same data, and a model
that loads back (skops, no pickle)."""
import asyncio
import textwrap

import pytest
from rasa.core.agent import Agent
from rasa.model_training import train_nlu

from bot.rasa_plugins.negation_featurizer import negated_words

NEGATIONS = frozenset({"not", "no", "niet", "geen"})


def spans(text):
    out, at = [], 0
    for word in text.split():
        start = text.index(word, at)
        out.append((word.strip(".,;!?"), start, start + len(word.strip(".,;!?"))))
        at = start + len(word)
    return out


def test_the_words_after_a_negation_up_to_the_scope_are_negated():
    text = "the meter is not going up anymore"
    assert negated_words(text, spans(text), NEGATIONS, 3) == ["going", "up", "anymore"]
    assert negated_words(text, spans(text), NEGATIONS, 1) == ["going"]


def test_punctuation_ends_a_negation_and_contractions_negate():
    text = "no, it keeps going up"
    assert negated_words(text, spans(text), NEGATIONS, 3) == []
    text = "it hasn't moved since noon"
    assert negated_words(text, spans(text), NEGATIONS, 2) == ["moved", "since"]
    text = "de teller loopt niet meer op"
    assert negated_words(text, spans(text), NEGATIONS, 3) == ["meer", "op"]


CONFIG = """
recipe: default.v1
language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: CountVectorsFeaturizer
    alias: words
  - name: CountVectorsFeaturizer
    alias: characters
    analyzer: char_wb
    min_ngram: 2
    max_ngram: 4
  - name: bot.rasa_plugins.negation_featurizer.NegationScopeFeaturizer
    alias: negations
    negations: [not, no, niet]
  - name: bot.rasa_plugins.intent_classifier.WeightedLogisticRegressionClassifier
policies: []
"""

NLU = """
version: "3.1"
nlu:
- intent: kwh_increasing
  examples: |
    - the kwh is still going up
    - it keeps rising
    - the meter is still counting
    - the number goes up every minute
    - it is still increasing
    - de teller loopt nog op
- intent: kwh_not_increasing
  examples: |
    - the kwh is not going up
    - it is not rising anymore
    - the meter is not counting
    - the number does not go up
    - it is not increasing
    - de teller loopt niet op
- intent: greet
  examples: |
    - hello
    - hi there
    - good morning
    - hey
    - hallo
    - goedemorgen
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    def train(name):
        root = tmp_path_factory.mktemp(name)
        (root / "config.yml").write_text(CONFIG)
        (root / "nlu.yml").write_text(textwrap.dedent(NLU))
        return train_nlu(str(root / "config.yml"), str(root / "nlu.yml"), str(root / "models"))

    return train("first"), train("second")


def parse(model_path, texts):
    agent = Agent.load(model_path)
    return [asyncio.run(agent.parse_message(text)) for text in texts]


def test_a_negated_phrase_is_told_apart_from_the_same_words_unnegated(trained):
    first, _ = trained
    going_up, not_going_up, hello = parse(first, ["the counter keeps going up", "the counter is not going up",
                                                  "hello there"])
    assert going_up["intent"]["name"] == "kwh_increasing"
    assert not_going_up["intent"]["name"] == "kwh_not_increasing"
    assert hello["intent"]["name"] == "greet"
    assert len(hello["intent_ranking"]) == 3 and hello["intent"]["confidence"] > 0.5


def test_the_weighting_at_parse_time_is_that_of_tf_idf():
    import numpy as np
    from scipy.sparse import random as sparse_random
    from sklearn.feature_extraction.text import TfidfTransformer

    from bot.rasa_plugins.intent_classifier import weigh

    counts = sparse_random(40, 300, density=0.05, format="csr", random_state=1)
    counts.data = np.ceil(counts.data * 4)
    fitted, before = TfidfTransformer(sublinear_tf=True).fit(counts), counts.copy()
    assert np.allclose(weigh(counts, fitted.idf_).toarray(), fitted.transform(counts).toarray())
    assert (counts != before).nnz == 0  # the message's own features are left as they were


def test_the_same_data_train_the_same_model(trained):
    first, second = trained
    texts = ["it is not counting", "the meter still rises", "hoi", "zzzz"]
    rankings = [[r["intent_ranking"] for r in parse(model, texts)] for model in (first, second)]
    assert rankings[0] == rankings[1]
