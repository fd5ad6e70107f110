"""The one place that reads the environment.

Every other module takes a `Settings` (or calls `get_settings()`), so tests can
build their own without touching `os.environ`. Nothing here writes to the environment.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import FrozenSet, Mapping, Optional

from bot.domain.policy import ArticlePolicy

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR_DIR = PROJECT_ROOT / "var"


def _split(value: str) -> FrozenSet[str]:
    return frozenset(p.strip().upper() for p in value.split(",") if p.strip())


@dataclass(frozen=True)
class Settings:
    # Charging database: embedded SQLite unless a SQLAlchemy URL is given.
    database_url: str = f"sqlite:///{DEFAULT_VAR_DIR / 'charging.db'}"
    # Brand shown to drivers.
    brand: str = "E-Flux"
    # The article's numbers (72 h, the kWh window) and which stations are the brand's own.
    policy: ArticlePolicy = field(default_factory=ArticlePolicy)
    # The one time zone: drivers' times ("yesterday at 6pm") are read in it and times are shown in it.
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


def settings_from_env(env: Mapping[str, str]) -> Settings:
    defaults = Settings()
    policy = defaults.policy
    return Settings(
        database_url=env.get("BOT_DATABASE_URL") or defaults.database_url,
        brand=env.get("BOT_BRAND") or defaults.brand,
        policy=ArticlePolicy(
            auto_close_hours=float(env.get("BOT_AUTO_CLOSE_HOURS") or policy.auto_close_hours),
            kwh_tolerance=float(env.get("BOT_KWH_TOLERANCE") or policy.kwh_tolerance),
            kwh_window_minutes=float(env.get("BOT_KWH_WINDOW_MINUTES") or policy.kwh_window_minutes),
            own_party_ids=_split(env["BOT_OWN_PARTY_IDS"]) if env.get("BOT_OWN_PARTY_IDS") else policy.own_party_ids,
        ),
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


# Defaults for what Rasa's plug-ins read (bot/rasa_plugins/stores.py): the embedded single-machine setup.
RASA_ENV_DEFAULTS = {
    "ACTION_ENDPOINT_URL": "http://127.0.0.1:5055/webhook",
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


DEV_SECRET_FILE = DEFAULT_VAR_DIR / "dev-identity-secret"


def dev_identity_secret(path: Path = DEV_SECRET_FILE) -> str:
    """A per-machine development secret for the identity token, kept in `var/` (out of git).

    Created at once with mode 0600 (never readable by others, not even for a moment)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def identity_secret_or_dev(env: Mapping[str, str]) -> str:
    """BOT_IDENTITY_SECRET when set, else the development secret: for the demo commands only."""
    return env.get("BOT_IDENTITY_SECRET") or dev_identity_secret()

