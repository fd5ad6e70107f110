"""The catalogue of what drivers read: one YAML file per language beside this module (texts/<lang>.yml).

Only bot.conversation.replies reads it; everything else asks replies for a composed Reply.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import yaml

TEXTS_DIR = Path(__file__).resolve().parent / "texts"
DEFAULT_LANGUAGE = "en"


@lru_cache(maxsize=None)
def catalogue(language: str = DEFAULT_LANGUAGE) -> Mapping[str, Any]:
    with open(TEXTS_DIR / f"{language}.yml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def template(key: str, language: str = DEFAULT_LANGUAGE) -> str:
    """The raw text at a dotted key, e.g. "verdict.wait"."""
    node: Any = catalogue(language)
    for part in key.split("."):
        node = node[part]
    if not isinstance(node, str):
        raise KeyError(f"{key} is not a text")
    return node


def text(key: str, language: str = DEFAULT_LANGUAGE, **fields: Any) -> str:
    return template(key, language).format(**fields)
