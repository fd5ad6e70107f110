"""End to end: a logged-in driver whose stale session blocks their card at an own station chats through the real
Rasa and action servers; the assistant offers to close it, the driver says yes, STOP_SESSION goes to the real CPO
peer (extrawest-ocpi's Commands module), the CommandResult comes back to our real receiver, and the driver is
told in the same conversation what happened. One conversation per result; the fallback configured here is the
back-office close (the handoff fallback is covered turn by turn in test_stop_conversation.py).
"""
from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.apps.chat_client import RestChat, texts
from bot.domain.identity import mint_token
from bot.settings import settings_from_env
from bot.store.db import session_scope
from bot.store.command_models import CommandAttempt
from bot.store.models import ChargingSession, Handoff
from harness.stack import embedded_env
from tests.conftest import TEST_SECRET, running_stack
from tests.ocpi.ocpi_seed import TOKEN
from tests.ocpi.stop_support import ACCOUNT, CARD, stop_world

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def world_and_stack(tmp_path_factory, peer_python, trained_model):
    run_dir = tmp_path_factory.mktemp("stop-e2e")
    env = embedded_env(os.environ, run_dir, TEST_SECRET)
    worlds = stop_world(run_dir, peer_python, settings_from_env(env))
    world = next(worlds)
    env.update(BOT_OWN_CPO_OCPI_URL=world.peer_url, BOT_OWN_CPO_TOKEN=TOKEN, BOT_OCPI_PUBLIC_URL=world.receiver_url,
               BOT_STOP_RESULT_TIMEOUT_S="3", BOT_STOP_CONFIRM_TIMEOUT_S="6", BOT_STOP_FALLBACK="back_office_close")
    try:
        for stack in running_stack(trained_model, run_dir, env):
            yield world, stack
    finally:
        worlds.close()


def chat(stack) -> RestChat:
    token = mint_token(ACCOUNT, [CARD], TEST_SECRET, timedelta(minutes=30))
    return RestChat(stack.url, token=token, sender=f"app-{uuid.uuid4().hex[:8]}", timeout_s=60)


def offer_and_yes(stack, sid: str) -> str:
    driver = chat(stack)
    answer = texts(driver.send(f"I can't start a new charge, session {sid} is still active"))
    assert f"I can close session {sid} now. Its final energy is 16.5 kWh. Shall I?" in answer, answer
    return texts(driver.send("yes please"))


def attempt(world, sid):
    with session_scope(world.settings) as db:
        return db.execute(select(CommandAttempt).where(CommandAttempt.session_id == sid)).scalar_one()


def test_accepted_the_driver_is_told_it_is_closed(world_and_stack):
    world, stack = world_and_stack
    answer = offer_and_yes(stack, "SES-900001")
    assert "Done: session SES-900001 is closed" in answer and "16.5 kWh" in answer, answer
    row = attempt(world, "SES-900001")
    assert (row.account_id, row.response, row.result, row.outcome) == (ACCOUNT, "ACCEPTED", "ACCEPTED", "stopped")


def test_rejected_the_configured_back_office_close(world_and_stack):
    world, stack = world_and_stack
    answer = offer_and_yes(stack, "SES-900003")
    assert "closed it in our system" in answer and "colleague will review" in answer, answer
    with session_scope(world.settings) as db:
        assert db.get(ChargingSession, "SES-900003").status == "COMPLETED"
    assert attempt(world, "SES-900003").next_step == "back_office_close"


@pytest.mark.parametrize("sid", ["SES-900007", "SES-900009"])  # no result ever; a result after the timeout
def test_unknown_result_the_driver_is_told_and_a_person_takes_over(world_and_stack, sid):
    world, stack = world_and_stack
    answer = offer_and_yes(stack, sid)
    assert "did not confirm in time" in answer and "Your reference is HO-" in answer, answer
    with session_scope(world.settings) as db:
        record = db.execute(select(Handoff).where(Handoff.session_id == sid)).scalar_one()
        assert record.findings["stop_attempt"]["outcome"] == "no_result"


def test_anonymous_visitors_never_get_the_offer(world_and_stack):
    _, stack = world_and_stack
    anonymous = RestChat(stack.url, sender=f"anon-{uuid.uuid4().hex[:8]}")
    answer = texts(anonymous.send("I can't start a new charge, session SES-900005 is still active"))
    assert "close session" not in answer and "16.5" not in answer, answer


def test_the_peer_down(world_and_stack):
    world, stack = world_and_stack
    world.stop_peer()
    answer = offer_and_yes(stack, "SES-900014")
    assert "couldn't reach the station's system" in answer and "Your reference is HO-" in answer, answer
    assert attempt(world, "SES-900014").outcome == "unreachable"
