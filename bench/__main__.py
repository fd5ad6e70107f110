"""`python -m bench` (`make bench`): the assistant against Rasa's default config, same run.

1. trains both configs cold and times it: the assistant on all of data/ (every language), Rasa's
   default on the English part (data/'s own files), as issue 14 compares them;
2. serves each setup (action server + Rasa server on 127.0.0.1) and replays the conversation mix
   (English and Dutch) one at a time and N at a time through the REST channel;
3. scores understanding: each language's held-out test file, and 5-fold cross-validation;
4. writes results/bench-<time>.{json,md,png} and results/latest.{json,md,png}.

Results are written after every stage, so an interrupted run still leaves what it measured.
"""
from __future__ import annotations

import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional

import click

from bench import report
from bench.contenders import CONTENDERS, SETUPS, Setup, held_out_files, redis_reachable, training_data
from bench.conversations import MIX
from bench.load import phase
from bench.stack import stack_env, start_measured_stack
from bench.training import train_timed
from bot.settings import PROJECT_ROOT


def _say(message: str) -> None:
    click.echo(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", err=True)


def machine() -> Dict:
    cpu = platform.processor() or "?"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory_gb = None
    try:
        kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal")))
        memory_gb = round(kb / 1024 / 1024, 1)
    except (OSError, StopIteration, ValueError):
        pass
    import rasa

    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": memory_gb, "os": platform.platform(terse=True),
            "python": platform.python_version(), "rasa": rasa.__version__,
            "load_start": round(os.getloadavg()[0], 2)}


def run_scenarios(url: str, env: Dict[str, str], run_dir: Path) -> Dict:
    """The scenario suite (tests/scenarios) on this stack, on freshly seeded demo data: its pass rates."""
    from bot.store.seed import seed_demo
    from tests.scenarios.runner import Target, run_suite, write_json

    target = Target.from_env(url, env)
    seed_demo(target.settings)
    suite = run_suite(target)
    write_json(suite, run_dir / "scenarios.json")
    s = suite["summary"]
    _say(f"  scenario suite: {s['passed']}/{s['total']} passed ({100 * s['rate']:.1f}%), per class: "
         + ", ".join(f"{k} {v['passed']}/{v['total']}" for k, v in s["per_class"].items()))
    return {"seconds": suite["seconds"], **s}


def serve_and_load(setup: Setup, model: Path, run_dir: Path, secret: str, concurrencies: List[int],
                   rounds: int, per_worker: int, max_seconds: float, scenarios: bool = False) -> Dict:
    env = stack_env(os.environ, run_dir, secret, setup.server_env)
    stack = start_measured_stack(model, run_dir, env)
    try:
        _say(f"  {setup.key}: first answer {stack.first_answer_s:.1f} s after start")
        phase(stack.url, secret, 1, len(MIX), max_seconds, f"{setup.key}-warmup")  # lazy loads, caches: not measured
        phases, latencies = {}, {}
        for n in concurrencies:
            count = len(MIX) * rounds if n == 1 else max(n * per_worker, len(MIX))
            result = phase(stack.url, secret, n, count, max_seconds, f"{setup.key}-{n}")
            phases[str(n)] = result.summary()
            latencies[str(n)] = [round(seconds * 1000, 2) for seconds in result.latencies()]
            s = phases[str(n)]
            _say(f"  {setup.key} @{n}: {s['turns']} turns, p50 {s['latency']['p50_ms']} ms, "
                 f"p95 {s['latency']['p95_ms']} ms, {s['throughput_turns_per_s']} turns/s, "
                 f"{s['failed_turns']} failed")
        memory = stack.peak_memory_mb()
        suite = None
        if scenarios:
            try:
                suite = run_scenarios(stack.url, env, run_dir)
            except Exception as error:  # noqa: BLE001 - the speed figures stand without it
                _say(f"  scenario suite failed to run: {type(error).__name__}: {error}")
    finally:
        stack.stop()
    return {"key": setup.key, "label": setup.label, "contender": setup.contender, "server_env": setup.server_env,
            "first_answer_s": stack.first_answer_s, "memory_mb": memory, "phases": phases,
            "latencies_ms": latencies, "failed_turns": sum(p["failed_turns"] for p in phases.values()),
            "scenarios": suite}


