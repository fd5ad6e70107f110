"""The charging database's contents, to prove hostile input changed nothing but legitimate handoffs."""
from __future__ import annotations

from collections import defaultdict
from typing import Dict, List, Set, Tuple

from sqlalchemy import select

from bot.store.db import session_scope
from bot.store.models import Base, ChargingSession, Handoff, Location
from bot.settings import Settings

# Written by a legitimate handoff (the record and its delivery row); everything else must stay as seeded.
HANDOFF_TABLES = {"handoffs", "handoff_outbox"}


def snapshot(settings: Settings) -> Dict[str, List[Tuple]]:
    """Every row of every table but the handoff ones, in a stable order."""
    tables: Dict[str, List[Tuple]] = {}
    with session_scope(settings) as db:
        for table in Base.metadata.sorted_tables:
            if table.name in HANDOFF_TABLES:
                continue
            rows = db.execute(select(table)).all()
            tables[table.name] = sorted((tuple(repr(v) for v in row) for row in rows))
    return tables


def handoffs(settings: Settings) -> List[Handoff]:
    with session_scope(settings) as db:
        return list(db.execute(select(Handoff).order_by(Handoff.id)).scalars())


def places_by_account(settings: Settings) -> Dict[str, Set[str]]:
    """The station names and addresses each account may be shown: those of its own sessions."""
    places: Dict[str, Set[str]] = defaultdict(set)
    with session_scope(settings) as db:
        rows = db.execute(select(ChargingSession.account_id, Location.name, Location.address)
                          .join(Location, Location.id == ChargingSession.location_id)).all()
    for account, name, address in rows:
        places[account] |= {name, address}
    return dict(places)
