"""The benchmark's arithmetic and reports (the benchmark itself runs with `make bench`, not here)."""
from __future__ import annotations

import json

import pytest

from bench import report
from bench.stats import latency_summary, percentile, ratio
from bench.understanding import entity_scores, intent_scores


def test_percentiles_interpolate_like_numpy():
    samples = list(range(1, 101))  # 1..100
    assert percentile(samples, 50) == pytest.approx(50.5)
    assert percentile(samples, 95) == pytest.approx(95.05)
    assert percentile(samples, 99) == pytest.approx(99.01)
    assert percentile([3.0, 1.0, 2.0], 0) == 1.0 and percentile([3.0, 1.0, 2.0], 100) == 3.0
    assert percentile([7.0], 99) == 7.0


def test_percentile_refuses_nonsense():
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_latency_summary_is_in_milliseconds():
    summary = latency_summary([0.010] * 90 + [0.200] * 10)
    assert summary["count"] == 100
    assert summary["p50_ms"] == 10.0
    assert summary["p99_ms"] == 200.0
    assert summary["max_ms"] == 200.0
    assert summary["mean_ms"] == pytest.approx(29.0)
    assert latency_summary([])["p95_ms"] is None


def test_ratio():
    assert ratio(30.0, 10.0) == 3.0
    assert ratio(None, 1.0) is None and ratio(1.0, 0) is None


def test_intent_scores_report_f1_and_the_confusions_that_remain():
    targets = ["greet", "greet", "deny", "deny", "affirm", "affirm"]
    predicted = ["greet", "greet", "deny", "affirm", "affirm", "affirm"]
    texts = ["hi", "hello", "no", "nope", "yes", "yep"]
    scores = intent_scores(targets, predicted, texts)
    assert scores["accuracy"] == pytest.approx(5 / 6, abs=1e-4)
    # deny: P=1, R=0.5 -> F1 2/3; affirm: P=2/3, R=1 -> F1 0.8; greet: 1.0
    assert scores["f1_macro"] == pytest.approx((1 + 2 / 3 + 0.8) / 3, abs=1e-4)
    assert scores["confusions"] == [{"intent": "deny", "predicted": "affirm", "count": 1, "examples": ["nope"]}]


def test_entity_scores_leave_tokens_outside_entities_out():
    targets = ["no_entity", "card_number", "no_entity", "location", "location"]
    predicted = ["no_entity", "card_number", "location", "location", "no_entity"]
    scores = entity_scores(targets, predicted)
    assert scores["per_entity"]["card_number"]["f1"] == 1.0
    assert scores["per_entity"]["location"]["precision"] == 0.5
    assert scores["per_entity"]["location"]["recall"] == 0.5
    assert "no_entity" not in scores["per_entity"]


def test_entities_are_scored_as_the_pipeline_outputs_them_whichever_extractor_found_them():
    from rasa.nlu.test import EntityEvaluationResult
    from rasa.nlu.tokenizers.tokenizer import Token

    from bench.understanding import _token_labels

    text = "card NL-EFL-C12345678-9 at Jaarbeurs Utrecht"
    tokens, start = [], 0
    for word in text.split():
        start = text.index(word, start)
        tokens.append(Token(word, start))
        start += len(word)
    card = {"start": 5, "end": 23, "entity": "card_number", "value": "NL-EFL-C12345678-9"}
    place = {"start": 27, "end": 44, "entity": "location", "value": "Jaarbeurs Utrecht"}
    predicted = [dict(card, extractor="ChargingEntityExtractor"), dict(place, extractor="CRFEntityExtractor")]
    targets, predictions = _token_labels([EntityEvaluationResult([card, place], predicted, tokens, text)])
    assert targets == predictions == ["no_entity", "card_number", "no_entity", "location", "location"]

    # a location the pipeline missed half of counts against it
    half = [dict(card, extractor="ChargingEntityExtractor"), dict(place, end=36, extractor="CRFEntityExtractor")]
    _, predictions = _token_labels([EntityEvaluationResult([card, place], half, tokens, text)])
    assert predictions == ["no_entity", "card_number", "no_entity", "location", "no_entity"]


