"""What the assistant says about a verdict: plain text and buttons, no Rasa.

Follows the wording of the help-centre article; data the driver has not proven
to be theirs (anonymous chat) never reaches these texts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional, Sequence
from zoneinfo import ZoneInfo

from bot.diagnosis import Station, Step, Verdict
from bot.settings import Settings


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: Sequence[Button] = field(default_factory=tuple)


KWH_BUTTONS = (
    Button("Yes, it's still increasing", "/kwh_increasing"),
    Button("No, it stays the same", "/kwh_not_increasing"),
)
HUMAN_BUTTON = Button("Talk to a person", "/request_human")


def local_time(moment: datetime, settings: Settings) -> str:
    return moment.astimezone(ZoneInfo(settings.timezone)).strftime("%a %d %b, %H:%M")


def _kwh(value: Optional[float]) -> str:
    return f"{value:.1f} kWh" if value is not None else "an unchanged value"


def _where(verdict: Verdict) -> str:
    st = verdict.station
    return f"{st.location_name} in {st.city}"


def _why_flat(verdict: Verdict, settings: Settings) -> str:
    """The evidence that energy stopped, as it really is: meter data, silence, or the driver's word."""
    if verdict.kwh_trend_from_driver:
        return "you told me its kWh is no longer increasing"
    if verdict.last_reading_at is None:
        return "no meter readings have come in for a long time"
    return f"the meter has stayed at {_kwh(verdict.last_kwh)} since {local_time(verdict.last_reading_at, settings)}"


def _why_rising(verdict: Verdict, settings: Settings) -> str:
    if verdict.kwh_trend_from_driver or verdict.last_reading_at is None:
        return "you told me its kWh is still increasing"
    return f"{_kwh(verdict.last_kwh)} at {local_time(verdict.last_reading_at, settings)} and rising"


def verdict_reply(session_id: str, verdict: Verdict, settings: Settings, driver_cannot_start: bool) -> Reply:
    st = verdict.station
    stopped = _why_flat(verdict, settings)
    if verdict.step is Step.NOT_ACTIVE:
        return Reply(
            f"Session {session_id} at {_where(verdict)} has already ended on our side. If the app still shows it "
            "as active, refresh it: it catches up shortly. Your card works as usual and billing is not affected."
        )
    if verdict.step is Step.STILL_CHARGING:
        return Reply(
            f"Session {session_id} at {_where(verdict)} is still drawing energy: {_why_rising(verdict, settings)}. "
            "So it is really still running. To stop it, "
            "hold your card to the charger's reader or stop it in the app, then unplug. If you have already unplugged "
            "and it keeps rising, I can bring in a colleague.",
            (HUMAN_BUTTON,),
        )
    if verdict.step is Step.CHECK_KWH:
        return Reply(
            f"I can't tell yet from the meter data whether session {session_id} at {_where(verdict)} is still "
            "charging. Could you check in the app: is its kWh still increasing?",
            KWH_BUTTONS,
        )
    if verdict.step is Step.WAIT:
        return Reply(
            f"Session {session_id} at {_where(verdict)} has stopped drawing energy: {stopped}. So the charging has "
            "ended, even though the app still lists it as active; this happens when the station's update reaches us "
            f"late. It will close automatically by {local_time(verdict.auto_close_due, settings)} (72 hours after "
            "the start), so you don't need to do anything. You can safely keep using your card, and your billing is "
            "not affected."
        )
    if verdict.step is Step.OWN_STATION_PERSON:
        why = (
            "and it is stopping you from starting a new session"
            if driver_cannot_start
            else f"but it is still open after {int(verdict.hours_open)} hours, past the automatic close"
        )
        return Reply(
            f"Session {session_id} at {_where(verdict)} has stopped drawing energy ({stopped}), {why}. At "
            f"{settings.brand} stations a new session can't start while the old one is shown as active, so a "
            "colleague needs to close it. I'm passing this to a person now, with your card, the location, the time "
            "and the session ID, so you won't have to repeat anything."
        )
    if verdict.step is Step.OTHER_PROVIDER:
        contact = ", ".join(x for x in (st.operator_website, st.operator_phone) if x)
        contact = f" ({contact})" if contact else ""
        return Reply(
            f"Session {session_id} is at {_where(verdict)}, a station run by {st.operator_name}. It has stopped "
            f"drawing energy ({stopped}), so the charging has ended. What to do:\n"
            "1. First, try your card at a different charging station.\n"
            f"2. If your card doesn't work, check whether a session is still active at {st.operator_name}'s station.\n"
            f"3. If it is, contact {st.operator_name}{contact}: only they can stop the session. This is only needed "
            "if the open session is blocking your card at other stations.",
            (HUMAN_BUTTON,),
        )
    raise ValueError(f"no reply for step {verdict.step}")


