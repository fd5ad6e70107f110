"""What the assistant says: plain text and buttons, no Rasa. The only place replies are composed.

The words come from the catalogue (bot/conversation/texts/<lang>.yml) and follow the help-centre
article; the numbers come from the article's policy. Data the driver has not proven to be theirs
(anonymous chat) never reaches these texts.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional, Sequence
from zoneinfo import ZoneInfo

from bot.conversation.texts import template, text
from bot.domain.diagnosis import Station, Verdict
from bot.domain.outcomes import Outcome, ProviderOutcome
from bot.settings import Settings


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: Sequence[Button] = field(default_factory=tuple)


def human_button() -> Button:
    return Button(text("buttons.human"), "/request_human")


def kwh_buttons() -> Sequence[Button]:
    return (Button(text("buttons.kwh_rising"), "/kwh_increasing"),
            Button(text("buttons.kwh_flat"), "/kwh_not_increasing"))



def local_time(moment: datetime, settings: Settings) -> str:
    return moment.astimezone(ZoneInfo(settings.timezone)).strftime(template("time_format"))


def _hours(settings: Settings) -> str:
    return settings.policy.auto_close_hours_text


def _kwh(value: Optional[float]) -> str:
    return text("kwh", value=value) if value is not None else text("kwh_unknown")


# Data values (a place, an operator's name and website from OCPI) go into replies that the widget renders
# as markdown: escaped, they cannot become a link, an image or HTML.
_MARKDOWN = re.compile(r"([\\`*_\[\]<>])")


def markdown_escape(value: Optional[str]) -> str:
    return _MARKDOWN.sub(r"\\\1", str(value)) if value is not None else ""



def _where(station: Station) -> str:
    return text("where", location=markdown_escape(station.location_name), city=markdown_escape(station.city))


def _why_flat(verdict: Verdict, settings: Settings) -> str:
    """The evidence that energy stopped, as it really is: meter data, silence, or the driver's word."""
    if verdict.kwh_trend_from_driver:
        return text("evidence.flat_from_driver")
    if verdict.last_reading_at is None:
        return text("evidence.flat_no_readings")
    return text("evidence.flat_meter", kwh=_kwh(verdict.last_kwh), since=local_time(verdict.last_reading_at, settings))


def _why_rising(verdict: Verdict, settings: Settings) -> str:
    if verdict.kwh_trend_from_driver or verdict.last_reading_at is None:
        return text("evidence.rising_from_driver")
    return text("evidence.rising_meter", kwh=_kwh(verdict.last_kwh), at=local_time(verdict.last_reading_at, settings))


def verdict_reply(session_id: str, verdict: Verdict, settings: Settings, driver_cannot_start: bool) -> Reply:
    st = verdict.station
    common = dict(session_id=session_id, where=_where(st))
    step = verdict.step
    if step is Outcome.NOT_ACTIVE:
        return Reply(text("verdict.not_active", **common))
    if step is Outcome.STILL_CHARGING:
        return Reply(text("verdict.still_charging", evidence=_why_rising(verdict, settings), **common),
                     (human_button(),))
    if step is Outcome.CHECK_KWH:
        return Reply(text("verdict.check_kwh", **common), kwh_buttons())
    if step is Outcome.WAIT:
        return Reply(text("verdict.wait", evidence=_why_flat(verdict, settings), hours=_hours(settings),
                          auto_close_due=local_time(verdict.auto_close_due, settings), **common))
    if step is Outcome.OWN_STATION_PERSON:
        why = (text("verdict.own_station_blocking") if driver_cannot_start
               else text("verdict.own_station_overdue", hours_open=int(verdict.hours_open)))
        return Reply(text("verdict.own_station_person", evidence=_why_flat(verdict, settings), why=why,
                          brand=settings.brand, **common))
    if step is Outcome.OTHER_PROVIDER:
        contact = ", ".join(markdown_escape(x) for x in (st.operator_website, st.operator_phone) if x)
        return Reply(text("verdict.other_provider", evidence=_why_flat(verdict, settings),
                          operator=markdown_escape(st.operator_name),
                          contact=f" ({contact})" if contact else "", **common),
                     (human_button(),))
    raise ValueError(f"no reply for step {step}")


