"""The handoff form (asks only for what is not known yet) and its submission."""
from __future__ import annotations

import asyncio
import functools
from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.common import SafeAction, UsesSettings, identity_of
from bot import handoff_fields
from bot.handoff import HandoffRequest, store_handoff, transcript_from_events
from bot.models import utcnow


class ValidateHandoffForm(UsesSettings, FormValidationAction):
    def name(self) -> Text:
        return "validate_handoff_form"

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> List[Text]:
        known = handoff_fields.known_from_account(self.settings, identity_of(tracker, self.settings),
                                                  tracker.get_slot("session_id"))
        return [slot for slot in domain_slots if slot not in known]

    # Each slot's answer is parsed in bot.handoff_fields; what cannot be read is asked again, with an example.
    REASK = {
        "card_number": "That doesn't look like a card number. Card numbers look like NL-EFL-C12345678-9; an "
                       "account e-mail address works too.",
        "location": "Sorry, I couldn't read that as a place. The station's name, street or city is enough, for "
                    "example \"Jaarbeurs P3, Utrecht\".",
        "time": "Sorry, I couldn't read that as a time. Try something like \"yesterday around 6pm\" or "
                "\"23 November 18:30\".",
        "session_id": "That doesn't look like a session ID; they look like SES-104233. If you don't have it, just "
                      "say no.",
    }

    def _checked(self, slot: Text, parsed: Any, dispatcher: CollectingDispatcher) -> Dict[Text, Any]:
        if parsed is None:
            dispatcher.utter_message(text=self.REASK[slot])
        return {slot: parsed}

    def validate_card_number(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> Dict[Text, Any]:
        return self._checked("card_number", handoff_fields.parse_card_or_account(value), dispatcher)

    def validate_location(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                          domain: DomainDict) -> Dict[Text, Any]:
        return self._checked("location", handoff_fields.parse_location(value), dispatcher)

    def validate_time(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                      domain: DomainDict) -> Dict[Text, Any]:
        return self._checked("time", handoff_fields.parse_session_time(value, self.settings, utcnow()), dispatcher)

    def validate_session_id(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                            domain: DomainDict) -> Dict[Text, Any]:
        return self._checked("session_id", handoff_fields.parse_session_id_answer(value), dispatcher)


class ActionSubmitHandoff(SafeAction):
    def name(self) -> Text:
        return "action_submit_handoff"

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                     domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        settings = self.settings
        identity = identity_of(tracker, settings)
        fields = handoff_fields.resolve(settings, identity, {
            "card_number": tracker.get_slot("card_number"),
            "location": tracker.get_slot("location"),
            "time": tracker.get_slot("time"),
            "session_id": tracker.get_slot("session_id"),
        })
        findings: Dict[str, Any] = dict(tracker.get_slot("findings") or {})
        store = functools.partial(store_handoff, settings, HandoffRequest(
            conversation_id=tracker.sender_id,
            channel=tracker.get_latest_input_channel() or "unknown",
            reason=tracker.get_slot("step") or "driver_asked_for_person",
            account_id=identity.account_id if identity else None,
            card_number=fields.card_number,
            location=fields.location,
            session_time=fields.session_time,
            session_id=fields.session_id,
            findings=findings,
            transcript=transcript_from_events(tracker.events),
        ))
        reference = await asyncio.get_running_loop().run_in_executor(None, store)
        dispatcher.utter_message(
            text=f"Thanks, I've passed everything to a colleague. Your reference is {reference}. They'll pick it up "
                 "from here and you won't need to repeat anything. I'll stay quiet in this chat in the meantime."
        )
        return [SlotSet("handoff_reference", reference), ConversationPaused()]
