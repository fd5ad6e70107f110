"""Finding 2 (retention): conversations older than N days leave the tracker store, on SQLite and PostgreSQL."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, create_engine, insert, select

from bot.store.tracker_retention import apply_retention

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def _tracker_store(url: str) -> Table:
    """The table Rasa's SQL tracker store writes (the columns the retention reads)."""
    metadata = MetaData()
    events = Table("events", metadata, Column("id", Integer, primary_key=True), Column("sender_id", String(255)),
                   Column("type_name", String(255)), Column("timestamp", Float), Column("intent_name", String(255)),
                   Column("action_name", String(255)), Column("data", Text))
    engine = create_engine(url)
    metadata.create_all(engine)
    rows = []
    for sender, days_ago in (("old", 40), ("old", 35), ("active", 40), ("active", 1), ("new", 2)):
        stamp = (NOW - timedelta(days=days_ago)).timestamp()
        rows.append({"sender_id": sender, "type_name": "user", "timestamp": stamp, "intent_name": "greet",
                     "data": json.dumps({"event": "user", "timestamp": stamp, "text": f"my card NL-EFL-C1234567{days_ago % 10}-1",
                                         "metadata": {"identity": {"sub": "demo-wait"}},
                                         "parse_data": {"intent": {"name": "greet"}, "entities": [{"value": "x"}]}})})
    with engine.begin() as connection:
        connection.execute(insert(events), rows)
    engine.dispose()
    return events


def _senders(url: str):
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(select(Table("events", MetaData(), autoload_with=engine))).all()
    engine.dispose()
    return rows


def _check(url: str) -> None:
    _tracker_store(url)
    dry = apply_retention(url, 30, dry_run=True, now=NOW)
    assert (dry.conversations, dry.events) == (1, 2) and len(_senders(url)) == 5
    report = apply_retention(url, 30, now=NOW)
    assert (report.conversations, report.events) == (1, 2)
    assert sorted({row.sender_id for row in _senders(url)}) == ["active", "new"]
    anonymised = apply_retention(url, 1, anonymise=True, now=NOW)
    assert anonymised.conversations == 1  # "new" (2 days idle); "active" spoke a day ago
    rows = _senders(url)
    gone = [row for row in rows if row.sender_id.startswith("anon-")]
    assert len(gone) == 1 and "NL-EFL" not in gone[0].data and "demo-wait" not in gone[0].data
    assert json.loads(gone[0].data)["parse_data"]["intent"]["name"] == "greet"


def test_retention_on_sqlite(tmp_path):
    _check(f"sqlite:///{tmp_path / 'tracker.db'}")


def test_retention_on_postgresql(postgres_databases):
    _check(postgres_databases.create("retention"))
