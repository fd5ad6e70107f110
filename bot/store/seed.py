"""Named demo scenarios, one account each, covering every branch of the article.

Times are relative to `now`, so re-seeding before a demo keeps "under 72 h" true.
Seeding replaces only the demo rows; handoffs and other data are left alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import List, Optional, Sequence, Tuple

from sqlalchemy import delete, select

from bot.store.command_models import BackOfficeClose, CommandAttempt
from bot.store.db import create_schema, session_scope
from bot.store.models import (
    Account,
    ChargeCard,
    ChargingSession,
    Evse,
    Location,
    MeterReading,
    Operator,
    SessionStatus,
    utcnow,
)
from bot.settings import Settings

# (country, party, name, website, phone)
OPERATORS = [
    ("NL", "EFL", "E-Flux", "https://www.e-flux.io", "+31 85 000 1000"),
    ("NL", "ALL", "Allego", "https://www.allego.eu", "+31 88 033 3033"),
    ("NL", "SHL", "Shell Recharge", "https://shellrecharge.com", "+31 20 000 2000"),
    ("NL", "FST", "Fastned", "https://fastnedcharging.com", "+31 20 705 5300"),
]

# (location id, party, name, address, city, evse uid, evse id)
LOCATIONS = [
    ("LOC-EFL-001", "EFL", "E-Flux Hub Amsterdam Zuidas", "Gustav Mahlerlaan 10", "Amsterdam", "EVSE-EFL-10001", "NL*EFL*E10001*1"),
    ("LOC-EFL-002", "EFL", "Jaarbeurs P3", "Jaarbeursplein 6", "Utrecht", "EVSE-EFL-10002", "NL*EFL*E10002*1"),
    ("LOC-EFL-003", "EFL", "Rotterdam Centraal garage", "Weena 200", "Rotterdam", "EVSE-EFL-10003", "NL*EFL*E10003*1"),
    ("LOC-ALL-001", "ALL", "Allego A2 Vianen", "Biezendijk 2", "Vianen", "EVSE-ALL-20001", "NL*ALL*E20001*1"),
    ("LOC-SHL-001", "SHL", "Shell Recharge Den Haag Centrum", "Spui 70", "Den Haag", "EVSE-SHL-30001", "NL*SHL*E30001*1"),
]


@dataclass(frozen=True)
class Scenario:
    name: str
    account_id: str
    holder: str
    card: str
    what_it_shows: str


SCENARIOS: List[Scenario] = [
    Scenario("wait", "demo-wait", "Anna de Vries", "NL-EFL-C10000001-1",
             "stale at an own station for 20 h, kWh flat: wait for the automatic close (step 1)"),
    Scenario("charging", "demo-charging", "Bram Jansen", "NL-EFL-C10000002-2",
             "kWh still rising: the session is really running (step 2)"),
    Scenario("blocked", "demo-blocked", "Chloe Bakker", "NL-EFL-C10000003-3",
             "stale at an own station for 30 h; say you cannot start a new session: handoff to a person (step 3)"),
    Scenario("overdue", "demo-overdue", "Daan Visser", "NL-EFL-C10000004-4",
             "open for 80 h at an own station: past the automatic close, handoff to a person (step 3)"),
    Scenario("other", "demo-other", "Eva Smit", "NL-EFL-C10000005-5",
             "stale for 75 h at Allego's station: try another station, contact Allego (step 4)"),
    Scenario("two", "demo-two", "Finn Mulder", "NL-EFL-C10000006-6",
             "two active sessions: the assistant offers both as buttons"),
    Scenario("done", "demo-done", "Gijs de Boer", "NL-EFL-C10000007-7",
             "completed sessions only: nothing is stuck"),
]


def scenario(name: str) -> Scenario:
    for s in SCENARIOS:
        if s.name == name or s.account_id == name:
            return s
    raise KeyError(name)


def _flat_after(start: datetime, charge_minutes: int, kw: float, until: datetime, step_min: int = 15
                ) -> List[Tuple[datetime, float]]:
    """Readings rising for `charge_minutes`, then nothing: the charger went quiet (stale)."""
    readings, t, kwh = [], start, 0.0
    end = min(start + timedelta(minutes=charge_minutes), until)
    while t <= end:
        readings.append((t, round(kwh, 3)))
        t += timedelta(minutes=step_min)
        kwh += kw * step_min / 60
    return readings


# (session id, account, location id, hours ago started, status, readings builder, ended hours ago)
def _sessions(now: datetime):
    def ago(hours: float) -> datetime:
        return now - timedelta(hours=hours)

    rising = [(now - timedelta(minutes=m), round((60 - m) * 0.18, 3)) for m in range(60, -1, -5) if m >= 2]
    return [
        ("SES-100001", "demo-wait", "LOC-EFL-001", 20, SessionStatus.ACTIVE, _flat_after(ago(20), 120, 11, now), None),
        ("SES-100002", "demo-charging", "LOC-EFL-002", 1, SessionStatus.ACTIVE, rising, None),
        ("SES-100003", "demo-blocked", "LOC-EFL-003", 30, SessionStatus.ACTIVE, _flat_after(ago(30), 90, 11, now), None),
        ("SES-100004", "demo-overdue", "LOC-EFL-002", 80, SessionStatus.ACTIVE, _flat_after(ago(80), 150, 7.4, now), None),
        ("SES-100005", "demo-other", "LOC-ALL-001", 75, SessionStatus.ACTIVE, _flat_after(ago(75), 45, 50, now), None),
        ("SES-100006", "demo-two", "LOC-EFL-001", 10, SessionStatus.ACTIVE, _flat_after(ago(10), 60, 11, now), None),
        ("SES-100007", "demo-two", "LOC-SHL-001", 76, SessionStatus.ACTIVE, _flat_after(ago(76), 60, 22, now), None),
        ("SES-100008", "demo-done", "LOC-EFL-001", 26, SessionStatus.COMPLETED, _flat_after(ago(26), 120, 11, now), 24),
        ("SES-100009", "demo-done", "LOC-ALL-001", 50, SessionStatus.COMPLETED, _flat_after(ago(50), 40, 50, now), 49),
    ]


def seed_demo(settings: Settings, now: Optional[datetime] = None) -> List[Scenario]:
    now = now or utcnow()
    create_schema(settings)
    account_ids = [s.account_id for s in SCENARIOS]
    location_ids = [loc[0] for loc in LOCATIONS]
    with session_scope(settings) as db:
        demo_sessions = select(ChargingSession.id).where(ChargingSession.account_id.in_(account_ids))
        db.execute(delete(MeterReading).where(MeterReading.session_id.in_(demo_sessions))
                   .execution_options(synchronize_session=False))
        # The demo sessions come back with the same IDs: their earlier stop attempts would refuse a new demo.
        demo_ids = [row[0] for row in _sessions(now)]
        db.execute(delete(BackOfficeClose).where(BackOfficeClose.session_id.in_(demo_ids)))
        db.execute(delete(CommandAttempt).where(CommandAttempt.session_id.in_(demo_ids)))
        db.execute(delete(ChargingSession).where(ChargingSession.account_id.in_(account_ids)))
        db.execute(delete(ChargeCard).where(ChargeCard.account_id.in_(account_ids)))
        db.execute(delete(Account).where(Account.id.in_(account_ids)))
        db.execute(delete(Evse).where(Evse.location_id.in_(location_ids)))
        db.execute(delete(Location).where(Location.id.in_(location_ids)))
        db.flush()

        operators = {}
        for country, party, name, website, phone in OPERATORS:
            op = db.execute(
                select(Operator).where(Operator.country_code == country, Operator.party_id == party)
            ).scalar_one_or_none()
            if op is None:
                op = Operator(country_code=country, party_id=party)
                db.add(op)
            op.name, op.website, op.phone = name, website, phone
            operators[party] = op
        db.flush()

        for loc_id, party, name, address, city, evse_uid, evse_id in LOCATIONS:
            db.add(Location(id=loc_id, operator_id=operators[party].id, name=name, address=address,
                            city=city, country_code="NL"))
            db.add(Evse(uid=evse_uid, evse_id=evse_id, location_id=loc_id))
        for s in SCENARIOS:
            db.add(Account(id=s.account_id, name=s.holder, email=f"{s.name}@demo.example"))
            db.add(ChargeCard(contract_id=s.card, uid=f"UID{s.card[-11:-2]}", account_id=s.account_id, label="Demo card"))
        db.flush()

        loc_by_id = {loc[0]: loc for loc in LOCATIONS}
        cards = {s.account_id: s.card for s in SCENARIOS}
        for sid, account, loc_id, hours, status, readings, ended in _sessions(now):
            _, party, _, _, _, evse_uid, _ = loc_by_id[loc_id]
            start = now - timedelta(hours=hours)
            last_update = readings[-1][0] if readings else start
            db.add(ChargingSession(
                id=sid, country_code="NL", party_id=party, status=status.value, start_datetime=start,
                end_datetime=(now - timedelta(hours=ended)) if ended is not None else None,
                kwh=readings[-1][1] if readings else 0.0, card_contract_id=cards[account], account_id=account,
                location_id=loc_id, evse_uid=evse_uid, last_updated=last_update,
            ))
            db.add_all(MeterReading(session_id=sid, timestamp=t, kwh=k) for t, k in readings)
    return SCENARIOS


def describe(scenarios: Sequence[Scenario] = SCENARIOS) -> str:
    return "\n".join(f"{s.name:<9} {s.account_id:<14} {s.card:<20} {s.what_it_shows}" for s in scenarios)
