"""OCPI 2.2.1 Commands, eMSP to CPO: send STOP_SESSION and read the CPO's immediate CommandResponse.

The charger's own answer (CommandResult) comes later, posted by the CPO to the `response_url` we give,
which is a route of our receiver (bot.apps.ocpi_receiver); `bot.integrations.stop_session` waits for it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from bot.domain.stop_command import RESPONSE_TYPES, STOP_SESSION
from bot.integrations.ocpi_client import OcpiClient, OcpiProtocolError


@dataclass(frozen=True)
class CommandResponse:
    result: str  # ACCEPTED, REJECTED, NOT_SUPPORTED, UNKNOWN_SESSION
    timeout_s: int  # how long the CPO says the CommandResult may take
    message: Optional[str]


def parse_command_response(data: Any) -> CommandResponse:
    # OCPI answers one object; extrawest-ocpi wraps it in a one-element list.
    obj = data[0] if isinstance(data, list) and len(data) == 1 else data
    if not isinstance(obj, dict):
        raise OcpiProtocolError("command response: expected an object")
    result = obj.get("result")
    if not isinstance(result, str) or result.upper() not in RESPONSE_TYPES:
        raise OcpiProtocolError(f"command response: unknown result {str(result)[:40]!r}")
    timeout = obj.get("timeout")
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 0:
        raise OcpiProtocolError("command response: timeout missing or not a non-negative integer")
    texts = [m.get("text") for m in obj.get("message") or [] if isinstance(m, dict) and isinstance(m.get("text"), str)]
    return CommandResponse(result.upper(), timeout, "; ".join(texts)[:2000] or None)


def send_stop_session(cpo_base_url: str, token: str, session_id: str, response_url: str,
                      timeout_s: float) -> CommandResponse:
    """POST {base}/commands/STOP_SESSION with session_id and response_url. Raises `OcpiError` (and its
    subclasses: timeout, unreachable, refused token, not an OCPI answer) when there is no usable answer."""
    with OcpiClient(cpo_base_url, token, connect_timeout_s=min(2.0, timeout_s), read_timeout_s=timeout_s,
                    retries=1) as client:
        data = client.post_command(STOP_SESSION, {"response_url": response_url, "session_id": session_id})
    return parse_command_response(data)