def anonymous_reply(kwh_reported: Optional[str], driver_cannot_start: bool, typed_identifier: bool,
                    settings: Settings) -> Reply:
    """General guidance for a driver we cannot identify: the article, without anyone's data."""
    privacy = text("anonymous.privacy") if typed_identifier else ""
    if driver_cannot_start:
        return Reply(privacy + text("anonymous.cannot_start", brand=settings.brand), (human_button(),))
    if kwh_reported == "rising":
        return Reply(privacy + text("anonymous.rising"), (human_button(),))
    if kwh_reported == "flat":
        return Reply(privacy + text("anonymous.flat", hours=_hours(settings)))
    return Reply(privacy + text("anonymous.guidance", hours=_hours(settings)), kwh_buttons())


def choose_session_reply(sessions, settings: Settings) -> Reply:
    return Reply(
        text("sessions.choose"),
        tuple(
            Button(text("buttons.session_choice", location=s.location_name, city=s.city,
                        started=local_time(s.start, settings)),
                   f'/inform{{"session_id":"{s.session_id}"}}')
            for s in sessions
        ),
    )


def no_active_session_reply(latest, settings: Settings) -> Reply:
    if latest is None:
        return Reply(text("sessions.none_yet"), (human_button(),))
    return Reply(text("sessions.none_active", session_id=latest.session_id, location=latest.location_name,
                      city=latest.city, started=local_time(latest.start, settings), hours=_hours(settings)),
                 (human_button(),))


def unknown_session_reply(session_id: str) -> Reply:
    return Reply(text("sessions.unknown", session_id=session_id))


def provider_completed_reply(session_id: str, station: Station, ended_at: Optional[datetime],
                             settings: Settings) -> Reply:
    when = text("provider.completed_when", at=local_time(ended_at, settings)) if ended_at else ""
    return Reply(text("provider.completed", operator=markdown_escape(station.operator_name),
                      location=markdown_escape(station.location_name), city=markdown_escape(station.city), session_id=session_id, when=when))


def with_own_data_notice(reply: Reply, station: Station, outcome: ProviderOutcome) -> Reply:
    """Says plainly that the provider could not confirm, so the advice rests on our own data."""
    why = text("provider.own_data_unavailable" if outcome is ProviderOutcome.UNAVAILABLE
               else "provider.own_data_not_found")
    return Reply(text("provider.own_data_notice", operator=markdown_escape(station.operator_name), why=why) + reply.text,
                 reply.buttons)


def handoff_done(reference: str) -> Reply:
    return Reply(text("handoff.done", reference=reference))


def handoff_reask(slot: str) -> Reply:
    """An answer that could not be read as this form field: asked again, with an example."""
    return Reply(text(f"handoff.reask.{slot}"))


def action_failed() -> Reply:
    return Reply(text("failures.action"), (human_button(),))


def turn_failed() -> Reply:
    return Reply(text("failures.turn"), (human_button(),))


def not_understood() -> Reply:
    return Reply(text("failures.not_understood"), (human_button(),))


def empty_message() -> Reply:
    return Reply(text("failures.empty"))


def too_long(limit: int) -> Reply:
    return Reply(text("failures.too_long", limit=limit))


def rate_limited() -> Reply:
    return Reply(text("failures.rate_limited"))


# --- answers that depend on the conversation so far (bot.conversation.turn) -------------------------

FAQ_KEYS = {"ask_why_still_active": "why", "ask_billing_impact": "billing", "ask_update_time": "update_time"}


def faq_reply(intent: str, settings: Settings) -> Reply:
    """The article's answer to why / billing / how long, for a driver whose session we don't know."""
    return Reply(text(f"faq.{FAQ_KEYS[intent]}", hours=_hours(settings)))


def faq_still_charging(intent: str, session_id: str, verdict: Verdict, settings: Settings) -> Reply:
    key = "faq.billing_still_charging" if intent == "ask_billing_impact" else "faq.why_still_charging"
    return Reply(text(key, session_id=session_id, where=_where(verdict.station),
                      evidence=_why_rising(verdict, settings)), (human_button(),))


def faq_closes_by(session_id: str, verdict: Verdict, settings: Settings) -> Reply:
    return Reply(text("faq.update_time_session", session_id=session_id, where=_where(verdict.station),
                      auto_close_due=local_time(verdict.auto_close_due, settings), hours=_hours(settings)))


def faq_overdue(session_id: str, verdict: Verdict, settings: Settings) -> str:
    return text("faq.overdue", session_id=session_id, where=_where(verdict.station),
                hours_open=int(verdict.hours_open), hours=_hours(settings))


