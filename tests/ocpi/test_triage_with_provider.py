"""The conversation asks the station's provider first (OCPI 2.2.1, real peer) and says what it said."""
from __future__ import annotations

from datetime import timedelta

import pytest

from bot.store.db import create_schema, session_scope
from bot.domain.identity import Identity
from bot.store.models import Account, ChargeCard, ChargingSession, Evse, Location, MeterReading, Operator
from bot.settings import Settings
from bot.conversation.triage import TriageInput, triage
from tests.ocpi.ocpi_seed import (
    ACTIVE_SESSION_ID, COMPLETED_SESSION_ID, EVSE_ID, EVSE_UID, LOCATION_ID, OPERATOR_NAME, OPERATOR_WEBSITE,
)

ACCOUNT = Identity("acc-grn", ("NL-EFL-C55555555-5",))


def _db(tmp_path, peer, base_url: str, token: str) -> Settings:
    """Our side: both sessions still ACTIVE (the stop never reached us), at the peer's station."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'charging.db'}", ocpi_timeout_s=3.0)
    create_schema(settings)
    now = peer.now
    with session_scope(settings) as db:
        op = Operator(country_code="NL", party_id="GRN", name="GreenCharge", website=None, phone="+31 30 000 0042",
                      ocpi_base_url=base_url, ocpi_token=token)
        db.add(op)
        db.flush()
        db.add(Location(id=LOCATION_ID, operator_id=op.id, name="P+R Utrecht Centraal", address="Jaarbeursplein 1",
                        city="Utrecht", country_code="NL"))
        db.add(Evse(uid=EVSE_UID, evse_id=EVSE_ID, location_id=LOCATION_ID))
        db.add(Account(id=ACCOUNT.account_id, name="Test Driver"))
        db.add(ChargeCard(contract_id=ACCOUNT.cards[0], uid="UID55555555", account_id=ACCOUNT.account_id))
        for sid, hours in ((ACTIVE_SESSION_ID, 80), (COMPLETED_SESSION_ID, 100)):
            start = now - timedelta(hours=hours)
            db.add(ChargingSession(id=sid, country_code="NL", party_id="GRN", status="ACTIVE", start_datetime=start,
                                   kwh=10.0, card_contract_id=ACCOUNT.cards[0], account_id=ACCOUNT.account_id,
                                   location_id=LOCATION_ID, evse_uid=EVSE_UID, last_updated=start))
            db.add(MeterReading(session_id=sid, timestamp=start + timedelta(minutes=30), kwh=10.0))
    return settings


def ask(settings, peer, session_id):
    return triage(settings, TriageInput(identity=ACCOUNT, session_id=session_id), peer.now)


def test_provider_says_completed_so_the_driver_hears_the_station_ended_it(tmp_path, ocpi_peer):
    settings = _db(tmp_path, ocpi_peer, ocpi_peer.base_url, ocpi_peer.token)
    result = ask(settings, ocpi_peer, COMPLETED_SESSION_ID)
    assert result.outcome == "provider_completed"
    assert OPERATOR_NAME in result.reply.text and "your app will follow" in result.reply.text
    assert "Your card works" in result.reply.text
    assert result.findings.provider.outcome == "completed"


def test_provider_still_active_and_flat_names_the_provider_and_how_to_reach_it(tmp_path, ocpi_peer):
    settings = _db(tmp_path, ocpi_peer, ocpi_peer.base_url, ocpi_peer.token)
    result = ask(settings, ocpi_peer, ACTIVE_SESSION_ID)
    assert result.outcome == "other_provider"  # open 80 h, kWh no longer increasing on the provider's meter
    assert f"contact {OPERATOR_NAME}" in result.reply.text
    assert OPERATOR_WEBSITE in result.reply.text and "+31 30 000 0042" in result.reply.text
    assert result.findings.provider.kwh == pytest.approx(17.4)
    assert result.findings.meter.last_kwh == pytest.approx(17.4)  # the provider's reading is the newest


def test_provider_down_the_assistant_carries_on_from_its_own_data_and_says_so(tmp_path, ocpi_peer):
    from harness.stack import free_port

    settings = _db(tmp_path, ocpi_peer, f"http://127.0.0.1:{free_port()}/ocpi/cpo/2.2.1", ocpi_peer.token)
    result = ask(settings, ocpi_peer, ACTIVE_SESSION_ID)
    assert result.outcome == "other_provider"
    assert result.reply.text.startswith("I tried to check with GreenCharge, but their system didn't answer in time")
    assert result.findings.provider.outcome == "unavailable"


def test_provider_refuses_our_token_the_assistant_still_answers(tmp_path, ocpi_peer):
    settings = _db(tmp_path, ocpi_peer, ocpi_peer.base_url, "not-our-token")
    result = ask(settings, ocpi_peer, ACTIVE_SESSION_ID)
    assert result.outcome == "other_provider" and "based on our own data" in result.reply.text
