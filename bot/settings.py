"""The one place that reads the environment.

Every other module takes a `Settings` (or calls `get_settings()`), so tests can
build their own without touching `os.environ`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import FrozenSet, Mapping, Optional

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR_DIR = PROJECT_ROOT / "var"


def _split(value: str) -> FrozenSet[str]:
    return frozenset(p.strip().upper() for p in value.split(",") if p.strip())


@dataclass(frozen=True)
class Settings:
    # Charging database: embedded SQLite unless a SQLAlchemy URL is given.
    database_url: str = f"sqlite:///{DEFAULT_VAR_DIR / 'charging.db'}"
    # Brand shown to drivers and the OCPI party IDs of the brand's own stations.
    brand: str = "E-Flux"
    own_party_ids: FrozenSet[str] = field(default_factory=lambda: frozenset({"EFL"}))
    # The article's automatic-close window.
    auto_close_hours: float = 72.0
    # kWh counts as "still increasing" only if it rose by more than this ...
    kwh_tolerance: float = 0.05
    # ... within this many minutes before the newest reading, and that reading is recent.
    kwh_window_minutes: float = 30.0
    # Time zone used to read drivers' times ("yesterday at 6pm") and to show times.
    timezone: str = "Europe/Amsterdam"
    # HS256 secret for the identity JWT passed in message metadata. None: nobody is logged in.
    identity_secret: Optional[str] = None
    # Helpdesk webhook receiving handoffs (None: handoffs wait in the outbox / agent view).
    handoff_webhook_url: Optional[str] = None
    handoff_webhook_timeout_s: float = 5.0
    # Token guarding the agent view.
    agent_view_token: Optional[str] = None
    # Timeout for every database statement the action server issues (seconds).
    db_timeout_s: float = 5.0
    # Hard bound on asking a station's provider (OCPI) during a turn; past it we use our own data.
    ocpi_timeout_s: float = 3.0

    def is_own_party(self, party_id: Optional[str]) -> bool:
        return bool(party_id) and party_id.upper() in self.own_party_ids


def settings_from_env(env: Mapping[str, str]) -> Settings:
    defaults = Settings()
    return Settings(
        database_url=env.get("BOT_DATABASE_URL") or defaults.database_url,
        brand=env.get("BOT_BRAND") or defaults.brand,
        own_party_ids=_split(env["BOT_OWN_PARTY_IDS"]) if env.get("BOT_OWN_PARTY_IDS") else defaults.own_party_ids,
        auto_close_hours=float(env.get("BOT_AUTO_CLOSE_HOURS") or defaults.auto_close_hours),
        kwh_tolerance=float(env.get("BOT_KWH_TOLERANCE") or defaults.kwh_tolerance),
        kwh_window_minutes=float(env.get("BOT_KWH_WINDOW_MINUTES") or defaults.kwh_window_minutes),
        timezone=env.get("BOT_TIMEZONE") or defaults.timezone,
        identity_secret=env.get("BOT_IDENTITY_SECRET") or None,
        handoff_webhook_url=env.get("BOT_HANDOFF_WEBHOOK_URL") or None,
        handoff_webhook_timeout_s=float(env.get("BOT_HANDOFF_WEBHOOK_TIMEOUT_S") or defaults.handoff_webhook_timeout_s),
        agent_view_token=env.get("BOT_AGENT_VIEW_TOKEN") or None,
        db_timeout_s=float(env.get("BOT_DB_TIMEOUT_S") or defaults.db_timeout_s),
        ocpi_timeout_s=float(env.get("BOT_OCPI_TIMEOUT_S") or defaults.ocpi_timeout_s),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return settings_from_env(os.environ)


# Defaults for the variables endpoints.yml reads: the embedded single-machine setup.
RASA_ENV_DEFAULTS = {
    "ACTION_ENDPOINT_URL": "http://127.0.0.1:5055/webhook",
    "TRACKER_STORE_DIALECT": "sqlite",
    "TRACKER_STORE_URL": f"sqlite:///{DEFAULT_VAR_DIR / 'tracker.db'}",
    "LOCK_STORE_TYPE": "in_memory",
    "LOCK_STORE_HOST": "localhost",
    "LOCK_STORE_PORT": "6379",
    # These machines reach no network but package registries.
    "RASA_TELEMETRY_ENABLED": "false",
}


def rasa_process_env(env: Mapping[str, str]) -> dict:
    """The environment for a Rasa or action-server process: `env` plus the embedded defaults."""
    merged = dict(env)
    for key, value in RASA_ENV_DEFAULTS.items():
        if not merged.get(key):
            merged[key] = value
    return merged
