"""Replays the conversation mix through Rasa's REST channel, N conversations at a time.

Bounded twice: a fixed number of conversations per phase, and a wall-clock cap after which no
new conversation starts. Talks to 127.0.0.1 only (the URL comes from the stack we started).
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import aiohttp

from bench.conversations import MIX, Conversation, answered_as_expected, button_payload, metadata_for
from bench.stats import latency_summary

REST_PATH = "/webhooks/rest/webhook"
REQUEST_TIMEOUT_S = 30.0


@dataclass
class TurnResult:
    conversation: str
    turn: int
    seconds: Optional[float]       # None: nothing was sent (the button to press was missing)
    ok: bool                       # answered with what the mix expects
    error: Optional[str] = None    # no answer at all (HTTP error, timeout, missing button)


@dataclass
class PhaseResult:
    concurrency: int
    wall_s: float
    conversations: int
    turns: List[TurnResult] = field(default_factory=list)
    cut_short: bool = False  # the time cap stopped the phase before every conversation had run

    def latencies(self) -> List[float]:
        return [t.seconds for t in self.turns if t.seconds is not None]

    def summary(self) -> Dict:
        answered = [t for t in self.turns if t.error is None]  # wrong answers cost the server as much
        failed = [t for t in self.turns if not t.ok]
        return {
            "concurrency": self.concurrency,
            "conversations": self.conversations,
            "turns": len(self.turns),
            "failed_turns": len(failed),
            "failures": sorted({f"{t.conversation}, turn {t.turn}: {t.error or 'unexpected answer'}"
                                for t in failed})[:12],
            "wall_s": round(self.wall_s, 2),
            "throughput_turns_per_s": round(len(answered) / self.wall_s, 2) if self.wall_s else None,
            "throughput_conversations_per_s": round(self.conversations / self.wall_s, 2) if self.wall_s else None,
            "latency": latency_summary(self.latencies()),
            "cut_short": self.cut_short,
        }


async def run_conversation(http: aiohttp.ClientSession, url: str, conversation: Conversation, sender: str,
                           secret: str) -> List[TurnResult]:
    """One conversation, turn by turn; stops at the first turn that errs (the rest would be meaningless)."""
    metadata = metadata_for(conversation, secret)
    results: List[TurnResult] = []
    previous: List[Dict] = []
    for number, turn in enumerate(conversation.turns, start=1):
        text = turn.say if turn.say is not None else button_payload(previous, turn.button or "")
        if text is None:
            results.append(TurnResult(conversation.name, number, None, False, f"no button {turn.button!r}"))
            break
        body: Dict = {"sender": sender, "message": text}
        if metadata:
            body["metadata"] = metadata
        started = time.perf_counter()
        try:
            async with http.post(url, json=body) as response:
                response.raise_for_status()
                previous = await response.json()
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            results.append(TurnResult(conversation.name, number, time.perf_counter() - started, False,
                                      type(error).__name__))
            break
        results.append(TurnResult(conversation.name, number, time.perf_counter() - started,
                                  answered_as_expected(turn, previous)))
    return results


async def run_phase(base_url: str, secret: str, concurrency: int, conversations: int, max_seconds: float,
                    tag: str, mix: Sequence[Conversation] = MIX) -> PhaseResult:
    """`conversations` conversations from the mix, `concurrency` of them in flight at any time."""
    url = base_url.rstrip("/") + REST_PATH
    next_index = 0
    turns: List[TurnResult] = []
    finished = 0
    started = time.perf_counter()
    deadline = started + max_seconds

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal next_index, finished
        while next_index < conversations and time.perf_counter() < deadline:
            index, next_index = next_index, next_index + 1
            conversation = mix[index % len(mix)]
            turns.extend(await run_conversation(http, url, conversation, f"bench-{tag}-{index}", secret))
            finished += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
    return PhaseResult(concurrency, time.perf_counter() - started, finished, turns,
                       cut_short=finished < conversations)


def phase(base_url: str, secret: str, concurrency: int, conversations: int, max_seconds: float,
          tag: str) -> PhaseResult:
    return asyncio.run(run_phase(base_url, secret, concurrency, conversations, max_seconds, tag))
