"""Retention of Rasa's tracker store: conversations older than N days are deleted or anonymised.

A conversation's age is the time of its newest event, so a conversation still in use is kept whole.
Works on the SQL tracker store Rasa writes (table `events`: sender_id, type_name, timestamp, ...,
data) on SQLite and PostgreSQL alike, through SQLAlchemy Core; no Rasa needed.

- delete: every event of those conversations goes;
- anonymise: the events stay (for statistics: intents, actions, timestamps), but the texts, the
  entities, the slot values and the metadata are removed from each event's data, and the
  conversation ID is replaced by a random one (nothing links it back).
"""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List

from sqlalchemy import MetaData, Table, create_engine, delete, func, select, update

_KEEP = {"event", "timestamp", "name", "policy", "confidence", "action_name", "input_channel"}


@dataclass(frozen=True)
class RetentionReport:
    conversations: int
    events: int
    mode: str
    cutoff: datetime


def _anonymised(data: str) -> str:
    try:
        event = json.loads(data)
    except ValueError:
        return json.dumps({"event": "anonymised"})
    out: Dict[str, Any] = {key: event[key] for key in _KEEP if key in event}
    intent = (event.get("parse_data") or {}).get("intent") if isinstance(event.get("parse_data"), dict) else None
    if isinstance(intent, dict) and intent.get("name"):
        out["parse_data"] = {"intent": {"name": intent["name"]}}
    out["anonymised"] = True
    return json.dumps(out)


def apply_retention(tracker_url: str, days: int, anonymise: bool = False, dry_run: bool = False,
                    now: datetime = None, batch: int = 500) -> RetentionReport:
    """Deletes (or anonymises) the conversations whose newest event is older than `days` days."""
    if days < 1:
        raise ValueError("retention must be at least one day")
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=days)
    engine = create_engine(tracker_url, future=True)
    try:
        events = Table("events", MetaData(), autoload_with=engine)
        with engine.begin() as connection:
            query = select(events.c.sender_id).group_by(events.c.sender_id) \
                .having(func.max(events.c.timestamp) < cutoff.timestamp())
            if anonymise:
                query = query.where(~events.c.sender_id.like("anon-%"))
            old: List[str] = list(connection.execute(query).scalars())
            count = 0
            for start in range(0, len(old), batch):
                senders = old[start:start + batch]
                if dry_run:
                    count += connection.execute(select(func.count()).select_from(events)
                                                .where(events.c.sender_id.in_(senders))).scalar()
                elif anonymise:
                    for sender in senders:
                        alias = "anon-" + secrets.token_hex(12)
                        rows = connection.execute(select(events.c.id, events.c.data)
                                                  .where(events.c.sender_id == sender)).all()
                        for row in rows:
                            connection.execute(update(events).where(events.c.id == row.id)
                                               .values(sender_id=alias, data=_anonymised(row.data)))
                        count += len(rows)
                else:
                    count += connection.execute(delete(events).where(events.c.sender_id.in_(senders))).rowcount
    finally:
        engine.dispose()
    return RetentionReport(len(old), count, "anonymise" if anonymise else "delete", cutoff)
