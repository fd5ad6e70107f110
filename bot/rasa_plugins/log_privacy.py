"""Keeps card numbers and identity tokens out of the logs.

`MaskSecretsFilter` is a `logging.Filter` for handlers (logging.yml attaches it to the console
handler of both servers). It rewrites each record before any formatter sees it: the message with
its arguments, the exception text and the stack text. It never drops a record.

What is masked:
- card numbers (contract IDs) in every form `bot.domain.identifiers` recognises (any case, with dashes,
  spaces, underscores or nothing between the parts): only the last four characters stay, so an
  operator can still tell two cards apart;
- anything shaped like a JWT (three base64url parts, the first starting with `eyJ`, which is how
  every JSON header starts once encoded), whatever secret it was signed with.

Only logs are masked: the tracker store and the handoff transcript an agent reads stay complete.
"""
from __future__ import annotations

import logging
import re
import traceback

from bot.domain.identifiers import find_card_numbers

TOKEN_MASK = "[token]"

# base64url of '{"' is 'eyJ'; each part is at least a few characters, the signature may be empty
# ("alg": "none"), so the last part is optional. Bounded quantifiers keep the scan linear.
_JWT = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,8192}\.[A-Za-z0-9_-]{2,16384}\.[A-Za-z0-9_-]{0,8192}")


def mask_card(value: str) -> str:
    """``NL-EFL-C12345678-9`` -> ``[card ...78-9]``."""
    return f"[card ...{value[-4:]}]"


def mask_secrets(text: str) -> str:
    """`text` with every card number and JWT-looking token replaced by a mask."""
    if not text:
        return text
    text = _JWT.sub(TOKEN_MASK, text)
    cards = find_card_numbers(text)
    for match in reversed(cards):  # from the end, so earlier spans stay valid
        text = text[:match.start] + mask_card(match.value) + text[match.end:]
    return text


class MaskSecretsFilter(logging.Filter):
    """Masks card numbers and tokens in a record's message, arguments, exception and stack text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not lose the record
            message = f"{record.msg!r} % {record.args!r}"
        # Merging the arguments into the message is what lets them be masked at all: an argument
        # can be any object whose str() holds a card number.
        record.msg, record.args = mask_secrets(message), ()
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set, so the masked text is what gets written.
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_secrets(record.stack_info)
        return True
