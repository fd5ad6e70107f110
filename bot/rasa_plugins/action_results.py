"""Rasa's check of the action server's answers, with its validator built once instead of at every call.

Rasa 3.6 checks every answer of the action server against the same JSON schema with jsonschema's
`validate()`, which checks the schema itself and builds a reference resolver over every known
meta-schema each time: a tenth of the Rasa server's CPU per turn (measured with py-spy). The check
stays exactly as strict; an answer that fails it still raises Rasa's own error, with Rasa's message.
Installed by the channels module, which every Rasa server of this project loads.
"""
from __future__ import annotations

import functools
from typing import Any, Dict, Text

from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction

_rasa_validate = RemoteAction._validate_action_result


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    if _validator().is_valid(result):
        return True
    return _rasa_validate(self, result)  # raises Rasa's ValidationError with its message


def install() -> None:
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[assignment]
