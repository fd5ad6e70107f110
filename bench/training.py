"""Training time: a fresh `rasa train` (through bot.apps.model_build.ensure_model) timed by the wall clock.

Fresh means a new model folder and an empty Rasa training cache (RASA_CACHE_DIRECTORY), so
nothing is reused from earlier runs: the time a first deploy or a CI run pays.
"""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping, Optional, Tuple

from bot.apps.model_build import ensure_model
from bot.settings import PROJECT_ROOT


@contextmanager
def output_to(log_path: Path) -> Iterator[None]:
    """Sends this process's (and its children's) stdout and stderr to `log_path` for the block."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def train_timed(config: Path, out: Path, cache_dir: Path, env: Mapping[str, str], name_prefix: str,
                log_path: Path, root: Path = PROJECT_ROOT, data: Optional[Path] = None) -> Tuple[Path, float]:
    """(model, seconds) for a cold training of `config` on `data` (default: data/), both paths inside `root`."""
    if out.exists() and any(out.glob("*.tar.gz")):
        raise ValueError(f"{out} already holds a model: a timed training needs an empty folder")
    env = dict(env, RASA_CACHE_DIRECTORY=str(cache_dir))
    started = time.monotonic()
    with output_to(log_path):
        model = ensure_model(root, config=str(config.relative_to(root)), out=out, env=env, name_prefix=name_prefix,
                             data=str((data or root / "data").relative_to(root)))
    return model, round(time.monotonic() - started, 1)
