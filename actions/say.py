"""What the assistant says without deciding anything: the handoff form's questions and small talk.

The texts come from the catalogue in the conversation's language (domain.yml holds no texts), so Rasa
asks a form question through these actions (`action_ask_<slot>`), not through `utter_ask_<slot>`.
"""
from __future__ import annotations

import abc
from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.check_session import ActionCheckSession
from actions.common import SafeAction, say
from bot.conversation import replies
from bot.conversation.turn import WHICH_SESSION


class ActionSmallTalk(SafeAction):
    """A greeting, a goodbye or thanks, answered in kind."""

    def name(self) -> Text:
        return "action_small_talk"

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                     domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        if tracker.get_slot("pending_question") == WHICH_SESSION:
            # An answer to "which one?" ("eerste", "the Den Haag one, thanks") read as small talk: the turn reads it.
            return await ActionCheckSession(self._settings).handle(dispatcher, tracker, domain)
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        say(dispatcher, replies.small_talk(intent if isinstance(intent, str) else ""))
        return []


class _AskFor(SafeAction):
    """The handoff form's question for one field."""

    @property
    @abc.abstractmethod
    def slot(self) -> Text:
        ...

    def name(self) -> Text:
        return f"action_ask_{self.slot}"

    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                     domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        say(dispatcher, replies.ask(self.slot))
        return []


class ActionAskCardNumber(_AskFor):
    slot = "card_number"


class ActionAskLocation(_AskFor):
    slot = "location"


class ActionAskTime(_AskFor):
    slot = "time"


class ActionAskSessionId(_AskFor):
    slot = "session_id"
