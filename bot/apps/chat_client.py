"""A terminal chat over Rasa's REST channel, as the in-app chat talks to it (identity and locale in metadata)."""
from __future__ import annotations

import uuid
from typing import Callable, Dict, List, Optional

import requests

REST_PATH = "/webhooks/rest/webhook"


class RestChat:
    """One conversation with the assistant through the REST channel."""

    def __init__(self, base_url: str, token: Optional[str] = None, sender: Optional[str] = None,
                 timeout_s: float = 30.0, locale: Optional[str] = None):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.locale = locale  # the app's locale, e.g. "nl-NL"
        self.sender = sender or f"cli-{uuid.uuid4().hex[:12]}"
        self.timeout_s = timeout_s
        self._http = requests.Session()

    def send(self, text: str) -> List[Dict]:
        body: Dict = {"sender": self.sender, "message": text}
        metadata = {key: value for key, value in (("identity", self.token), ("locale", self.locale)) if value}
        if metadata:
            body["metadata"] = metadata
        response = self._http.post(self.base_url + REST_PATH, json=body, timeout=self.timeout_s)
        response.raise_for_status()
        return response.json()


def texts(messages: List[Dict]) -> str:
    """The text of the bot's messages of one turn, joined (buttons and images have none)."""
    return " ".join(m.get("text") or "" for m in messages)


def render(messages: List[Dict]) -> List[str]:
    lines = []
    for message in messages:
        if message.get("text"):
            lines.append(f"Bot: {message['text']}")
        for number, button in enumerate(message.get("buttons") or [], start=1):
            lines.append(f"     [{number}] {button.get('title')}")
    return lines


def chat_loop(chat: RestChat, read: Callable[[str], str] = input, write: Callable[[str], None] = print) -> None:
    write("Type a message (a button's number picks it; Ctrl-D or /quit leaves).")
    buttons: List[Dict] = []
    while True:
        try:
            text = read("You: ").strip()
        except (EOFError, KeyboardInterrupt):
            write("")
            return
        if text in ("/quit", "/exit"):
            return
        if not text:
            continue
        if text.isdigit() and 1 <= int(text) <= len(buttons):
            text = buttons[int(text) - 1]["payload"]
        try:
            messages = chat.send(text)
        except requests.RequestException as error:
            write(f"(The assistant can't be reached: {type(error).__name__}. Is it running?)")
            continue
        buttons = [b for m in messages for b in (m.get("buttons") or [])]
        for line in render(messages) or ["(no answer: the conversation is paused for a person)"]:
            write(line)
