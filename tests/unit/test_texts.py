"""The catalogue of what drivers read: every text a reply asks for exists, and the policy's numbers reach it."""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from bot.conversation import replies
from bot.conversation.texts import TEXTS_DIR, catalogue, template
from bot.domain.policy import ArticlePolicy
from bot.settings import Settings

REPLIES_SOURCE = (Path(replies.__file__)).read_text()


def _keys(node, prefix=""):
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _keys(value, path + ".")
        else:
            yield path


def test_every_key_replies_use_is_in_the_catalogue():
    used = set(re.findall(r'text\("([a-z_.]+)"', REPLIES_SOURCE)) | set(re.findall(r'template\("([a-z_.]+)"', REPLIES_SOURCE))
    assert used, "no catalogue keys found in replies.py"
    for key in used:
        template(key)  # raises KeyError when missing


@pytest.mark.parametrize("language", sorted(p.stem for p in TEXTS_DIR.glob("*.yml")))
def test_every_language_has_the_same_keys_as_english(language):
    assert set(_keys(catalogue(language))) == set(_keys(catalogue("en")))


def test_the_automatic_close_hours_come_from_the_policy():
    settings = replace(Settings(), policy=ArticlePolicy(auto_close_hours=48))
    assert "within 48 hours" in replies.anonymous_reply(None, False, False, settings).text
    assert "within 48 hours" in replies.anonymous_reply("flat", False, False, settings).text
    assert "72" not in replies.anonymous_reply(None, False, False, settings).text
