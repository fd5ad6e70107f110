"""The one place that reads the environment.

Every other module takes a `Settings` (or calls `get_settings()`), so tests can
build their own without touching `os.environ`. Nothing here writes to the environment.
"""
from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import FrozenSet, Mapping, Optional, Tuple

from bot.domain.identity import TokenPolicy
from bot.domain.policy import ArticlePolicy

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR_DIR = PROJECT_ROOT / "var"


def _split(value: str) -> FrozenSet[str]:
    return frozenset(p.strip().upper() for p in value.split(",") if p.strip())


@dataclass(frozen=True)
class ChannelLimits:
    """What the Rasa channels let in (bot.rasa_plugins.channels; README "Security" has the reasons)."""

    max_request_bytes: int = 64 * 1024  # BOT_MAX_REQUEST_BYTES: a request body, a socket.io packet
    # `limits` notation, several separated by ';'. Per client address, per conversation, new conversations.
    rate_client: str = "60/minute;1000/hour"  # BOT_RATE_LIMIT_CLIENT
    rate_conversation: str = "15/minute;200/hour"  # BOT_RATE_LIMIT_CONVERSATION
    rate_new_conversations: str = "10/minute;100/hour"  # BOT_RATE_LIMIT_NEW_CONVERSATIONS
    rate_storage: str = "memory://"  # BOT_RATE_LIMIT_STORAGE: redis://host:6379 shares counters between servers
    proxies_count: int = 0  # BOT_PROXIES_COUNT: trusted proxies in front (their X-Forwarded-For names the client)
    # BOT_SOCKETIO_ORIGINS: the pages allowed to open the widget's socket ("*": any).
    socketio_origins: Tuple[str, ...] = ("http://127.0.0.1:5080", "http://localhost:5080")


@dataclass(frozen=True)
class OcpiReceiverSettings:
    """The OCPI 2.2.1 eMSP receiver (`bot ocpi-receiver`): who we are, where CPOs reach us, what we keep."""

    country_code: str = "NL"
    party_id: str = "EFL"
    public_url: str = "http://127.0.0.1:5060"  # the URL CPOs use (the balancer's); handed out in versions
    compact_after_days: float = 30.0  # readings of sessions completed longer ago are compacted
    max_clock_skew_s: float = 900.0  # how far ahead of our clock a CPO's timestamp may be


@dataclass(frozen=True)
class StopSettings:
    """Ending a stale session at an own station with OCPI 2.2.1 STOP_SESSION (issue 15).

    Off until the own stations' CPO endpoint is configured: without it no stop is ever offered.
    """

    cpo_ocpi_url: Optional[str] = None  # BOT_OWN_CPO_OCPI_URL: the own CPO's 2.2.1 base (commands, sessions under it)
    cpo_token: Optional[str] = None  # BOT_OWN_CPO_TOKEN: the credentials token we present to it
    request_timeout_s: float = 5.0  # BOT_STOP_REQUEST_TIMEOUT_S: the POST of the command and its CommandResponse
    result_timeout_s: float = 20.0  # BOT_STOP_RESULT_TIMEOUT_S: the longest wait for the CommandResult
    confirm_timeout_s: float = 10.0  # BOT_STOP_CONFIRM_TIMEOUT_S: after ACCEPTED, the wait for data showing the end
    fallback: str = "handoff"  # BOT_STOP_FALLBACK: when the stop is refused, `handoff` or `back_office_close`

    @property
    def enabled(self) -> bool:
        return bool(self.cpo_ocpi_url and self.cpo_token)


def stop_from_env(env: Mapping[str, str]) -> StopSettings:
    d = StopSettings()
    fallback = (env.get("BOT_STOP_FALLBACK") or d.fallback).strip().lower()
    if fallback not in ("handoff", "back_office_close"):
        raise ValueError(f"BOT_STOP_FALLBACK must be handoff or back_office_close, not {fallback!r}")
    return StopSettings(
        cpo_ocpi_url=(env.get("BOT_OWN_CPO_OCPI_URL") or "").rstrip("/") or None,
        cpo_token=env.get("BOT_OWN_CPO_TOKEN") or None,
        request_timeout_s=float(env.get("BOT_STOP_REQUEST_TIMEOUT_S") or d.request_timeout_s),
        result_timeout_s=float(env.get("BOT_STOP_RESULT_TIMEOUT_S") or d.result_timeout_s),
        confirm_timeout_s=float(env.get("BOT_STOP_CONFIRM_TIMEOUT_S") or d.confirm_timeout_s),
        fallback=fallback,
    )


