"""The tracker store on SQLite: conversations kept across store instances (a restarted Rasa server),
pooled connections in WAL mode, the file private, and a new session when another identity speaks."""
import asyncio
import os
import sqlite3
import stat

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_plugins.stores import ConfiguredTrackerStore, speaking


@pytest.fixture
def store_url(tmp_path, monkeypatch):
    path = tmp_path / "convs" / "tracker.db"
    monkeypatch.setenv("TRACKER_STORE_URL", f"sqlite:///{path}")
    return path


def _conversation(sender: str, account) -> DialogueStateTracker:
    metadata = {"identity": {"sub": account}} if account else {}
    tracker = DialogueStateTracker.from_events(sender, [
        ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
        UserUttered("my session is still active", {"name": "session_still_active"}, metadata=metadata),
        BotUttered("Sessions close automatically after 72 hours."),
    ])
    return tracker


def test_a_conversation_survives_a_new_store_and_the_file_is_private_and_in_wal(store_url):
    asyncio.run(ConfiguredTrackerStore(Domain.empty()).save(_conversation("c1", None)))

    again = asyncio.run(ConfiguredTrackerStore(Domain.empty()).retrieve("c1"))

    assert again is not None
    assert [e.text for e in again.events if isinstance(e, UserUttered)] == ["my session is still active"]
    assert stat.S_IMODE(os.stat(store_url).st_mode) == 0o600
    with sqlite3.connect(store_url) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_store_keeps_its_connections_open_between_turns(store_url):
    store = ConfiguredTrackerStore(Domain.empty())
    asyncio.run(store.save(_conversation("c2", None)))
    asyncio.run(store.retrieve("c2"))
    # Rasa's own engine would open the file anew per read (NullPool): ours checks one back in.
    assert store.engine.pool.checkedin() >= 1


def test_another_identity_speaking_starts_a_new_session(store_url):
    store = ConfiguredTrackerStore(Domain.empty())
    asyncio.run(store.save(_conversation("shared-device", "ACC-1")))

    async def read_as(account):
        with speaking(account):
            return await store.retrieve("shared-device")

    same = asyncio.run(read_as("ACC-1"))
    other = asyncio.run(read_as("ACC-2"))
    assert not isinstance(list(same.events)[-1], SessionStarted)
    assert isinstance(list(other.events)[-1], SessionStarted)
