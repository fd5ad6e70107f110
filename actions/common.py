"""What every action needs from the tracker: the verified identity, the channel, safe failure."""
from __future__ import annotations

import abc
import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.domain.identity import Identity, identity_from_metadata
from bot.conversation import replies
from bot.conversation.replies import Reply
from bot.settings import Settings, get_settings

logger = logging.getLogger(__name__)

APOLOGY = replies.action_failed()


def identity_of(tracker: Tracker, settings: Settings) -> Optional[Identity]:
    """The identity proven by the current message; None means anonymous.

    Only the current message counts: a client picks its own sender ID, so a token seen earlier in
    a conversation proves nothing about who sends this message. Never read from slots either: a
    driver can set slots by typing `/inform{...}`. The Rasa channel has verified the app's token and
    left a claim in its place (bot.domain.identity.turn_claim): trusted only with a valid MAC, for
    this conversation, for a few minutes. (A token itself is still verified, for direct callers.)
    """
    return identity_from_metadata((tracker.latest_message or {}).get("metadata"), settings.identity_secret,
                                  conversation_id=tracker.sender_id, policy=settings.token_policy)


def say(dispatcher: CollectingDispatcher, reply: Reply) -> None:
    buttons = [{"title": b.title, "payload": b.payload} for b in reply.buttons]
    dispatcher.utter_message(text=reply.text, buttons=buttons or None)


class UsesSettings:
    """Settings from the environment in production; tests pass their own."""

    def __init__(self, settings: Optional[Settings] = None) -> None:
        self._settings = settings

    @property
    def settings(self) -> Settings:
        return self._settings or get_settings()


class SafeAction(UsesSettings, Action, metaclass=abc.ABCMeta):
    """An action that answers with an apology instead of failing the turn.

    Returns no events on failure, so every slot collected so far stays as it was.
    """

    @abc.abstractmethod
    def name(self) -> Text:
        ...

    @abc.abstractmethod
    async def handle(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                     domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        try:
            return await self.handle(dispatcher, tracker, domain)
        except Exception:  # noqa: BLE001 - the driver gets an answer whatever broke
            logger.exception("%s failed for conversation %s", self.name(), tracker.sender_id)
            dispatcher.messages.clear()
            say(dispatcher, APOLOGY)
            return []
