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

from actions.common import SafeAction, UsesSettings, identity_of, say
from bot.conversation import handoff_fields, replies
from bot.conversation.handoff import HandoffRequest, file_handoff
from bot.domain.clock import utcnow


class ValidateHandoffForm(UsesSettings, FormValidationAction):
    def name(self) -> Text:
        return "validate_handoff_form"

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> List[Text]:
        known = handoff_fields.known_from_account(self.settings, identity_of(tracker, self.settings),
                                                  tracker.get_slot("session_id"))
        return [slot for slot in domain_slots if slot not in known]

    # Each slot's answer is parsed in bot.conversation.handoff_fields; what cannot be read is asked again.
    def _checked(self, slot: Text, parsed: Any, dispatcher: CollectingDispatcher) -> Dict[Text, Any]:
        if parsed is None:
            say(dispatcher, replies.handoff_reask(slot))
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
        request = HandoffRequest(
            conversation_id=tracker.sender_id,
            channel=tracker.get_latest_input_channel() or "unknown",
            identity=identity_of(tracker, self.settings),
            slots={name: tracker.get_slot(name) for name in
                   ("card_number", "location", "time", "session_id", "kwh_reported", "cannot_start")},
            events=list(tracker.events),
        )
        store = functools.partial(file_handoff, self.settings, request, utcnow())
        reference = await asyncio.get_running_loop().run_in_executor(None, store)
        say(dispatcher, replies.handoff_done(reference))
        return [SlotSet("handoff_reference", reference), ConversationPaused()]
