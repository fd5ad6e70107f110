"""`bot ocpi-receiver`: the OCPI 2.2.1 eMSP receiver as a process of its own.

Stateless: any number of processes (and `--workers` per host, sharing the port through SO_REUSEPORT)
can run behind a balancer on one PostgreSQL database; on the embedded default they share the SQLite file.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from typing import Mapping, Optional

from bot.settings import Settings

log = logging.getLogger(__name__)

READY_PATH = "/health"


def make_store(settings: Settings):
    from datetime import timedelta

    from bot.store.ocpi_ingest import OcpiStore, make_engines

    writer, reader = make_engines(settings.database_url, settings.db_timeout_s)
    return OcpiStore(writer, compact_after=timedelta(days=settings.ocpi_receiver.compact_after_days), reader=reader)


def build_app(settings: Settings, compact_every_s: Optional[float] = 3600.0):
    from bot.apps.ocpi_receiver.app import make_app

    return make_app(settings, make_store(settings), compact_every_s)


def serve(settings: Settings, host: str, port: int, workers: int = 1, access_log: bool = False) -> None:
    """Serves until SIGTERM/SIGINT; `workers` > 1 forks that many processes sharing the port."""
    from aiohttp import web

    from bot.store.db import make_engine
    from bot.store.models import Base
    import bot.store.ocpi_models  # noqa: F401 - its tables belong to Base

    engine = make_engine(settings.database_url, settings.db_timeout_s)
    Base.metadata.create_all(engine)
    engine.dispose()  # no connection crosses the fork
    children = []
    for _ in range(max(1, workers) - 1):
        pid = os.fork()
        if pid == 0:
            children = []
            break
        children.append(pid)
    # The writer thread and the event loop share the GIL: hand it over every millisecond, not every 5.
    sys.setswitchinterval(0.001)
    try:
        try:
            import uvloop

            uvloop.install()
        except ImportError:  # pragma: no cover - uvloop is pinned
            pass
        web.run_app(build_app(settings), host=host, port=port, reuse_port=workers > 1,
                    access_log=logging.getLogger("aiohttp.access") if access_log else None,
                    print=None, handle_signals=True)
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


def start_ocpi_receiver(port: int, log_path: Path, env: Optional[Mapping[str, str]] = None,
                        host: str = "127.0.0.1", workers: int = 1):
    """The receiver as a child process (for `bot run` and the tests), like the other servers."""
    from bot.apps.servers import spawn

    args = [sys.executable, "-m", "bot.cli", "ocpi-receiver", "--host", host, "--port", str(port),
            "--workers", str(workers)]
    return spawn("ocpi receiver", args, dict(env if env is not None else os.environ), log_path,
                 f"http://127.0.0.1:{port}")
