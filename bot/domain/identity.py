"""The signed identity the in-app chat passes in message metadata.

`metadata.identity` is a JWT (HS256) with `sub` (account ID), `cards` (the account's
contract IDs) and `exp`. Anything that does not verify is treated as anonymous: a
client picks its own `sender`, so the token is the only thing we trust.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping, Optional, Tuple

import jwt

from bot.domain.identifiers import normalise_card_number

logger = logging.getLogger(__name__)

ALGORITHM = "HS256"
MAX_TOKEN_LENGTH = 4096  # a real token is a few hundred bytes; refuse to parse megabytes


@dataclass(frozen=True)
class Identity:
    account_id: str
    cards: Tuple[str, ...]


def mint_token(account_id: str, cards: Iterable[str], secret: str, ttl: timedelta = timedelta(hours=1),
               now: Optional[datetime] = None) -> str:
    now = now or datetime.now(timezone.utc)
    claims = {"sub": account_id, "cards": list(cards), "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(token: Any, secret: Optional[str]) -> Optional[Identity]:
    """The identity a token proves, or None (anonymous). Never raises, never logs the token."""
    if not token:
        return None
    if not secret:
        logger.warning("identity token received but BOT_IDENTITY_SECRET is not set: treating as anonymous")
        return None
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        logger.warning("identity token rejected: not a string of sane length")
        return None
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]})
    except jwt.ExpiredSignatureError:
        logger.info("identity token rejected: expired")
        return None
    except jwt.PyJWTError as error:
        logger.warning("identity token rejected: %s", type(error).__name__)
        return None
    account_id = claims.get("sub")
    raw_cards = claims.get("cards") or []
    if not isinstance(account_id, str) or not account_id or not isinstance(raw_cards, list):
        logger.warning("identity token rejected: malformed claims")
        return None
    cards = tuple(c for c in (normalise_card_number(str(x)) for x in raw_cards) if c)
    return Identity(account_id=account_id, cards=cards)


def identity_from_metadata(metadata: Optional[Mapping[str, Any]], secret: Optional[str]) -> Optional[Identity]:
    if not isinstance(metadata, Mapping):
        return None
    return verify_token(metadata.get("identity"), secret)
