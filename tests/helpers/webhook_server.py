"""A real helpdesk webhook on 127.0.0.1 for tests, whose answers each test scripts.

Like a real helpdesk it dedupes on the `Idempotency-Key` header: a repeated key answers 200 but
opens no second ticket. It also counts every 2xx it returned per key, so a test can tell a
duplicate send by the worker (two 2xx for one key) from a retry after a lost answer.

Script actions, consumed one per request (then `default`):
  "ok"          200, ticket opened (or deduped)
  "500"/"429"/"400"/... that status, nothing stored
  "429/30"      that status with `Retry-After: 30`
  "timeout"     hold the request past the client's timeout, store nothing, then drop it
  "accept_hang" open the ticket, then hold the answer past the client's timeout
"""
from __future__ import annotations

import json
import threading
from collections import Counter, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Iterable, List, Optional


@dataclass
class ReceivedRequest:
    idempotency_key: Optional[str]
    content_type: Optional[str]
    body: Dict[str, Any]
    action: str


class WebhookServer:
    def __init__(self, script: Iterable[str] = (), default: str = "ok", hang_s: float = 10.0,
                 path: str = "/handoffs"):
        self._script = deque(script)
        self.default = default
        self.hang_s = hang_s
        self.path = path
        self._lock = threading.Condition()
        self._release = threading.Event()  # lets hung requests finish when the server stops
        self.requests: List[ReceivedRequest] = []
        self.tickets: Dict[str, Dict[str, Any]] = {}  # idempotency key -> payload of the first accept
        self.ok_answers: Counter = Counter()  # idempotency key -> 2xx answers actually sent
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}{self.path}"

    def script(self, *actions: str) -> None:
        with self._lock:
            self._script.extend(actions)

    def wait_for_requests(self, count: int, timeout_s: float = 10.0) -> bool:
        with self._lock:
            return self._lock.wait_for(lambda: len(self.requests) >= count, timeout_s)

    @property
    def duplicates(self) -> int:
        """2xx answers beyond the first per key: the worker sent an already-delivered row again."""
        return sum(n - 1 for n in self.ok_answers.values() if n > 1)

    def __enter__(self) -> "WebhookServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _next_action(self) -> str:
        with self._lock:
            return self._script.popleft() if self._script else self.default

    def _record(self, request: ReceivedRequest) -> None:
        with self._lock:
            self.requests.append(request)
            self._lock.notify_all()

    def _open_ticket(self, key: Optional[str], body: Dict[str, Any]) -> None:
        with self._lock:
            if key is not None:
                self.tickets.setdefault(key, body)

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                body = json.loads(raw) if raw else {}
                key = self.headers.get("Idempotency-Key")
                action = server._next_action() if self.path == server.path else "404"
                server._record(ReceivedRequest(key, self.headers.get("Content-Type"), body, action))
                if action == "timeout":
                    server._release.wait(server.hang_s)
                    self.close_connection = True
                    return
                if action == "accept_hang":
                    server._open_ticket(key, body)
                    server._release.wait(server.hang_s)
                    self.close_connection = True
                    return
                status_text, _, retry_after = action.partition("/")
                status = 200 if action == "ok" else int(status_text)
                if status == 200:
                    server._open_ticket(key, body)
                    with server._lock:
                        server.ok_answers[key] += 1
                payload = json.dumps({"ok": status == 200}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if retry_after:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

        return Handler
