"""A column type that stores secrets encrypted (Fernet: AES-128-CBC with HMAC-SHA256), for OCPI tokens.

The key is BOT_SECRETS_KEY (a Fernet key: `python -c "from cryptography.fernet import Fernet;
print(Fernet.generate_key().decode())"`), or on a development machine a key made once in var/
(bot.settings.secrets_key). Every process that reads or writes the column needs the same key.

Values written before encryption (plain text) are still read, with a warning, and encrypted the
next time they are written. A value encrypted with another key reads as None (the provider is then
simply not asked), with a warning: never an exception in a driver's turn.
"""
from __future__ import annotations

import logging
import threading
from typing import Optional

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

from bot.settings import secrets_key

log = logging.getLogger(__name__)

_FERNET_PREFIX = "gAAAAA"  # every Fernet token: version byte 0x80, then the time, base64url
_lock = threading.Lock()
_fernet: Optional[Fernet] = None


def fernet() -> Fernet:
    global _fernet
    with _lock:
        if _fernet is None:
            _fernet = Fernet(secrets_key().encode())
        return _fernet


def reset_key_cache() -> None:
    """For tests that change BOT_SECRETS_KEY."""
    global _fernet
    with _lock:
        _fernet = None


class EncryptedText(TypeDecorator):
    """Text encrypted at rest; the ORM hands back the plain value."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return fernet().encrypt(str(value).encode("utf-8")).decode("ascii")

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        try:
            return fernet().decrypt(value.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError, ValueError):
            if value.startswith(_FERNET_PREFIX):
                log.warning("an encrypted secret cannot be read with this BOT_SECRETS_KEY: ignored")
                return None
            log.warning("a secret is stored in plain text (from before encryption): write it again to encrypt it")
            return value
