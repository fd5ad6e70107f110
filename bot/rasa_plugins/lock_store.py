"""Rasa's Redis lock store, with every change to a conversation's lock made atomically.

Rasa 3.6's `RedisLockStore` reads a conversation's ticket lock, changes it in Python and writes
it back in separate calls. When two Rasa servers receive messages of one conversation at the
same moment (a double-tapped send, a retry routed elsewhere), both can read "no lock", both
issue ticket 0 and both process at once: one turn's events are lost, or one server finds its
lock gone and fails with LockError (RasaHQ/rasa#9213; the upstream fix, PR #11256, was
reverted). Here each read-change-write is one Redis transaction (WATCH/MULTI/EXEC), retried
when another server changed the lock in between.

endpoints.yml selects it through the environment: LOCK_STORE_TYPE=bot.rasa_plugins.lock_store.AtomicRedisLockStore
(with LOCK_STORE_HOST, LOCK_STORE_PORT as for `redis`).
"""
from __future__ import annotations

import json
import logging
from typing import Callable, Optional, Text, Tuple, TypeVar

import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

T = TypeVar("T")
# The change to apply: the current lock (None: none stored) -> (lock to store or None to delete, result).
Change = Callable[[Optional[TicketLock]], Tuple[Optional[TicketLock], T]]


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: EndpointConfig) -> None:
        # Rasa builds custom lock stores from the endpoint config; `url` is the Redis host, as for `redis`.
        super().__init__(host=endpoint_config.url, **endpoint_config.kwargs)

    def _transact(self, conversation_id: Text, change: Change) -> T:
        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    stored = pipe.get(key)
                    lock = TicketLock.from_dict(json.loads(stored)) if stored else None
                    new_lock, result = change(lock)
                    pipe.multi()
                    if new_lock is None:
                        pipe.delete(key)
                    else:
                        pipe.set(key, new_lock.dumps())
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue  # another server changed this lock meanwhile: read it again

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def issue(lock: Optional[TicketLock]) -> Tuple[TicketLock, int]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._transact(conversation_id, issue)
        except Exception as error:  # noqa: BLE001 - Rasa expects LockError from here
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: Text) -> None:
        def drop_expired(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._transact(conversation_id, drop_expired)

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        def finish(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], None]:
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return lock, None

        self._transact(conversation_id, finish)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        # Finishing and deleting in one step: nobody can queue up between "no one waiting" and the delete.
        def finish_and_drop_if_idle(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], None]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return (lock if lock.is_someone_waiting() else None), None

        self._transact(conversation_id, finish_and_drop_if_idle)
