"""bot.rasa_plugins.lock_store.AtomicRedisLockStore on its own: processes taking one conversation's lock at once
get it one at a time (Rasa's own Redis lock store lets two in now and then: RasaHQ/rasa#9213)."""
from __future__ import annotations

import asyncio
import multiprocessing
import secrets
from urllib.parse import urlparse

from rasa.utils.endpoints import EndpointConfig

from bot.rasa_plugins.lock_store import AtomicRedisLockStore

ROUNDS = 60


def _store(redis_url: str) -> AtomicRedisLockStore:
    parts = urlparse(redis_url)
    return AtomicRedisLockStore(EndpointConfig(url=parts.hostname, port=parts.port or 6379))


def _take_turns(redis_url: str, conversation_id: str, counter_key: str, start) -> None:
    """Increments a counter inside the lock by read, pause, write: overlapping holders would lose increments."""
    store = _store(redis_url)
    start.wait()

    async def rounds() -> None:
        for _ in range(ROUNDS):
            async with store.lock(conversation_id, lock_lifetime=30, wait_time_in_seconds=0.005):
                value = int(store.red.get(counter_key) or 0)
                await asyncio.sleep(0.002)
                store.red.set(counter_key, value + 1)

    asyncio.run(rounds())


def test_processes_taking_one_conversation_lock_get_it_one_at_a_time(redis_url):
    conversation_id = f"scale-lock-{secrets.token_hex(6)}"
    counter_key = f"scale-lock-counter-{secrets.token_hex(6)}"
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [context.Process(target=_take_turns, args=(redis_url, conversation_id, counter_key, start))
               for _ in range(3)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(120)
    store = _store(redis_url)
    try:
        assert [w.exitcode for w in workers] == [0, 0, 0]
        assert int(store.red.get(counter_key)) == 3 * ROUNDS
        assert store.get_lock(conversation_id) is None  # nothing left behind
    finally:
        store.red.delete(counter_key)
