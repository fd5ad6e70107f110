"""action_check_session: one driver turn outside the form, decided by bot.conversation.turn from all its facts."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import SafeAction, identity_of, off_loop, say
from bot.conversation.facts import read_message
from bot.conversation.turn import TurnState, decide
from bot.domain.clock import utcnow
from bot.domain.identifiers import normalise_session_id


def state_of(tracker: Tracker) -> TurnState:
    slot = tracker.get_slot
    kwh = slot("kwh_reported")
    return TurnState(
        session_id=normalise_session_id(slot("session_id") or "") or None,
        pending_question=slot("pending_question") if isinstance(slot("pending_question"), str) else None,
        kwh_reported=kwh if kwh in ("rising", "flat") else None,
        cannot_start=slot("cannot_start") is True,
        unplugged=slot("unplugged") is True,
        handoff_after_choice=slot("handoff_after_choice") is True,
        handoff_partial=slot("handoff_partial") is True,
        last_reply=slot("last_reply") if isinstance(slot("last_reply"), str) else None,
        operator=slot("operator") if isinstance(slot("operator"), str) else None,
    )


class ActionCheckSession(SafeAction):
    def name(self) -> Text:
        return "action_check_session"

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                     domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        decision = await off_loop(decide, self.settings, read_message(tracker.latest_message or {}),
                                  state_of(tracker), identity_of(tracker, self.settings), utcnow())
        for reply in decision.replies:
            say(dispatcher, reply)
        events = [SlotSet(name, value) for name, value in decision.slots.items()]
        if decision.outcome is not None:
            events += [SlotSet("step", decision.outcome.value), SlotSet("advice", decision.advice)]
        if decision.submit_handoff:
            events.append(FollowupAction("action_submit_handoff"))
        elif decision.start_handoff:
            events.append(FollowupAction("handoff_form"))
        return events
