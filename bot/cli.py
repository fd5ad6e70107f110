"""`bot`: the developer's and operator's command line (seed, token, train, serve, chat, run)."""
from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import Optional

import click

from bot.conversation.texts import languages
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
    longest = _settings().token_policy.max_lifetime
    if timedelta(minutes=ttl_minutes) > longest:
        raise click.ClickException(f"tokens live at most {longest} (BOT_IDENTITY_MAX_TTL_HOURS)")
    click.echo(_mint_for(account_id, timedelta(minutes=ttl_minutes)))


@cli.command()
@click.option("--config", default="config.yml", show_default=True)
def train(config: str) -> None:
    """Train the model if data, config or domain changed (otherwise reuse it)."""
    from bot.apps.model_build import ensure_model

    click.echo(ensure_model(PROJECT_ROOT, config))


@cli.command("model-path")
@click.argument("language", type=click.Choice(languages()))
def model_path(language: str) -> None:
    """The trained model that understands LANGUAGE (one model serves every language), trained if needed,
    e.g. for `rasa test nlu --nlu <held-out file> --model "$(python -m bot.cli model-path nl)"`."""
    from bot.apps.model_build import ensure_model

    click.echo(ensure_model(PROJECT_ROOT))


@cli.command()
@click.option("--url", default="http://127.0.0.1:5005", show_default=True)
@click.option("--as", "account_id", default=None, help="Chat as this account (logged in); anonymous if omitted.")
@click.option("--locale", default=None, help="The app's locale sent with each message, e.g. nl-NL.")
def chat(url: str, account_id: Optional[str], locale: Optional[str]) -> None:
    """Chat in the terminal through the REST channel."""
    from bot.apps.chat_client import RestChat, chat_loop

    token_value = None
    if account_id:
        token_value = _mint_for(account_id)
        click.echo(f"Logged in as {account_id}.")
    chat_loop(RestChat(url, token_value, locale=locale))


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


@cli.command("ocpi-receiver")
@click.option("--host", default="127.0.0.1", show_default=True, help="0.0.0.0 behind a balancer")
@click.option("--port", default=5060, show_default=True)
@click.option("--workers", default=1, show_default=True, help="Processes sharing the port (one per core).")
@click.option("--access-log", is_flag=True, help="Log every request.")
def ocpi_receiver(host: str, port: int, workers: int, access_log: bool) -> None:
    """Serve the OCPI 2.2.1 eMSP receiver: CPOs push sessions, CDRs and locations here."""
    import logging

    from bot.apps.ocpi_receiver import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings()
    click.echo(f"OCPI receiver on http://{host}:{port}/ocpi/versions (advertised as {settings.ocpi_receiver.public_url})")
    serve(settings, host, port, workers, access_log)


@cli.command("ocpi-token-a")
@click.argument("label")
def ocpi_token_a(label: str) -> None:
    """Issue a credentials token A for a CPO to register with (shown once; printed on the last line)."""
    from bot.store import ocpi_ingest
    from bot.apps.ocpi_receiver import make_store

    store = make_store(_settings())
    from bot.store.db import create_schema

    create_schema(_settings())
    with store.engine.begin() as conn:
        token = ocpi_ingest.issue_token_a(conn, label)
    click.echo(f"Give {label} this token A and the versions URL {_settings().ocpi_receiver.public_url}/ocpi/versions:",
               err=True)
    click.echo(token)


@cli.command("ocpi-compact")
def ocpi_compact() -> None:
    """Compact the kWh readings of sessions completed more than BOT_OCPI_COMPACT_AFTER_DAYS ago."""
    from bot.apps.ocpi_receiver import make_store

    click.echo(f"compacted {make_store(_settings()).compact()} sessions")


@cli.command("ocpi-flagged")
@click.option("--limit", default=50, show_default=True)
def ocpi_flagged(limit: int) -> None:
    """Received sessions no driver sees: cards we did not issue, or ids that clash."""
    from bot.apps.ocpi_receiver import make_store

    for s in make_store(_settings()).flagged_sessions(limit):
        why = "unknown card" if s["unknown_card"] else s["conflict"]
        click.echo(f"{s['country_code']}/{s['party_id']} {s['session_id']:<20} {s['status']:<10} "
                   f"{s['last_updated']:%Y-%m-%d %H:%M}  {why}")


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


@cli.command("stop-attempts")
@click.option("--limit", default=50, show_default=True)
def stop_attempts(limit: int) -> None:
    """Every STOP_SESSION the assistant sent, newest first: when, account, session, response, result, outcome."""
    from bot.apps.agent_view import render_stop_attempts_text

    click.echo(render_stop_attempts_text(_settings(), limit))


@cli.command("back-office-closes")
@click.option("--pending", is_flag=True, help="Only the closes awaiting review.")
def back_office_closes(pending: bool) -> None:
    """Sessions closed in our own data after a refused stop (BOT_STOP_FALLBACK=back_office_close), oldest first."""
    from bot.apps.agent_view import render_back_office_closes_text

    click.echo(render_back_office_closes_text(_settings(), pending))


