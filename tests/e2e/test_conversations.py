"""End-to-end: real trained model, real action server, real SQLite, through the REST channel.

One conversation per branch of the help-centre article, as a driver would have it.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.apps.chat_client import RestChat, texts
from bot.store.db import session_scope
from bot.domain.identity import mint_token
from bot.store.models import Handoff
from bot.store.seed import scenario
from tests.conftest import TEST_SECRET

pytestmark = pytest.mark.e2e


def payloads(messages):
    return [b["payload"] for m in messages for b in (m.get("buttons") or [])]


@pytest.fixture
def anonymous(stack):
    return RestChat(stack.url, sender=f"anon-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def logged_in(stack):
    def open_chat(name: str) -> RestChat:
        s = scenario(name)
        token = mint_token(s.account_id, [s.card], TEST_SECRET, timedelta(minutes=30))
        return RestChat(stack.url, token=token, sender=f"app-{uuid.uuid4().hex[:8]}")

    return open_chat


def handoff_for(settings, conversation_id):
    with session_scope(settings) as db:
        return db.execute(select(Handoff).where(Handoff.conversation_id == conversation_id)).scalar_one_or_none()


def test_step1_wait_for_automatic_close(logged_in):
    chat = logged_in("wait")
    answer = texts(chat.send("my charging session is still active but I stopped charging"))
    assert "SES-100001" in answer and "E-Flux Hub Amsterdam Zuidas" in answer
    assert "close automatically by" in answer and "keep using your card" in answer


def test_step2_still_drawing_energy(logged_in):
    chat = logged_in("charging")
    answer = texts(chat.send("the app says my session is stil active??"))
    assert "still drawing energy" in answer and "SES-100002" in answer


def test_step3_blocked_at_own_station_hands_off_with_every_field(logged_in, stack_settings):
    chat = logged_in("blocked")
    first = texts(chat.send("session still open in the app even though I unplugged yesterday"))
    assert "close automatically by" in first  # under 72 h: step 1 first
    answer = texts(chat.send("I can't start a new session, my card gets refused"))
    assert "colleague needs to close it" in answer
    assert "Your reference is HO-" in answer  # a logged-in driver is asked nothing
    record = handoff_for(stack_settings, chat.sender)
    assert record is not None
    assert record.card_number == "NL-EFL-C10000003-3"
    assert record.account_id == "demo-blocked"
    assert record.session_id == "SES-100003"
    assert "Rotterdam Centraal garage" in record.location
    assert record.session_time
    assert record.channel == "rest"
    assert record.findings["step"] == "own_station_person"
    assert record.findings["kwh_trend"] == "flat"
    assert record.findings["own_station"] is True
    said = [line["text"] for line in record.transcript]
    assert said[0].startswith("session still open in the app")
    assert any("can't start a new session" in t for t in said)
    assert all(line["timestamp"] for line in record.transcript)
    assert record.reference in answer
    # After the handoff the assistant stays out of the way; a question gets a one-line reminder of the reference.
    reminder = texts(chat.send("what happens now?"))
    assert record.reference in reminder and len(reminder) < 200


def test_step3_overdue_goes_straight_to_a_person(logged_in):
    chat = logged_in("overdue")
    answer = texts(chat.send("my session has been active for days"))
    assert "past the automatic close" in answer and "Your reference is HO-" in answer


def test_step4_other_provider_says_what_to_try_and_whom_to_contact(logged_in):
    chat = logged_in("other")
    messages = chat.send("charging session still shows active in the app")
    answer = texts(messages)
    assert "Allego" in answer
    assert "try your card at a different charging station" in answer
    assert "https://www.allego.eu" in answer and "+31 88 033 3033" in answer
    assert payloads(messages) == ["/request_human"]


def test_two_active_sessions_are_offered_as_buttons(logged_in):
    chat = logged_in("two")
    messages = chat.send("my session is still active")
    options = payloads(messages)
    assert len(options) == 2 and any("SES-100006" in p for p in options) and any("SES-100007" in p for p in options)
    answer = texts(chat.send(next(p for p in options if "SES-100006" in p)))
    assert "SES-100006" in answer and "close automatically by" in answer


def test_completed_sessions_only(logged_in):
    chat = logged_in("done")
    answer = texts(chat.send("why is my session still active"))
    answer += texts(chat.send("the app still shows my session as active"))
    assert "don't see any session that's still active" in answer


def test_anonymous_gets_general_guidance_then_kwh_answer(anonymous):
    messages = anonymous.send("my charging session is still active")
    assert "72 hours" in texts(messages)
    assert set(payloads(messages)) == {"/kwh_increasing", "/kwh_not_increasing"}
    answer = texts(anonymous.send("no the kwh stays the same"))
    assert "safely keep using your card" in answer


def test_anonymous_never_sees_another_persons_session(anonymous):
    answer = texts(anonymous.send("my session SES-100003 is still active, card NL-EFL-C10000003-3"))
    assert "privacy" in answer
    for secret in ("Rotterdam", "kWh at", "SES-100003 at", "Weena"):
        assert secret not in answer


def test_forged_token_is_anonymous(stack):
    s = scenario("wait")
    forged = mint_token(s.account_id, [s.card], "not-the-secret-but-just-as-long-as-it", timedelta(minutes=5))
    chat = RestChat(stack.url, token=forged, sender=f"forged-{uuid.uuid4().hex[:8]}")
    answer = texts(chat.send("my session is still active"))
    assert "Amsterdam Zuidas" not in answer and "72 hours" in answer


def test_anonymous_handoff_form_asks_and_reasks(anonymous, stack_settings):
    assert "few details" in texts(anonymous.send("I want to talk to a person"))
    assert "NL-EFL-C12345678-9" in texts(anonymous.send("hi"))  # not a card: asked again, with an example
    assert "Where was the charging session" in texts(anonymous.send("nl efl c87654321 3"))
    assert "When did the session start" in texts(anonymous.send("Jaarbeurs Utrecht"))
    assert "couldn't read that as a time" in texts(anonymous.send("banana"))
    assert "session ID" in texts(anonymous.send("yesterday around 6pm"))
    answer = texts(anonymous.send("no I don't have it"))
    assert "Your reference is HO-" in answer
    record = handoff_for(stack_settings, anonymous.sender)
    assert record.card_number == "NL-EFL-C87654321-3"
    assert record.location == "Jaarbeurs Utrecht"
    assert record.session_time and record.session_time[:4].isdigit()
    # Stored in UTC; 6 pm in the driver's zone.
    assert datetime.fromisoformat(record.session_time).astimezone(ZoneInfo("Europe/Amsterdam")).hour == 18
    assert record.session_id == "not known"
    assert record.account_id is None


def test_the_articles_three_answers(anonymous):
    assert "delay in receiving" in texts(anonymous.send("why does this happen?"))
    assert "does not affect" in texts(anonymous.send("will I be billed twice for this?"))
    assert "72 hours" in texts(anonymous.send("how long does it take to update"))


def test_out_of_scope_and_bot_challenge(anonymous):
    assert "I can only help with charging sessions" in texts(anonymous.send("what's the weather in Paris tomorrow"))
    assert "virtual assistant" in texts(anonymous.send("am I talking to a bot?"))


@pytest.mark.parametrize("noise", ["qwxz zzkj", "lkjsdf woeiru", "...", "zzzzzzzzzzzz"])
def test_keyboard_noise_gets_an_apology_and_the_way_to_a_person(anonymous, noise):
    # Out of scope or not understood: both apologise and offer a person, never a step of the article.
    messages = anonymous.send(noise)
    assert texts(messages).startswith("Sorry,"), texts(messages)
    assert payloads(messages) == ["/request_human"]


def test_a_person_at_any_point_asks_a_logged_in_driver_nothing(logged_in, stack_settings):
    chat = logged_in("other")
    assert "Allego" in texts(chat.send("my session is still listed as active"))
    answer = texts(chat.send("/request_human"))  # the "Talk to a person" button
    assert "Your reference is HO-" in answer
    record = handoff_for(stack_settings, chat.sender)
    assert record.session_id == "SES-100005" and record.card_number == "NL-EFL-C10000005-5"
    assert "Allego A2 Vianen" in record.location
    assert record.findings["step"] == "other_provider" and record.findings["operator_name"] == "Allego"
