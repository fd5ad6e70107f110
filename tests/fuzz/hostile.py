"""Hypothesis strategies for what a hostile or broken client sends: message texts, metadata, identity.

Texts: empty, whitespace, control and format characters, emoji, right-to-left text and overrides,
SQL, HTML and script injection, template syntax, Rasa's `/intent{json}` commands (the REST
channel accepts them from anyone), random bytes decoded, and 2 kB to 100 kB blobs; mixed with
what drivers really write (card numbers, session IDs, another person's session).
Identity: tokens signed with the wrong secret, expired, `alg: none`, tampered, malformed claims,
garbage; and, so the logged-in paths get hostile text too, the real token of a demo account
(`Claim.valid`), whose use the tests check the assistant honours and never more than that.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

import jwt
from hypothesis import strategies as st

from bot.domain.identity import mint_token
from bot.store.seed import SCENARIOS

SQL = [
    "' OR '1'='1", "'; DROP TABLE charging_sessions; --", '" OR 1=1 --', "1; DELETE FROM handoffs",
    "SES-100003' UNION SELECT card_contract_id FROM charging_sessions --", "%' --", "'); SELECT pg_sleep(30); --",
    "NL-EFL-C10000003-3'; UPDATE accounts SET id='x' --", "\\x00'; TRUNCATE events; --", "' AND 1=(SELECT 1) --",
]
MARKUP = [
    "<script>alert(document.cookie)</script>", "<img src=x onerror=alert(1)>", "javascript:alert(1)",
    "{{7*7}}", "${7*7}", "{% for x in () %}", "<iframe src=//evil.example>", "]]><!--", "&lt;b&gt;&#x27;",
    "../../etc/passwd", "[click](javascript:alert(1))", "<svg/onload=alert(1)>", "%0d%0aSet-Cookie: x=1",
]
RASA_COMMANDS = [
    "/restart", "/session_start", "/request_human", "/back", "/", "/nlu_fallback", "/action_submit_handoff",
    '/inform{"card_number": "NL-EFL-C10000003-3"}', '/inform{"session_id": "SES-100003"}',
    '/inform{"requested_slot": "time"}', "/inform{", '/inform{"a": {"b": [1, 2, {"c": null}]}}',
    '/inform{"card_number": 12345}', '/kwh_increasing{"step": "own_station_person"}',
    '/inform{"findings": {"step": "x", "identified": true}}', '/inform{"handoff_reference": "HO-AAAAAA"}',
    '/cannot_start_session{"session_id": ["SES-100003", "SES-100004"]}', '/inform{"time": "9999-99-99T99:99"}',
    "/session_still_active" + "{" * 50, '/inform{"location": "Utrecht\\u0000"}', "/inform\x00{}", '/inform{"location": "' + "A" * 300 + '"}',
]
DRIVER = [
    "my charging session is still active", "I can't start a new session", "talk to a person", "no", "yes",
    "NL-EFL-C10000003-3", "nl efl c10000003 3", "SES-100003", "ses 100004", "NL*EFL*E10003*1",
    "yesterday at 6pm", "Jaarbeurs Utrecht", "the kwh is still increasing", "hello", "thanks",
    "my card is the one for annemarie.vandenberg-smit@charging-customer.example", "Jaarbeurs\x00 Utrecht",
]
SPECIAL = [
    "", " ", "\n\t", "\u200b", "\u200f\u202e", "\ufeff", "\x00", "\x1b[31mred\x1b[0m", "\r\n\r\n", "\ud7ff",
    "👩‍👩‍👧‍👦🇳🇱", "e\u0301" * 20, "ﷺ" * 10, "\u202egnitrahc\u202c", "שלום, הסשן שלי עדיין פעיל", "جلستي لا تزال نشطة",
]

_control = st.text(st.characters(categories=("Cc", "Cf", "Zl", "Zp", "Zs")), min_size=1, max_size=40)
_rtl = st.text(st.characters(min_codepoint=0x0590, max_codepoint=0x06FF), min_size=1, max_size=60)
_emoji = st.text(st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF), min_size=1, max_size=20)
_decoded_bytes = st.tuples(st.binary(max_size=300), st.sampled_from(["utf-8", "latin-1", "utf-16-le"])).map(
    lambda pair: pair[0].decode(pair[1], "replace"))
_known = st.sampled_from(SQL + MARKUP + RASA_COMMANDS + DRIVER + SPECIAL)
piece = st.one_of(_known, _known, _control, _rtl, _emoji, _decoded_bytes, st.text(max_size=120))
blob = st.tuples(st.sampled_from([2001, 10_000, 100_000]),
                 st.sampled_from(["x", "my session is still active ", "😀", "SES-100003 ", "<b>", "\u202e", "' OR 1=1 "])
                 ).map(lambda pair: (pair[1] * (pair[0] // len(pair[1]) + 1))[:pair[0]])

# A driver's message as a hostile client sends it: mostly short, sometimes huge.
message_text = st.one_of(piece, piece, st.lists(piece, min_size=2, max_size=5).map(" ".join), blob)

json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-(2 ** 70), 2 ** 70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=60) | _known,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=6,
)


@dataclass(frozen=True)
class Claim:
    """The identity a message carries; `account_id` is set only when the token is genuinely valid."""

    token: Any
    account_id: Optional[str] = None

    @property
    def valid(self) -> bool:
        return self.account_id is not None


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def identity_claims(secret: str) -> st.SearchStrategy[Claim]:
    """Forged, expired, malformed and garbage tokens, and (rarely) a real one."""
    account = st.sampled_from(SCENARIOS)
    now = datetime.now(timezone.utc)

    def tampered(pair) -> str:
        real, other = pair
        header, _payload, signature = mint_token(real.account_id, [real.card], secret).split(".")
        return ".".join([header, _b64({"sub": other.account_id, "cards": [other.card],
                                       "exp": int((now + timedelta(hours=1)).timestamp())}), signature])

    forged = st.one_of(
        account.map(lambda s: mint_token(s.account_id, [s.card], "not-the-secret-but-just-as-long-as-it")),
        account.map(lambda s: mint_token(s.account_id, [s.card], secret, ttl=timedelta(minutes=-5))),
        account.map(lambda s: jwt.encode({"sub": s.account_id, "cards": [s.card],
                                          "exp": int((now + timedelta(hours=1)).timestamp())}, None, algorithm="none")),
        st.tuples(account, account).map(tampered),
        # Signed with the real secret but not a usable identity: these must be refused too.
        json_value.filter(lambda v: not (isinstance(v, str) and v)).map(
            lambda sub: jwt.encode({"sub": sub, "exp": int((now + timedelta(hours=1)).timestamp())}, secret,
                                   algorithm="HS256")),
        account.map(lambda s: jwt.encode({"sub": s.account_id, "cards": "not-a-list",
                                          "exp": int((now + timedelta(hours=1)).timestamp())}, secret,
                                         algorithm="HS256")),
        account.map(lambda s: jwt.encode({"sub": s.account_id, "cards": [s.card]}, secret, algorithm="HS256")),
        account.map(lambda s: jwt.encode({"sub": s.account_id, "cards": [s.card],
                                          "exp": int((now + timedelta(hours=1)).timestamp())}, secret,
                                         algorithm="HS512")),
        st.text(max_size=80).map(lambda t: "eyJ" + t), st.text(max_size=200), json_value,
        st.just("eyJ" + "A" * 10_000),
    ).map(Claim)
    valid = account.map(lambda s: Claim(mint_token(s.account_id, [s.card], secret, ttl=timedelta(hours=2)),
                                        s.account_id))
    # An explicit draw: Hypothesis would otherwise rarely pick the small `valid` branch.
    return st.sampled_from(["forged", "forged", "forged", "valid"]).flatmap(
        lambda kind: valid if kind == "valid" else forged)


def metadata(secret: str) -> st.SearchStrategy[tuple]:
    """(metadata as sent, the Claim inside it or None)."""
    claims = identity_claims(secret)
    with_identity = st.tuples(claims, st.dictionaries(st.text(max_size=12), json_value, max_size=3)).map(
        lambda pair: (dict(pair[1], identity=pair[0].token), pair[0]))
    other = st.one_of(st.none(), st.just({}), json_value, st.dictionaries(st.text(max_size=12), json_value,
                                                                          max_size=4)).map(lambda m: (m, None))
    return st.sampled_from(["identity", "identity", "other"]).flatmap(
        lambda kind: with_identity if kind == "identity" else other)