@cli.command("back-office-reviewed")
@click.argument("session_id")
def back_office_reviewed(session_id: str) -> None:
    """Mark the back-office close of a session reviewed."""
    import getpass

    from bot.apps.agent_view import mark_close_reviewed

    done = mark_close_reviewed(_settings(), session_id, f"cli user {getpass.getuser()}")
    if done is None:
        raise click.ClickException(f"no back-office close of session {session_id!r}")
    click.echo(f"Session {session_id}: {'marked reviewed' if done else 'already reviewed'}.")


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
@click.option("--ocpi-port", default=5060, show_default=True, help="The OCPI receiver (CPOs push here).")
@click.option("--no-chat", is_flag=True, help="Only serve (for the website widget or another client).")
def run(account_id: Optional[str], rasa_port: int, actions_port: int, web_port: int, ocpi_port: int,
        no_chat: bool) -> None:
    """Seed the demo data, train if needed, start both servers and the widget page, and chat."""
    from bot.apps.chat_client import RestChat, chat_loop
    from bot.apps.model_build import ensure_model
    from bot.apps.servers import ACTION_READY_PATH, RASA_READY_PATH, start_action_server, start_rasa_server, wait_ready
    from bot.store.seed import describe, seed_demo
    from bot.apps.web_server import BackgroundSite, make_app

    from bot.settings import action_token_or_dev, private_dir, private_file

    started = time.monotonic()
    settings = _demo_settings()
    # var/ holds databases, logs and development secrets: the owner's only (0700, files 0600).
    private_dir(DEFAULT_VAR_DIR)
    for path in [*DEFAULT_VAR_DIR.glob("*"), *DEFAULT_VAR_DIR.glob("logs/*")]:
        if path.is_file():
            private_file(path)
    # Both servers get the secrets and the action endpoint explicitly; this process's environment stays as it was.
    env = dict(os.environ, BOT_IDENTITY_SECRET=settings.identity_secret, BOT_ACTION_TOKEN=action_token_or_dev(os.environ))
    env.setdefault("ACTION_ENDPOINT_URL", f"http://127.0.0.1:{actions_port}/webhook")
    seed_demo(settings)
    model = ensure_model(PROJECT_ROOT)
    logs = DEFAULT_VAR_DIR / "logs"
    servers = [start_action_server(actions_port, logs / "actions.log", env)]
    site = ocpi_receiver = None
    try:
        servers.append(start_rasa_server(model, rasa_port, logs / "rasa.log", env))
        wait_ready(servers[0], ACTION_READY_PATH)
        wait_ready(servers[1], RASA_READY_PATH)
        ocpi_receiver = _start_ocpi_receiver(ocpi_port, logs, env)
        # The widget page, with demo logins (/?as=demo-wait): this command only ever runs the demo.
        site = BackgroundSite(make_app(settings, f"http://127.0.0.1:{rasa_port}", demo_logins=True),
                              web_port).start()
        click.echo(f"Website widget: {site.url} (anonymous; {site.url}?as=demo-wait to be logged in, "
                   f"?lang=nl in Dutch)")
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
        if ocpi_receiver is not None:
            ocpi_receiver.stop()
        for server in reversed(servers):
            server.stop()


def _start_ocpi_receiver(port: int, logs, env):
    """`bot run`'s OCPI receiver; the demo goes on without it (with a warning) if it cannot start."""
    from bot.apps.ocpi_receiver import READY_PATH, start_ocpi_receiver
    from bot.apps.servers import wait_ready

    receiver_env = dict(env)
    receiver_env.setdefault("BOT_OCPI_PUBLIC_URL", f"http://127.0.0.1:{port}")
    receiver = start_ocpi_receiver(port, logs / "ocpi-receiver.log", receiver_env)
    try:
        wait_ready(receiver, READY_PATH, deadline_s=30)
    except (RuntimeError, TimeoutError) as error:
        receiver.stop()
        click.echo(f"OCPI receiver not started (port {port}?): {str(error).splitlines()[0]}", err=True)
        return None
    click.echo(f"OCPI receiver: {receiver_env['BOT_OCPI_PUBLIC_URL']}/ocpi/versions "
               "(`bot ocpi-token-a NAME` gives a CPO its token A)")
    return receiver


@cli.command()
@click.option("--days", type=int, default=None, help="Keep this many days (default BOT_TRACKER_RETENTION_DAYS, 30).")
@click.option("--anonymise", is_flag=True, help="Strip texts, slots and metadata instead of deleting the events.")
@click.option("--dry-run", is_flag=True, help="Only count what would go.")
def retention(days: Optional[int], anonymise: bool, dry_run: bool) -> None:
    """Delete (or anonymise) conversations older than N days from Rasa's tracker store (TRACKER_STORE_URL)."""
    from bot.settings import rasa_process_env
    from bot.store.tracker_retention import apply_retention

    days = days if days is not None else _settings().tracker_retention_days
    report = apply_retention(rasa_process_env(os.environ)["TRACKER_STORE_URL"], days, anonymise, dry_run)
    verb = "would be " + ("anonymised" if anonymise else "deleted") if dry_run else \
        ("anonymised" if anonymise else "deleted")
    click.echo(f"{report.conversations} conversation(s) older than {days} days, {report.events} event(s) {verb} "
               f"(last activity before {report.cutoff.isoformat(timespec='seconds')}).")


if __name__ == "__main__":
    cli()