def _setup(key, contender, p95_one, throughput_ten, failed=0):
    return {
        "key": key, "label": key, "contender": contender, "first_answer_s": 20.0,
        "memory_mb": {"rasa_server": 600.0, "action_server": 80.0}, "failed_turns": failed,
        "phases": {
            "1": {"latency": {"p50_ms": p95_one / 2, "p95_ms": p95_one, "p99_ms": p95_one * 1.2},
                  "throughput_turns_per_s": 1000 / p95_one, "failed_turns": failed},
            "10": {"latency": {"p50_ms": 100.0, "p95_ms": 300.0}, "throughput_turns_per_s": throughput_ten,
                   "failed_turns": 0},
        },
        "latencies_ms": {"1": [p95_one / 2] * 19 + [p95_one], "10": [100.0] * 19 + [300.0]},
    }


def example_results():
    ours = _setup("assistant", "assistant", p95_one=40.0, throughput_ten=30.0)
    theirs = _setup("rasa_default", "rasa_default", p95_one=160.0, throughput_ten=12.0)

    def held_out(f1, location_f1):
        per_entity = {e: {"f1": 1.0} for e in report.CONTRACT_ENTITIES}
        per_entity["location"] = {"f1": location_f1}
        return {"intents": {"f1_weighted": f1, "f1_macro": f1 - 0.01,
                            "confusions": [{"intent": "deny", "predicted": "kwh_not_increasing",
                                            "count": 2, "examples": ["no it's not"]}]},
                "entities": {"per_entity": per_entity, "confusions": []}}

    return {
        "date": "2026-11-25T10:00:00+01:00", "concurrencies": [1, 10],
        "machine": {"cpu": "Test CPU", "cores": 2, "memory_gb": 8.0},
        "contenders": {
            "assistant": {"label": "This assistant", "training_s": 50.0, "model_mb": 2.0, "data": ["data/"],
                          "languages": ["en", "nl"], "speed": ours,
                          "understanding": {"held_out": {"nl": held_out(0.92, 0.95), "en": held_out(0.96, 0.90)},
                                            "cross_validation": held_out(0.91, 0.9)}},
            "rasa_default": {"label": "Rasa default", "training_s": 900.0, "model_mb": 30.0,
                             "data": ["data/nlu.yml", "data/rules.yml", "data/stories.yml"], "languages": ["en"],
                             "understanding": {"held_out": {"en": held_out(0.93, 0.97)}}, "speed": theirs},
        },
        "setups": [ours, theirs],
        "notes": ["a note for the reader"],
    }


def test_ratios_are_assistant_over_default():
    ratios = report.ratios(example_results())
    assert ratios["10 concurrent: throughput (turns/s)"] == 2.5
    assert ratios["1 conversation: p95 per turn (ms)"] == 0.25
    assert ratios["Training, cold (s): assistant all languages, default English"] == pytest.approx(0.06)
    assert ratios["Held-out intent F1 (weighted), en"] == pytest.approx(0.96 / 0.93, abs=0.01)
    assert ratios["Held-out intent F1 (weighted), nl"] is None  # the default is not trained on Dutch


def test_targets_say_which_are_met():
    checks = {c["target"]: c for c in report.target_checks(example_results())}
    assert checks["Held-out intent F1 (weighted), en >= 0.95"]["met"] is True
    assert checks["Held-out intent F1 (weighted), nl >= 0.93"]["met"] is False
    assert checks["Held-out entity F1 location, en >= 0.95"]["met"] is False
    assert checks["CV intent F1 (weighted), all folds >= 0.90"]["met"] is True
    assert checks["1 conversation: p95 per turn ratio, assistant ÷ Rasa default <= 0.8"]["value"] == 0.25
    assert checks["Training ratio, assistant (all languages) ÷ Rasa default (English) <= 1"]["met"] is True
    assert checks["1 conversation: p95 per turn <= 100 ms"]["met"] is True
    assert checks["10 concurrent: throughput >= 1.5x Rasa default's"]["value"] == 2.5
    assert checks["Training <= 180 s"]["met"] is True


