"""Rasa input channels that never leave a driver without an answer.

Rasa 3.6 only logs a failed call to the action server ("Bot will continue, but the actions
events are lost") and sends nothing, so with the action server down the driver would get
silence. The channels here are Rasa's own REST and socket.io channels with one guard around
each turn:

- a turn during which Rasa reported an error (an action's result lost, the tracker store
  unreachable) or which raised, ends with an apology and the "Talk to a person" button;
- a turn that said nothing gets "I didn't understand" and the same button, unless the
  conversation is paused for a person (after a handoff the bot stays quiet on purpose);
- an empty or overlong message, or one without a letter or digit, is answered without running it
  through the model.

The REST channel also refuses malformed requests with 400 instead of failing with 500, and
records every turn as channel "rest" whatever `input_channel` the client claims.

credentials.yml registers `bot.rasa_plugins.channels.RestInput:` (URL and JSON unchanged:
POST /webhooks/rest/webhook). `bot.rasa_plugins.channels.SocketIOInput:` takes the same keys as `socketio:`.
"""
from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels import rest, socketio
from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage
from sanic import Blueprint, Sanic
from sanic.exceptions import InvalidUsage
from sanic.request import Request

from bot.conversation import replies
from bot.conversation.replies import Reply
from bot.rasa_plugins.stores import apply_action_endpoint

logger = logging.getLogger(__name__)

# A chat message, not a document: the model needs ~10 s for 100 kB of words, and meanwhile every
# other conversation on the server waits.
MAX_MESSAGE_CHARS = 2000
TURN_FAILED = replies.turn_failed()
NOT_UNDERSTOOD = replies.not_understood()
EMPTY_MESSAGE = replies.empty_message()
TOO_LONG = replies.too_long(MAX_MESSAGE_CHARS)
# The SQL tracker store keeps sender IDs in a VARCHAR(255).
MAX_SENDER_LENGTH = 255

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

# Errors Rasa logged while handling the current turn (one list per turn, via the task's context).
_turn_errors: ContextVar[Optional[List[logging.LogRecord]]] = ContextVar("turn_errors", default=None)


class _TurnErrors(logging.Handler):
    """Rasa reports a lost action result or tracker-store failure only in its log: collect those."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)

    def emit(self, record: logging.LogRecord) -> None:
        errors = _turn_errors.get()
        if errors is not None:
            errors.append(record)


_handler = _TurnErrors()
logging.getLogger("rasa").addHandler(_handler)


def _buttons(reply: Reply) -> List[Dict[Text, Any]]:
    return [{"title": b.title, "payload": b.payload} for b in reply.buttons]


async def _say(output: OutputChannel, recipient_id: Text, reply: Reply) -> None:
    if reply.buttons:
        await output.send_text_with_buttons(recipient_id, reply.text, _buttons(reply))
    else:
        await output.send_text_message(recipient_id, reply.text)


def _count_sent(output: OutputChannel) -> Callable[[], int]:
    """Counts the bot messages Rasa sends through `output` (every one goes through send_response)."""
    sent = [0]
    send_response = output.send_response

    async def counted(recipient_id: Text, message: Dict[Text, Any]) -> None:
        sent[0] += 1
        await send_response(recipient_id, message)

    output.send_response = counted  # type: ignore[method-assign]
    return lambda: sent[0]


def admission_reply(text: Optional[str]) -> Optional[Reply]:
    """The answer for a message that is not run through the model at all, or None to run it."""
    if not text or not text.strip():
        # Also: Rasa's LogisticRegressionClassifier raises on an empty message.
        return EMPTY_MESSAGE
    if len(text) > MAX_MESSAGE_CHARS:
        return TOO_LONG
    if not any(character.isalnum() for character in text):
        # Punctuation or emoji alone: no words for the model to go on, and it would guess ("..." as "yes").
        return NOT_UNDERSTOOD
    return None


class AnswersEveryTurn:
    """Mixin for an input channel: wraps Rasa's message handler with the guard described above."""

    def _guarded(self, on_new_message: OnNewMessage) -> OnNewMessage:
        async def handle(message: UserMessage) -> None:
            output = message.output_channel
            if message.text:
                # NUL means nothing in a chat message, and PostgreSQL cannot store it in a text column.
                message.text = message.text.replace("\x00", "")
            refusal = admission_reply(message.text)
            if refusal is not None:
                await _say(output, message.sender_id, refusal)
                return
            errors: List[logging.LogRecord] = []
            context = _turn_errors.set(errors)
            sent = _count_sent(output)
            try:
                await on_new_message(message)
                silent_and_open = sent() == 0 and not errors and not await _is_paused(message.sender_id)
            except Exception as error:  # noqa: BLE001 - the driver gets an answer whatever broke
                logger.exception("turn failed for conversation %s", message.sender_id)
                errors.append(logging.makeLogRecord({"name": __name__, "msg": type(error).__name__}))
                silent_and_open = False
            finally:
                _turn_errors.reset(context)
            if errors:
                logger.warning("conversation %s: %d error(s) during the turn; apologising",
                               message.sender_id, len(errors))
                unrecorded = any(r.name.startswith("rasa.core.tracker_store") for r in errors)
                if unrecorded and isinstance(output, CollectingOutputChannel) and isinstance(output.messages, list):
                    # The next turn will not remember this one: don't show an answer built on it.
                    output.messages.clear()
                await _say(output, message.sender_id, TURN_FAILED)
            elif silent_and_open:
                await _say(output, message.sender_id, NOT_UNDERSTOOD)

        return handle


