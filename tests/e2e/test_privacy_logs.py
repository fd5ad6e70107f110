"""Privacy in logs: card numbers and identity tokens never reach a log in full; the agent's transcript
keeps everything.

The end-to-end test runs its own pair of servers with every logger at DEBUG (Rasa then logs each
message's text, entities and slots), drives conversations that type card numbers in several forms
and send identity tokens over both channels, stops the servers and scans their whole output.
The first tests check the masking itself, on text and on log records.
"""
from __future__ import annotations

import asyncio
import logging
import re
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import List

import pytest
import socketio
import yaml
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.apps.chat_client import RestChat, texts
from bot.store.db import session_scope
from bot.domain.identifiers import find_card_numbers
from bot.domain.identity import mint_token
from bot.rasa_plugins.log_privacy import MaskSecretsFilter, mask_secrets
from bot.store.models import Handoff
from bot.apps.servers import LOGGING_CONFIG
from harness.stack import embedded_env
from bot.store.seed import scenario, seed_demo
from bot.settings import PROJECT_ROOT, settings_from_env
from tests.conftest import TEST_SECRET, running_stack

# --- the masking itself --------------------------------------------------------------------------

TOKEN = mint_token("demo-wait", ["NL-EFL-C10000001-1"], TEST_SECRET, timedelta(minutes=5),
                   now=datetime(2026, 11, 24, tzinfo=timezone.utc))


@pytest.mark.parametrize("typed", [
    "NL-EFL-C12345678-9", "nl-efl-c12345678-9", "NLEFLC123456789", "nl efl c12345678 9", "NL_EFL_C12345678_9",
])
def test_card_numbers_are_masked_in_every_form_drivers_type(typed):
    masked = mask_secrets(f"driver says: my card is {typed}, please check")
    assert typed not in masked and "12345678" not in masked
    assert masked == "driver says: my card is [card ...78-9], please check"


def test_tokens_are_masked_and_everything_else_is_left_alone():
    line = f'metadata={{"identity": "{TOKEN}"}} session SES-104233 at NL*EFL*E10001*1, 12.5 kWh'
    masked = mask_secrets(line)
    assert masked == 'metadata={"identity": "[token]"} session SES-104233 at NL*EFL*E10001*1, 12.5 kWh'
    assert mask_secrets("nothing secret here") == "nothing secret here"


_sep = st.sampled_from(["", "-", " ", "_"])
_alnum = st.sampled_from("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789")


@st.composite
def typed_card(draw) -> str:
    instance = draw(st.text(_alnum, min_size=7, max_size=7)) + draw(st.sampled_from("0123456789"))
    parts = [draw(st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), min_size=2, max_size=2)),
             draw(st.text(_alnum, min_size=3, max_size=3)), "C", instance, draw(_alnum)]
    text = parts[0]
    for part in parts[1:]:
        text += draw(_sep) + part
    return text.lower() if draw(st.booleans()) else text


@given(card=typed_card(), before=st.sampled_from(["", "card ", "(", "my card: "]),
       after=st.sampled_from(["", " thanks", ".", ", SES-100001"]))
def test_no_card_number_survives_masking(card, before, after):
    assert find_card_numbers(card), card  # the generator makes what identifiers.py recognises
    masked = mask_secrets(before + card + after)
    assert find_card_numbers(masked) == []
    assert card not in masked


def _record(msg, args=(), exc_info=None, stack_info=None) -> logging.LogRecord:
    return logging.LogRecord("test", logging.INFO, __file__, 1, msg, args, exc_info, sinfo=stack_info)


def _formatted(record: logging.LogRecord) -> str:
    assert MaskSecretsFilter().filter(record) is True  # masks, never drops
    return logging.Formatter("%(message)s").format(record)


def test_filter_masks_arguments_of_any_type():
    record = _record("lookup %s for %r with %d cards", ("NL-EFL-C12345678-9", {"identity": TOKEN}, 1))
    assert _formatted(record) == "lookup [card ...78-9] for {'identity': '[token]'} with 1 cards"
    mapping = _record("%(card)s", ({"card": "nl efl c12345678 9"},))
    assert _formatted(mapping) == "[card ...78-9]"


