"""End-to-end in Dutch: every step of the help-centre article and the handoff, as a Dutch driver has them.

Real trained model, real action server, real SQLite, through the REST channel; the assertions read the
Dutch catalogue's words and the handoff record, so a reply in English fails them.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.apps.chat_client import RestChat, texts
from bot.domain.identity import mint_token
from bot.store.seed import scenario
from tests.conftest import TEST_SECRET
from tests.e2e.test_conversations import handoff_for, payloads

pytestmark = pytest.mark.e2e


@pytest.fixture
def app_chat(stack):
    """The in-app chat of a demo account; the app's locale only when given."""
    def open_chat(name: str, locale=None) -> RestChat:
        s = scenario(name)
        token = mint_token(s.account_id, [s.card], TEST_SECRET, timedelta(minutes=30))
        return RestChat(stack.url, token=token, sender=f"nl-{uuid.uuid4().hex[:8]}", locale=locale)

    return open_chat


@pytest.fixture
def anonymous(stack):
    return RestChat(stack.url, sender=f"nl-anon-{uuid.uuid4().hex[:8]}")


def test_step1_wachten_op_de_automatische_afsluiting(app_chat):
    answer = texts(app_chat("wait").send("mijn laadsessie staat nog op actief maar ik ben allang gestopt"))
    assert "SES-100001" in answer and "E-Flux Hub Amsterdam Zuidas" in answer
    assert "sluit vanzelf" in answer and "72 uur" in answer and "hours" not in answer


def test_step2_hij_laadt_nog(app_chat):
    messages = app_chat("charging").send("app zegt dat de sessie nog loopt, klopt dat wel?")
    answer = texts(messages)
    assert "neemt nog stroom af" in answer and "SES-100002" in answer
    assert [b["title"] for m in messages for b in (m.get("buttons") or [])] == ["Met een medewerker praten"]


def test_step3_eigen_laadpaal_pas_geblokkeerd_naar_een_medewerker(app_chat, stack_settings):
    chat = app_chat("blocked")
    first = texts(chat.send("sessie staat nog open in de app terwijl ik gisteren de stekker eruit heb gehaald"))
    assert "sluit vanzelf" in first
    answer = texts(chat.send("en nu kan ik nergens meer laden, mijn pas wordt geweigerd"))
    assert "Een collega moet hem dus afsluiten" in answer and "Je referentie is HO-" in answer
    record = handoff_for(stack_settings, chat.sender)
    assert record.language == "nl"  # the agent answers in Dutch
    assert record.session_id == "SES-100003" and record.card_number == "NL-EFL-C10000003-3"
    assert record.findings["step"] == "own_station_person"
    # After the handoff: a one-line reminder of the reference, in Dutch.
    reminder = texts(chat.send("en wat gebeurt er nu?"))
    assert record.reference in reminder and len(reminder) < 200


def test_step3_te_lang_open_direct_naar_een_medewerker(app_chat):
    answer = texts(app_chat("overdue").send("mn sessie staat al dagen op actief"))
    assert "automatische afsluiting" in answer and "Je referentie is HO-" in answer


def test_step4_andere_aanbieder_wat_te_proberen_en_wie_te_bellen(app_chat):
    messages = app_chat("other").send("laadsessie staat nog steeds actief in de app")
    answer = texts(messages)
    assert "Allego" in answer and "Probeer je pas eerst bij een andere laadpaal" in answer
    assert "https://www.allego.eu" in answer and payloads(messages) == ["/request_human"]


def test_two_sessions_are_offered_in_dutch_and_chosen_by_place(app_chat):
    chat = app_chat("two")
    messages = chat.send("mijn sessie staat nog op actief")
    assert "Welke bedoel je" in texts(messages) and len(payloads(messages)) == 2


def test_the_apps_locale_answers_a_first_message_that_tells_no_language(app_chat):
    answer = texts(app_chat("wait", locale="nl-NL").send("SES-100001"))
    assert "SES-100001" in answer and "uur" in answer and "hours" not in answer


def test_a_driver_who_switches_language_is_followed(app_chat):
    chat = app_chat("wait", locale="nl-NL")
    assert "sluit vanzelf" in texts(chat.send("mijn sessie staat nog op actief"))
    answer = texts(chat.send("sorry, could you say that in English? when will the session close?"))
    assert "hours" in answer and " uur" not in answer


def test_anonymous_handoff_form_in_dutch(anonymous, stack_settings):
    first = texts(anonymous.send("ik wil graag een medewerker spreken"))
    assert "pas" in first.lower()  # the first question, in Dutch
    assert "Waar was de laadsessie" in texts(anonymous.send("NL-EFL-C87654321-3"))
    assert "Wanneer begon de sessie" in texts(anonymous.send("bij de Jaarbeurs in Utrecht"))
    assert "sessie-ID" in texts(anonymous.send("gisteravond rond negen uur"))
    answer = texts(anonymous.send("nee, heb ik niet"))
    assert "Je referentie is HO-" in answer
    record = handoff_for(stack_settings, anonymous.sender)
    assert record.language == "nl" and record.card_number == "NL-EFL-C87654321-3"
    assert "Jaarbeurs" in record.location and "Utrecht" in record.location
    assert datetime.fromisoformat(record.session_time).astimezone(ZoneInfo("Europe/Amsterdam")).hour == 21
    assert record.session_id == "not known"


def test_anonymous_guidance_and_the_kwh_answer_in_dutch(anonymous):
    messages = anonymous.send("hoi, mijn laadsessie blijft maar op actief staan in de app")
    assert "72 uur" in texts(messages) and [b["title"] for m in messages for b in (m.get("buttons") or [])] == [
        "Ja, die stijgt nog", "Nee, die blijft gelijk"]
    assert "Je kunt je pas gewoon blijven gebruiken" in texts(anonymous.send("nee de kwh blijft gelijk"))
