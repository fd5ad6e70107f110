"""`bot`: the developer's and operator's command line (seed, token, train, serve, chat, run)."""
from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import Optional

import click

from bot.settings import DEFAULT_VAR_DIR, PROJECT_ROOT

def _demo_settings():
    """Settings for the demo commands: the identity secret from the environment, else the dev secret."""
    from dataclasses import replace

    from bot.settings import get_settings, identity_secret_or_dev

    return replace(get_settings(), identity_secret=identity_secret_or_dev(os.environ))


def _settings():
    from bot.settings import get_settings

    return get_settings()


@click.group()
def cli() -> None:
    """The stale-session assistant."""


@cli.command("create-schema")
def create_schema() -> None:
    """Create the charging database's tables where missing (no demo data): for a new PostgreSQL database."""
    from bot.store import db

    db.create_schema(_settings())
    click.echo("Schema ready.")


@cli.command()
def seed() -> None:
    """Create the schema and (re)load the demo scenarios, with times relative to now."""
    from bot.store.seed import describe, seed_demo

    seed_demo(_settings())
    click.echo("Demo data loaded. Accounts (chat as one with: make run AS=<account>):")
    click.echo(describe())


@cli.command()
def accounts() -> None:
    """List the demo accounts and what each shows."""
    from bot.store.seed import describe

    click.echo(describe())


@cli.command()
@click.argument("account_id")
@click.option("--ttl-minutes", default=60, show_default=True)
def token(account_id: str, ttl_minutes: int) -> None:
    """Mint an identity token for an account, as the app would send in metadata.identity."""
    click.echo(_mint_for(account_id, timedelta(minutes=ttl_minutes)))


@cli.command()
@click.option("--config", default="config.yml", show_default=True)
def train(config: str) -> None:
    """Train the model if data, config or domain changed (otherwise reuse it)."""
    from bot.apps.model_build import ensure_model

    click.echo(ensure_model(PROJECT_ROOT, config))


@cli.command()
@click.option("--url", default="http://127.0.0.1:5005", show_default=True)
@click.option("--as", "account_id", default=None, help="Chat as this account (logged in); anonymous if omitted.")
def chat(url: str, account_id: Optional[str]) -> None:
    """Chat in the terminal through the REST channel."""
    from bot.apps.chat_client import RestChat, chat_loop

    token_value = None
    if account_id:
        token_value = _mint_for(account_id)
        click.echo(f"Logged in as {account_id}.")
    chat_loop(RestChat(url, token_value))


def _mint_for(account_id: str, ttl: timedelta = timedelta(hours=8)) -> str:
    from bot.store import charging_repo
    from bot.store.db import session_scope
    from bot.domain.identity import mint_token

    settings = _demo_settings()
    with session_scope(settings) as db:
        cards = charging_repo.account_cards(db, account_id)
    if not cards:
        raise click.ClickException(f"no account {account_id!r} with cards (run `make accounts` to list them)")
    return mint_token(account_id, cards, settings.identity_secret, ttl)


@cli.command("ocpi-endpoint")
@click.argument("country_code")
@click.argument("party_id")
@click.option("--url", required=True, help="The operator's OCPI 2.2.1 CPO module base, e.g. https://cpo.example/ocpi/cpo/2.2.1")
@click.option("--token", prompt=True, hide_input=True, envvar="BOT_OCPI_TOKEN",
              help="Credentials token (asked for, or from BOT_OCPI_TOKEN; never on the command line).")
def ocpi_endpoint(country_code: str, party_id: str, url: str, token: str) -> None:
    """Let the assistant ask this operator (e.g. NL ALL) for session status over OCPI."""
    from sqlalchemy import select

    from bot.store.db import session_scope
    from bot.store.models import Operator

    with session_scope(_settings()) as db:
        operator = db.execute(select(Operator).where(Operator.country_code == country_code.upper(),
                                                     Operator.party_id == party_id.upper())).scalar_one_or_none()
        if operator is None:
            raise click.ClickException(f"no operator {country_code}/{party_id}")
        operator.ocpi_base_url, operator.ocpi_token = url, token
    click.echo(f"{country_code.upper()}/{party_id.upper()} will be asked at {url}")


@cli.command()
@click.option("--limit", default=20, show_default=True)
def handoffs(limit: int) -> None:
    """List handoffs, newest first, with their delivery state."""
    from bot.apps.agent_view import list_handoffs

    for h in list_handoffs(_settings(), limit):
        click.echo(f"{h['reference']}  {h['created_at']}  {h['channel']:<9} {h.get('delivery_state') or '-':<15} "
                   f"{h.get('session_id') or '-':<11} {h.get('location') or '-'}")


@cli.command()
@click.argument("reference")
def handoff(reference: str) -> None:
    """Show one handoff readably: fields, findings, the whole transcript."""
    from bot.apps.agent_view import render_handoff_text

    text = render_handoff_text(_settings(), reference)
    if text is None:
        raise click.ClickException(f"no handoff {reference!r}")
    click.echo(text)