def test_filter_masks_exception_and_stack_text():
    try:
        raise ValueError(f"no session for NL-EFL-C12345678-9 (token {TOKEN})")
    except ValueError:
        record = _record("lookup failed", exc_info=sys.exc_info(), stack_info="called with NLEFLC123456789")
    text = _formatted(record)
    assert "Traceback" in text and "ValueError: no session for [card ...78-9] (token [token])" in text
    assert "called with [card ...78-9]" in text
    assert "12345678" not in text and TOKEN not in text


def test_filter_keeps_a_record_whose_format_string_is_broken():
    text = _formatted(_record("card %s and %s", ("NL-EFL-C12345678-9",)))
    assert "[card ...78-9]" in text and "12345678" not in text


def test_logging_yml_masks_what_any_logger_writes():
    # A fresh interpreter configured from logging.yml only, as both servers are.
    program = (
        "import logging, logging.config, yaml\n"
        f"logging.config.dictConfig(yaml.safe_load(open({str(LOGGING_CONFIG)!r})))\n"
        "logging.getLogger('rasa.core.processor').info('text %s', 'my card NL-EFL-C12345678-9')\n"
        f"logging.getLogger('rasa_sdk.executor').error('metadata %s', {{'identity': {TOKEN!r}}})\n"
    )
    proc = subprocess.run([sys.executable, "-c", program], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "text my card [card ...78-9]" in proc.stderr and "{'identity': '[token]'}" in proc.stderr
    assert "12345678" not in proc.stderr and TOKEN not in proc.stderr


# --- an end-to-end run at DEBUG ------------------------------------------------------------------

# Typed by anonymous drivers (in the forms drivers use) and never theirs to see; none is in the demo data.
TYPED_CARDS = {"NL-EFL-C87654321-3": "NL-EFL-C87654321-3", "nl efl c76543210 5": "NL-EFL-C76543210-5",
               "NLEFLC654321096": "NL-EFL-C65432109-6"}
LOGGED_IN_CARD = scenario("blocked").card  # in the token's claims and typed by its owner


@pytest.fixture(scope="module")
def debug_stack(tmp_path_factory, stack_env, trained_model):
    """Both servers with everything at DEBUG, on a database and tracker store of their own."""
    run_dir = tmp_path_factory.mktemp("privacy-logs")
    config = yaml.safe_load(LOGGING_CONFIG.read_text())
    config["root"]["level"] = "DEBUG"  # only the level differs from logging.yml
    debug_config = run_dir / "logging-debug.yml"
    debug_config.write_text(yaml.safe_dump(config))
    env = dict(embedded_env(stack_env, run_dir, TEST_SECRET), LOG_LEVEL="DEBUG")
    settings = settings_from_env(env)
    seed_demo(settings)
    for stack in running_stack(trained_model, run_dir, env, logging_config=debug_config):
        yield {"rasa_url": stack.url, "servers": [*stack.rasa, stack.actions], "settings": settings}


async def _socketio_conversation(rasa_url: str, token: str, lines: List[str]) -> List[str]:
    """A widget's conversation over Rasa's socket.io channel, identity in customData like the widget."""
    # python-engineio's WebSocket transport needs a newer aiohttp than Rasa pins: long-polling here.
    client = socketio.AsyncClient(reconnection=False)
    answers: asyncio.Queue = asyncio.Queue()
    client.on("bot_uttered", lambda message: answers.put_nowait(message.get("text", "")))
    confirmed = asyncio.get_running_loop().create_future()
    client.on("session_confirm", lambda session_id: confirmed.done() or confirmed.set_result(session_id))
    await client.connect(rasa_url, transports=["polling"], wait_timeout=20)
    try:
        await client.emit("session_request", {"session_id": client.get_sid()})
        session_id = await asyncio.wait_for(confirmed, 20)
        said = []
        for line in lines:
            await client.emit("user_uttered", {"message": line, "session_id": session_id,
                                               "customData": {"identity": token}})
            said.append(await asyncio.wait_for(answers.get(), 30))
        return said
    finally:
        # A polite disconnect waits out the current long-poll (about 25 s); the server copes with an abrupt one.
        await client.eio.disconnect(abort=True)


@pytest.mark.e2e
def test_logs_of_a_run_hold_no_full_card_number_or_token(debug_stack):
    rasa_url, settings = debug_stack["rasa_url"], debug_stack["settings"]
    blocked = scenario("blocked")
    token = mint_token(blocked.account_id, [blocked.card], TEST_SECRET, timedelta(minutes=30))
    expired = mint_token(blocked.account_id, [blocked.card], TEST_SECRET, timedelta(minutes=-5))
    forged = mint_token(blocked.account_id, [blocked.card], "not-the-secret-but-just-as-long-as-it", timedelta(minutes=5))
    tokens = [token, expired, forged]

    # In-app chat, logged in: the owner types their own card (lower case, no dashes).
    app = RestChat(rasa_url, token=token, sender=f"app-{uuid.uuid4().hex[:8]}")
    assert "SES-100003" in texts(app.send("my session is still active, card nlefl c10000003 3"))
    for bad in (expired, forged):
        RestChat(rasa_url, token=bad, sender=f"app-{uuid.uuid4().hex[:8]}").send("my session is still active")

    # Anonymous drivers type other people's cards, then one hands off with a card in another form.
    typed = list(TYPED_CARDS)
    prying = RestChat(rasa_url, sender=f"anon-{uuid.uuid4().hex[:8]}")
    assert "privacy" in texts(prying.send(f"session SES-100003 is still active, my card is {typed[0]}"))
    anonymous = RestChat(rasa_url, sender=f"anon-{uuid.uuid4().hex[:8]}")
    assert "few details" in texts(anonymous.send("I want to talk to a person"))
    assert "Where was the charging session" in texts(anonymous.send(typed[1]))
    anonymous.send("Jaarbeurs Utrecht")
    anonymous.send("yesterday at 6pm")
    assert "Your reference is HO-" in texts(anonymous.send("no"))

    # The website widget's channel, logged in through customData.
    # In a thread of its own: Playwright's sync API may hold an event loop open in this one.
    with ThreadPoolExecutor(1) as thread:
        widget_answers = thread.submit(asyncio.run, _socketio_conversation(
            rasa_url, token, [f"my card {typed[2]} still shows a session as active"])).result(timeout=120)
    assert widget_answers and all(widget_answers)

    for server in debug_stack["servers"]:
        server.stop()  # flushes everything they logged
    logs = {server.name: server.log_path.read_text(errors="replace") for server in debug_stack["servers"]}

    leaks = []
    for name, text in logs.items():
        for card in [LOGGED_IN_CARD, *TYPED_CARDS.values()]:
            instance = card.split("-")[2][1:]  # the 8 digits that identify a card, in whatever form it was typed
            if re.search(rf"(?<![0-9]){instance}(?![0-9])", text):
                leaks.append(f"{name}: card {card}")
        for found in find_card_numbers(text):
            leaks.append(f"{name}: card-shaped {found.text!r}")
        for value in tokens:
            if any(part in text for part in value.split(".")[1:]):
                leaks.append(f"{name}: identity token {value[:12]}...")
    assert not leaks, "full card numbers or tokens in the logs:\n" + "\n".join(sorted(set(leaks)))

    # The logs are at a level where a leak would show, and went through the mask: else the scan proves nothing.
    assert "DEBUG" in logs["rasa server"] and "DEBUG" in logs["action server"]
    assert "Received request to run" in logs["action server"]
    for card in [LOGGED_IN_CARD, *TYPED_CARDS.values()]:
        assert f"[card ...{card[-4:]}]" in logs["rasa server"], f"{card} never reached the log masked"

    # What the agent sees is complete: the card as typed, unmasked.
    with session_scope(settings) as db:
        record = db.execute(select(Handoff).where(Handoff.conversation_id == anonymous.sender)).scalar_one()
        assert record.card_number == TYPED_CARDS[typed[1]]
        assert typed[1] in [line["text"] for line in record.transcript]
