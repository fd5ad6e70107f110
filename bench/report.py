"""Writes a benchmark's results three ways: JSON (everything), Markdown (the tables people read),
and a PNG plot (latency distribution, throughput against concurrency).

Input is the plain dict `bench/__main__.py` builds; see `example_results()` in
tests/bench for its shape.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from bench.stats import ratio

OURS, THEIRS = "assistant", "rasa_default"
CONTRACT_ENTITIES = ("card_number", "session_id", "evse_id", "location", "time", "operator")
# Held-out intent F1 each language must reach (issues 11 and 14); languages not listed: English's.
HELD_OUT_INTENT_F1 = {"en": 0.95, "nl": 0.93}


def _get(data: Dict, *path: Any) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _cv(contender: Dict) -> Dict:
    """Cross-validation scores on the folds both configs ran (all of them, unless the default ran fewer)."""
    cv = _get(contender, "understanding", "cross_validation") or {}
    return cv.get("first_folds") or cv


def _phase(setup: Dict, concurrency: int) -> Dict:
    return _get(setup, "phases", str(concurrency)) or {}


def languages(results: Dict) -> List[str]:
    """The languages of the held-out scores in the results: English first."""
    found = {lang for c in results["contenders"].values() for lang in _get(c, "understanding", "held_out") or {}}
    return sorted(found, key=lambda lang: (lang != "en", lang))


def _held_out(contender: Dict, lang: str, *path: str) -> Any:
    return _get(contender, "understanding", "held_out", lang, *path)


def _p95_one(contender: Dict) -> Optional[float]:
    return _get(_phase(contender.get("speed") or {}, 1), "latency", "p95_ms")


# (row label, how to read it from a contender's results, digits, which way is better)
Row = Tuple[str, Callable[[Dict], Optional[float]], int, str]


def comparison_rows(concurrencies: Iterable[int], langs: Iterable[str] = ("en",)) -> List[Row]:
    rows: List[Row] = []
    for lang in langs:  # each language's held-out file apart (Rasa's default is scored on English only)
        rows += [
            (f"Held-out intent F1 (weighted), {lang}", lambda c, l=lang: _held_out(c, l, "intents", "f1_weighted"), 3,
             "higher"),
            (f"Held-out intent F1 (macro), {lang}", lambda c, l=lang: _held_out(c, l, "intents", "f1_macro"), 3,
             "higher"),
        ]
    rows += [
        ("CV intent F1 (weighted), own training data", lambda c: _get(_cv(c), "intents", "f1_weighted"), 3, "higher"),
        ("CV intent F1 (macro), own training data", lambda c: _get(_cv(c), "intents", "f1_macro"), 3, "higher"),
    ]
    for lang in langs:
        for entity in CONTRACT_ENTITIES:
            rows.append((f"Held-out entity F1: {entity}, {lang}",
                         lambda c, e=entity, l=lang: _held_out(c, l, "entities", "per_entity", e, "f1"), 3, "higher"))
    for entity in CONTRACT_ENTITIES:
        rows.append((f"CV entity F1: {entity}",
                     lambda c, e=entity: _get(_cv(c), "entities", "per_entity", e, "f1"), 3, "higher"))
    rows += [
        ("1 conversation: p50 per turn (ms)", lambda c: _get(_phase(c.get("speed") or {}, 1), "latency", "p50_ms"), 1, "lower"),
        ("1 conversation: p95 per turn (ms)", lambda c: _get(_phase(c.get("speed") or {}, 1), "latency", "p95_ms"), 1, "lower"),
        ("1 conversation: p99 per turn (ms)", lambda c: _get(_phase(c.get("speed") or {}, 1), "latency", "p99_ms"), 1, "lower"),
    ]
    for n in concurrencies:
        if n == 1:
            continue
        rows += [
            (f"{n} concurrent: throughput (turns/s)",
             lambda c, n=n: _get(_phase(c.get("speed") or {}, n), "throughput_turns_per_s"), 1, "higher"),
            (f"{n} concurrent: p95 per turn (ms)",
             lambda c, n=n: _get(_phase(c.get("speed") or {}, n), "latency", "p95_ms"), 1, "lower"),
        ]
    rows += [
        ("Peak memory, Rasa server (MB)", lambda c: _get(c, "speed", "memory_mb", "rasa_server"), 0, "lower"),
        ("Peak memory, action server (MB)", lambda c: _get(c, "speed", "memory_mb", "action_server"), 0, "lower"),
        ("Start to first answer (s)", lambda c: _get(c, "speed", "first_answer_s"), 1, "lower"),
        ("Training, cold (s): assistant all languages, default English", lambda c: _get(c, "training_s"), 0, "lower"),
        ("Model file (MB)", lambda c: _get(c, "model_mb"), 1, "lower"),
        ("Failed turns (wrong or no answer)", lambda c: _get(c, "speed", "failed_turns"), 0, "lower"),
    ]
    return rows


def ratios(results: Dict) -> Dict[str, Optional[float]]:
    ours, theirs = results["contenders"].get(OURS), results["contenders"].get(THEIRS)
    if not ours or not theirs:
        return {}
    return {label: ratio(read(ours), read(theirs))
            for label, read, _, _ in comparison_rows(results["concurrencies"], languages(results))}


def headline(results: Dict) -> List[Tuple[str, Optional[float], Optional[float], Optional[float]]]:
    """The two ratios issues 11 and 14 set targets on: (label, assistant, Rasa default, ratio)."""
    ours, theirs = results["contenders"].get(OURS) or {}, results["contenders"].get(THEIRS) or {}
    return [(f"Training time, cold: assistant on {', '.join(ours.get('languages') or ['?'])} ÷ "
             f"Rasa default on {', '.join(theirs.get('languages') or ['?'])} (s)",
             ours.get("training_s"), theirs.get("training_s"), ratio(ours.get("training_s"), theirs.get("training_s"))),
            ("p95 per turn, one conversation at a time (ms)", _p95_one(ours), _p95_one(theirs),
             ratio(_p95_one(ours), _p95_one(theirs)))]


def target_checks(results: Dict) -> List[Dict]:
    """The issue's targets, each with the measured value and whether it is met."""
    ours = results["contenders"].get(OURS) or {}
    theirs = results["contenders"].get(THEIRS) or {}
    checks = []
    for lang in languages(results) or ["en"]:
        floor = HELD_OUT_INTENT_F1.get(lang, HELD_OUT_INTENT_F1["en"])
        checks.append((f"Held-out intent F1 (weighted), {lang} >= {floor}",
                       _held_out(ours, lang, "intents", "f1_weighted"), lambda v, f=floor: v >= f))
    for entity in CONTRACT_ENTITIES:
        checks.append((f"Held-out entity F1 {entity}, en >= 0.95",
                       _held_out(ours, "en", "entities", "per_entity", entity, "f1"), lambda v: v >= 0.95))
    cv = _get(ours, "understanding", "cross_validation", "intents", "f1_weighted")  # all folds, own data
    training, p95 = (r for *_, r in headline(results))
    checks += [
        ("CV intent F1 (weighted), all folds >= 0.90", cv, lambda v: v >= 0.90),
        ("1 conversation: p95 per turn ratio, assistant ÷ Rasa default <= 0.8", p95, lambda v: v <= 0.8),
        ("Training ratio, assistant (all languages) ÷ Rasa default (English) <= 1", training, lambda v: v <= 1),
        ("1 conversation: p95 per turn <= 100 ms", _p95_one(ours), lambda v: v <= 100),
        ("10 concurrent: throughput >= 1.5x Rasa default's",
         ratio(_get(_phase(ours.get("speed") or {}, 10), "throughput_turns_per_s"),
               _get(_phase(theirs.get("speed") or {}, 10), "throughput_turns_per_s")), lambda v: v >= 1.5),
        ("Training <= 180 s", _get(ours, "training_s"), lambda v: v <= 180),
    ]
    return [{"target": name, "value": value, "met": None if value is None else bool(test(value))}
            for name, value, test in checks]


