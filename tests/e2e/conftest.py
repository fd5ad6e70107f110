from __future__ import annotations

import pytest

from bot.processes import ACTION_READY_PATH, RASA_READY_PATH, start_action_server, start_rasa_server, wait_ready
from bot.seed import seed_demo
from tests.conftest import free_port


@pytest.fixture(scope="session")
def stack(run_dir, stack_env, stack_settings, trained_model):
    """Action server + Rasa server, started once for all end-to-end tests, on the seeded demo data."""
    seed_demo(stack_settings)
    actions_port, rasa_port = free_port(), free_port()
    env = dict(stack_env, ACTION_ENDPOINT_URL=f"http://127.0.0.1:{actions_port}/webhook")
    actions = start_action_server(actions_port, run_dir / "actions.log", env)
    rasa = start_rasa_server(trained_model, rasa_port, run_dir / "rasa.log", env)
    try:
        wait_ready(actions, ACTION_READY_PATH)
        wait_ready(rasa, RASA_READY_PATH, deadline_s=300)
        yield {"rasa_url": rasa.url, "actions": actions, "rasa": rasa, "env": env}
    finally:
        rasa.stop()
        actions.stop()