def stop_offer(session_id: str, verdict: Verdict, final_kwh: Optional[float], settings: Settings,
               driver_cannot_start: bool) -> Reply:
    """Step 3 at an own station, when the assistant may end the session itself: the offer, with what is billed."""
    why = (text("verdict.own_station_blocking") if driver_cannot_start
           else text("verdict.own_station_overdue", hours_open=int(verdict.hours_open)))
    return Reply(text("stop.offer", session_id=session_id, where=_where(verdict.station),
                      evidence=_why_flat(verdict, settings), why=why, kwh=_kwh(final_kwh)))


# What the driver is told after a stop attempt, by bot.domain.stop_command outcome (and fallback).
_STOP_TEXTS = {"stopped": "stop.stopped", "back_office_close": "stop.back_office_closed", "rejected": "stop.rejected",
               "not_supported": "stop.not_supported", "not_confirmed": "stop.unknown", "failed": "stop.unknown",
               "no_result": "stop.unknown", "unreachable": "stop.unreachable", "already_tried": "stop.already_tried"}


def stop_told(what: str, session_id: str, final_kwh: Optional[float]) -> Reply:
    return Reply(text(_STOP_TEXTS[what], session_id=session_id, kwh=_kwh(final_kwh)))


def stop_declined(session_id: str) -> Reply:
    return Reply(text("stop.declined", session_id=session_id))


def handoff_start(known: bool) -> Reply:
    return Reply(text("handoff_flow.start_known" if known else "handoff_flow.start"))


def handoff_offer_partial() -> Reply:
    return Reply(text("handoff_flow.offer_partial"))


def handoff_declined() -> Reply:
    return Reply(text("handoff_flow.declined"))


def still_plugged() -> Reply:
    return Reply(text("handoff_flow.still_plugged"))


def form_note(key: str) -> Reply:
    """A short word inside the handoff form: already_collecting, dont_know, dont_know_session_id,
    where_session_id, card_help."""
    return Reply(text(f"handoff_flow.{key}"))


def paused_reminder(reference: str) -> Reply:
    return Reply(text("handoff_flow.paused_reminder", reference=reference))


def anonymous_own_station(settings: Settings) -> Reply:
    return Reply(text("anonymous_more.own_station", brand=settings.brand), (human_button(),))


def anonymous_other_provider(operator: str, website: Optional[str], phone: Optional[str]) -> Reply:
    contact = ", ".join(markdown_escape(x) for x in (website, phone) if x)
    return Reply(text("anonymous_more.other_provider", operator=markdown_escape(operator), contact=f" ({contact})" if contact else ""),
                 (human_button(),))


def anonymous_rising_after_unplug() -> Reply:
    return Reply(text("anonymous_more.rising_after_unplug"))


WIDGET_TEXTS = ("intro", "placeholder", "interrupted")
PAGE_TEXTS = ("page_title", "heading", "anonymous")


def widget_texts(brand: str) -> dict:
    """The chat widget's own strings (shown by web/widget.js), in the current language."""
    return {key: text(f"widget.{key}", brand=brand) for key in WIDGET_TEXTS}


def page_texts(brand: str, account_id: Optional[str]) -> dict:
    """The demo page's strings around the widget, in the current language."""
    texts = {key: text(f"widget.{key}", brand=brand) for key in PAGE_TEXTS}
    texts["who"] = text("widget.logged_in", account_id=account_id) if account_id else texts["anonymous"]
    return texts


def ask(slot: str) -> Reply:
    """The handoff form's question for a field (card_number, location, time, session_id)."""
    return Reply(text(f"ask.{slot}"))


SMALL_TALK_KEYS = {"greet": "greet", "goodbye": "goodbye", "thank": "welcome"}


def small_talk(intent: str) -> Reply:
    """A greeting, a goodbye or thanks answered in kind (anything else: is there more to help with)."""
    return Reply(text(f"small_talk.{SMALL_TALK_KEYS.get(intent, 'anything_else')}"))


def anything_else() -> Reply:
    return Reply(text("small_talk.anything_else"))


def out_of_scope() -> Reply:
    return Reply(text("small_talk.out_of_scope"), (human_button(),))


def where_kwh() -> Reply:
    return Reply(text("anonymous_more.where_kwh"), kwh_buttons())


def i_am_a_bot() -> Reply:
    return Reply(text("small_talk.iamabot"))


def again(reply: Reply) -> Reply:
    """The same advice once more, shortened: its first sentence, not the paragraph word for word."""
    first = reply.text.split(". ")[0].rstrip(".") + "."
    return Reply(text("small_talk.as_said") + first, reply.buttons)
