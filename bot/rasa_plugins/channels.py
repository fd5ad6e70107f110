"""Rasa input channels that never leave a driver without an answer, and let nothing unbounded in.

Rasa 3.6 only logs a failed call to the action server ("Bot will continue, but the actions
events are lost") and sends nothing, so with the action server down the driver would get
silence. The channels here are Rasa's own REST and socket.io channels with one guard around
each turn:

- a turn during which Rasa reported an error (an action's result lost, the tracker store
  unreachable) or which raised, ends with an apology and the "Talk to a person" button;
- a turn that said nothing gets "I didn't understand" and the same button, unless the
  conversation is paused for a person (after a handoff the bot stays quiet on purpose);
- an empty or overlong message (over MAX_MESSAGE_CHARS characters or MAX_MESSAGE_WORDS words: the
  bound on NLU work per message), one without a letter or digit, and a raw `/intent{json}` command
  other than the bot's own button payloads are answered without running them through the model.

What they let in (the "Security" section of the README has the figures):
- Request bodies up to BOT_MAX_REQUEST_BYTES (64 KB; Sanic answers 413 beyond), socket.io packets
  likewise.
- Of the metadata only `identity`, a JWT of at most 4 KB. The channel verifies it and keeps a turn
  claim in its place (bot.domain.identity.turn_claim: the verified account and a MAC, never the
  token); anything else is dropped, so neither the user event nor Rasa's `session_started_metadata`
  slot stores what a client sends.
- Rate limits per client (address; BOT_PROXIES_COUNT trusted proxies), per conversation and on new
  conversations per client, with the `limits` library (in memory, or shared through
  BOT_RATE_LIMIT_STORAGE=redis://...). REST answers 429 with Retry-After and a message; socket.io
  answers the message.
- The speaker of each turn is handed to the tracker store (bot.rasa_plugins.stores.speaking), which
  starts a new session when it is not the identity that opened the conversation's current one.

The REST channel also refuses malformed requests with 400 instead of failing with 500, and
records every turn as channel "rest" whatever `input_channel` the client claims.

The socket.io channel accepts as conversation ID only the socket's own ID or one this server issued
(signed, so a reload can keep its conversation), awaits `enter_room` (RasaHQ/rasa#13027), accepts
only BOT_SOCKETIO_ORIGINS, and ignores malformed events with a warning instead of failing a task.

credentials.yml registers `bot.rasa_plugins.channels.RestInput:` (URL and JSON unchanged:
POST /webhooks/rest/webhook). `bot.rasa_plugins.channels.SocketIOInput:` takes the same keys as `socketio:`.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections import OrderedDict
from contextvars import ContextVar
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from limits import parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from rasa.core.channels import rest, socketio
from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage
from sanic import Blueprint, Sanic, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from socketio import AsyncServer

from bot.conversation import replies
from bot.conversation.replies import Reply
from bot.conversation.texts import choose_language, in_language
from bot.domain.identity import claimed_account, turn_claim, verify_token
from bot.rasa_plugins import action_results
from bot.rasa_plugins.stores import speaking
from bot.settings import ChannelLimits, Settings, get_settings

logger = logging.getLogger(__name__)
action_results.install()  # every Rasa server of the project loads this module

# A chat message, not a document. NLU work grows with the number of tokens (DIET's attention
# quadratically): measured on this model, 500 one-letter words take 0.18 s, 100 words under 0.04 s.
MAX_MESSAGE_CHARS = 1000
MAX_MESSAGE_WORDS = 120
MAX_IDENTITY_BYTES = 4096
# A locale tag as apps send it ("nl-NL", "nl_BE", "en"); kept only in this shape.
_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,3}")
MAX_LOCALE_CHARS = 35
# The SQL tracker store keeps sender IDs in a VARCHAR(255).
MAX_SENDER_LENGTH = 255
# socket.io conversation IDs: a socket ID or one we issued (hex, a dot, hex).
_SESSION_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# The only raw commands a driver may send: the payloads of the bot's own buttons (bot.conversation.replies).
_BUTTON_PAYLOAD = re.compile(r'/(?:request_human|kwh_increasing|kwh_not_increasing|inform\{"session_id":"SES-[0-9]{1,12}"\})')

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
        return replies.empty_message()
    if len(text) > MAX_MESSAGE_CHARS or len(text.split()) > MAX_MESSAGE_WORDS:
        return replies.too_long(MAX_MESSAGE_CHARS)
    if not any(character.isalnum() for character in text):
        # Punctuation or emoji alone: no words for the model to go on, and it would guess ("..." as "yes").
        return replies.not_understood()
    if text.lstrip().startswith("/") and not _BUTTON_PAYLOAD.fullmatch(text.strip()):
        # Rasa reads `/intent{json}` as an intent with entities, from any channel: only the bot's own
        # buttons may use that (a forged `/inform{"time": ...}` would set any slot to anything).
        return replies.not_understood()
    return None


def message_language(text: Optional[str], metadata: Optional[Dict[Text, Any]], tracker: Any = None) -> str:
    """The language of the channel's own answers: the conversation's (bot.conversation.texts.choose_language)."""
    locale = (metadata or {}).get("locale")
    current = tracker.get_slot("language") if tracker is not None else None
    return choose_language(text[:MAX_MESSAGE_CHARS] if isinstance(text, str) else None,
                           locale if isinstance(locale, str) else None,
                           current if isinstance(current, str) else None)


# --- metadata: only the identity, verified, as a claim ------------------------------------------

def sanitized_metadata(raw: Any, sender_id: Text, settings: Settings) -> Dict[Text, Any]:
    """What of a client's metadata Rasa gets to store: `{"identity": <turn claim>}` when it carries a
    valid identity token (the token itself is never passed on), and `{"locale": ...}` when it names one
    in the shape of a locale tag; nothing else."""
    if isinstance(raw, str) and len(raw) <= 2 * MAX_IDENTITY_BYTES:
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    if not isinstance(raw, dict):
        return {}
    kept: Dict[Text, Any] = {}
    locale = raw.get("locale")
    if isinstance(locale, str) and len(locale) <= MAX_LOCALE_CHARS and _LOCALE.fullmatch(locale):
        kept["locale"] = locale
    token = raw.get("identity")
    if not isinstance(token, str) or not token or len(token) > MAX_IDENTITY_BYTES:
        return kept
    identity = verify_token(token, settings.identity_secret, settings.token_policy)
    if identity is not None:
        kept["identity"] = turn_claim(identity, sender_id, settings.identity_secret)
    return kept


# --- rate limits ----------------------------------------------------------------------------------

class RateLimited(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"rate limited; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class Admission:
    """Per-client, per-conversation and new-conversation rate limits (the `limits` library)."""

    MAX_REMEMBERED = 100_000

    def __init__(self, limits: ChannelLimits) -> None:
        # The limiter keeps only a weak reference to its storage: this object holds it.
        self.storage = storage_from_string(limits.rate_storage)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.per_client = parse_many(limits.rate_client)
        self.per_conversation = parse_many(limits.rate_conversation)
        self.new_conversations = parse_many(limits.rate_new_conversations)
        self._seen: "OrderedDict[str, None]" = OrderedDict()
        self.refused = 0

    def check(self, client: str, conversation: Optional[str], new: bool = False) -> None:
        """Raises RateLimited when this message (of a new or known conversation), or this new
        connection (`new`), is one too many."""
        checks = [(item, "client", client) for item in self.per_client]
        if conversation is not None:
            checks += [(item, "conversation", conversation) for item in self.per_conversation]
            new = new or conversation not in self._seen
        if new:
            checks += [(item, "new", client) for item in self.new_conversations]
        try:
            for item, kind, key in checks:
                if not self.limiter.test(item, kind, key):
                    self.refused += 1
                    reset, _ = self.limiter.get_window_stats(item, kind, key)
                    raise RateLimited(max(1, int(reset - time.time()) + 1))
            for item, kind, key in checks:
                self.limiter.hit(item, kind, key)
        except RateLimited:
            raise
        except Exception:  # noqa: BLE001 - the limits' storage (Redis) is down: let the driver through
            logger.warning("rate-limit storage unavailable; message admitted", exc_info=True)
            return
        if conversation is not None:
            self.remember(conversation)

    def remember(self, conversation: str) -> None:
        """A conversation already counted as new (a socket.io connection's)."""
        self._seen[conversation] = None
        self._seen.move_to_end(conversation)
        while len(self._seen) > self.MAX_REMEMBERED:
            self._seen.popitem(last=False)


def _configure_app(limits: ChannelLimits):
    async def configure(app: Sanic, *_: Any) -> None:
        app.config.REQUEST_MAX_SIZE = limits.max_request_bytes
        if limits.proxies_count:
            app.config.PROXIES_COUNT = limits.proxies_count
        if not getattr(app.ctx, "bot_hides_version", False):
            app.ctx.bot_hides_version = True
            app.register_middleware(_hide_version, "request")
    return configure


async def _hide_version(request: Request):
    # Rasa answers GET / with "Hello from Rasa: <version>": nobody needs the version.
    if request.path == "/" and request.method in ("GET", "HEAD"):
        return response.text("Hello from the charging assistant.")
    return None


def _configured(blueprint: Blueprint, limits: ChannelLimits) -> Blueprint:
    blueprint.listener("before_server_start")(_configure_app(limits))
    return blueprint


def client_of(request: Request) -> str:
    """The client's address: the peer, or what BOT_PROXIES_COUNT trusted proxies say it is."""
    return request.remote_addr or request.ip or "unknown"


# --- the guard around every turn ------------------------------------------------------------------

class AnswersEveryTurn:
    """Mixin for an input channel: wraps Rasa's message handler with the guard described above."""

    def _guarded(self, on_new_message: OnNewMessage) -> OnNewMessage:
        async def handle(message: UserMessage) -> None:
            output = message.output_channel
            if message.text:
                # NUL means nothing in a chat message, and PostgreSQL cannot store it in a text column.
                message.text = message.text.replace("\x00", "")
            if admission_reply(message.text) is not None:
                # Refused unread; told why in the driver's language (detected only then: it costs a model load).
                with in_language(message_language(message.text, message.metadata)):
                    await _say(output, message.sender_id, admission_reply(message.text))
                return
            errors: List[logging.LogRecord] = []
            context = _turn_errors.set(errors)
            sent = _count_sent(output)
            paused_reference: Optional[Text] = None
            tracker: Any = None
            try:
                with speaking(claimed_account(message.metadata)):
                    await on_new_message(message)
                silent = sent() == 0 and not errors
                tracker = await _tracker(message.sender_id) if silent else None
                paused_reference = _paused_reference(tracker)
                silent_and_open = silent and paused_reference is None
            except Exception as error:  # noqa: BLE001 - the driver gets an answer whatever broke
                logger.exception("turn failed for conversation %s", message.sender_id)
                errors.append(logging.makeLogRecord({"name": __name__, "msg": type(error).__name__}))
                silent_and_open = False
            finally:
                _turn_errors.reset(context)
            if not (errors or silent_and_open or paused_reference):
                return
            tracker = tracker or await _tracker(message.sender_id)
            with in_language(message_language(message.text, message.metadata, tracker)):
                if errors:
                    logger.warning("conversation %s: %d error(s) during the turn; apologising",
                                   message.sender_id, len(errors))
                    unrecorded = any(r.name.startswith("rasa.core.tracker_store") for r in errors)
                    if unrecorded and isinstance(output, CollectingOutputChannel) and isinstance(output.messages, list):
                        # The next turn will not remember this one: don't show an answer built on it.
                        output.messages.clear()
                    await _say(output, message.sender_id, replies.turn_failed())
                elif silent_and_open:
                    await _say(output, message.sender_id, replies.not_understood())
                else:
                    # Handed off: the assistant stays out of the way, but "what happens now?" gets the reference.
                    await _say(output, message.sender_id, replies.paused_reminder(paused_reference))

        return handle


async def _tracker(sender_id: Text) -> Any:
    """The conversation's tracker, or None when it cannot be read (then the answer is still given).
    The agent lives on the one Sanic app of a Rasa server."""
    try:
        return await Sanic.get_app().ctx.agent.tracker_store.retrieve(sender_id)
    except Exception:  # noqa: BLE001 - a store that is down must not silence the apology
        logger.warning("conversation %s: tracker not readable for the apology's language", sender_id)
        return None


def _paused_reference(tracker: Any) -> Optional[Text]:
    """The handoff reference of a paused conversation ("" when paused without one), else None.
    Only asked when a turn said nothing."""
    if tracker is None or not tracker.is_paused():
        return None
    reference = tracker.get_slot("handoff_reference")
    return reference if isinstance(reference, str) else ""


def _json_object(request: Request) -> Dict[Text, Any]:
    try:
        body = request.json
    except Exception:  # noqa: BLE001 - Sanic's own parse error
        body = None
    if not isinstance(body, dict):
        raise InvalidUsage("The body must be a JSON object with 'sender' and 'message'.")
    return body


class _Limited:
    """What both channels share: settings, limits and the rate limiter, made once per channel."""

    def _setup_limits(self) -> None:
        self.settings: Settings = get_settings()
        self.limits: ChannelLimits = self.settings.channel_limits
        self.admission = Admission(self.limits)


class RestInput(AnswersEveryTurn, _Limited, rest.RestInput):
    """Rasa's REST channel (same name, URL and JSON), hardened against bad and abusive requests."""

    def __init__(self) -> None:
        super().__init__()
        self._setup_limits()

    async def _extract_sender(self, req: Request) -> Optional[Text]:
        sender = _json_object(req).get("sender")
        if isinstance(sender, int) and not isinstance(sender, bool):
            sender = str(sender)
        if not isinstance(sender, str) or not 0 < len(sender) <= MAX_SENDER_LENGTH or not sender.isprintable():
            # Without a sender Rasa would put every such client into one shared conversation.
            raise InvalidUsage(f"'sender' must be a printable string of 1 to {MAX_SENDER_LENGTH} characters.")
        self.admission.check(client_of(req), sender)
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
        body = _json_object(request)
        return sanitized_metadata(body.get("metadata"), str(body.get("sender")), self.settings) or None

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        blueprint = super().blueprint(self._guarded(on_new_message))

        @blueprint.exception(RateLimited)
        async def too_many(request: Request, error: RateLimited):
            body = request.json if isinstance(request.json, dict) else {}
            sender, metadata = body.get("sender"), body.get("metadata")
            with in_language(message_language(body.get("message"), metadata if isinstance(metadata, dict) else None)):
                text = replies.rate_limited().text
            return response.json([{"recipient_id": sender, "text": text}], status=429,
                                 headers={"Retry-After": str(error.retry_after_s)})

        return _configured(blueprint, self.limits)


class SocketIOInput(AnswersEveryTurn, _Limited, socketio.SocketIOInput):
    """Rasa's socket.io channel with the same guard, and conversations that belong to their sockets."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._setup_limits()
        secret = self.settings.identity_secret or secrets.token_hex(32)
        self._session_key = hmac.new(secret.encode(), b"socket.io session ids v1", hashlib.sha256).digest()

    # Server-issued conversation IDs: random, with a MAC, so a client cannot pick another's conversation.
    def issue_session_id(self) -> str:
        nonce = secrets.token_hex(16)
        return f"{nonce}.{hmac.new(self._session_key, nonce.encode(), hashlib.sha256).hexdigest()[:24]}"

    def _issued_by_us(self, session_id: str) -> bool:
        nonce, _, mac = session_id.partition(".")
        expected = hmac.new(self._session_key, nonce.encode(), hashlib.sha256).hexdigest()[:24]
        return len(nonce) == 32 and hmac.compare_digest(mac.encode(), expected.encode())

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        handle = self._guarded(on_new_message)
        origins = list(self.limits.socketio_origins)
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins="*" if "*" in origins else origins,
                          max_http_buffer_size=self.limits.max_request_bytes)
        socketio_webhook = socketio.SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        self.sio = sio
        conversation_of: Dict[str, str] = {}  # socket ID -> its conversation ID
        namespace = self.namespace

        def client(sid: str) -> str:
            try:
                request = sio.get_environ(sid, namespace=namespace).get("sanic.request")
                return client_of(request) if request is not None else "unknown"
            except Exception:  # noqa: BLE001
                return "unknown"

        @socketio_webhook.route("/", methods=["GET"])
        async def health(_: Request):
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            try:
                self.admission.check(_environ_client(environ), None, new=True)
            except RateLimited:
                logger.warning("socket.io connection refused: rate limit")
                return False
            return True

        @sio.on("disconnect", namespace=namespace)
        async def disconnect(sid: Text) -> None:
            conversation_of.pop(sid, None)

        @sio.on("session_request", namespace=namespace)
        async def session_request(sid: Text, data: Any = None) -> None:
            try:
                asked = data.get("session_id") if isinstance(data, dict) else None
                if isinstance(asked, str) and _SESSION_ID.fullmatch(asked) and (asked == sid or self._issued_by_us(asked)):
                    session_id = asked
                else:
                    if asked:
                        logger.info("socket.io session request for a conversation this socket may not join: "
                                    "issuing a new one")
                    session_id = self.issue_session_id()
                conversation_of[sid] = session_id
                self.admission.remember(session_id)  # counted when the socket connected
                if self.session_persistence:
                    await sio.enter_room(sid, session_id, namespace=namespace)
                await sio.emit("session_confirm", session_id, room=sid, namespace=namespace)
            except Exception:  # noqa: BLE001 - never an unretrieved task exception
                logger.warning("socket.io session_request failed", exc_info=True)

        @sio.on(self.user_message_evt, namespace=namespace)
        async def handle_message(sid: Text, data: Any = None) -> None:
            try:
                if not isinstance(data, dict):
                    logger.warning("socket.io %s ignored: not an object", self.user_message_evt)
                    return
                sender_id = conversation_of.get(sid) if self.session_persistence else sid
                if sender_id is None:
                    logger.warning("socket.io message before session_request: ignored")
                    return
                if data.get("session_id") not in (None, sender_id):
                    logger.warning("socket.io message for another conversation than its socket's: ignored")
                    return
                output = socketio.SocketIOOutput(sio, self.bot_message_evt)
                try:
                    self.admission.check(client(sid), sender_id)
                except RateLimited:
                    with in_language(message_language(data.get("message"), data.get(self.metadata_key)
                                                      if isinstance(data.get(self.metadata_key), dict) else None)):
                        await _say(output, sender_id, replies.rate_limited())
                    return
                text = data.get("message", "")
                message = UserMessage(text if isinstance(text, str) else "", output, sender_id,
                                      input_channel=self.name(),
                                      metadata=sanitized_metadata(data.get(self.metadata_key), sender_id,
                                                                  self.settings) or None)
                await handle(message)
            except Exception:  # noqa: BLE001 - never an unretrieved task exception
                logger.warning("socket.io message failed", exc_info=True)

        return _configured(socketio_webhook, self.limits)


def _environ_client(environ: Dict) -> str:
    request = environ.get("sanic.request") if isinstance(environ, dict) else None
    if request is not None:
        return client_of(request)
    return str(environ.get("REMOTE_ADDR", "unknown")) if isinstance(environ, dict) else "unknown"
