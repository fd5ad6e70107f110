"""The own stations' CPO for the stop tests: extrawest-ocpi's Commands module (CPO role) on uvicorn.

Runs inside the peer's own virtualenv (scripts/ocpi-peer-venv.sh). Usage: cpo_commands.py SEED_JSON.
py_ocpi does the protocol: it validates the StopSession body, answers the CommandResponse at once and, when
that is ACCEPTED, polls its CRUD for the charger's result every 2 seconds and POSTs the CommandResult to the
`response_url` with the token `get_client_token` gives (our receiver's token C). This CRUD plays the charger,
from the seed's `commands` script, keyed by session id:

    {"response": "ACCEPTED", "timeout": 30, "result": "ACCEPTED" | "REJECTED" | ... | null, "after_s": 0,
     "complete": true}

`result` null: the charger never answers (py_ocpi would post FAILED only after its own 5 minutes).
`complete`: with an ACCEPTED result the session becomes COMPLETED in the Sessions module, as a CPO's would.
A session id without a script gets UNKNOWN_SESSION. Also serves Sessions and Locations (sender interfaces).
Binds 127.0.0.1 on a free port and prints `PORT <n>`.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import time
from datetime import datetime, timezone
from typing import Any, List, Tuple


def _bind() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def main(seed_path: str) -> None:
    sock = _bind()
    port = sock.getsockname()[1]
    os.environ.update({"ENVIRONMENT": "production", "NO_AUTH": "false", "OCPI_HOST": f"127.0.0.1:{port}",
                       "OCPI_PREFIX": "ocpi", "PROTOCOL": "http", "COUNTRY_CODE": "NL", "PARTY_ID": "EFL",
                       "BACKEND_CORS_ORIGINS": "[]", "TRAILING_SLASH": "true",
                       "CI_STRING_LOWERCASE_PREFERENCE": "true"})

    import uvicorn
    from py_ocpi import get_application
    from py_ocpi.core.authentication.authenticator import Authenticator
    from py_ocpi.core.crud import Crud
    from py_ocpi.core.enums import Action, ModuleID, RoleEnum
    from py_ocpi.modules.versions.enums import VersionNumber

    with open(seed_path, encoding="utf-8") as fh:
        seed = json.load(fh)
    sessions = {s["id"].lower(): s for s in seed["sessions"]}
    locations = {loc["id"].lower(): loc for loc in seed["locations"]}
    script = {k.lower(): v for k, v in seed["commands"].items()}
    accepted_at = {}  # session id -> when the command was accepted (the charger's clock starts)
    tokens: List[str] = list(seed["tokens"])

    class SeededAuthenticator(Authenticator):
        @classmethod
        async def get_valid_token_c(cls) -> List[str]:
            return tokens

        @classmethod
        async def get_valid_token_a(cls) -> List[str]:
            return []

    class ChargerCrud(Crud):
        @classmethod
        async def get(cls, module: ModuleID, role: RoleEnum, id: Any, *args, **kwargs) -> Any:
            if module == ModuleID.commands:
                return cls._charger_result(kwargs["command_data"].session_id.lower())
            table = sessions if module == ModuleID.sessions else locations
            return table.get(str(id).lower())

        @classmethod
        def _charger_result(cls, sid: str) -> Any:
            plan = script.get(sid) or {}
            if plan.get("result") is None or time.monotonic() - accepted_at[sid] < plan.get("after_s", 0):
                return None
            if plan["result"] == "ACCEPTED" and plan.get("complete") and sid in sessions:
                now = _iso(datetime.now(timezone.utc))
                sessions[sid].update(status="COMPLETED", end_date_time=now, last_updated=now)
            return {"result": plan["result"], "message": []}

        @classmethod
        async def list(cls, module: ModuleID, role: RoleEnum, filters: dict, *args, **kwargs) -> Tuple[list, int, bool]:
            table = sessions if module == ModuleID.sessions else locations
            items = sorted(table.values(), key=lambda i: (i["last_updated"], i["id"]))
            offset, limit = filters["offset"], filters["limit"]
            return items[offset:offset + limit], len(items), offset + limit >= len(items)

        @classmethod
        async def do(cls, module: ModuleID, role: RoleEnum, action: Action, *args, **kwargs) -> Any:
            if action == Action.get_client_token:
                return seed["result_token"]  # how this CPO authenticates at the eMSP's receiver
            if action == Action.send_command:
                sid = str(args[0]["session_id"]).lower()
                plan = script.get(sid)
                if plan is None or sid not in sessions:
                    return {"result": "UNKNOWN_SESSION", "timeout": 0}
                accepted_at[sid] = time.monotonic()
                return {"result": plan["response"], "timeout": plan.get("timeout", 30)}
            raise NotImplementedError(action)

        @classmethod
        async def create(cls, *args, **kwargs) -> Any:
            raise NotImplementedError

        @classmethod
        async def update(cls, *args, **kwargs) -> Any:
            raise NotImplementedError

        @classmethod
        async def delete(cls, *args, **kwargs) -> Any:
            raise NotImplementedError

    app = get_application(version_numbers=[VersionNumber.v_2_2_1], roles=[RoleEnum.cpo], crud=ChargerCrud,
                          modules=[ModuleID.commands, ModuleID.sessions, ModuleID.locations],
                          authenticator=SeededAuthenticator)
    print(f"PORT {port}", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])


if __name__ == "__main__":
    main(sys.argv[1])
