"""A real OCPI 2.2.1 CPO peer for the tests: extrawest-ocpi on uvicorn, in-memory data.

Runs inside the peer's own virtualenv (scripts/ocpi-peer-venv.sh), never in the
project's. Usage: serve.py SEED_JSON. The seed holds `tokens` (credentials tokens C,
plain text), `sessions` and `locations` (OCPI 2.2.1 objects as dicts), and optionally
`party_id` (default GRN).

With `commands` in the seed the peer also plays the brand's own stations' CPO for the stop
tests: extrawest-ocpi's Commands module (CPO role) validates the StopSession body, answers the
CommandResponse at once and, when that is ACCEPTED, polls this CRUD for the charger's result every
2 seconds and POSTs the CommandResult to the `response_url` with `result_token` (our receiver's
token C). The CRUD plays the charger from the `commands` script, keyed by session id:

    {"response": "ACCEPTED", "timeout": 30, "result": "ACCEPTED" | "REJECTED" | ... | null, "after_s": 0,
     "complete": true}

`result` null: the charger never answers (py_ocpi would post FAILED only after its own 5 minutes).
`complete`: with an ACCEPTED result the session becomes COMPLETED in the Sessions module, as a CPO's would.
A session id without a script gets UNKNOWN_SESSION.

It binds 127.0.0.1 on a free port itself and prints `PORT <n>` on stdout before
serving, so the fixture learns the port without a bind-then-release race.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import time
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple


def _bind() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _aware(value: Optional[datetime]) -> Optional[datetime]:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)  # OCPI: no zone designator means UTC
    return value


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def main(seed_path: str) -> None:
    sock = _bind()
    port = sock.getsockname()[1]
    with open(seed_path, encoding="utf-8") as fh:
        seed = json.load(fh)
    # py_ocpi reads its settings from the environment at import time: set every one it
    # depends on, so a stray variable in CI (ENVIRONMENT=ci, NO_AUTH=1) cannot change the peer.
    os.environ.update(
        {
            "ENVIRONMENT": "production",
            "NO_AUTH": "false",
            "OCPI_HOST": f"127.0.0.1:{port}",
            "OCPI_PREFIX": "ocpi",
            "PROTOCOL": "http",
            "COUNTRY_CODE": "NL",
            "PARTY_ID": seed.get("party_id", "GRN"),
            "BACKEND_CORS_ORIGINS": "[]",
            "TRAILING_SLASH": "true",
            "CI_STRING_LOWERCASE_PREFERENCE": "true",  # the quirk the client must absorb
        }
    )

    import uvicorn
    from py_ocpi import get_application
    from py_ocpi.core.authentication.authenticator import Authenticator
    from py_ocpi.core.crud import Crud
    from py_ocpi.core.enums import Action, ModuleID, RoleEnum
    from py_ocpi.modules.versions.enums import VersionNumber

    objects = {ModuleID.sessions: seed["sessions"], ModuleID.locations: seed["locations"]}
    # py_ocpi lowercases CiString path ids; OCPI ids are case-insensitive anyway. The same dicts as in
    # `objects`, so a session the charger completes is COMPLETED in its list too.
    by_id: Dict[Any, Dict[str, Any]] = {m: {o["id"].lower(): o for o in items} for m, items in objects.items()}
    script = {k.lower(): v for k, v in (seed.get("commands") or {}).items()}
    accepted_at: Dict[str, float] = {}  # session id -> when the command was accepted (the charger's clock starts)
    tokens: List[str] = list(seed["tokens"])

    class SeededAuthenticator(Authenticator):
        @classmethod
        async def get_valid_token_c(cls) -> List[str]:
            return tokens

        @classmethod
        async def get_valid_token_a(cls) -> List[str]:
            return []

    class InMemoryCrud(Crud):
        """Read-only CRUD over the seed, with OCPI's list semantics (last_updated window), and the
        charger behind the Commands module when the seed scripts one."""

        @classmethod
        async def get(cls, module: ModuleID, role: RoleEnum, id: Any, *args, **kwargs) -> Any:
            if module == ModuleID.commands:
                return cls._charger_result(kwargs["command_data"].session_id.lower())
            return by_id.get(module, {}).get(str(id).lower())

        @classmethod
        def _charger_result(cls, sid: str) -> Any:
            plan = script.get(sid) or {}
            if plan.get("result") is None or time.monotonic() - accepted_at[sid] < plan.get("after_s", 0):
                return None
            session = by_id[ModuleID.sessions].get(sid)
            if plan["result"] == "ACCEPTED" and plan.get("complete") and session is not None:
                now = _iso(datetime.now(timezone.utc))
                session.update(status="COMPLETED", end_date_time=now, last_updated=now)
            return {"result": plan["result"], "message": []}

        @classmethod
        async def list(cls, module: ModuleID, role: RoleEnum, filters: dict, *args, **kwargs) -> Tuple[list, int, bool]:
            date_from = _aware(filters.get("date_from"))
            date_to = _aware(filters.get("date_to"))
            matching = [
                item
                for item in sorted(objects.get(module, []), key=lambda i: (i["last_updated"], i["id"]))
                if (date_from is None or _parse_time(item["last_updated"]) >= date_from)
                and (date_to is None or _parse_time(item["last_updated"]) < date_to)
            ]
            offset, limit = filters["offset"], filters["limit"]
            page = matching[offset : offset + limit]
            return page, len(matching), offset + limit >= len(matching)

        @classmethod
        async def do(cls, module: ModuleID, role: RoleEnum, action: Action, *args, **kwargs) -> Any:
            if action == Action.get_client_token and script:
                return seed["result_token"]  # how this CPO authenticates at the eMSP's receiver
            if action == Action.send_command and script:
                sid = str(args[0]["session_id"]).lower()
                if sid not in script or sid not in by_id[ModuleID.sessions]:
                    return {"result": "UNKNOWN_SESSION", "timeout": 0}
                accepted_at[sid] = time.monotonic()
                return {"result": script[sid]["response"], "timeout": script[sid].get("timeout", 30)}
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

    modules = [ModuleID.sessions, ModuleID.locations] + ([ModuleID.commands] if script else [])
    app = get_application(
        version_numbers=[VersionNumber.v_2_2_1],
        roles=[RoleEnum.cpo],
        crud=InMemoryCrud,
        modules=modules,
        authenticator=SeededAuthenticator,
    )
    print(f"PORT {port}", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])


if __name__ == "__main__":
    main(sys.argv[1])
