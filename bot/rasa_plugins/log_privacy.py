"""Keeps card numbers and identity tokens out of the logs, and driver text from forging log lines.

`MaskSecretsFilter` is a `logging.Filter` for handlers (logging.yml attaches it to the console
handler of both servers, and to the `py.warnings` logger). It rewrites each record before any
formatter sees it: the message with its arguments, the exception text and the stack text. It never
drops a record. Creating it also routes Python warnings into logging (`logging.captureWarnings`):
Rasa reports some problems with `warnings.warn(...)` quoting the driver's message (for example
"/nosuchintent my card is ..."), and a warning would otherwise be printed past every filter.

What is masked:
- card numbers (contract IDs) in every form `bot.domain.identifiers` recognises (any case, with dashes,
  spaces, underscores or nothing between the parts), and beyond that with any separators a log can
  carry: JSON escapes (`\\t`, `\\u00a0`), dots, slashes, several spaces, a space between every
  character. Only the last four characters stay, so an operator can still tell two cards apart;
- anything shaped like a JWT (three base64url parts, the first starting with `eyJ`, which is how
  every JSON header starts once encoded), whatever secret it was signed with.

What is escaped: in the message, line breaks and every other control character (ANSI escape
sequences included) are written as `\\n`, `\\r`, `\\x1b`..., so one record is one line and driver
text cannot fake a record or rewrite the terminal.

Only logs are masked: the tracker store and the handoff transcript an agent reads stay complete.
"""
from __future__ import annotations

import logging
import re
import traceback
import unicodedata

from bot.domain.identifiers import find_card_numbers

TOKEN_MASK = "[token]"

# base64url of '{"' is 'eyJ'; each part is at least a few characters, the signature may be empty
# ("alg": "none"), so the last part is optional. Bounded quantifiers keep the scan linear.
_JWT = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,8192}\.[A-Za-z0-9_-]{2,16384}\.[A-Za-z0-9_-]{0,8192}")

# Any separator between the parts (or the characters) of a card number as it may stand in a log line:
# punctuation, white space of any kind, and the escapes JSON and Python write for them.
_SEP = r"(?:[\s._\-/\\|:,·]|\\[tnrfv]|\\u[0-9a-fA-F]{4}|\\x[0-9a-fA-F]{2}){0,4}"
_CH = r"[A-Za-z0-9]"
# Country (2 letters), party (3, starting with a letter), the ID type "C", 8 characters (mostly digits),
# check character: looser separators than bot.domain.identifiers, so the shape itself is kept strict.
_LOOSE_CARD = re.compile(
    rf"(?<![A-Za-z0-9])[A-Za-z]{_SEP}[A-Za-z]{_SEP}[A-Za-z]{_SEP}{_CH}{_SEP}{_CH}{_SEP}[Cc]{_SEP}"
    rf"(?:{_CH}{_SEP}){{8}}{_CH}(?![A-Za-z0-9])")


def mask_card(value: str) -> str:
    """``NL-EFL-C12345678-9`` -> ``[card ...78-9]``."""
    return f"[card ...{value[-4:]}]"


def _loose_mask(match: "re.Match[str]") -> str:
    compact = re.sub(r"\\u[0-9a-fA-F]{4}|\\x[0-9a-fA-F]{2}|\\[tnrfv]|[^A-Za-z0-9]", "", match.group(0))
    if sum(c.isdigit() for c in compact[6:14]) < 6:
        return match.group(0)  # letters mostly: words, not a card
    return f"[card ...{compact[-3:-1].upper()}-{compact[-1].upper()}]"


def mask_secrets(text: str) -> str:
    """`text` with every card number and JWT-looking token replaced by a mask."""
    if not text:
        return text
    text = _JWT.sub(TOKEN_MASK, text)
    cards = find_card_numbers(text)
    for match in reversed(cards):  # from the end, so earlier spans stay valid
        text = text[:match.start] + mask_card(match.value) + text[match.end:]
    return _LOOSE_CARD.sub(_loose_mask, text)


def escape_controls(text: str) -> str:
    """One line, no terminal control: line breaks and control characters as visible escapes."""
    if not text or text.isprintable():
        return text
    out = []
    for ch in text:
        if ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append(ch)
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def _escape_block(text: str) -> str:
    # Tracebacks keep their lines; only the other control characters are escaped.
    return "\n".join(escape_controls(line) for line in text.split("\n"))


class MaskSecretsFilter(logging.Filter):
    """Masks card numbers and tokens in a record's message, arguments, exception and stack text."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        # warnings.warn(...) -> the `py.warnings` logger -> this filter (logging.yml).
        logging.captureWarnings(True)

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_secrets_masked", False):
            return True  # already done by a logger-level filter
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not lose the record
            message = f"{record.msg!r} % {record.args!r}"
        # Merging the arguments into the message is what lets them be masked at all: an argument
        # can be any object whose str() holds a card number.
        record.msg, record.args = escape_controls(mask_secrets(message)), ()
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set, so the masked text is what gets written.
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = _escape_block(mask_secrets(record.exc_text))
        if record.stack_info:
            record.stack_info = _escape_block(mask_secrets(record.stack_info))
        record._secrets_masked = True
        return True
