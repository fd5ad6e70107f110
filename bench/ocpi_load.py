"""A lean HTTP/1.1 keep-alive load generator for the OCPI receiver benchmark (asyncio streams).

It costs a few tens of microseconds a request, so on a small shared machine nearly all the CPU goes to
what is measured. Latency is taken from when a request was due (open loop) or sent (closed loop), so a
stalled server shows up in the percentiles instead of slowing the generator down.
"""
from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable, List, Optional, Tuple, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")
# (method, path, body) of the n-th request
RequestFor = Callable[[int], Tuple[str, str, bytes]]
_CONNECTIONS = itertools.count(1)


def run(coro: Awaitable[T]) -> T:
    """`asyncio.run` on uvloop when it is installed (as the receiver runs): the generator then costs less
    CPU a request, which matters when it shares 2 cores with what it measures."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is pinned
        return asyncio.run(coro)
    before = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        return asyncio.run(coro)
    finally:
        asyncio.set_event_loop_policy(before)


@dataclass
class LoadResult:
    sent: int = 0
    ok: int = 0
    failed: int = 0
    latencies: List[float] = field(default_factory=list)
    elapsed_s: float = 0.0
    first_error: Optional[str] = None

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s else 0.0


class Connection:
    def __init__(self, host: str, port: int, token: str):
        self.host, self.port = host, port
        self.auth = "Token " + base64.b64encode(token.encode()).decode()
        self.reader: Optional[asyncio.StreamReader] = None
        self.writer: Optional[asyncio.StreamWriter] = None
        self.prefix, self.sent = f"bench-{next(_CONNECTIONS)}", 0

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, path: str, body: bytes) -> Tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        # With the X-Request-ID and X-Correlation-ID every OCPI 2.2.1 party sends (cheap ones: a counter).
        self.sent += 1
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAuthorization: {self.auth}\r\n"
                f"X-Request-ID: {self.prefix}-{self.sent}\r\nX-Correlation-ID: {self.prefix}-{self.sent}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("connection closed")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        payload = await self.reader.readexactly(length) if length else b""
        return status, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _ok(status: int, payload: bytes) -> bool:
    return status in (200, 201) and b'"status_code":1000' in payload


async def closed_loop(base_url: str, token: str, request_for: RequestFor, concurrency: int,
                      duration_s: Optional[float] = None, total: Optional[int] = None,
                      keep_latencies: bool = True, on_progress: Optional[Callable[[int], None]] = None) -> LoadResult:
    """`concurrency` connections, each sending its next request as soon as the last was answered."""
    parts = urlsplit(base_url)
    result = LoadResult()
    counter = iter(range(10**12))
    started = time.perf_counter()
    end = started + duration_s if duration_s else float("inf")

    async def worker() -> None:
        conn = Connection(parts.hostname, parts.port, token)
        try:
            while time.perf_counter() < end:
                n = next(counter)
                if total is not None and n >= total:
                    return
                method, path, body = request_for(n)
                sent = time.perf_counter()
                try:
                    status, payload = await conn.request(method, path, body)
                except (ConnectionError, asyncio.IncompleteReadError, OSError) as error:
                    conn.close()
                    result.failed += 1
                    result.first_error = result.first_error or repr(error)
                    continue
                done = time.perf_counter()
                result.sent += 1
                if _ok(status, payload):
                    result.ok += 1
                    if keep_latencies:
                        result.latencies.append(done - sent)
                else:
                    result.failed += 1
                    result.first_error = result.first_error or f"HTTP {status}: {payload[:200]!r}"
                if on_progress is not None and n % 50_000 == 0:
                    on_progress(n)
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed_s = time.perf_counter() - started
    return result


async def open_loop(base_url: str, token: str, request_for: RequestFor, rate: float, duration_s: float,
                    max_connections: int = 256) -> LoadResult:
    """Requests due at a fixed `rate` whatever the answers; latency counts from when each was due."""
    parts = urlsplit(base_url)
    result = LoadResult()
    idle: List[Connection] = []
    pending = set()
    started = time.perf_counter()
    total = int(rate * duration_s)

    async def one(n: int, due: float) -> None:
        conn = idle.pop() if idle else Connection(parts.hostname, parts.port, token)
        method, path, body = request_for(n)
        try:
            status, payload = await conn.request(method, path, body)
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as error:
            conn.close()
            result.failed += 1
            result.first_error = result.first_error or repr(error)
            return
        result.sent += 1
        if _ok(status, payload):
            result.ok += 1
            result.latencies.append(time.perf_counter() - due)
        else:
            result.failed += 1
            result.first_error = result.first_error or f"HTTP {status}: {payload[:200]!r}"
        if len(idle) < max_connections:
            idle.append(conn)
        else:
            conn.close()

    for n in range(total):
        due = started + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.ensure_future(one(n, due))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending, timeout=60)
    result.elapsed_s = time.perf_counter() - started
    for conn in idle:
        conn.close()
    return result


def patch_body(kwh: float, last_updated: str) -> bytes:
    return json.dumps({"kwh": round(kwh, 3), "last_updated": last_updated}, separators=(",", ":")).encode()
