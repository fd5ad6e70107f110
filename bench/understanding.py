"""Understanding: 5-fold cross-validation on the training data and scores on the held-out test files,
one per language (`--test-file tests/nlu_test.yml --test-file tests/nlu_test_nl.yml`).

Runs in its own process per config (`python -m bench.understanding ...`), so TensorFlow's memory
and threads are gone before the speed measurements start.

Scores are Rasa's own measures (`rasa test nlu`): intent F1 from sklearn's report, entity F1 per
token label aligned with Rasa's functions. One difference, on purpose: entities are scored as the
assistant outputs them, all extractors together, not per extractor, since our custom extractor
replaces CRF's findings for the types it owns. Folds are stratified by intent and seeded, so
both configs are cross-validated on exactly the same splits.
"""
from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import click

PIPELINE = "pipeline"  # the single "extractor" every predicted entity is scored as


def intent_scores(targets: Sequence[str], predictions: Sequence[str], texts: Sequence[str]) -> Dict:
    from sklearn.metrics import classification_report

    report = classification_report(targets, predictions, output_dict=True, zero_division=0)
    confusions = Counter((t, p) for t, p in zip(targets, predictions) if t != p)
    examples: Dict[Tuple[str, str], List[str]] = {}
    for t, p, text in zip(targets, predictions, texts):
        if t != p:
            examples.setdefault((t, p), []).append(text)
    return {
        "examples": len(targets),
        "accuracy": round(report["accuracy"], 4),
        "f1_weighted": round(report["weighted avg"]["f1-score"], 4),
        "f1_macro": round(report["macro avg"]["f1-score"], 4),
        "per_intent": {k: {"f1": round(v["f1-score"], 4), "support": int(v["support"])}
                       for k, v in report.items() if isinstance(v, dict) and k not in ("macro avg", "weighted avg")},
        "confusions": [{"intent": t, "predicted": p, "count": n, "examples": examples[(t, p)][:3]}
                       for (t, p), n in confusions.most_common()],
    }


def entity_scores(token_targets: Sequence[str], token_predictions: Sequence[str]) -> Dict:
    """Per entity type F1 over tokens, as `rasa test nlu` computes it (tokens outside entities excluded)."""
    from rasa.nlu.test import NO_ENTITY
    from sklearn.metrics import classification_report

    labels = sorted((set(token_targets) | set(token_predictions)) - {NO_ENTITY})
    if not labels:
        return {"per_entity": {}, "confusions": []}
    report = classification_report(token_targets, token_predictions, labels=labels, output_dict=True,
                                   zero_division=0)
    confusions = Counter((t, p) for t, p in zip(token_targets, token_predictions) if t != p)
    return {
        "per_entity": {label: {"f1": round(report[label]["f1-score"], 4),
                               "precision": round(report[label]["precision"], 4),
                               "recall": round(report[label]["recall"], 4),
                               "support": int(report[label]["support"])} for label in labels},
        "f1_weighted": round(report["weighted avg"]["f1-score"], 4),
        "confusions": [{"entity": t, "predicted": p, "tokens": n} for (t, p), n in confusions.most_common(10)],
    }


def _token_labels(entity_results) -> Tuple[List[str], List[str]]:
    from rasa.nlu.test import (NO_ENTITY, NO_ENTITY_TAG, EntityEvaluationResult, align_all_entity_predictions,
                               merge_labels, substitute_labels)

    as_one = [EntityEvaluationResult(r.entity_targets, [dict(e, extractor=PIPELINE) for e in r.entity_predictions],
                                     r.tokens, r.message) for r in entity_results]
    aligned = align_all_entity_predictions(as_one, {PIPELINE})
    targets = substitute_labels(merge_labels(aligned), NO_ENTITY_TAG, NO_ENTITY)
    predictions = substitute_labels(merge_labels(aligned, PIPELINE), NO_ENTITY_TAG, NO_ENTITY)
    return targets, predictions


def _agent(model: Path):
    from rasa.core.agent import Agent

    return Agent.load(str(model))


async def _predict(agent, data):
    from rasa.nlu.test import get_eval_data

    intent_results, _, entity_results = await get_eval_data(agent.processor, data)
    return intent_results, entity_results


def entity_mistakes(entity_results, limit: int = 15) -> List[Dict]:
    """Messages whose entities (type and covered text) differ from the annotation, for the report."""
    def spans(entities, text):
        return sorted(f"{e['entity']}: {text[e['start']:e['end']]}" for e in entities)

    mistakes = []
    for r in entity_results:
        expected, found = spans(r.entity_targets, r.message), spans(r.entity_predictions, r.message)
        if expected != found:
            mistakes.append({"text": r.message, "expected": expected, "found": found})
    return mistakes[:limit]


def _score(intent_results, entity_results) -> Dict:
    entities = entity_scores(*_token_labels(entity_results))
    entities["mistakes"] = entity_mistakes(entity_results)
    return {
        "intents": intent_scores([r.intent_target for r in intent_results],
                                 [r.intent_prediction or "(none)" for r in intent_results],
                                 [r.message for r in intent_results]),
        "entities": entities,
    }