def understand(config: Path, model: Path, data: Path, test_files: Dict[str, Path], folds: int, run_folds: int,
               compare_folds: int, out: Path, env: Dict[str, str], log: Path) -> Dict:
    command = [sys.executable, "-m", "bench.understanding", "--config", str(config), "--model", str(model),
               "--data", str(data), "--folds", str(folds), "--run-folds", str(run_folds),
               "--compare-folds", str(compare_folds), "--out", str(out)]
    command += [arg for lang, path in test_files.items() for arg in ("--test-file", f"{lang}={path}")]
    with open(log, "ab") as log_file:
        subprocess.run(command, cwd=PROJECT_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, check=True)
    return json.loads(out.read_text())


def _cv_note(results: Dict, folds: int, fewer: int) -> str:
    # Each config is cross-validated on its own training data, so the CV ratios are not like for like.
    own = ("each config's own training data (the assistant's: every language; Rasa default's: English), "
           "seeded and stratified by intent")
    if fewer >= folds:
        return f"Cross-validation: {folds} folds of {own}."
    note = (f"Cross-validation rows compare both configs on folds 1-{fewer} of {folds} folds of {own}: Rasa's "
            f"default trains DIET for 100 epochs per fold, too slow on 2 cores for all {folds} "
            f"(`--default-folds {folds}` runs them all).")
    cv = (results["contenders"].get("assistant") or {}).get("understanding", {}).get("cross_validation")
    if cv:
        note += (f" Over all {folds} folds the assistant scores intent F1 {cv['intents']['f1_weighted']:.3f} weighted, "
                 f"{cv['intents']['f1_macro']:.3f} macro.")
    return note


@click.command()
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=PROJECT_ROOT / "results",
              show_default=True, help="Folder for the results (ignored by git).")
@click.option("--folds", type=int, default=5, show_default=True,
              help="Cross-validation folds (0: none; the held-out files are still scored).")
@click.option("--default-folds", type=int, default=5, show_default=True,
              help="Cross-validate Rasa's default config on only the first N of those folds (its DIET trains "
                   "100 epochs, a few minutes per fold on 2 cores). Both configs are then compared on those "
                   "folds; the assistant still runs all of them.")
@click.option("--concurrency", default="1,10,50", show_default=True, help="Concurrent conversations, comma-separated.")
@click.option("--rounds", type=int, default=10, show_default=True,
              help="Times the conversation mix is replayed one conversation at a time.")
@click.option("--per-worker", type=int, default=12, show_default=True,
              help="Conversations per concurrent client at each concurrency.")
@click.option("--max-phase-seconds", type=float, default=180.0, show_default=True,
              help="No new conversation starts after this long in one phase.")
@click.option("--only", type=click.Choice([c.key for c in CONTENDERS]), default=None,
              help="Measure one contender only (no ratios).")
