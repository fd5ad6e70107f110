"""The website widget in a real browser: headless Chromium opens the page, a driver types and clicks,
and the assistant answers through Rasa's socket.io channel (real model, action server, SQLite)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot.store.db import session_scope
from bot.store.models import Handoff
from tests.browser.conftest import SCREENSHOTS

pytestmark = pytest.mark.e2e

ANSWER_TIMEOUT_MS = 30_000
BOT_BUBBLES = "deep-chat .ai-message"


def open_chat(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("deep-chat[data-session=ready]", timeout=ANSWER_TIMEOUT_MS)


def send(page, text: str) -> None:
    box = page.locator("deep-chat #text-input")
    box.click()
    box.fill(text)
    page.keyboard.press("Enter")


def wait_for_answer(page, text: str) -> str:
    """Waits until a bot bubble contains `text`; returns that bubble's text."""
    bubble = page.locator(BOT_BUBBLES, has_text=text).last
    bubble.wait_for(timeout=ANSWER_TIMEOUT_MS)
    return bubble.inner_text()


def wait_for_more_answers(page, than: int) -> None:
    page.wait_for_function(
        "n => document.getElementById('chat').shadowRoot.querySelectorAll('.ai-message').length > n",
        arg=than, timeout=ANSWER_TIMEOUT_MS)


def click_button(page, title: str) -> None:
    page.locator("deep-chat button.deep-chat-suggestion-button", has_text=title).last.click()


def everything_the_bot_said(page) -> str:
    return "\n".join(page.locator(BOT_BUBBLES).all_inner_texts())


def test_anonymous_visitor_walks_from_question_to_handoff(page, widget_site, stack_settings):
    open_chat(page, widget_site.url)
    assert "chatting anonymously" in page.locator("#who").inner_text()

    send(page, "my charging session is still active")
    assert "72 hours" in wait_for_answer(page, "is the kWh of that session still increasing")
    click_button(page, "No, it stays the same")
    wait_for_answer(page, "you can safely keep using your card")
    # The clicked button shows as the driver's own words.
    assert page.locator("deep-chat .user-message", has_text="No, it stays the same").count() == 1

    send(page, "I can't start a new session, my card gets refused")
    wait_for_answer(page, "I can pass this to a person now")
    click_button(page, "Talk to a person")
    wait_for_answer(page, "Which charge card did you use")
    send(page, "NL-EFL-C87654321-3")
    wait_for_answer(page, "Where was the charging session")
    send(page, "Jaarbeurs Utrecht")
    wait_for_answer(page, "When did the session start")
    send(page, "yesterday at 6pm")
    wait_for_answer(page, "Do you have the session ID")
    send(page, "no I don't have it")
    confirmation = wait_for_answer(page, "Your reference is HO-")

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "widget-handoff.png"), full_page=True)

    reference = re.search(r"HO-[A-Z0-9]+", confirmation).group(0)
    with session_scope(stack_settings) as db:
        record = db.execute(select(Handoff).where(Handoff.reference == reference)).scalar_one()
        assert record.channel == "socketio"
        assert record.account_id is None
        assert record.card_number == "NL-EFL-C87654321-3"
        assert record.location == "Jaarbeurs Utrecht"
        said = [line["text"] for line in record.transcript]
    # The agent's transcript is complete: the card number as the driver typed it, unmasked.
    assert "my charging session is still active" in said and "NL-EFL-C87654321-3" in said


def test_a_dutch_page_walks_a_dutch_visitor_to_a_handoff_in_dutch(page, widget_site, stack_settings):
    open_chat(page, widget_site.url + "/?lang=nl")
    assert page.locator("html").get_attribute("lang") == "nl"
    assert "Je chat anoniem" in page.locator("#who").inner_text()
    wait_for_answer(page, "Ik ben de laadassistent")  # the widget's own intro, in the page's language

    send(page, "hoi, mijn laadsessie staat nog steeds op actief in de app")
    assert "72 uur" in wait_for_answer(page, "stijgt de kWh")
    click_button(page, "Nee, die blijft gelijk")
    wait_for_answer(page, "Je kunt je pas gewoon blijven gebruiken")

    send(page, "maar nu wordt mijn pas geweigerd bij een andere laadpaal")
    wait_for_answer(page, "aan een medewerker")
    click_button(page, "Met een medewerker praten")
    wait_for_answer(page, "Welke laadpas heb je gebruikt")
    send(page, "NL-EFL-C87654321-3")
    wait_for_answer(page, "Waar was de laadsessie")
    send(page, "bij de Jaarbeurs in Utrecht")
    wait_for_answer(page, "Wanneer begon de sessie")
    send(page, "gisteravond rond negen uur")
    wait_for_answer(page, "Heb je het sessie-ID")
    send(page, "nee, heb ik niet")
    confirmation = wait_for_answer(page, "Je referentie is HO-")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "widget-handoff-nl.png"), full_page=True)

    reference = re.search(r"HO-[A-Z0-9]+", confirmation).group(0)
    with session_scope(stack_settings) as db:
        record = db.execute(select(Handoff).where(Handoff.reference == reference)).scalar_one()
        assert (record.language, record.card_number) == ("nl", "NL-EFL-C87654321-3")
        assert "Jaarbeurs" in record.location
    assert "hours" not in everything_the_bot_said(page)


def test_anonymous_visitor_typing_someone_elses_card_and_session_sees_none_of_their_data(page, widget_site):
    # SES-100003 and this card belong to demo-blocked: Rotterdam Centraal garage, Weena 200.
    open_chat(page, widget_site.url)
    send(page, "my session SES-100003 is still active, card NL-EFL-C10000003-3")
    wait_for_answer(page, "For your privacy I can't show session details")
    before = page.locator(BOT_BUBBLES).count()
    send(page, "where is session SES-100003? card nl efl c10000003 3")
    wait_for_more_answers(page, before)
    said = everything_the_bot_said(page)
    for their_data in ("Rotterdam", "Weena", "kWh at", "SES-100003 at", "stayed at"):
        assert their_data not in said


def test_logged_in_visitor_is_recognised_through_the_widget(page, demo_widget_site):
    open_chat(page, demo_widget_site.url + "/?as=demo-blocked")
    assert "Logged in as demo-blocked" in page.locator("#who").inner_text()
    send(page, "my charging session is still active")
    answer = wait_for_answer(page, "SES-100003")
    assert "Rotterdam Centraal garage" in answer


def test_the_production_page_ignores_a_demo_login_in_the_address(page, widget_site):
    open_chat(page, widget_site.url + "/?as=demo-blocked")
    assert "chatting anonymously" in page.locator("#who").inner_text()
    send(page, "my charging session is still active")
    wait_for_answer(page, "72 hours")
    assert "Rotterdam" not in everything_the_bot_said(page)


def test_what_a_visitor_types_is_shown_as_text_not_markup(page, widget_site):
    open_chat(page, widget_site.url)
    before = page.locator(BOT_BUBBLES).count()
    send(page, '<img src="x" id="injected"> <b>bold</b>')
    wait_for_more_answers(page, before)
    assert page.locator("deep-chat #injected").count() == 0
    assert page.locator("deep-chat .user-message b").count() == 0
    assert '<img src="x" id="injected">' in page.locator("deep-chat .user-message").last.inner_text()