def _table(header: List[str], rows: List[List[str]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def markdown(results: Dict) -> str:
    machine = results.get("machine", {})
    contenders = results["contenders"]
    ours, theirs = contenders.get(OURS, {}), contenders.get(THEIRS, {})
    lines = [
        f"# Benchmark {results.get('date', '')}",
        "",
        f"Machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, {machine.get('memory_gb', '?')} GB; "
        f"{machine.get('os', '?')}; Python {machine.get('python', '?')}, Rasa {machine.get('rasa', '?')}. "
        f"Load average at start/end: {machine.get('load_start', '?')} / {machine.get('load_end', '?')}.",
        "",
        f"Same machine, same run. **{ours.get('label', OURS)}** against "
        f"**{theirs.get('label', THEIRS)}**. Ratio = assistant ÷ default.",
        "",
    ]
    trained = [f"{c.get('label', key)} on {', '.join(c['data'])} ({', '.join(c.get('languages') or [])})"
               for key, c in ((OURS, ours), (THEIRS, theirs)) if (c or {}).get("data")]
    if trained:
        lines += [f"Trained: {'; '.join(trained)}.", ""]
    mix = _get(results, "settings", "mix_languages")
    if mix:
        lines += ["Conversation mix (speed rows): " + ", ".join(f"{n} conversations in {lang}" for lang, n in mix.items())
                  + ", the same for both.", ""]
    lines += _table(["headline", "assistant", "Rasa default", "ratio"],
                    [[label, _fmt(a, 1), _fmt(b, 1), f"**{_fmt(r)}**"] for label, a, b, r in headline(results)])
    lines += [""]
    served = [c["speed"]["label"] for c in (ours, theirs) if (c or {}).get("speed")]
    if served:
        lines += [f"Speed and memory rows: {' against '.join(served)} (every setup in the last table).", ""]
    rows = []
    all_ratios = ratios(results)
    for label, read, digits, better in comparison_rows(results["concurrencies"], languages(results)):
        a, b = (read(ours) if ours else None), (read(theirs) if theirs else None)
        rows.append([label, _fmt(a, digits), _fmt(b, digits), _fmt(all_ratios.get(label)), better])
    lines += _table(["measure", "assistant", "Rasa default", "ratio", "better"], rows)
    notes = results.get("notes") or []
    if notes:
        lines += ["", *[f"- {n}" for n in notes]]

    lines += ["", "## Targets", ""]
    lines += _table(["target", "measured", "met"],
                    [[c["target"], _fmt(c["value"], 3), {True: "yes", False: "**no**", None: "–"}[c["met"]]]
                     for c in target_checks(results)])

    setups = results.get("setups") or []
    if setups:
        lines += ["", "## Serving setups (same model, different server options)", ""]
        header = ["setup", "p50/p95 @1 (ms)"]
        for n in results["concurrencies"]:
            if n != 1:
                header += [f"turns/s @{n}", f"p95 @{n} (ms)"]
        header += ["Rasa MB", "actions MB", "failed turns"]
        rows = []
        for setup in setups:
            one = _phase(setup, 1)
            row = [setup["label"], f"{_fmt(_get(one, 'latency', 'p50_ms'), 1)} / {_fmt(_get(one, 'latency', 'p95_ms'), 1)}"]
            for n in results["concurrencies"]:
                if n != 1:
                    p = _phase(setup, n)
                    row += [_fmt(p.get("throughput_turns_per_s"), 1), _fmt(_get(p, "latency", "p95_ms"), 1)]
            row += [_fmt(_get(setup, "memory_mb", "rasa_server"), 0), _fmt(_get(setup, "memory_mb", "action_server"), 0),
                    _fmt(setup.get("failed_turns"), 0)]
            rows.append(row)
        lines += _table(header, rows)

    for key in (OURS, THEIRS):
        contender = contenders.get(key)
        if not contender:
            continue
        places = [(("held_out", lang), f"held-out test file, {lang}") for lang in languages(results)]
        for where, title in places + [(("cross_validation",), "cross-validation")]:
            confusions = _get(contender, "understanding", *where, "intents", "confusions") or []
            entity_confusions = _get(contender, "understanding", *where, "entities", "confusions") or []
            if not confusions and not entity_confusions:
                continue
            lines += ["", f"## Remaining confusions: {contender.get('label', key)}, {title}", ""]
            if confusions:
                lines += _table(["intent", "predicted as", "count", "e.g."],
                                [[c["intent"], c["predicted"], str(c["count"]), "; ".join(c.get("examples", [])[:2])]
                                 for c in confusions[:12]])
            if entity_confusions:
                lines += [""] + _table(["entity (tokens)", "predicted as", "tokens"],
                                       [[c["entity"], c["predicted"], str(c["tokens"])] for c in entity_confusions[:8]])
    return "\n".join(lines) + "\n"


def plot(results: Dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    setups = results.get("setups") or []
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for setup in setups:
        for n, style in ((1, "-"), (10, "--")):
            samples = sorted(_get(setup, "latencies_ms", str(n)) or [])
            if samples:
                fraction = [(i + 1) / len(samples) for i in range(len(samples))]
                left.step(samples, fraction, style, where="post", label=f"{setup['label']} @{n}")
        points = [(n, _phase(setup, n).get("throughput_turns_per_s")) for n in results["concurrencies"]]
        points = [(n, t) for n, t in points if t is not None]
        if points:
            right.plot(*zip(*points), "o-", label=setup["label"])
    left.set_xscale("log")
    left.set_xlabel("latency per turn (ms, log scale)")
    left.set_ylabel("fraction of turns")
    left.set_title("Latency distribution (1 and 10 concurrent conversations)")
    left.axvline(100, color="grey", linewidth=0.8, linestyle=":")
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=7)
    right.set_xlabel("concurrent conversations")
    right.set_ylabel("turns per second")
    right.set_title("Throughput against concurrency")
    right.grid(True, alpha=0.3)
    right.legend(fontsize=7)
    figure.suptitle(f"REST channel, action server running — {results.get('date', '')}", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_all(results: Dict, folder: Path, stem: str = "bench") -> Dict[str, Path]:
    """<stem>.json, <stem>.md and <stem>.png in `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    results = dict(results, ratios=ratios(results), targets=target_checks(results))
    paths = {"json": folder / f"{stem}.json", "markdown": folder / f"{stem}.md", "plot": folder / f"{stem}.png"}
    paths["json"].write_text(json.dumps(results, indent=2))
    paths["markdown"].write_text(markdown(results))
    plot(results, paths["plot"])
    return paths