def anonymous_reply(kwh_reported: Optional[str], driver_cannot_start: bool, typed_identifier: bool,
                    settings: Settings) -> Reply:
    """General guidance for a driver we cannot identify: the article, without anyone's data."""
    privacy = (
        "For your privacy I can't show session details in this chat unless you're logged in to the app. "
        if typed_identifier
        else ""
    )
    if driver_cannot_start:
        return Reply(
            privacy
            + f"If an old session blocks your card at one of {settings.brand}'s own stations, a new session can't "
            "start while the old one is shown as active, so a colleague has to close it: I can pass this to a person "
            "now. At another "
            "provider's station, first try your card at a different charging station; if it still doesn't work and "
            "the session is still active at the original station, contact that provider, as only they can stop it.",
            (HUMAN_BUTTON,),
        )
    if kwh_reported == "rising":
        return Reply(
            privacy
            + "Then energy is still flowing, so the session is really still running. Stop it at the charger (hold your "
            "card to the reader) or in the app, then unplug. If you've already unplugged and the kWh keeps rising, "
            "I can bring in a colleague.",
            (HUMAN_BUTTON,),
        )
    if kwh_reported == "flat":
        return Reply(
            privacy
            + "Then the session has already ended, even though the status looks open: you can safely keep using "
            "your card. In most cases it closes automatically within 72 hours, and your billing is not affected. "
            "If you can't start a new session because of it, tell me and I'll tell you what to do."
        )
    return Reply(
        privacy
        + "Sometimes a session stays listed as active after it has physically ended, usually because the station "
        "provider's update reaches us late. It doesn't affect your billing or other sessions, and in most cases it "
        "closes automatically within 72 hours. One thing to check: in the app, is the kWh of that session still "
        "increasing?",
        KWH_BUTTONS,
    )


def choose_session_reply(sessions, settings: Settings) -> Reply:
    return Reply(
        "You have more than one session that's still listed as active. Which one do you mean?",
        tuple(
            Button(f"{s.location_name}, {s.city} (started {local_time(s.start, settings)})",
                   f'/inform{{"session_id":"{s.session_id}"}}')
            for s in sessions
        ),
    )


def no_active_session_reply(latest, settings: Settings) -> Reply:
    if latest is None:
        return Reply("I don't see any charging sessions on your account yet. If the app shows one as active, "
                     "I can pass this to a colleague.", (HUMAN_BUTTON,))
    return Reply(
        f"I don't see any session that's still active on your account. Your latest one, {latest.session_id} at "
        f"{latest.location_name} in {latest.city} (started {local_time(latest.start, settings)}), has ended. If the "
        "app still shows it as active, refresh it; it updates within 72 hours at most and your billing is not "
        "affected.",
        (HUMAN_BUTTON,),
    )


def unknown_session_reply(session_id: str) -> Reply:
    return Reply(f"I can't find a session {session_id} on your account. Please check the ID, or pick one of your "
                 "sessions.")


def provider_completed_reply(session_id: str, station: Station, ended_at: Optional[datetime],
                             settings: Settings) -> Reply:
    when = f" at {local_time(ended_at, settings)}" if ended_at else ""
    return Reply(
        f"I checked with {station.operator_name}, who runs the station at {station.location_name} in {station.city}: "
        f"they report that session {session_id} has ended{when}. The station has ended it; your app will follow "
        "shortly. Your card works, and your billing is not affected."
    )


def with_own_data_notice(reply: Reply, station: Station, outcome: str) -> Reply:
    """Says plainly that the provider could not confirm, so the advice rests on our own data."""
    why = ("didn't answer in time" if outcome == "unavailable"
           else "doesn't list this session")
    return Reply(f"I tried to check with {station.operator_name}, but their system {why}, so this is based on our "
                 f"own data. " + reply.text, reply.buttons)
