"""Trains the Rasa model only when what it is trained from has changed.

The model is named after a hash of its inputs (data, config, domain, the custom
NLU component's code, the Rasa version), so `make run`, `make test` and CI all
find and share the same trained model instead of training again.
"""
from __future__ import annotations

import fcntl
import hashlib
from importlib import metadata
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable, Mapping, Optional

from bot.settings import PROJECT_ROOT, rasa_process_env

MODEL_INPUTS = ("config.yml", "domain.yml", "data", "bot/rasa_plugins/entity_extractor.py",
                "bot/rasa_plugins/negation_featurizer.py", "bot/rasa_plugins/intent_classifier.py",
                "bot/domain/identifiers.py", "bot/domain/timeparse.py")


def _files(root: Path, inputs: Iterable[str]) -> Iterable[Path]:
    for name in inputs:
        path = root / name
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        elif path.exists():
            yield path


def model_fingerprint(root: Path = PROJECT_ROOT, config: str = "config.yml", data: str = "data") -> str:
    """`data`: the training data folder (inside `root`); "data", the default, gives the same hash as ever."""
    # The installed version without importing Rasa (seconds of TensorFlow start-up).
    digest = hashlib.sha256(f"rasa={metadata.version('rasa')}\nconfig={config}\n".encode())
    inputs = tuple({"config.yml": config, "data": data}.get(i, i) for i in MODEL_INPUTS)
    for path in _files(root, inputs):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def ensure_model(root: Path = PROJECT_ROOT, config: str = "config.yml", out: Optional[Path] = None,
                 env: Optional[Mapping[str, str]] = None, name_prefix: str = "assistant", data: str = "data") -> Path:
    """The trained model for the current inputs; trains it first if it does not exist yet.

    `data`: the folder `rasa train --data` reads (the benchmark trains Rasa's default on a part of data/)."""
    out = out or root / "models"
    out.mkdir(parents=True, exist_ok=True)
    name = f"{name_prefix}-{model_fingerprint(root, config, data)}"
    model = out / f"{name}.tar.gz"
    # One trainer at a time: parallel test sessions wait for the first one's model.
    with open(out / ".train.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if model.exists():
            return model
        started = time.monotonic()
        print(f"Training {model.name} (data or config changed)...", file=sys.stderr, flush=True)
        subprocess.run(
            [sys.executable, "-m", "rasa", "train", "--config", config, "--domain", "domain.yml", "--data", data,
             "--out", str(out), "--fixed-model-name", name],
            cwd=root, env=rasa_process_env(env if env is not None else os.environ), check=True,
            stdout=sys.stderr,  # this command's own output is the model's path alone
        )
        print(f"Trained in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return model
