"""One conversation whose turns are spread over several Rasa servers, as a load balancer would."""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from bot.apps.chat_client import RestChat, texts


class SpreadChat:
    """Sends each turn to the next server (or the one named); remembers what was said and answered."""

    def __init__(self, urls: Sequence[str], sender: str, token: Optional[str] = None, first: int = 0,
                 timeout_s: float = 60.0):
        self.sender = sender
        self._chats = [RestChat(url, token=token, sender=sender, timeout_s=timeout_s) for url in urls]
        self._next = first
        self.sent: List[str] = []
        self.answers: List[List[Dict]] = []

    def send(self, text: str, server: Optional[int] = None) -> List[Dict]:
        if server is None:
            server = self._next % len(self._chats)
            self._next += 1
        messages = self._chats[server].send(text)
        self.sent.append(text)
        self.answers.append(messages)
        return messages

    def say(self, text: str, server: Optional[int] = None) -> str:
        return texts(self.send(text, server))
