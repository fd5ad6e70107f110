"""The Rasa server's check of the action server's answers stays as strict with its validator built once."""
import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

import bot.rasa_plugins.channels  # noqa: F401 - installs the check, as in every Rasa server of the project
from bot.rasa_plugins import action_results


@pytest.fixture
def action() -> RemoteAction:
    return RemoteAction("action_check_session", action_endpoint=None)


def test_the_channels_module_installs_the_cached_check():
    assert RemoteAction._validate_action_result is action_results._validate_action_result


def test_a_valid_answer_passes(action):
    answer = {"events": [{"event": "slot", "name": "step", "value": "wait"},
                         {"event": "followup", "name": "handoff_form"}],
              "responses": [{"text": "Sessions close automatically after 72 hours."}]}
    assert action._validate_action_result(answer) is True


@pytest.mark.parametrize("answer", [
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"event": "slot", "name": "step", "timestamp": "yesterday"}]},
    {"events": "not a list"},
    {"responses": [42]},
])
def test_an_invalid_answer_still_fails_with_rasas_message(action, answer):
    with pytest.raises(ValidationError) as failure:
        action._validate_action_result(answer)
    assert "Failed to validate Action server response" in failure.value.message
