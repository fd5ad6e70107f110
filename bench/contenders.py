"""What is compared: two configs, the data each is trained and scored on, and the serving setups they run in."""
from __future__ import annotations

import importlib.util
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from bench.understanding import test_file_language
from bot.settings import PROJECT_ROOT

BENCH_DIR = Path(__file__).resolve().parent
# data/'s own files are the English examples and the rules and stories every language shares;
# data/<lang>/ holds each other language's examples.
DATA_DIR = PROJECT_ROOT / "data"


@dataclass(frozen=True)
class Contender:
    key: str
    label: str
    config: Path
    # Rasa's autoconfig rewrites the comments of a config without a pipeline while training,
    # so such a config is trained from a copy, never from the file in git.
    train_from_copy: bool = False
    # DIET and TED for 100 epochs: `--default-folds` may limit its cross-validation to fewer folds.
    slow_to_train: bool = False
    # The languages it is trained and scored on; None: all of data/ and every held-out file.
    languages: Optional[Tuple[str, ...]] = None


@dataclass(frozen=True)
class Setup:
    """A contender's model served with given server options (environment of both servers)."""

    key: str
    label: str
    contender: str
    server_env: Dict[str, str] = field(default_factory=dict)
    needs_redis: bool = False
    headline: bool = False  # the setup the contender is compared with (what we ship / Rasa's defaults)


def redis_lock_store() -> str:
    """The project's Redis lock store when it has one (safe with several Rasa processes), else Rasa's own."""
    return "bot.rasa_plugins.lock_store.AtomicRedisLockStore" if importlib.util.find_spec("bot.rasa_plugins.lock_store") else "redis"


CONTENDERS: Tuple[Contender, ...] = (
    Contender("assistant", "This assistant (config.yml)", PROJECT_ROOT / "config.yml"),
    # English only: issue 14 sets training both languages against the default on English alone.
    Contender("rasa_default", "Rasa default (rasa init config.yml)", BENCH_DIR / "default_config.yml",
              train_from_copy=True, slow_to_train=True, languages=("en",)),
)

SETUPS: Tuple[Setup, ...] = (
    # The headline: served as Rasa's default is (one Rasa worker, in-memory locks), so that the ratios compare
    # the configs and nothing else. It is also how `make run` serves it.
    Setup("assistant", "assistant, 1 Rasa worker, in-memory lock store", "assistant", headline=True),
    # As we serve it for throughput: Rasa's own worker option, which needs a Redis lock store. More turns a
    # second at 10 and 50 at once, but slower one at a time (the workers are forked after TensorFlow is loaded:
    # py-spy shows DIET inference and tracker reads taking about twice as long in a worker).
    Setup("assistant_2_workers", "assistant, 2 Rasa workers + Redis lock store", "assistant",
          server_env={"SANIC_WORKERS": "2", "LOCK_STORE_TYPE": redis_lock_store(), "LOCK_STORE_HOST": "127.0.0.1",
                      "LOCK_STORE_PORT": "6379"}, needs_redis=True),
    Setup("rasa_default", "Rasa default, 1 Rasa worker, in-memory lock store", "rasa_default", headline=True),
)


def redis_reachable(host: str = "127.0.0.1", port: int = 6379) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def held_out_files(root: Path = PROJECT_ROOT) -> Dict[str, Path]:
    """Held-out NLU files by language: tests/nlu_test.yml is English, tests/nlu_test_<lang>.yml each other one."""
    return {test_file_language(path): path for path in sorted((root / "tests").glob("nlu_test*.yml"))}


def training_data(contender: Contender, work: Path) -> Tuple[Path, List[str]]:
    """(folder for `rasa train --data`, what it holds as paths in the project) for a contender.

    All languages: data/ itself. Fewer: a copy in `work` of data/'s own files and of data/<lang>/ for each."""
    if contender.languages is None:
        return DATA_DIR, ["data/"]
    folder = work / f"data-{contender.key}"
    folder.mkdir(parents=True)
    sources = sorted(DATA_DIR.glob("*.yml")) + [DATA_DIR / lang for lang in contender.languages if lang != "en"]
    for source in sources:
        if source.is_dir():
            shutil.copytree(source, folder / source.name)
        else:
            shutil.copyfile(source, folder / source.name)
    return folder, [str(source.relative_to(PROJECT_ROOT)) for source in sources]
