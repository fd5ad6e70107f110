"""The article's flow against a real seeded SQLite database, without Rasa."""
from bot.domain.identity import Identity
from bot.store.seed import scenario
from bot.conversation.triage import TriageInput, triage
from tests.unit.conftest import NOW


def as_account(name):
    s = scenario(name)
    return Identity(s.account_id, (s.card,))


def run(settings, name=None, **kwargs):
    return triage(settings, TriageInput(identity=as_account(name) if name else None, **kwargs), NOW)


def test_each_demo_scenario_reaches_its_step(seeded):
    assert run(seeded, "wait").outcome == "wait"
    assert run(seeded, "charging").outcome == "still_charging"
    assert run(seeded, "blocked").outcome == "wait"
    assert run(seeded, "blocked", driver_cannot_start=True).outcome == "own_station_person"
    assert run(seeded, "overdue").outcome == "own_station_person"
    assert run(seeded, "other").outcome == "other_provider"
    assert run(seeded, "two").outcome == "choose_session"
    assert run(seeded, "done").outcome == "no_session"


def test_wait_names_the_session_and_when_it_closes(seeded):
    result = run(seeded, "wait")
    assert result.session_id == "SES-100001"
    assert "SES-100001" in result.reply.text and "Amsterdam" in result.reply.text
    assert "Thu 26 Nov, 17:00" in result.reply.text  # started 20 h before NOW, + 72 h, in Amsterdam time (UTC+1)
    assert result.findings.identified is True and result.findings.meter.own_station is True


def test_other_provider_names_whom_to_contact(seeded):
    result = run(seeded, "other")
    assert "Allego" in result.reply.text and "+31 88 033 3033" in result.reply.text
    assert result.findings.meter.operator_name == "Allego"


def test_choosing_one_of_two_sessions(seeded):
    choose = run(seeded, "two")
    assert [b.payload for b in choose.reply.buttons] == [
        '/inform{"session_id":"SES-100006"}', '/inform{"session_id":"SES-100007"}']
    assert run(seeded, "two", session_id="SES-100007").outcome == "other_provider"


def test_a_session_of_another_account_is_not_found(seeded):
    result = run(seeded, "wait", session_id="SES-100003")  # Chloe's session
    assert result.outcome == "unknown_session"
    assert "Rotterdam" not in result.reply.text
    assert [b.payload for b in result.reply.buttons] == ['/inform{"session_id":"SES-100001"}']


def test_anonymous_gets_no_data_even_with_a_valid_session_id(seeded):
    result = run(seeded, None, session_id="SES-100003", typed_identifier=True)
    assert result.outcome == "anonymous"
    assert "privacy" in result.reply.text and "Rotterdam" not in result.reply.text
    assert result.findings.identified is False


def test_anonymous_answers_follow_the_drivers_kwh_report(seeded):
    assert "still running" in run(seeded, None, kwh_reported="rising").reply.text
    assert "safely keep using your card" in run(seeded, None, kwh_reported="flat").reply.text
    assert "colleague" in run(seeded, None, driver_cannot_start=True).reply.text