def test_markdown_sets_the_two_side_by_side():
    text = report.markdown(example_results())
    assert "| 10 concurrent: throughput (turns/s) | 30.0 | 12.0 | 2.50 | higher |" in text
    assert "| Held-out entity F1 location, en >= 0.95 | 0.900 | **no** |" in text
    assert "| Held-out intent F1 (weighted), nl | 0.920 | – | – | higher |" in text
    assert "| Training time, cold: assistant on en, nl ÷ Rasa default on en (s) | 50.0 | 900.0 | **0.06** |" in text
    assert "| p95 per turn, one conversation at a time (ms) | 40.0 | 160.0 | **0.25** |" in text
    assert "Rasa default on data/nlu.yml, data/rules.yml, data/stories.yml (en)" in text
    assert text.index("Held-out intent F1 (weighted), en") < text.index("Held-out intent F1 (weighted), nl")
    assert "| deny | kwh_not_increasing | 2 | no it's not |" in text
    assert "Test CPU, 2 cores" in text and "- a note for the reader" in text


def test_write_all_writes_json_markdown_and_a_png(tmp_path):
    paths = report.write_all(example_results(), tmp_path, "bench-test")
    saved = json.loads(paths["json"].read_text())
    assert saved["ratios"]["1 conversation: p95 per turn (ms)"] == 0.25
    assert any(t["met"] is False for t in saved["targets"])
    assert paths["markdown"].read_text().startswith("# Benchmark 2026-11-25")
    assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths["plot"].stat().st_size > 10_000


def test_rasa_default_is_trained_on_english_only_and_the_assistant_on_every_language(tmp_path):
    from bench.contenders import CONTENDERS, DATA_DIR, held_out_files, training_data

    ours, theirs = (next(c for c in CONTENDERS if c.key == key) for key in ("assistant", "rasa_default"))
    assert training_data(ours, tmp_path) == (DATA_DIR, ["data/"])
    folder, sources = training_data(theirs, tmp_path)
    assert sources == ["data/nlu.yml", "data/rules.yml", "data/stories.yml"]
    assert sorted(p.name for p in folder.iterdir()) == ["nlu.yml", "rules.yml", "stories.yml"]
    assert (folder / "nlu.yml").read_bytes() == (DATA_DIR / "nlu.yml").read_bytes()
    assert {lang: str(p.relative_to(DATA_DIR.parent)) for lang, p in held_out_files().items()} == {
        "en": "tests/nlu_test.yml", "nl": "tests/nlu_test_nl.yml"}


def test_understanding_takes_one_held_out_file_per_language():
    import click

    from bench.understanding import parse_test_files

    assert {k: str(v) for k, v in parse_test_files(["tests/nlu_test.yml", "nl=tests/nlu_test_nl.yml"]).items()} \
        == {"en": "tests/nlu_test.yml", "nl": "tests/nlu_test_nl.yml"}
    assert list(parse_test_files(["tests/nlu_test_nl.yml"])) == ["nl"]  # named after the file
    with pytest.raises(click.BadParameter):
        parse_test_files(["nl=tests/no_such_file.yml"])


def test_the_model_fingerprint_follows_the_training_data_folder(tmp_path):
    from bot.apps.model_build import model_fingerprint

    for name in ("config.yml", "domain.yml"):
        (tmp_path / name).write_text(name)
    for folder, text in (("data", "all"), ("english", "en")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "nlu.yml").write_text(text)
    assert model_fingerprint(tmp_path) == model_fingerprint(tmp_path, data="data")
    assert model_fingerprint(tmp_path, data="english") != model_fingerprint(tmp_path)
