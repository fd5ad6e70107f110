"""Hostile messages through the REST channel of the embedded stack (SQLite, one Rasa server).

FUZZ_REST_MESSAGES sets the number of requests (default 12,000: at least 10,000 hostile messages and
malformed requests besides the ordinary openers; about 4 minutes on 2 cores).
"""
from __future__ import annotations

import os
import time

import pytest

from tests.fuzz.rest_fuzz import run_rest_fuzz

pytestmark = pytest.mark.e2e

MESSAGES = int(os.environ.get("FUZZ_REST_MESSAGES", "12000"))


# About 4.5 minutes here: room above pytest.ini's 10-minute bound for a slower machine.
@pytest.mark.timeout(1800)
def test_hostile_messages_through_the_rest_channel(fuzz_stack):
    started = time.monotonic()
    stats = run_rest_fuzz([fuzz_stack.url], fuzz_stack.settings,
                          [fuzz_stack.rasa[0].log_path, fuzz_stack.actions.log_path], MESSAGES, "fuzz-rest")
    elapsed = time.monotonic() - started
    print(f"\nREST: {stats['requests']} requests in {elapsed:.0f} s ({stats['requests'] / elapsed:.1f}/s): "
          f"{stats['messages']} hostile messages ({stats['with valid token']} with a valid token), "
          f"{stats['malformed']} malformed requests, {stats['openers']} openers, {stats['cases']} conversations, "
          f"{stats['handoffs']} handoffs")
    # Most requests are hostile; the rest open a conversation the hostile ones then land in.
    assert stats["messages"] + stats["malformed"] >= 0.8 * MESSAGES