@cli.command()
@click.option("--loop", "forever", is_flag=True, help="Keep delivering until stopped.")
@click.option("--interval", default=5.0, show_default=True)
def deliver(forever: bool, interval: float) -> None:
    """Deliver pending handoffs to the helpdesk webhook (BOT_HANDOFF_WEBHOOK_URL)."""
    import threading

    from bot.integrations.handoff_delivery import deliver_due, run_delivery_loop

    settings = _settings()
    if not forever:
        report = deliver_due(settings)
        click.echo(f"delivered {report.delivered}, retrying {report.retrying}, rejected {report.rejected}")
        return
    stop = threading.Event()
    try:
        run_delivery_loop(settings, stop, interval_s=interval)
    except KeyboardInterrupt:
        stop.set()


@cli.command("agent-view")
@click.option("--port", default=5056, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
def agent_view(port: int, host: str) -> None:
    """Serve the agents' handoff inbox (needs BOT_AGENT_VIEW_TOKEN)."""
    from bot.apps.agent_view import serve

    settings = _settings()
    if not settings.agent_view_token:
        raise click.ClickException("set BOT_AGENT_VIEW_TOKEN: the agent view refuses everyone without it")
    serve(settings, host, port)


@cli.command()
@click.option("--port", default=5080, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--rasa-url", default="http://127.0.0.1:5005", show_default=True,
              help="Rasa as the visitor's browser reaches it.")
@click.option("--demo-logins", is_flag=True, help="DEMO ONLY: /?as=<account> chats as that demo account.")
def web(port: int, host: str, rasa_url: str, demo_logins: bool) -> None:
    """Serve the website chat widget (talks to Rasa's socket.io channel)."""
    from bot.apps.web_server import serve

    click.echo(f"Widget: http://{host}:{port}/" + ("  (demo: /?as=demo-wait)" if demo_logins else ""))
    serve(_demo_settings() if demo_logins else _settings(), rasa_url, host, port, demo_logins)


@cli.command()
@click.option("--as", "account_id", default=None, help="Chat as this demo account (logged in).")
@click.option("--rasa-port", default=5005, show_default=True)
@click.option("--actions-port", default=5055, show_default=True)
@click.option("--web-port", default=5080, show_default=True, help="The website widget's page.")
@click.option("--no-chat", is_flag=True, help="Only serve (for the website widget or another client).")
def run(account_id: Optional[str], rasa_port: int, actions_port: int, web_port: int, no_chat: bool) -> None:
    """Seed the demo data, train if needed, start both servers and the widget page, and chat."""
    from bot.apps.chat_client import RestChat, chat_loop
    from bot.apps.model_build import ensure_model
    from bot.apps.servers import ACTION_READY_PATH, RASA_READY_PATH, start_action_server, start_rasa_server, wait_ready
    from bot.store.seed import describe, seed_demo
    from bot.apps.web_server import BackgroundSite, make_app

    started = time.monotonic()
    settings = _demo_settings()
    # Both servers get the secret and the action endpoint explicitly; this process's environment stays as it was.
    env = dict(os.environ, BOT_IDENTITY_SECRET=settings.identity_secret)
    env.setdefault("ACTION_ENDPOINT_URL", f"http://127.0.0.1:{actions_port}/webhook")
    seed_demo(settings)
    model = ensure_model(PROJECT_ROOT)
    logs = DEFAULT_VAR_DIR / "logs"
    servers = [start_action_server(actions_port, logs / "actions.log", env)]
    site = None
    try:
        servers.append(start_rasa_server(model, rasa_port, logs / "rasa.log", env))
        wait_ready(servers[0], ACTION_READY_PATH)
        wait_ready(servers[1], RASA_READY_PATH)
        # The widget page, with demo logins (/?as=demo-wait): this command only ever runs the demo.
        site = BackgroundSite(make_app(settings, f"http://127.0.0.1:{rasa_port}", demo_logins=True),
                              web_port).start()
        click.echo(f"Website widget: {site.url} (anonymous; {site.url}?as=demo-wait to be logged in)")
        click.echo(f"Ready in {time.monotonic() - started:.0f} s. Rasa: http://127.0.0.1:{rasa_port} "
                   f"(logs in {logs}).")
        click.echo("Demo accounts (make run AS=<account>):\n" + describe())
        if no_chat:
            click.echo("Serving; Ctrl-C stops.")
            while all(s.process.poll() is None for s in servers):
                time.sleep(1)
            return
        token_value = _mint_for(account_id) if account_id else None
        click.echo(f"Chatting as {account_id}." if account_id else "Chatting anonymously (make run AS=demo-wait to log in).")
        chat_loop(RestChat(f"http://127.0.0.1:{rasa_port}", token_value))
    except KeyboardInterrupt:
        pass
    finally:
        if site is not None:
            site.stop()
        for server in reversed(servers):
            server.stop()


if __name__ == "__main__":
    cli()
