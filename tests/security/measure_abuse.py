"""The figures of issue 12's report: bytes stored, requests refused and a driver's latency under abuse,
on a stack with the production limits (one trusted proxy, so each abuser is a client address of its own).

    .venv/bin/python -m tests.security.measure_abuse        # about 3 minutes on 2 cores
"""
from __future__ import annotations

import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

from bot.apps.chat_client import REST_PATH
from bot.apps.model_build import ensure_model
from bot.settings import PROJECT_ROOT, settings_from_env
from bot.store.seed import seed_demo
from harness.stack import embedded_env, start_stack
from tests.conftest import TEST_SECRET
from tests.security.conftest import token_for

PRODUCTION_LIMITS = {"BOT_PROXIES_COUNT": "1", "BOT_RATE_LIMIT_CLIENT": "60/minute;1000/hour",
                     "BOT_RATE_LIMIT_CONVERSATION": "15/minute;200/hour",
                     "BOT_RATE_LIMIT_NEW_CONVERSATIONS": "10/minute;100/hour"}


def tracker_bytes(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        total = connection.execute(text("SELECT COALESCE(SUM(LENGTH(data) + LENGTH(sender_id)), 0) FROM events")).scalar()
    engine.dispose()
    return int(total)


def post(base, sender, message, metadata=None, client="10.0.0.1", body=None):
    payload = body if body is not None else json.dumps({"sender": sender, "message": message,
                                                        **({"metadata": metadata} if metadata else {})})
    started = time.perf_counter()
    response = requests.post(base + REST_PATH, data=payload, timeout=120,
                             headers={"Content-Type": "application/json", "X-Forwarded-For": client})
    return response, time.perf_counter() - started


def main() -> None:
    model = ensure_model(PROJECT_ROOT)
    run_dir = Path(tempfile.mkdtemp(prefix="measure-"))
    env = dict(embedded_env(os.environ, run_dir, TEST_SECRET), **PRODUCTION_LIMITS)
    seed_demo(settings_from_env(env))
    stack = start_stack(model, run_dir, env)
    figures = {}
    try:
        stack.wait_ready()
        base, tracker = stack.url, env["TRACKER_STORE_URL"]
        # 1. metadata
        for label, size in (("50 MB", 50_000_000), ("4 MB", 4_000_000), ("60 kB", 60_000)):
            before = tracker_bytes(tracker)
            response, _ = post(base, f"meta-{uuid.uuid4().hex[:8]}", "hello", {"junk": "x" * size},
                               client=f"10.1.0.{len(figures) + 1}")
            figures[f"metadata {label}: status, tracker bytes added"] = (response.status_code,
                                                                         tracker_bytes(tracker) - before)
        before = tracker_bytes(tracker)
        post(base, f"plain-{uuid.uuid4().hex[:8]}", "hello", client="10.1.1.1")
        figures["plain 'hello' turn: tracker bytes added"] = tracker_bytes(tracker) - before
        before = tracker_bytes(tracker)
        post(base, f"login-{uuid.uuid4().hex[:8]}", "hello", {"identity": token_for("wait")}, client="10.1.1.2")
        figures["logged-in 'hello' turn: tracker bytes added (claim, no token)"] = tracker_bytes(tracker) - before
        # 2. new conversations from one client
        statuses = [post(base, f"flood-{n}-{uuid.uuid4().hex[:6]}", "hello", client="10.2.0.1")[0].status_code
                    for n in range(2000)]
        figures["2,000 new conversations from one client: accepted, refused (429)"] = (statuses.count(200),
                                                                                     statuses.count(429))
        # 3. a driver's latency, alone and beside four abusive clients
        def driver_latencies(n=12):
            sender, token, out = f"driver-{uuid.uuid4().hex[:8]}", token_for("wait"), []
            for i in range(n):
                _, seconds = post(base, sender, "my session is still active", {"identity": token},
                                  client="10.3.0.9")
                out.append(seconds)
                time.sleep(4.5)  # a driver's pace, within 15 a minute per conversation
            return out

        alone = driver_latencies()
        stop, abuse_counts = threading.Event(), {"sent": 0, "refused": 0}
        worst = " ".join("a" for _ in range(119))  # the most NLU work a message may cost

        def abuser(n):
            while not stop.is_set():
                for message in (worst, "x" * 2000, "a " * 1000):
                    response, _ = post(base, f"abuse-{n}-{uuid.uuid4().hex[:6]}", message, client=f"10.4.0.{n}")
                    abuse_counts["sent"] += 1
                    abuse_counts["refused"] += response.status_code == 429

        threads = [threading.Thread(target=abuser, args=(n,), daemon=True) for n in range(1, 5)]
        for thread in threads:
            thread.start()
        abused = driver_latencies()
        stop.set()
        for thread in threads:
            thread.join(130)
        def summary(values):
            values = sorted(values)
            return f"p50 {statistics.median(values) * 1000:.0f} ms, max {values[-1] * 1000:.0f} ms"
        figures["driver turn latency, alone"] = summary(alone)
        figures["driver turn latency, beside 4 abusive clients"] = summary(abused)
        figures["abusive requests sent, refused (429)"] = (abuse_counts["sent"], abuse_counts["refused"])
    finally:
        stack.stop()
    for key, value in figures.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
