"""The widget's web server over HTTP (no browser, no Rasa): who the page says the visitor is, and
what it lets the browser load."""
from __future__ import annotations

import json
import re
import shutil

import pytest
import requests

from bot.domain.identity import verify_token
from harness.stack import free_port
from bot.store.seed import scenario, seed_demo
from bot.settings import Settings
from bot.apps.web_server import BackgroundSite, WidgetNotBuilt, make_app
from tests.conftest import TEST_SECRET

RASA_URL = "http://127.0.0.1:5005"


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    settings = Settings(database_url=f"sqlite:///{tmp_path_factory.mktemp('web') / 'charging.db'}",
                        identity_secret=TEST_SECRET)
    seed_demo(settings)
    return settings


@pytest.fixture(scope="module")
def production(settings, widget_built):
    site = BackgroundSite(make_app(settings, RASA_URL, web_dir=widget_built), free_port()).start()
    yield site
    site.stop()


@pytest.fixture(scope="module")
def demo(settings, widget_built):
    site = BackgroundSite(make_app(settings, RASA_URL, demo_logins=True, web_dir=widget_built), free_port()).start()
    yield site
    site.stop()


def widget_config(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="chat-config">(.*?)</script>', html, re.S)
    return json.loads(found.group(1))


def test_page_is_anonymous_and_ignores_as_without_the_demo_flag(production):
    for path in ("/", "/?as=demo-wait"):
        response = requests.get(production.url + path, timeout=10)
        assert response.status_code == 200
        config = widget_config(response.text)
        assert config["identity"] is None
        assert config["socketUrl"] == RASA_URL
        assert "demo-wait" not in response.text


def test_demo_flag_puts_a_verifiable_token_for_that_account_in_the_page(demo):
    response = requests.get(demo.url + "/?as=demo-wait", timeout=10)
    assert response.status_code == 200
    identity = verify_token(widget_config(response.text)["identity"], TEST_SECRET)
    assert identity.account_id == "demo-wait"
    assert identity.cards == (scenario("wait").card,)
    # A page holding a token is never cached.
    assert response.headers["Cache-Control"] == "no-store"
    assert widget_config(requests.get(demo.url + "/", timeout=10).text)["identity"] is None


def test_demo_flag_gives_unknown_accounts_the_anonymous_page(demo):
    # Nothing tells an unknown account from a real one that is not a demo account (tests/security).
    response = requests.get(demo.url + "/?as=someone-else", timeout=10)
    assert response.status_code == 200
    assert widget_config(response.text)["identity"] is None
    assert response.text == requests.get(demo.url + "/", timeout=10).text


def test_config_cannot_break_out_of_its_script_element(settings, widget_built, tmp_path):
    hostile = Settings(database_url=settings.database_url, identity_secret=TEST_SECRET,
                       brand="</script><script>alert(1)</script>")
    site = BackgroundSite(make_app(hostile, RASA_URL, web_dir=widget_built), free_port()).start()
    try:
        html = requests.get(site.url, timeout=10).text
    finally:
        site.stop()
    assert "<script>alert(1)" not in html
    assert widget_config(html)["texts"]["intro"].startswith("Hi! I'm the </script><script>alert(1)</script> charging")


def test_page_may_load_only_its_own_scripts_and_talk_only_to_rasa(production):
    response = requests.get(production.url, timeout=10)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "connect-src ws://127.0.0.1:5005 http://127.0.0.1:5005" in csp
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_serves_the_glue_and_the_vendored_bundles_but_nothing_else(production):
    glue = requests.get(production.url + "/widget.js", timeout=10)
    assert glue.status_code == 200 and "javascript" in glue.headers["Content-Type"]
    for name in ("deepChat.bundle.js", "socket.io.esm.min.js"):
        bundle = requests.get(f"{production.url}/vendor/{name}", timeout=10)
        assert bundle.status_code == 200 and len(bundle.content) > 10_000
    for path in ("/package.json", "/vendor/../package.json", "/vendor/%2e%2e/package.json", "/node_modules/"):
        assert requests.get(production.url + path, timeout=10).status_code in (403, 404)


def test_refuses_to_start_without_built_bundles(settings, widget_built, tmp_path):
    shutil.copy(widget_built / "index.html", tmp_path / "index.html")
    with pytest.raises(WidgetNotBuilt, match="web/build.sh"):
        make_app(settings, RASA_URL, web_dir=tmp_path)


def test_demo_flag_without_a_secret_is_refused(widget_built):
    with pytest.raises(ValueError, match="BOT_IDENTITY_SECRET"):
        make_app(Settings(identity_secret=None), RASA_URL, demo_logins=True, web_dir=widget_built)