async def _is_paused(sender_id: Text) -> bool:
    # Only asked when a turn said nothing. The agent lives on the one Sanic app of a Rasa server.
    tracker = await Sanic.get_app().ctx.agent.tracker_store.retrieve(sender_id)
    return tracker is not None and tracker.is_paused()


def _configured(blueprint: Blueprint) -> Blueprint:
    # The agent is loaded before the server starts; point it at the configured action server then.
    blueprint.listener("after_server_start")(apply_action_endpoint)
    return blueprint


def _json_object(request: Request) -> Dict[Text, Any]:
    try:
        body = request.json
    except Exception:  # noqa: BLE001 - Sanic's own parse error
        body = None
    if not isinstance(body, dict):
        raise InvalidUsage("The body must be a JSON object with 'sender' and 'message'.")
    return body


class RestInput(AnswersEveryTurn, rest.RestInput):
    """Rasa's REST channel (same name, URL and JSON), hardened against bad requests."""

    async def _extract_sender(self, req: Request) -> Optional[Text]:
        sender = _json_object(req).get("sender")
        if isinstance(sender, int) and not isinstance(sender, bool):
            sender = str(sender)
        if not isinstance(sender, str) or not 0 < len(sender) <= MAX_SENDER_LENGTH or not sender.isprintable():
            # Without a sender Rasa would put every such client into one shared conversation.
            raise InvalidUsage(f"'sender' must be a printable string of 1 to {MAX_SENDER_LENGTH} characters.")
        return sender

    def _extract_message(self, req: Request) -> Optional[Text]:
        text = _json_object(req).get("message")
        if text is not None and not isinstance(text, str):
            raise InvalidUsage("'message' must be a string.")
        return text

    def _extract_input_channel(self, req: Request) -> Text:
        # The handoff record names the channel: the client does not get to choose it.
        return self.name()

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        metadata = _json_object(request).get("metadata")
        return metadata if isinstance(metadata, dict) else None

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        return _configured(super().blueprint(self._guarded(on_new_message)))


class SocketIOInput(AnswersEveryTurn, socketio.SocketIOInput):
    """Rasa's socket.io channel with the same guard (the widget would otherwise go silent too)."""

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        return _configured(super().blueprint(self._guarded(on_new_message)))