def ocpi_receiver_from_env(env: Mapping[str, str]) -> OcpiReceiverSettings:
    d = OcpiReceiverSettings()
    return OcpiReceiverSettings(
        country_code=(env.get("BOT_OCPI_COUNTRY_CODE") or d.country_code).upper(),
        party_id=(env.get("BOT_OCPI_PARTY_ID") or d.party_id).upper(),
        public_url=(env.get("BOT_OCPI_PUBLIC_URL") or d.public_url).rstrip("/"),
        compact_after_days=float(env.get("BOT_OCPI_COMPACT_AFTER_DAYS") or d.compact_after_days),
        max_clock_skew_s=float(env.get("BOT_OCPI_MAX_CLOCK_SKEW_S") or d.max_clock_skew_s),
    )


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
    # What an identity token must say besides its signature (issuer, audience, longest lifetime).
    token_policy: TokenPolicy = field(default_factory=TokenPolicy)
    # Key signing every webhook payload (HMAC-SHA256, header X-Signature).
    handoff_webhook_secret: Optional[str] = None
    # What the Rasa channels let in.
    channel_limits: ChannelLimits = field(default_factory=ChannelLimits)
    # `bot retention` deletes conversations whose last event is older than this.
    tracker_retention_days: int = 30
    # The OCPI receiver (bot ocpi-receiver).
    ocpi_receiver: OcpiReceiverSettings = field(default_factory=OcpiReceiverSettings)
    # Ending stale sessions at own stations (STOP_SESSION); off unless the own CPO endpoint is set.
    stop: StopSettings = field(default_factory=StopSettings)


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
        token_policy=TokenPolicy(
            issuer=env.get("BOT_IDENTITY_ISSUER") or defaults.token_policy.issuer,
            audience=env.get("BOT_IDENTITY_AUDIENCE") or defaults.token_policy.audience,
            max_lifetime=timedelta(hours=float(env.get("BOT_IDENTITY_MAX_TTL_HOURS")
                                               or defaults.token_policy.max_lifetime.total_seconds() / 3600)),
        ),
        handoff_webhook_secret=env.get("BOT_HANDOFF_WEBHOOK_SECRET") or None,
        channel_limits=channel_limits_from_env(env),
        tracker_retention_days=int(env.get("BOT_TRACKER_RETENTION_DAYS") or defaults.tracker_retention_days),
        ocpi_receiver=ocpi_receiver_from_env(env),
        stop=stop_from_env(env),
    )


def channel_limits_from_env(env: Mapping[str, str]) -> ChannelLimits:
    d = ChannelLimits()
    origins = env.get("BOT_SOCKETIO_ORIGINS")
    return ChannelLimits(
        max_request_bytes=int(env.get("BOT_MAX_REQUEST_BYTES") or d.max_request_bytes),
        rate_client=env.get("BOT_RATE_LIMIT_CLIENT") or d.rate_client,
        rate_conversation=env.get("BOT_RATE_LIMIT_CONVERSATION") or d.rate_conversation,
        rate_new_conversations=env.get("BOT_RATE_LIMIT_NEW_CONVERSATIONS") or d.rate_new_conversations,
        rate_storage=env.get("BOT_RATE_LIMIT_STORAGE") or d.rate_storage,
        proxies_count=int(env.get("BOT_PROXIES_COUNT") or d.proxies_count),
        socketio_origins=tuple(o.strip() for o in origins.split(",") if o.strip()) if origins else d.socketio_origins,
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
DEV_ACTION_TOKEN_FILE = DEFAULT_VAR_DIR / "dev-action-token"
DEV_SECRETS_KEY_FILE = DEFAULT_VAR_DIR / "dev-secrets-key"


def private_dir(path: Path) -> Path:
    """`path` as a directory only its owner can enter (0700), created if missing."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def private_file(path: Path) -> Path:
    """`path` as a file only its owner can read (0600): created empty so if missing, never wider.
    A missing folder is created 0700; `var/` is made 0700 whatever it was."""
    if path.parent.resolve() == DEFAULT_VAR_DIR.resolve():
        private_dir(path.parent)
    else:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
    return path


def _dev_secret(path: Path, make=lambda: secrets.token_urlsafe(32)) -> str:
    """A per-machine development secret kept in `var/` (out of git): created at once with mode 0600
    (never readable by others, not even for a moment)."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(make())
    return path.read_text().strip()


def dev_identity_secret(path: Path = DEV_SECRET_FILE) -> str:
    """A per-machine development secret for the identity token."""
    return _dev_secret(path)


def action_token_from_env(env: Mapping[str, str]) -> Optional[str]:
    """BOT_ACTION_TOKEN: the secret every call from Rasa to the action server carries."""
    return env.get("BOT_ACTION_TOKEN") or None


def dev_action_token(path: Path = DEV_ACTION_TOKEN_FILE) -> str:
    """The per-machine development token of the action server (`bot run`, `--dev`)."""
    return _dev_secret(path)


def action_token_or_dev(env: Mapping[str, str]) -> str:
    """BOT_ACTION_TOKEN when set, else the development token: for the demo commands only."""
    return action_token_from_env(env) or dev_action_token()


def secrets_key(env: Mapping[str, str] = os.environ, path: Path = DEV_SECRETS_KEY_FILE) -> str:
    """The Fernet key that encrypts secrets at rest (OCPI tokens): BOT_SECRETS_KEY, else a per-machine
    development key in `var/`."""
    return env.get("BOT_SECRETS_KEY") or _dev_secret(path, lambda: base64.urlsafe_b64encode(os.urandom(32)).decode())


def identity_secret_or_dev(env: Mapping[str, str]) -> str:
    """BOT_IDENTITY_SECRET when set, else the development secret: for the demo commands only."""
    return env.get("BOT_IDENTITY_SECRET") or dev_identity_secret()

