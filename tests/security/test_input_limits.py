"""Finding 2: bounded bodies, metadata, session IDs, rates and NLU work per message."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text

from bot.conversation import replies
from bot.rasa_plugins.channels import MAX_MESSAGE_CHARS, MAX_MESSAGE_WORDS, admission_reply
from tests.security.conftest import Client, texts, token_for

pytestmark = pytest.mark.e2e


def tracker_rows(stack, sender):
    engine = create_engine(stack.env["TRACKER_STORE_URL"])
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT data FROM events WHERE sender_id = :s"), {"s": sender}).all()
    engine.dispose()
    return [row.data for row in rows]


def test_a_large_body_is_refused_before_it_is_read(security_stack):
    client = Client(security_stack)
    response = client.post(f"big-{uuid.uuid4().hex[:8]}", "hello", {"junk": "x" * 1_000_000})
    assert response.status_code == 413


def test_only_a_verified_identity_is_kept_of_the_metadata(security_stack):
    client, sender = Client(security_stack), f"meta-{uuid.uuid4().hex[:8]}"
    token = token_for("wait")
    answer = client.post(sender, "my session is still active", {"identity": token, "junk": "J" * 40_000})
    assert answer.status_code == 200 and "SES-100001" in texts(answer.json())
    stored = "".join(tracker_rows(security_stack, sender))
    assert "JJJJ" not in stored
    assert all(part not in stored for part in token.split("."))  # not the token, nor any part of it
    assert '"sub": "demo-wait"' in stored  # the verified account is what the tracker keeps
    # Anything larger than 4 KB in `identity` is not even parsed: anonymous.
    huge = client.post(f"meta-{uuid.uuid4().hex[:8]}", "my session is still active", {"identity": "e" * 5000})
    assert huge.status_code == 200 and "SES-100001" not in texts(huge.json())


def test_a_locale_is_kept_only_in_the_shape_of_one(security_stack):
    for hostile in ("nl-NL<script>", "nl" + "-NL" * 20, {"nl": 1}, "../../etc"):
        sender = f"locale-{uuid.uuid4().hex[:8]}"
        assert Client(security_stack).post(sender, "hello", {"locale": hostile}).status_code == 200
        assert "locale" not in "".join(tracker_rows(security_stack, sender))
    sender = f"locale-{uuid.uuid4().hex[:8]}"
    Client(security_stack).post(sender, "hello", {"locale": "nl-NL"})
    assert '"locale": "nl-NL"' in "".join(tracker_rows(security_stack, sender))


def test_one_client_cannot_open_conversations_without_end(security_stack):
    client = Client(security_stack)
    statuses = [client.post(f"flood-{uuid.uuid4().hex}", "hello").status_code for _ in range(15)]
    assert statuses.count(200) <= 6 and statuses.count(429) >= 9
    refused = client.post(f"flood-{uuid.uuid4().hex}", "hello")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert refused.json()[0]["text"] == replies.rate_limited().text
    # Another client is not affected.
    assert Client(security_stack).post(f"other-{uuid.uuid4().hex}", "hello").status_code == 200


def test_one_conversation_cannot_send_without_end(security_stack):
    client, sender = Client(security_stack), f"chatty-{uuid.uuid4().hex[:8]}"
    statuses = [client.post(sender, "hello").status_code for _ in range(16)]
    assert statuses.count(429) >= 4


def test_nlu_work_per_message_is_bounded():
    assert admission_reply("a " * (MAX_MESSAGE_WORDS + 1)) == replies.too_long(MAX_MESSAGE_CHARS)
    assert admission_reply("x" * (MAX_MESSAGE_CHARS + 1)) == replies.too_long(MAX_MESSAGE_CHARS)
    assert admission_reply("my session is still active " * 10) is None
