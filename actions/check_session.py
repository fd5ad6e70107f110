"""action_check_session: find the driver's session, diagnose it, say what the article says."""
from __future__ import annotations

import asyncio
import functools
from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import SafeAction, identity_of, say
from bot.conversation.triage import TriageInput, triage
from bot.domain.clock import utcnow
from bot.domain.identifiers import normalise_session_id
from bot.domain.outcomes import Outcome


class ActionCheckSession(SafeAction):
    def name(self) -> Text:
        return "action_check_session"

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                     domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        entities = {e.get("entity") for e in (tracker.latest_message or {}).get("entities", [])}
        session_id = normalise_session_id(tracker.get_slot("session_id") or "")
        # Database reads and the provider's OCPI answer block: keep them off the event loop so
        # one slow provider does not stall every other conversation on this action server.
        run_triage = functools.partial(
            triage,
            self.settings,
            TriageInput(
                identity=identity_of(tracker, self.settings),
                session_id=session_id,
                typed_identifier=bool(entities & {"card_number", "session_id", "evse_id"}),
                driver_cannot_start=bool(tracker.get_slot("cannot_start")),
                kwh_reported=tracker.get_slot("kwh_reported"),
            ),
            now=utcnow(),
        )
        result = await asyncio.get_running_loop().run_in_executor(None, run_triage)
        say(dispatcher, result.reply)
        events = [SlotSet("step", result.outcome.value)]
        if result.outcome in (Outcome.UNKNOWN_SESSION, Outcome.CHOOSE_SESSION):
            events.append(SlotSet("session_id", None))  # ask again rather than keep a wrong one
        elif result.session_id:
            events.append(SlotSet("session_id", result.session_id))
        if result.outcome is Outcome.OWN_STATION_PERSON:
            # The article: at our own stations a person closes the session. Start the handoff now.
            events.append(FollowupAction("handoff_form"))
        return events
