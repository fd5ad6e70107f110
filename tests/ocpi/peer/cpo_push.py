"""The CPO side of the receiver tests: extrawest-ocpi (py_ocpi) pushing to our eMSP receiver.

Runs inside the peer's own virtualenv (scripts/ocpi-peer-venv.sh), never in the project's.
Usage: cpo_push.py STEP_JSON; prints one JSON line with what happened. Steps:

- {"action": "register", "versions_url", "token_a", "token_b", "peer_versions_url"}: the OCPI 2.2.1
  credentials handshake as the CPO starts it (GET versions and details with token A, POST credentials
  with py_ocpi's Credentials model); prints the token C the receiver gave back.
- {"action": "push", "module": "locations"|"sessions"|"cdrs", "object", "details_url", "token_c"}: py_ocpi's
  own push (`py_ocpi.core.push.push_object`: PUT for locations and sessions, POST for CDRs), the object
  checked by py_ocpi's models on the way out.
- {"action": "patch", "session_id", "patches", "details_url", "token_c"}: Session PATCHes (py_ocpi has no
  PATCH push), each body checked by py_ocpi's SessionPartialUpdate model.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import uuid

os.environ.update({"ENVIRONMENT": "production", "NO_AUTH": "false", "COUNTRY_CODE": "NL", "PARTY_ID": "GRN",
                   "PROTOCOL": "http", "OCPI_HOST": "127.0.0.1", "OCPI_PREFIX": "ocpi", "BACKEND_CORS_ORIGINS": "[]",
                   "CI_STRING_LOWERCASE_PREFERENCE": "true"})

import httpx  # noqa: E402
from py_ocpi.core.adapter import BaseAdapter  # noqa: E402
from py_ocpi.core.crud import Crud  # noqa: E402
from py_ocpi.core.enums import ModuleID  # noqa: E402
from py_ocpi.core.push import push_object  # noqa: E402
from py_ocpi.core.schemas import Push, Receiver  # noqa: E402
from py_ocpi.modules.credentials.v_2_2_1.schemas import Credentials  # noqa: E402
from py_ocpi.modules.sessions.v_2_2_1.schemas import SessionPartialUpdate  # noqa: E402
from py_ocpi.modules.versions.enums import VersionNumber  # noqa: E402


def _auth(token: str) -> dict:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode(),
            "X-Request-ID": str(uuid.uuid4()), "X-Correlation-ID": str(uuid.uuid4())}


def _data(response: httpx.Response):
    body = response.json()
    assert body["status_code"] == 1000, body
    return body["data"]


def register(step: dict) -> dict:
    with httpx.Client(timeout=20) as client:
        versions = _data(client.get(step["versions_url"], headers=_auth(step["token_a"])))
        details_url = next(v["url"] for v in versions if v["version"] == "2.2.1")
        details = _data(client.get(details_url, headers=_auth(step["token_a"])))
        credentials_url = next(e["url"] for e in details["endpoints"] if e["identifier"] == "credentials")
        ours = Credentials(token=step["token_b"], url=step["peer_versions_url"], roles=[{
            "role": "CPO", "party_id": "GRN", "country_code": "NL",
            "business_details": {"name": "GreenCharge B.V.", "website": "https://www.greencharge.example/support"}}])
        response = client.post(credentials_url, headers=_auth(step["token_a"]), content=ours.json(),
                               )
        theirs = _data(response)
    return {"token_c": theirs["token"], "details_url": details_url, "roles": theirs["roles"],
            "request_id_echoed": response.headers.get("X-Request-ID") is not None}


def push(step: dict) -> dict:
    obj = step["object"]

    class OneObject(Crud):
        @classmethod
        async def get(cls, *args, **kwargs):
            return obj

    module = {"locations": ModuleID.locations, "sessions": ModuleID.sessions, "cdrs": ModuleID.cdrs}[step["module"]]
    result = asyncio.run(push_object(
        VersionNumber.v_2_2_1,
        Push(module_id=module, object_id=obj["id"],
             receivers=[Receiver(endpoints_url=step["details_url"], auth_token=step["token_c"])]),
        OneObject, BaseAdapter))
    answer = result.receiver_responses[0]
    return {"http_status": answer.status_code, "response": dict(answer.response)}


def patch(step: dict) -> dict:
    answers = []
    with httpx.Client(timeout=20) as client:
        details = _data(client.get(step["details_url"], headers=_auth(step["token_c"])))
        base = next(e["url"] for e in details["endpoints"]
                    if e["identifier"] == "sessions" and e["role"] == "RECEIVER")
        url = f"{base.rstrip('/')}/NL/GRN/{step['session_id']}"
        for body in step["patches"]:
            checked = SessionPartialUpdate(**body)
            payload = {k: v for k, v in json.loads(checked.json()).items() if v is not None and k in body}
            response = client.patch(url, headers=_auth(step["token_c"]), json=payload)
            answers.append({"http_status": response.status_code, "status_code": response.json()["status_code"]})
    return {"answers": answers}


def main() -> None:
    step = json.loads(sys.argv[1])
    action = {"register": register, "push": push, "patch": patch}[step["action"]]
    print(json.dumps(action(step)), flush=True)


if __name__ == "__main__":
    main()
