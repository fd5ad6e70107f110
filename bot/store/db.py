"""Engine and session factory for the charging database.

One engine per URL per process (engines pool connections); every unit of work
gets its own short-lived session from `session_scope`, never a shared global one.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, Optional

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool
from sqlalchemy.orm import Session, sessionmaker

from bot.store.models import Base
import bot.store.ocpi_models  # noqa: F401,E402 - the OCPI receiver's tables share Base: create_schema makes them
import bot.store.command_models  # noqa: F401,E402 - the commands' audit shares Base too
from bot.settings import Settings, private_file

_factories: Dict[str, sessionmaker] = {}
_lock = threading.Lock()


def make_engine(url: str, timeout_s: float = 5.0, *, sqlite_synchronous: Optional[str] = None) -> Engine:
    """The engine for `url`. `sqlite_synchronous` ("NORMAL") trades the last writes before a power cut
    for speed; in WAL mode a crash of the process still loses nothing. The charging data keep SQLite's
    default (FULL); Rasa's conversations take NORMAL."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, timeout_s, sqlite_synchronous)
    connect_args = {}
    if url.startswith("postgresql"):
        # Bound every statement and the connect itself: a slow database must not hang a turn.
        connect_args = {
            "connect_timeout": max(1, int(timeout_s)),
            "options": f"-c statement_timeout={int(timeout_s * 1000)}",
        }
    # hide_parameters: errors must not carry card numbers into the logs.
    return create_engine(url, future=True, pool_pre_ping=True, hide_parameters=True, connect_args=connect_args)


def _sqlite_engine(url: str, timeout_s: float, synchronous: Optional[str]) -> Engine:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        # Created 0600 in a 0700 folder before SQLite opens it: its journal files take the same mode.
        private_file(Path(path))
    # A pool of open connections (SQLAlchemy 1.4 opens a file database anew for every session by
    # default): opening one and setting its pragmas cost a turn ~1 ms per database read.
    engine = create_engine(url, future=True, hide_parameters=True, poolclass=QueuePool, pool_size=4,
                           max_overflow=8, pool_timeout=timeout_s,
                           connect_args={"timeout": timeout_s, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        # WAL lets the action server read while a handoff is being written.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        if synchronous in ("NORMAL", "FULL"):
            cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    return engine


def session_factory(settings: Settings) -> sessionmaker:
    with _lock:
        factory = _factories.get(settings.database_url)
        if factory is None:
            engine = make_engine(settings.database_url, settings.db_timeout_s)
            factory = sessionmaker(bind=engine, future=True, expire_on_commit=False)
            _factories[settings.database_url] = factory
        return factory


@contextmanager
def session_scope(settings: Settings) -> Iterator[Session]:
    """A transaction: committed if the block succeeds, rolled back if it raises."""
    session = session_factory(settings)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def create_schema(settings: Settings) -> None:
    Base.metadata.create_all(session_factory(settings).kw["bind"])


def drop_schema(settings: Settings) -> None:
    Base.metadata.drop_all(session_factory(settings).kw["bind"])
