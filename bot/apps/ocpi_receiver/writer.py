"""Group commit: one writer thread per receiver process writes what arrived meanwhile in one transaction.

Every request still gets its own answer only after its transaction committed; under load many PATCHes
share one commit (and one round of statements), which is what lets a small machine take thousands a second.
"""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
from typing import Any, List, Tuple

from bot.store.ocpi_ingest import HeldConnection, OcpiStore, Result

log = logging.getLogger(__name__)
_STOP = object()


class GroupWriter:
    def __init__(self, store: OcpiStore, max_batch: int = 200, threads: int = 2):
        self.store = store
        self.max_batch = max_batch
        self.threads = threads
        self._queue: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        self._threads: List[threading.Thread] = []
        self.batches = 0
        self.ops = 0

    def start(self) -> "GroupWriter":
        # Two writers per process: one batch is built while the other waits for its commit. Their order
        # does not matter: the data rules end in the same state whatever order updates are applied in, and
        # row locks (PostgreSQL) or the write lock (SQLite) keep two batches off the same rows at once.
        self._threads = [threading.Thread(target=self._run, name=f"ocpi-writer-{n}", daemon=True)
                         for n in range(self.threads)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        for _ in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join(timeout_s)
        self._threads = []

    def submit(self, op: Any) -> "asyncio.Future[Result]":
        """Queues a checked op; the future resolves on the caller's loop once its transaction committed."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((op, future, loop))
        return future

    def _run(self) -> None:
        held = HeldConnection(self.store.engine)
        try:
            self._loop(held)
        finally:
            held.close()

    def _loop(self, held: HeldConnection) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch: List[Tuple[Any, asyncio.Future, asyncio.AbstractEventLoop]] = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            try:
                results = self.store.apply([op for op, _, _ in batch], held)
            except Exception:  # noqa: BLE001 - the writer must outlive any one batch
                log.exception("OCPI writer: batch failed")
                results = [Result(3000, "could not store the object; try again", 503)] * len(batch)
            self.batches += 1
            self.ops += len(batch)
            by_loop = {}
            for (_, future, loop), result in zip(batch, results):
                by_loop.setdefault(loop, []).append((future, result))
            for loop, pairs in by_loop.items():
                try:
                    loop.call_soon_threadsafe(_resolve, pairs)
                except RuntimeError:  # that loop is closed: nobody waits any more
                    pass
            if stop:
                return


def _resolve(pairs) -> None:
    for future, result in pairs:
        if not future.done():
            future.set_result(result)
