"""The one clock: aware UTC. Everything below the programs takes `now` as an argument instead."""
from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
