"""The share of conversations that end in a handoff, before and after the stop flow (issue 15, point 6).

One Rasa server and our receiver run throughout; the action server is restarted per configuration (only it
reads the stop settings), against the own stations' CPO played by extrawest-ocpi (tests/ocpi/peer/serve.py)
scripted for the demo sessions at own stations:

- `before`: no own CPO endpoint configured (what the assistant did before this issue);
- `accepted`: the charger accepts the stop and the session shows COMPLETED;
- `rejected_back_office`: the charger no longer knows the session (REJECTED), fallback `back_office_close`;
- `rejected_handoff`: REJECTED, fallback `handoff`.

Measured on (a) the demo accounts, one conversation each on freshly seeded data (the README's demo lines;
a stop offer is answered "yes"), and (b) the scenario suite (tests/scenarios, its own runner; every scenario's
last state tells whether a handoff record exists). The suite seeds once and runs three conversations at a time,
so one command per session means only the first conversation on a stale session can get the stop; (c) therefore
also runs the scenarios of the accounts with a stale own-station session one at a time on fresh data. Run:

    STOP_MEASURE_CONFIGS=before,accepted .venv/bin/python -m tests.ocpi.measure_stop_handoffs [--no-suite]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional

import requests

from bot.apps.ocpi_receiver import build_app
from bot.apps.servers import ACTION_READY_PATH, start_action_server, wait_ready
from bot.apps.web_server import BackgroundSite
from bot.domain.clock import utcnow
from bot.settings import PROJECT_ROOT, OcpiReceiverSettings, settings_from_env
from bot.store.seed import SCENARIOS, seed_demo
from harness.stack import embedded_env, free_port, start_stack
from tests.ocpi import stop_support
from tests.ocpi.ocpi_seed import TOKEN
from tests.ocpi.receiver_support import register_directly
from tests.scenarios.runner import (Target, domain_has_slot, handoff_record, load_scenarios, run_scenario, run_suite,
                                   seeded_sessions, token_for)

SECRET = "measure-stop-secret"
OWN_DEMO_SESSIONS = ("SES-100001", "SES-100003", "SES-100004", "SES-100006")
REPORT = "I stopped charging but my session is still active in the app"
# Each demo account's conversation (the README's demo lines); a stop offer gets "yes".
DEMO_TURNS = {"demo-blocked": [REPORT, "I can't start a new session"], "demo-two": [REPORT, "the first one"]}
CONFIGS = {
    "before": None,
    "accepted": ({"response": "ACCEPTED", "timeout": 30, "result": "ACCEPTED", "complete": True}, "handoff"),
    "rejected_back_office": ({"response": "ACCEPTED", "timeout": 30, "result": "REJECTED"}, "back_office_close"),
    "rejected_handoff": ({"response": "ACCEPTED", "timeout": 30, "result": "REJECTED"}, "handoff"),
}


def newest_model() -> Path:
    found = sorted((PROJECT_ROOT / "models").glob("assistant-*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not found:
        sys.exit("no trained model in models/: `make train` first")
    return found[-1]


def demo_conversations(target: Target) -> List[Dict]:
    out = []
    for demo in SCENARIOS:
        sender = f"measure-{uuid.uuid4().hex[:10]}"
        body = {"sender": sender, "metadata": {"identity": token_for(demo.account_id, target.secret)}}
        said: List[str] = []
        for text in DEMO_TURNS.get(demo.account_id, [REPORT]) + ["yes"]:
            if text == "yes" and not any("Shall I?" in s for s in said[-1:]):
                break  # "yes" only answers the stop offer
            answer = requests.post(f"{target.url}/webhooks/rest/webhook", json=dict(body, message=text), timeout=90)
            said.append(" ".join(m.get("text") or "" for m in answer.json()))
        out.append({"account": demo.account_id, "handoff": handoff_record(target, sender) is not None,
                    "offered": any("Shall I?" in s for s in said), "last": said[-1][:160]})
    return out


def isolated(target: Target, settings, accounts: List[str]) -> List[Dict]:
    """The suite's scenarios of these accounts one at a time, each on freshly seeded data: the suite shares one
    seeding, so with one command per session only its first conversation on a stale session could get the stop."""
    out = []
    pending_slot = domain_has_slot("pending_question")
    for scenario in [s for s in load_scenarios() if s.account in accounts]:
        seed_demo(settings)
        result = run_scenario(scenario, target, seeded_sessions(settings), pending_slot)
        out.append({"name": scenario.name, "passed": result["passed"],
                    "handoff": bool((result.get("final") or {}).get("handoff"))})
    return out


def share(flags: List[bool]) -> str:
    return f"{sum(flags)}/{len(flags)} = {100 * sum(flags) / max(1, len(flags)):.1f}%"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--no-suite", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--isolated", default="demo-blocked,demo-overdue",
                        help="accounts whose scenarios also run one at a time on fresh data ('' for none)")
    args = parser.parse_args(argv)
    configs = os.environ.get("STOP_MEASURE_CONFIGS", "before,accepted,rejected_back_office,rejected_handoff").split(",")
    peer_python = stop_support.peer_python_path()
    run_dir = Path(tempfile.mkdtemp(prefix="measure-stop-"))
    env = embedded_env(os.environ, run_dir, SECRET)
    receiver_port = free_port()
    env["BOT_OCPI_PUBLIC_URL"] = f"http://127.0.0.1:{receiver_port}"
    settings = settings_from_env(env)
    settings = replace(settings, ocpi_receiver=OcpiReceiverSettings(public_url=env["BOT_OCPI_PUBLIC_URL"]))
    seed_demo(settings)
    token_c = register_directly(settings, parties=(("NL", "EFL"),), label="own CPO")
    site = BackgroundSite(build_app(settings, compact_every_s=None), receiver_port).start()
    stack = start_stack(args.model or newest_model(), run_dir, env)
    results: Dict[str, Dict] = {}
    peer = None
    try:
        stack.wait_ready(deadline_s=600)
        action_port = int(stack.actions.url.rsplit(":", 1)[1].split("/")[0])
        for name in configs:
            config_env = dict(stack.env)
            if CONFIGS[name] is not None:
                plan, fallback = CONFIGS[name]
                now = utcnow()
                peer = stop_support.start_commands_peer(peer_python, run_dir, token_c, now,
                                                        {sid: plan for sid in OWN_DEMO_SESSIONS})
                config_env.update(BOT_OWN_CPO_OCPI_URL=peer[1], BOT_OWN_CPO_TOKEN=TOKEN, BOT_STOP_FALLBACK=fallback,
                                  BOT_STOP_RESULT_TIMEOUT_S="5", BOT_STOP_CONFIRM_TIMEOUT_S="6")
            stack.actions.stop()
            stack.actions = start_action_server(action_port, run_dir / f"actions-{name}.log", config_env)
            wait_ready(stack.actions, ACTION_READY_PATH)
            target = Target.from_env(stack.url, stack.env)
            seed_demo(settings)
            demo = demo_conversations(target)
            entry: Dict = {"demo": demo, "demo_handoff_share": share([d["handoff"] for d in demo])}
            if not args.no_suite:
                seed_demo(settings)
                suite = run_suite(target, load_scenarios())
                ended = [bool((r.get("final") or {}).get("handoff")) for r in suite["results"]]
                entry.update(suite_handoff_share=share(ended), suite_pass_rate=suite["summary"]["rate"],
                             suite_seconds=suite["seconds"])
            accounts = [a for a in args.isolated.split(",") if a]
            if accounts:
                alone = isolated(target, settings, accounts)
                entry.update(isolated_handoff_share=share([r["handoff"] for r in alone]),
                             isolated_pass_rate=share([r["passed"] for r in alone]))
            results[name] = entry
            print(f"[{name}] demo accounts: {entry['demo_handoff_share']} end in a handoff"
                  + (f"; scenario suite: {entry['suite_handoff_share']}, pass rate {entry['suite_pass_rate']}"
                     if "suite_handoff_share" in entry else "")
                  + (f"; {args.isolated} scenarios one at a time: {entry['isolated_handoff_share']} handoffs, "
                     f"passed {entry['isolated_pass_rate']}" if "isolated_handoff_share" in entry else ""), flush=True)
            if peer is not None:
                stop_support._stop(peer[0])
                peer = None
    finally:
        if peer is not None:
            stop_support._stop(peer[0])
        stack.stop()
        site.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "demo"} for k, v in results.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
