"""A real OCPI 2.2.1 CPO peer for the tests: extrawest-ocpi on uvicorn, in-memory data.

Runs inside the peer's own virtualenv (scripts/ocpi-peer-venv.sh), never in the
project's. Usage: serve.py SEED_JSON. The seed holds `tokens` (credentials tokens C,
plain text), `sessions` and `locations` (OCPI 2.2.1 objects as dicts).

It binds 127.0.0.1 on a free port itself and prints `PORT <n>` on stdout before
serving, so the fixture learns the port without a bind-then-release race.
"""
from __future__ import annotations

import json
import os
import socket
import sys
from datetime import datetime, timezone
from typing import Any, List, Optional, Tuple


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


def main(seed_path: str) -> None:
    sock = _bind()
    port = sock.getsockname()[1]
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
            "PARTY_ID": "GRN",
            "BACKEND_CORS_ORIGINS": "[]",
            "TRAILING_SLASH": "true",
            "CI_STRING_LOWERCASE_PREFERENCE": "true",  # the quirk the client must absorb
        }
    )

    import uvicorn
    from py_ocpi import get_application
    from py_ocpi.core.authentication.authenticator import Authenticator
    from py_ocpi.core.crud import Crud
    from py_ocpi.core.enums import ModuleID, RoleEnum
    from py_ocpi.modules.versions.enums import VersionNumber

    with open(seed_path, encoding="utf-8") as fh:
        seed = json.load(fh)
    objects = {ModuleID.sessions: seed["sessions"], ModuleID.locations: seed["locations"]}
    tokens: List[str] = list(seed["tokens"])

    class SeededAuthenticator(Authenticator):
        @classmethod
        async def get_valid_token_c(cls) -> List[str]:
            return tokens

        @classmethod
        async def get_valid_token_a(cls) -> List[str]:
            return []

    class InMemoryCrud(Crud):
        """Read-only CRUD over the seed, with OCPI's list semantics (last_updated window)."""

        @classmethod
        async def get(cls, module: ModuleID, role: RoleEnum, id: Any, *args, **kwargs) -> Any:
            # py_ocpi lowercases CiString path ids; OCPI ids are case-insensitive anyway.
            for item in objects.get(module, []):
                if item["id"].lower() == str(id).lower():
                    return item
            return None

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
        async def create(cls, *args, **kwargs) -> Any:
            raise NotImplementedError

        @classmethod
        async def update(cls, *args, **kwargs) -> Any:
            raise NotImplementedError

        @classmethod
        async def delete(cls, *args, **kwargs) -> Any:
            raise NotImplementedError

        @classmethod
        async def do(cls, *args, **kwargs) -> Any:
            raise NotImplementedError

    app = get_application(
        version_numbers=[VersionNumber.v_2_2_1],
        roles=[RoleEnum.cpo],
        crud=InMemoryCrud,
        modules=[ModuleID.sessions, ModuleID.locations],
        authenticator=SeededAuthenticator,
    )
    print(f"PORT {port}", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])


if __name__ == "__main__":
    main(sys.argv[1])
