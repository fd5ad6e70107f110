"""The handoff form (asks only for what is not known yet, and listens to what else is said) and its submission."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.common import SafeAction, UsesSettings, identity_of, language_events, language_of, off_loop, say
from bot.conversation import handoff_fields, replies
from bot.conversation.facts import read_message
from bot.conversation.handoff import HandoffRequest, file_handoff
from bot.conversation.texts import current_language, in_language
from bot.conversation.turn import CONFIRM_HANDOFF, FAQ_ADVICE
from bot.domain.clock import utcnow


def _time_grain(tracker: Tracker) -> Optional[str]:
    for entity in (tracker.latest_message or {}).get("entities") or []:
        if entity.get("entity") == "time":
            return (entity.get("additional_info") or {}).get("grain")
    return None


class ValidateHandoffForm(UsesSettings, FormValidationAction):
    def name(self) -> Text:
        return "validate_handoff_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        language = language_of(tracker)
        with in_language(language):
            return language_events(tracker, language) + await super().run(dispatcher, tracker, domain)

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> List[Text]:
        if tracker.get_slot("handoff_leaving"):
            return []  # the form ends; the submission offers to pass what it has
        known = handoff_fields.known_from_account(self.settings, identity_of(tracker, self.settings),
                                                  tracker.get_slot("session_id"))
        return [slot for slot in domain_slots if slot not in known]

    async def get_validation_events(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> List[Dict[Text, Any]]:
        """rasa_sdk validates only the fields still asked for, and Rasa keeps any other value the message gave
        unchecked: a session ID typed by a logged-in driver that is not on their account would stand. Those
        are checked the same way."""
        events = await super().get_validation_events(dispatcher, tracker, domain)
        checked = {event["name"] for event in events}
        for slot, value in tracker.slots_to_validate().items():
            if slot in self.domain_slots(domain) and slot not in checked:
                events += [SlotSet(name, answer) for name, answer in self._answer(slot, value, dispatcher, tracker).items()]
        return events

    def _answer(self, slot: Text, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> Dict[Text, Any]:
        """Every field's answer goes through bot.conversation.handoff_fields.interpret_answer."""
        answer = self._read(slot, value, dispatcher, tracker)
        identity = identity_of(tracker, self.settings)
        typed = answer.get("session_id")
        if slot == "session_id" and identity is not None and typed and typed != handoff_fields.NOT_KNOWN \
                and not handoff_fields.owns_session(self.settings, identity, typed):
            # Not on their account: flagged for the agent; the handoff is about their own session.
            return {"session_id": None, "foreign_session_id": typed}
        return answer

    def _read(self, slot: Text, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> Dict[Text, Any]:
        if tracker.get_slot("requested_slot") != slot:
            # Given unasked (an all-in-one message, or a correction): kept when it can be read.
            if slot == "location":  # "het was nie Utrecht maar Amersfoort"
                value = handoff_fields.corrected_place(value, (tracker.latest_message or {}).get("text"))
            return {slot: handoff_fields.interpret_answer(slot, value, read_message({}), self.settings, utcnow(),
                                                          _time_grain(tracker)).value}
        facts = read_message(tracker.latest_message or {})
        answer = handoff_fields.interpret_answer(slot, value, facts, self.settings, utcnow(), _time_grain(tracker))
        if answer.leave:
            return {slot: None, "handoff_leaving": True}
        if answer.note in replies.FAQ_KEYS:
            say(dispatcher, replies.faq_reply(answer.note, self.settings))
            return {slot: None, "advice": FAQ_ADVICE[answer.note]}
        elif answer.note == "bot_challenge":
            say(dispatcher, replies.i_am_a_bot())
        elif answer.note:
            say(dispatcher, replies.form_note(answer.note))
        elif answer.reask:
            say(dispatcher, replies.handoff_reask(slot))
        return {slot: answer.value}

    def validate_card_number(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> Dict[Text, Any]:
        return self._answer("card_number", value, dispatcher, tracker)

    def validate_location(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                          domain: DomainDict) -> Dict[Text, Any]:
        return self._answer("location", value, dispatcher, tracker)

    def validate_time(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                      domain: DomainDict) -> Dict[Text, Any]:
        return self._answer("time", value, dispatcher, tracker)

    def validate_session_id(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                            domain: DomainDict) -> Dict[Text, Any]:
        return self._answer("session_id", value, dispatcher, tracker)


class ActionSubmitHandoff(SafeAction):
    def name(self) -> Text:
        return "action_submit_handoff"

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                     domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        if tracker.get_slot("handoff_leaving"):
            # Left the form: nothing is lost, and nothing is passed on without the driver's yes.
            say(dispatcher, replies.handoff_offer_partial())
            return [SlotSet("handoff_leaving", None), SlotSet("handoff_partial", True),
                    SlotSet("pending_question", CONFIRM_HANDOFF)]
        request = HandoffRequest(
            conversation_id=tracker.sender_id,
            channel=tracker.get_latest_input_channel() or "unknown",
            identity=identity_of(tracker, self.settings),
            slots={name: tracker.get_slot(name) for name in HandoffRequest.SLOTS},
            events=list(tracker.events),
            language=current_language(),
        )
        reference = await off_loop(file_handoff, self.settings, request, utcnow())
        say(dispatcher, replies.handoff_done(reference))
        return [SlotSet("handoff_reference", reference), SlotSet("handoff_partial", None),
                SlotSet("pending_question", None), ConversationPaused()]
