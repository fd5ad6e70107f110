"""Serves the website chat widget: the page, its glue script and the vendored npm bundles.

The widget (web/widget.js) talks to Rasa's socket.io channel straight from the browser, so this
server only hands out files; `rasa_url` is where the browser finds Rasa. Visitors are anonymous.

Demo logins: with `demo_logins=True` (and only then), `/?as=demo-wait` mints an identity token
for that demo account and puts it in the page, so a demo can show the logged-in widget. Only the
seeded demo accounts (bot.store.seed.SCENARIOS) can be chosen; for any other name the page is the
anonymous one, byte for byte, so it tells nothing about which accounts exist. In
production the host site renders the page's `chat-config` element itself, with the token of
the visitor it has logged in; this server never vouches for anyone.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from jinja2 import Environment, FileSystemLoader, select_autoescape
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from bot.conversation import replies
from bot.conversation.texts import DEFAULT_LANGUAGE, in_language, languages
from bot.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)

WEB_DIR = PROJECT_ROOT / "web"
VENDOR_FILES = ("deepChat.bundle.js", "socket.io.esm.min.js")
DEMO_TOKEN_TTL = timedelta(hours=8)


class WidgetNotBuilt(RuntimeError):
    pass


def _socket_origins(rasa_url: str) -> str:
    """The CSP connect-src for Rasa's socket.io: its WebSocket origin (and HTTP, for the handshake)."""
    parts = urlsplit(rasa_url)
    ws = "wss" if parts.scheme == "https" else "ws"
    return f"{ws}://{parts.netloc} {parts.scheme}://{parts.netloc}"


def _mint_demo_token(settings: Settings, account_id: str) -> Optional[str]:
    from bot.store import charging_repo
    from bot.store.db import session_scope
    from bot.store.seed import SCENARIOS
    from bot.domain.identity import mint_token

    if account_id not in {s.account_id for s in SCENARIOS}:
        return None  # a demo login is for the seeded demo accounts only
    with session_scope(settings) as db:
        cards = charging_repo.account_cards(db, account_id)
    if not cards:
        return None
    return mint_token(account_id, cards, settings.identity_secret, DEMO_TOKEN_TTL)


def page_language(request: web.Request) -> str:
    """The page's language: `?lang=nl` when it names a supported one, else the browser's preference."""
    asked = request.query.get("lang")
    if asked in languages():
        return asked
    accepted = parse_accept_header(request.headers.get("Accept-Language", "")[:512], LanguageAccept)
    return accepted.best_match(languages(), default=DEFAULT_LANGUAGE)


class _AccessLogger(AbstractAccessLogger):
    """Logs the path without the query string: `?as=` names an account."""

    def log(self, request, response, time: float) -> None:
        self.logger.info("%s %s %s %.3fs", request.method, request.path, response.status, time)


def make_app(settings: Settings, rasa_url: str, demo_logins: bool = False, web_dir: Path = WEB_DIR) -> web.Application:
    """The widget's web app. `rasa_url` is Rasa's base URL as the visitor's browser reaches it."""
    vendor = web_dir / "vendor"
    missing = [name for name in VENDOR_FILES if not (vendor / name).is_file()]
    if missing:
        raise WidgetNotBuilt(f"the widget's npm bundles are not built ({', '.join(missing)} missing): run web/build.sh")
    if demo_logins and not settings.identity_secret:
        raise ValueError("demo logins need BOT_IDENTITY_SECRET: the tokens they mint must verify")
    templates = Environment(loader=FileSystemLoader(str(web_dir)), autoescape=select_autoescape(default=True))
    csp = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
           f"connect-src {_socket_origins(rasa_url)}; base-uri 'none'; form-action 'none'; frame-ancestors 'self'")

    async def page(request: web.Request) -> web.Response:
        account_id = request.query.get("as") if demo_logins else None
        token = None
        if account_id:
            # The database call blocks; keep the event loop free.
            token = await asyncio.get_running_loop().run_in_executor(
                None, partial(_mint_demo_token, settings, account_id))
            if token is None:
                account_id = None  # not a demo account: the anonymous page, nothing to tell them apart
        with in_language(page_language(request)) as language:
            widget_config = {
                "socketUrl": rasa_url,
                "socketPath": "/socket.io",
                "identity": token,
                "texts": replies.widget_texts(settings.brand),
            }
            html = templates.get_template("index.html").render(
                language=language, texts=replies.page_texts(settings.brand, account_id),
                widget_config=widget_config, asset_prefix="")
        # A page with a token in it is personal: never cached, never sent on as a referrer.
        return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})

    async def widget_js(request: web.Request) -> web.FileResponse:
        return web.FileResponse(web_dir / "widget.js", headers={"Content-Type": "text/javascript"})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Content-Security-Policy"] = csp
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/widget.js", widget_js)
    app.router.add_get("/healthz", health)
    # Only the built bundles: not node_modules, not the package files.
    app.router.add_static("/vendor", vendor, follow_symlinks=False)
    app.on_response_prepare.append(security_headers)
    if demo_logins:
        log.warning("demo logins are on: anyone who can open this page can chat as a demo account (?as=...)")
    return app


class BackgroundSite:
    """An app served from a thread of its own, for a caller whose main thread is busy (`bot run`'s
    terminal chat, the tests)."""

    def __init__(self, app: web.Application, port: int, host: str = "127.0.0.1") -> None:
        self.app, self.host, self.port = app, host, port
        self.url = f"http://{host}:{port}"
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, name=f"web-{port}", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        runner = web.AppRunner(self.app, access_log_class=_AccessLogger)
        try:
            self._loop.run_until_complete(runner.setup())
            self._loop.run_until_complete(web.TCPSite(runner, self.host, self.port).start())
        except BaseException as error:  # noqa: BLE001 - start() raises it in the caller's thread
            self._error = error
            self._started.set()
            return
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()

    def start(self, timeout_s: float = 30.0) -> "BackgroundSite":
        self._thread.start()
        if not self._started.wait(timeout_s):
            raise TimeoutError(f"web site on {self.url} not started after {timeout_s:.0f} s")
        if self._error is not None:
            raise RuntimeError(f"web site on {self.url} could not start: {self._error!r}") from self._error
        return self

    def stop(self, timeout_s: float = 15.0) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout_s)


def serve(settings: Settings, rasa_url: str, host: str = "127.0.0.1", port: int = 5080,
          demo_logins: bool = False) -> None:
    """Runs the widget's page until interrupted (binds to localhost unless told otherwise)."""
    app = make_app(settings, rasa_url, demo_logins)
    log.info("widget page on http://%s:%d (Rasa at %s)", host, port, rasa_url)
    web.run_app(app, host=host, port=port, access_log_class=_AccessLogger, print=None)
