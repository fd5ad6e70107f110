"""Finding 4: no full card number reaches a log, whichever way it travels; driver text cannot forge log lines."""
from __future__ import annotations

import subprocess
import sys

import pytest

from bot.apps.servers import LOGGING_CONFIG
from bot.rasa_plugins.log_privacy import mask_secrets
from bot.settings import PROJECT_ROOT


def _run(program: str) -> str:
    setup = ("import logging, logging.config, warnings, yaml\n"
             f"logging.config.dictConfig(yaml.safe_load(open({str(LOGGING_CONFIG)!r})))\n")
    proc = subprocess.run([sys.executable, "-c", setup + program], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def test_a_warning_that_repeats_the_message_is_masked():
    # What Rasa does for `/nosuchintent my card is ...`: warnings.warn(UserWarning(text)).
    err = _run("warnings.warn(UserWarning('Parsed an intent nosuchintent from my card is NL-EFL-C12345678-9'))\n")
    assert "12345678" not in err and "[card ...78-9]" in err


def test_driver_text_cannot_forge_or_garble_log_lines():
    err = _run("logging.getLogger('rasa.core.processor').info('text %s', "
               "'hi\\n2026-12-02 10:00:00 ERROR   fake - admin logged in\\x1b[2J\\r')\n")
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "\x1b" not in err and "\r" not in err and "\\n2026-12-02" in err


@pytest.mark.parametrize("form", [
    "NL\\tEFL\\tC12345678\\t9", "NL\\u00a0EFL\\u00a0C12345678\\u00a09", "NL.EFL.C12345678.9", "N L E F L C 1 2 3 4 5 6 7 8 9",
    "NL  EFL  C12345678  9", "nl/efl/c12345678/9", "NL\u00a0EFL\u00a0C12345678\u00a09", "NL-EFL-C1234-5678-9",
])
def test_escaped_dotted_and_spaced_card_forms_are_masked(form):
    masked = mask_secrets(f'{{"text": "my card {form} ok"}}')
    digits = "".join(c for c in masked if c.isdigit())
    assert "12345678" not in digits, masked
