"""A real HTTP server on 127.0.0.1 that answers from a script: the misbehaving peers.

Each request takes the next step of the script (the last step repeats). A step is either
a `Reply` or a function given the request handler, for answers a `Reply` cannot express
(trickling bytes). Every request is recorded so tests can count retries and read headers.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Union


@dataclass
class Reply:
    status: int = 200
    body: Union[bytes, str, dict, list] = b""
    headers: Dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # sleep before answering: a slow peer


@dataclass
class Seen:
    path: str
    headers: Dict[str, str]


Step = Union[Reply, Callable[[BaseHTTPRequestHandler], None]]


def envelope(data: Any, status_code: int = 1000, message: str = "Success") -> dict:
    return {"data": data, "status_code": status_code, "status_message": message, "timestamp": "2025-01-01T00:00:00Z"}


class ScriptedServer:
    def __init__(self) -> None:
        self.script: List[Step] = [Reply(404, "no script")]
        self.seen: List[Seen] = []
        self.bodies: List[bytes] = []  # POST bodies, in order
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server naming)
                with server._lock:
                    server.seen.append(Seen(self.path, {k: v for k, v in self.headers.items()}))
                    step = server.script[min(len(server.seen), len(server.script)) - 1]
                if callable(step):
                    step(self)
                    return
                if step.delay_s:
                    time.sleep(step.delay_s)
                body = step.body
                content_type = "text/html; charset=utf-8"
                if isinstance(body, (dict, list)):
                    body, content_type = json.dumps(body), "application/json"
                payload = body.encode("utf-8") if isinstance(body, str) else body
                try:
                    self.send_response(step.status)
                    self.send_header("Content-Type", step.headers.get("Content-Type", content_type))
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in step.headers.items():
                        if name != "Content-Type":
                            self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first: that is what some tests want

            def do_POST(self) -> None:  # noqa: N802 - a command; the body is read and kept, the script answers
                length = int(self.headers.get("Content-Length") or 0)
                self.posted = self.rfile.read(length) if length else b""
                with server._lock:
                    server.bodies.append(self.posted)
                self.do_GET()

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/ocpi/cpo/2.2.1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def play(self, *steps: Step) -> "ScriptedServer":
        with self._lock:
            self.script = list(steps)
            self.seen = []
        return self

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def trickle(every_s: float, total_s: float) -> Callable[[BaseHTTPRequestHandler], None]:
    """Headers at once, then one body byte every `every_s`: never idle long enough for a read timeout."""

    def step(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", "1000000")
        handler.end_headers()
        end = time.monotonic() + total_s
        try:
            while time.monotonic() < end:
                handler.wfile.write(b" ")
                handler.wfile.flush()
                time.sleep(every_s)
        except (BrokenPipeError, ConnectionResetError):
            pass

    return step
