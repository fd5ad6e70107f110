"""Finding 6: secrets and personal data at rest: private files, no tokens in the tracker, OCPI tokens encrypted."""
from __future__ import annotations

import os
import stat
import threading

from sqlalchemy import create_engine, select, text

from bot.settings import _dev_secret, private_dir, private_file
from bot.store.db import session_scope
from bot.store.models import Operator


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_var_is_private_and_its_files_too(tmp_path):
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    private_dir(var)
    assert mode(var) == 0o700
    loose = var / "old.db"
    loose.write_text("x")
    loose.chmod(0o644)
    private_file(loose)
    assert mode(loose) == 0o600
    assert mode(private_file(var / "new.db")) == 0o600


def test_the_sqlite_databases_and_server_logs_are_created_private(tmp_path):
    from bot.apps.servers import spawn
    from bot.settings import Settings
    from bot.store.db import create_schema

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'var' / 'charging.db'}")
    create_schema(settings)
    assert mode(tmp_path / "var" / "charging.db") == 0o600
    server = spawn("true", ["true"], dict(os.environ), tmp_path / "logs" / "x.log", "http://127.0.0.1:1")
    server.process.wait(10)
    assert mode(tmp_path / "logs" / "x.log") == 0o600


def test_a_development_secret_is_never_readable_by_others_even_for_a_moment(tmp_path):
    path = tmp_path / "var" / "dev-secret"
    seen = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            if path.exists():
                seen.append(mode(path))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        value = _dev_secret(path)
    finally:
        stop.set()
        watcher.join()
    assert value and set(seen) <= {0o600} and mode(path) == 0o600
    assert _dev_secret(path) == value  # made once, then read


def test_ocpi_tokens_are_stored_encrypted(seeded):
    with session_scope(seeded) as db:
        operator = db.execute(select(Operator).order_by(Operator.id)).scalars().first()
        operator.ocpi_base_url, operator.ocpi_token = "https://cpo.example/ocpi/cpo/2.2.1", "very-secret-ocpi-token"
        operator_id = operator.id
    engine = create_engine(seeded.database_url)
    with engine.connect() as connection:
        raw = connection.execute(text("SELECT ocpi_token FROM operators WHERE id = :i"), {"i": operator_id}).scalar()
    engine.dispose()
    assert raw and "very-secret" not in raw
    with session_scope(seeded) as db:
        assert db.get(Operator, operator_id).ocpi_token == "very-secret-ocpi-token"