@click.option("--skip-understanding", is_flag=True, help="Speed and size only.")
@click.option("--keep-work", is_flag=True, help="Keep the trained models (server and training logs are always kept).")
def main(out_dir: Path, folds: int, default_folds: int, concurrency: str, rounds: int, per_worker: int,
         max_phase_seconds: float, only: Optional[str], skip_understanding: bool, keep_work: bool) -> None:
    """Benchmark the assistant against Rasa's default configuration (see the README's "Benchmark")."""
    os.environ["RASA_TELEMETRY_ENABLED"] = "false"
    concurrencies = sorted({int(n) for n in concurrency.split(",") if n.strip()})
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    work = PROJECT_ROOT / "results" / f".work-{stamp}"
    logs = out_dir / f"bench-{stamp}-logs"
    work.mkdir(parents=True)
    logs.mkdir(parents=True)
    contenders = [c for c in CONTENDERS if only in (None, c.key)]
    redis_ok = redis_reachable()
    setups = [s for s in SETUPS if s.contender in {c.key for c in contenders} and (redis_ok or not s.needs_redis)]
    results: Dict = {
        "date": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
        "machine": machine(), "concurrencies": concurrencies, "contenders": {}, "setups": [],
        "settings": {"folds": folds, "default_folds": default_folds, "rounds": rounds, "per_worker": per_worker,
                     "max_phase_seconds": max_phase_seconds, "mix": [c.name for c in MIX],
                     "mix_languages": dict(sorted(Counter(c.language for c in MIX).items()))},
        "notes": [],
    }
    if not redis_ok:
        results["notes"].append("Redis not reachable on 127.0.0.1:6379: the 2-worker setup was not measured.")
    if results["machine"]["load_start"] > 0.5 * (os.cpu_count() or 1):
        results["notes"].append(f"The machine was busy at the start (load {results['machine']['load_start']}): "
                                "timings are noisier than on an idle machine.")
    secret = secrets.token_urlsafe(32)

    def save() -> None:
        results["machine"]["load_end"] = round(os.getloadavg()[0], 2)
        paths = report.write_all(results, out_dir, f"bench-{stamp}")
        for kind, path in paths.items():
            shutil.copyfile(path, out_dir / f"latest{path.suffix}")

    try:
        models, configs, datas = {}, {}, {}
        for contender in contenders:
            config = contender.config
            if contender.train_from_copy:
                config = work / contender.config.name
                shutil.copyfile(contender.config, config)
            data, sources = training_data(contender, work)
            _say(f"Training {contender.key} on {', '.join(sources)} (cold cache)...")
            model, seconds = train_timed(config, work / "models" / contender.key, work / f"cache-{contender.key}",
                                         os.environ, contender.key, logs / f"train-{contender.key}.log", data=data)
            models[contender.key], configs[contender.key], datas[contender.key] = model, config, data
            results["contenders"][contender.key] = {
                "label": contender.label, "config": str(contender.config.relative_to(PROJECT_ROOT)),
                "data": sources, "languages": list(contender.languages or held_out_files()),
                "training_s": seconds, "model_mb": round(model.stat().st_size / 1024 / 1024, 1)}
            _say(f"  {contender.key}: trained in {seconds:.0f} s")
            save()

        for setup in setups:
            _say(f"Serving {setup.label}...")
            # The scenario suite (tests/scenarios) once, on the assistant's first setup.
            scenarios = setup.contender == "assistant" and "scenarios" not in results
            measured = serve_and_load(setup, models[setup.contender], work / f"run-{setup.key}", secret,
                                      concurrencies, rounds, per_worker, max_phase_seconds, scenarios)
            if scenarios and measured["scenarios"]:
                s = results["scenarios"] = measured["scenarios"]
                results["notes"].append(
                    f"Scenario suite (tests/scenarios, {setup.label}): {s['passed']}/{s['total']} passed "
                    f"({100 * s['rate']:.1f}%); per class: "
                    + ", ".join(f"{k} {v['passed']}/{v['total']}" for k, v in s["per_class"].items())
                    + "; per language: " + ", ".join(f"{k} {v['passed']}/{v['total']}" for k, v in s["per_lang"].items())
                    + f" (details: bench-{stamp}-logs/run-{setup.key}/scenarios.json).")
            shutil.copytree(work / f"run-{setup.key}", logs / f"run-{setup.key}",
                            ignore=shutil.ignore_patterns("*.db*"), dirs_exist_ok=True)
            results["setups"].append(measured)
            if setup.headline:
                results["contenders"][setup.contender]["speed"] = measured
            save()
        for key, contender in results["contenders"].items():
            if "speed" not in contender:  # its headline setup could not run (no Redis): its first one that did
                measured = next((m for m in results["setups"] if m["contender"] == key), None)
                if measured:
                    contender["speed"] = measured
                    results["notes"].append(f"{contender['label']}: speed rows from \"{measured['label']}\".")
        save()

        if not skip_understanding:
            fewer = min(folds, default_folds or folds)
            for contender in contenders:
                slow = contender.slow_to_train
                run_folds = fewer if slow else folds
                # Each language's held-out file apart, for the languages the contender was trained on.
                test_files = {lang: path for lang, path in held_out_files().items()
                              if lang in results["contenders"][contender.key]["languages"]}
                _say(f"Understanding {contender.key}: held-out {', '.join(test_files)}, "
                     f"{run_folds} of {folds} CV folds...")
                env = dict(os.environ, RASA_CACHE_DIRECTORY=str(work / f"cache-{contender.key}"))
                scores = understand(configs[contender.key], models[contender.key], datas[contender.key], test_files,
                                    folds, run_folds, 0 if slow or fewer == folds else fewer,
                                    work / f"understanding-{contender.key}.json", env,
                                    logs / f"understanding-{contender.key}.log")
                results["contenders"][contender.key]["understanding"] = scores
                _say(f"  {contender.key}: held-out intent F1 "
                     + ", ".join(f"{lang} {s['intents']['f1_weighted']:.3f}" for lang, s in scores["held_out"].items())
                     + f"; CV {scores.get('cross_validation', {}).get('intents', {}).get('f1_weighted')}")
                save()
            if folds >= 2:
                results["notes"].append(_cv_note(results, folds, fewer))
            save()
    finally:
        save()
        if not keep_work:
            shutil.rmtree(work, ignore_errors=True)
    _say(f"Done: {out_dir / 'latest.md'}")
    click.echo((out_dir / "latest.md").read_text())


if __name__ == "__main__":
    main()
