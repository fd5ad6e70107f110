"""The stop settings read from the environment (bot.settings.stop_from_env): off by default, the fallback checked."""
from __future__ import annotations

import pytest

from bot.settings import StopSettings, settings_from_env, stop_from_env


def test_off_until_the_own_cpo_endpoint_and_token_are_set():
    assert not settings_from_env({}).stop.enabled
    assert not stop_from_env({"BOT_OWN_CPO_OCPI_URL": "https://cpo.example/ocpi/cpo/2.2.1"}).enabled
    on = stop_from_env({"BOT_OWN_CPO_OCPI_URL": "https://cpo.example/ocpi/cpo/2.2.1/", "BOT_OWN_CPO_TOKEN": "t",
                        "BOT_STOP_RESULT_TIMEOUT_S": "12", "BOT_STOP_FALLBACK": "Back_Office_Close"})
    assert on.enabled and on.cpo_ocpi_url == "https://cpo.example/ocpi/cpo/2.2.1"
    assert (on.result_timeout_s, on.fallback, on.request_timeout_s) == (12.0, "back_office_close", 5.0)


def test_the_default_fallback_is_the_handoff():
    assert StopSettings().fallback == "handoff"


def test_an_unknown_fallback_is_refused_at_start():
    with pytest.raises(ValueError):
        stop_from_env({"BOT_STOP_FALLBACK": "close_everything"})