def stratified_folds(data, folds: int, seed: int):
    """Rasa's `generate_folds`, with a fixed seed: the same splits for every config."""
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from sklearn.model_selection import StratifiedKFold

    examples = data.intent_examples
    labels = [e.get_full_intent() for e in examples]
    for train_index, test_index in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(
            examples, labels):
        yield tuple(TrainingData(training_examples=[examples[i] for i in index], entity_synonyms=data.entity_synonyms,
                                 regex_features=data.regex_features, lookup_tables=data.lookup_tables,
                                 responses=data.responses)
                    for index in (train_index, test_index))


def load_nlu(data_dir: Path, config: Path):
    from rasa.shared.importers.importer import TrainingDataImporter

    importer = TrainingDataImporter.load_from_dict(config_path=str(config), training_data_paths=[str(data_dir)])
    return importer.get_nlu_data()


async def cross_validate(config: Path, data, folds: int, seed: int, work: Path, run_folds: int = 0,
                         compare_folds: int = 0) -> Dict:
    """Pooled scores over the held-out part of each fold; `run_folds` < `folds` runs only the first ones.

    `compare_folds`: also keep the scores after that many folds, to set beside a config that ran only those.
    """
    import rasa.model_training
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter

    intent_results, entity_results, fold_f1, fold_seconds = [], [], [], []
    first_folds = None
    for number, (train, test) in enumerate(stratified_folds(data, folds, seed), start=1):
        if run_folds and number > run_folds:
            break
        started = time.monotonic()
        train_file = work / f"fold{number}.yml"
        RasaYAMLWriter().dump(train_file, train)
        model = rasa.model_training.train_nlu(str(config), str(train_file), str(work), fixed_model_name=f"fold{number}")
        intents, entities = await _predict(_agent(Path(model)), test)
        intent_results += intents
        entity_results += entities
        fold_f1.append(intent_scores([r.intent_target for r in intents],
                                     [r.intent_prediction or "(none)" for r in intents],
                                     [r.message for r in intents])["f1_weighted"])
        fold_seconds.append(round(time.monotonic() - started, 1))
        click.echo(f"  fold {number}/{folds}: intent F1 {fold_f1[-1]:.3f} ({fold_seconds[-1]:.0f} s)", err=True)
        if number == compare_folds:
            first_folds = dict(_score(intent_results, entity_results), folds_run=number)
    scores = _score(intent_results, entity_results)
    scores.update({"folds": folds, "folds_run": len(fold_f1), "seed": seed, "fold_intent_f1_weighted": fold_f1,
                   "fold_seconds": fold_seconds})
    if first_folds:
        scores["first_folds"] = first_folds
    return scores


async def evaluate(config: Path, model: Path, data_dir: Path, test_files: Dict[str, Path], folds: int, seed: int,
                   run_folds: int = 0, compare_folds: int = 0) -> Dict:
    """{"held_out": {language: scores}, "cross_validation": scores} (the latter with folds >= 2)."""
    from rasa.shared.nlu.training_data.loading import load_data

    result: Dict = {"held_out": {}}
    agent = _agent(model)  # loaded once for all the languages' files
    for language, test_file in test_files.items():
        started = time.monotonic()
        result["held_out"][language] = _score(*await _predict(agent, load_data(str(test_file))))
        result["held_out"][language].update(file=str(test_file), seconds=round(time.monotonic() - started, 1))
    if folds >= 2:
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="bench-cv-") as work:
            result["cross_validation"] = await cross_validate(config, load_nlu(data_dir, config), folds, seed,
                                                              Path(work), run_folds, compare_folds)
        result["cross_validation"]["seconds"] = round(time.monotonic() - started, 1)
    return result


def test_file_language(path: Path) -> str:
    """The project's naming: tests/nlu_test.yml is English, tests/nlu_test_<lang>.yml is <lang>."""
    if path.stem == "nlu_test":
        return "en"
    return path.stem[len("nlu_test_"):] if path.stem.startswith("nlu_test_") else path.stem


def parse_test_files(items: Sequence[str]) -> Dict[str, Path]:
    """{"en": Path("tests/nlu_test.yml"), ...} from ("en=tests/nlu_test.yml", ...) or plain paths."""
    files = {}
    for item in items:
        language, _, path = item.rpartition("=")
        if not Path(path).is_file():
            raise click.BadParameter(f"{item!r}: no such file", param_hint="--test-file")
        files[language or test_file_language(Path(path))] = Path(path)
    return files


@click.command()
@click.option("--config", "config", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--model", type=click.Path(exists=True, path_type=Path), required=True,
              help="The trained model scored on the held-out file.")
@click.option("--data", "data_dir", type=click.Path(exists=True, path_type=Path), default=Path("data"))
@click.option("--test-file", "test_files", multiple=True, default=("tests/nlu_test.yml",), show_default=True,
              help="[LANG=]FILE: a held-out file, scored apart per language (by default named after the file: "
                   "nlu_test_nl.yml is nl); repeat for each language.")
@click.option("--folds", type=int, default=5, show_default=True, help="0 or 1: no cross-validation.")
@click.option("--run-folds", type=int, default=0, help="Run only the first N of the folds (0: all).")
@click.option("--compare-folds", type=int, default=0, help="Also report the scores over the first N folds.")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="JSON file to write.")
def main(config: Path, model: Path, data_dir: Path, test_files: Tuple[str, ...], folds: int, run_folds: int,
         compare_folds: int, seed: int, out: Path) -> None:
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    result = asyncio.run(evaluate(config, model, data_dir, parse_test_files(test_files), folds, seed, run_folds,
                                  compare_folds))
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
