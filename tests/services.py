"""PostgreSQL and Redis for the tests that need them: found, or skipped with the reason (a failure with CI=true).

PostgreSQL and Redis are found at TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres)
and TEST_REDIS_URL (default redis://127.0.0.1:6379). Each test session gets its own PostgreSQL databases
(stale_test_<purpose>_<pid>_<random>), dropped at the end (or by the next run, if this one is killed).
"""
from __future__ import annotations

import os
import secrets
from contextlib import closing
from typing import Iterator, List

import psycopg2
import pytest
import redis
from sqlalchemy.engine import make_url

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def unavailable(what: str, variable: str, error: BaseException) -> None:
    reason = f"{what} not reachable ({type(error).__name__}: {str(error).strip()[:200]})"
    if in_ci():
        pytest.fail(f"{reason}: CI=true requires it (set {variable} if it runs elsewhere)",
                    pytrace=False)
    pytest.skip(f"{reason}: start it or set {variable} to run the tests that need it")


def _admin_connection(url: str):
    parts = make_url(url)
    connection = psycopg2.connect(host=parts.host, port=parts.port or 5432, user=parts.username,
                                  password=parts.password, dbname=parts.database or "postgres", connect_timeout=3)
    connection.autocommit = True
    return connection


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A reachable PostgreSQL server (its maintenance database); skips or fails (CI) otherwise."""
    try:
        _admin_connection(POSTGRES_URL).close()
    except psycopg2.Error as error:
        unavailable(f"PostgreSQL at {make_url(POSTGRES_URL).render_as_string(hide_password=True)}",
                    "TEST_POSTGRES_URL", error)
    return POSTGRES_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A reachable Redis server; skips or fails (CI) otherwise."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=3, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        unavailable(f"Redis at {REDIS_URL}", "TEST_REDIS_URL", error)
    return REDIS_URL


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


class PostgresDatabases:
    """Creates throw-away databases on the test server (named after this process); `drop_all` removes
    them. A killed test run cannot drop its own: the next run on the same host drops those."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.names: List[str] = []
        if make_url(server_url).host in ("127.0.0.1", "localhost", "::1"):
            self._drop_orphans()

    def _drop_orphans(self) -> None:
        with closing(_admin_connection(self.server_url)) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT datname FROM pg_database WHERE datname ~ '^stale_test_[a-z]+_[0-9]+_[0-9a-f]+$'")
            for (name,) in cursor.fetchall():
                if not _process_alive(int(name.split("_")[-2])):
                    cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def create(self, purpose: str) -> str:
        name = f"stale_test_{purpose}_{os.getpid()}_{secrets.token_hex(4)}"
        with closing(_admin_connection(self.server_url)) as connection, connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        self.names.append(name)
        return make_url(self.server_url).set(database=name).render_as_string(hide_password=False)

    def set_accepting(self, url: str, accepting: bool) -> None:
        """Takes a database away (refuses new connections, ends open ones) or brings it back."""
        name = make_url(url).database
        with closing(_admin_connection(self.server_url)) as connection, connection.cursor() as cursor:
            cursor.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"true" if accepting else "false"}')
            if not accepting:
                cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))

    def drop_all(self) -> None:
        with closing(_admin_connection(self.server_url)) as connection, connection.cursor() as cursor:
            for name in self.names:
                cursor.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.names.clear()


@pytest.fixture(scope="session")
def postgres_databases(postgres_url) -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(postgres_url)
    yield databases
    databases.drop_all()
