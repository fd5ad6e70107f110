"""What every action needs from the tracker: the verified identity, the driver's language, safe failure."""
from __future__ import annotations

import abc
import asyncio
import contextvars
import functools
import logging
from typing import Any, Callable, Dict, List, Optional, Text, TypeVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.domain.identity import Identity, identity_from_metadata
from bot.conversation import replies
from bot.conversation.replies import Reply
from bot.conversation.texts import choose_language, in_language
from bot.settings import Settings, get_settings

logger = logging.getLogger(__name__)
T = TypeVar("T")
LANGUAGE_SLOT = "language"


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


def _decided_for_this_message(tracker: Tracker) -> Optional[str]:
    """The language an earlier action of this turn set for the current message, if one did."""
    for event in reversed(tracker.events or []):
        if event.get("event") == "user":
            return None
        if event.get("event") == "slot" and event.get("name") == LANGUAGE_SLOT and isinstance(event.get("value"), str):
            return event["value"]
    return None


def language_of(tracker: Tracker) -> str:
    """The conversation's language after the current message: its words when they tell (without the
    places, times and IDs the NLU found), else the language so far, else the app's locale
    (metadata.locale, checked by the channel). Decided once per message: the form's next question
    speaks the language its validation chose."""
    decided = _decided_for_this_message(tracker)
    if decided is not None:
        return decided
    message = tracker.latest_message or {}
    locale = (message.get("metadata") or {}).get("locale")
    current = tracker.get_slot(LANGUAGE_SLOT)
    return choose_language(message.get("text"), locale if isinstance(locale, str) else None,
                           current if isinstance(current, str) else None, message.get("entities") or (),
                           answers_place=tracker.get_slot("requested_slot") == "location")


def language_events(tracker: Tracker, language: str) -> List[Dict[Text, Any]]:
    """The language slot, set once per message (so later actions of the turn read the decision)."""
    return [] if _decided_for_this_message(tracker) == language else [SlotSet(LANGUAGE_SLOT, language)]


async def off_loop(function: Callable[..., T], *args: Any) -> T:
    """Runs blocking work (database, a provider's answer) in a thread, in this turn's language, so one
    slow provider does not stall every other conversation on this action server."""
    call = functools.partial(contextvars.copy_context().run, function, *args)
    return await asyncio.get_running_loop().run_in_executor(None, call)


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
    """An action that speaks the driver's language and answers with an apology instead of failing the turn.

    Returns no events but the language on failure, so every slot collected so far stays as it was.
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
        language = language_of(tracker)
        with in_language(language):
            try:
                return language_events(tracker, language) + await self.handle(dispatcher, tracker, domain)
            except Exception:  # noqa: BLE001 - the driver gets an answer whatever broke
                logger.exception("%s failed for conversation %s", self.name(), tracker.sender_id)
                dispatcher.messages.clear()
                say(dispatcher, replies.action_failed())
                return language_events(tracker, language)
