"""The signed identity the in-app chat passes in message metadata, and the claim the tracker keeps instead.

`metadata.identity` from the app is a JWT (HS256) with `sub` (account ID), `cards` (the account's
contract IDs), `iat`, `exp`, `iss` and `aud`. Anything that does not verify is treated as anonymous:
a client picks its own `sender`, so the token is the only thing we trust. A token must name our
issuer and audience and may live at most `TokenPolicy.max_lifetime` (its `exp` minus its `iat`).

The token itself is never stored. The Rasa channel (bot.rasa_plugins.channels) verifies it and puts a
*turn claim* in its place: the verified `sub` and `cards`, the time and a keyed MAC over them and
the conversation ID. The action server trusts a claim only with a valid MAC, for that conversation,
within `TURN_CLAIM_MAX_AGE_S`; a claim copied from the tracker store proves nothing to the public
channels (they accept only JWTs) and expires within minutes for the action server.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping, Optional, Tuple

import jwt

from bot.domain.identifiers import normalise_card_number

logger = logging.getLogger(__name__)

ALGORITHM = "HS256"
MAX_TOKEN_LENGTH = 4096  # a real token is a few hundred bytes; refuse to parse megabytes
ISSUER = "stale-session-app"
AUDIENCE = "stale-session-assistant"
# A turn is answered within seconds; the claim only has to outlive a wait for the conversation's lock.
TURN_CLAIM_MAX_AGE_S = 600
MAX_CARDS = 20


@dataclass(frozen=True)
class Identity:
    account_id: str
    cards: Tuple[str, ...]


@dataclass(frozen=True)
class TokenPolicy:
    """What a token must say besides its signature (BOT_IDENTITY_ISSUER, _AUDIENCE, _MAX_TTL_HOURS)."""

    issuer: str = ISSUER
    audience: str = AUDIENCE
    max_lifetime: timedelta = timedelta(hours=12)


DEFAULT_POLICY = TokenPolicy()


def mint_token(account_id: str, cards: Iterable[str], secret: str, ttl: timedelta = timedelta(hours=1),
               now: Optional[datetime] = None, policy: TokenPolicy = DEFAULT_POLICY) -> str:
    now = now or datetime.now(timezone.utc)
    claims = {"sub": account_id, "cards": list(cards), "iat": now, "exp": now + ttl,
              "iss": policy.issuer, "aud": policy.audience}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(token: Any, secret: Optional[str], policy: TokenPolicy = DEFAULT_POLICY) -> Optional[Identity]:
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
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=policy.issuer, audience=policy.audience,
                            options={"require": ["sub", "exp", "iat", "iss", "aud"]})
    except jwt.ExpiredSignatureError:
        logger.info("identity token rejected: expired")
        return None
    except jwt.PyJWTError as error:
        logger.warning("identity token rejected: %s", type(error).__name__)
        return None
    account_id = claims.get("sub")
    raw_cards = claims.get("cards") or []
    if not isinstance(account_id, str) or not account_id or len(account_id) > 64 or not isinstance(raw_cards, list) \
            or len(raw_cards) > MAX_CARDS:
        logger.warning("identity token rejected: malformed claims")
        return None
    issued, expires = claims.get("iat"), claims.get("exp")
    if not isinstance(issued, (int, float)) or isinstance(issued, bool) \
            or expires - issued > policy.max_lifetime.total_seconds():
        logger.warning("identity token rejected: lives longer than %s", policy.max_lifetime)
        return None
    cards = tuple(c for c in (normalise_card_number(str(x)) for x in raw_cards) if c)
    return Identity(account_id=account_id, cards=cards)


# --- the claim kept in the tracker instead of the token -----------------------------------------

def _claim_key(secret: str) -> bytes:
    # A key of its own, derived from the identity secret: a claim's MAC is never a valid JWT signature.
    return hmac.new(secret.encode(), b"stale-session turn claim v1", hashlib.sha256).digest()


def _claim_mac(secret: str, conversation_id: str, account_id: str, cards: Tuple[str, ...], issued: int) -> str:
    message = "\n".join([conversation_id, account_id, ",".join(cards), str(issued)]).encode()
    return hmac.new(_claim_key(secret), message, hashlib.sha256).hexdigest()


def turn_claim(identity: Identity, conversation_id: str, secret: str, now: Optional[datetime] = None
               ) -> Mapping[str, Any]:
    """What the channel keeps of a verified token: who, the cards, when, and a MAC (no token)."""
    issued = int((now or datetime.now(timezone.utc)).timestamp())
    return {"sub": identity.account_id, "cards": list(identity.cards), "iat": issued,
            "mac": _claim_mac(secret, conversation_id, identity.account_id, identity.cards, issued)}


def verify_turn_claim(claim: Any, conversation_id: Optional[str], secret: Optional[str],
                      now: Optional[datetime] = None) -> Optional[Identity]:
    """The identity a channel's claim stands for, or None. Never raises."""
    if not isinstance(claim, Mapping) or not secret or not isinstance(conversation_id, str):
        return None
    account_id, cards, issued, mac = claim.get("sub"), claim.get("cards"), claim.get("iat"), claim.get("mac")
    if not isinstance(account_id, str) or not account_id or not isinstance(cards, list) \
            or not all(isinstance(c, str) for c in cards) or not isinstance(issued, int) \
            or isinstance(issued, bool) or not isinstance(mac, str):
        return None
    cards_tuple = tuple(cards)
    expected = _claim_mac(secret, conversation_id, account_id, cards_tuple, issued)
    if not hmac.compare_digest(mac.encode(), expected.encode()):
        logger.warning("identity claim rejected: bad MAC")
        return None
    age = (now or datetime.now(timezone.utc)).timestamp() - issued
    if not -60 <= age <= TURN_CLAIM_MAX_AGE_S:
        logger.info("identity claim rejected: %s", "too old" if age > 0 else "from the future")
        return None
    return Identity(account_id=account_id, cards=cards_tuple)


def claimed_account(metadata: Any) -> Optional[str]:
    """The account a message's (already verified) claim names; None for anonymous. For the channel,
    which put the claim there itself."""
    if isinstance(metadata, Mapping) and isinstance(metadata.get("identity"), Mapping):
        sub = metadata["identity"].get("sub")
        return sub if isinstance(sub, str) else None
    return None


def identity_from_metadata(metadata: Optional[Mapping[str, Any]], secret: Optional[str],
                           conversation_id: Optional[str] = None, policy: TokenPolicy = DEFAULT_POLICY,
                           now: Optional[datetime] = None) -> Optional[Identity]:
    """The identity of a message's metadata: the channel's claim, or (from a direct caller) a token."""
    if not isinstance(metadata, Mapping):
        return None
    value = metadata.get("identity")
    if isinstance(value, Mapping):
        return verify_turn_claim(value, conversation_id, secret, now)
    return verify_token(value, secret, policy)
