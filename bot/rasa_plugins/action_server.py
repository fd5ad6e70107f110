"""The action server: rasa_sdk's own Sanic app, reachable only by Rasa servers that know the shared secret.

rasa_sdk 3.6 has no authentication and listens on 0.0.0.0, so anyone who reaches it can run any
action with any tracker (and file any handoff). This program serves the same app with two changes:

- every call but `GET /health` needs the shared secret BOT_ACTION_TOKEN, as `Authorization: Bearer
  <token>` (what bot.rasa_plugins.stores sends) or as Rasa's own `?token=` query parameter; compared
  in constant time; anything else gets 401 and never reaches an action;
- it binds 127.0.0.1 unless BOT_ACTION_HOST (or --host) says otherwise.

Without BOT_ACTION_TOKEN it refuses to start, unless started with `--dev`: then it uses the
per-machine development token in var/ (created with mode 0600), which `bot run` and the test stacks
hand to the Rasa server too.

    BOT_ACTION_TOKEN=... python -m bot.rasa_plugins.action_server --port 5055 --logging-config_file logging.yml

(It lives among the Rasa plug-ins because it imports rasa_sdk and Sanic, which the programs' room may not.)
"""
from __future__ import annotations

import hmac
import logging
import os
import sys
from typing import List, Optional

from rasa_sdk import utils
from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
from rasa_sdk.endpoint import create_app as create_sdk_app
from rasa_sdk.endpoint import create_argument_parser
from sanic import Sanic, response
from sanic.request import Request

from bot.conversation.texts import choose_language
from bot.settings import action_token_from_env, dev_action_token

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
MIN_TOKEN_LENGTH = 16
OPEN_PATHS = frozenset({"/health"})
# A tracker is sent whole on every call; a long conversation is a few hundred kB.
MAX_REQUEST_BYTES = 8 * 1024 * 1024


def supplied_token(request: Request) -> Optional[str]:
    scheme, _, credentials = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.args.get("token")


def create_app(token: str, actions_package: str = "actions") -> Sanic:
    """rasa_sdk's app for `actions_package`, answering only callers that present `token`."""
    if not token or len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(f"the action server's token must have at least {MIN_TOKEN_LENGTH} characters")
    app = create_sdk_app(actions_package, cors_origins=None)

    @app.listener("before_server_start")
    async def load_language_detector(*_) -> None:
        # Its models take a second or two to load: before the first driver, not during their turn.
        choose_language("warm up the language detector", None, None)
    app.config.REQUEST_MAX_SIZE = MAX_REQUEST_BYTES
    expected = token.encode()

    @app.middleware("request")
    async def require_token(request: Request):
        if request.path in OPEN_PATHS:
            return None
        supplied = supplied_token(request)
        if supplied is None or not hmac.compare_digest(supplied.encode(), expected):
            logger.warning("refused %s %s from %s: no valid action token", request.method, request.path,
                           request.ip)
            return response.json({"error": "unauthorised"}, status=401,
                                 headers={"WWW-Authenticate": 'Bearer realm="actions"'})
        return None

    return app


def _parser():
    parser = create_argument_parser()
    parser.add_argument("--host", default=None,
                        help=f"interface to bind (BOT_ACTION_HOST, default {DEFAULT_HOST})")
    parser.add_argument("--dev", action="store_true",
                        help="development only: without BOT_ACTION_TOKEN, use the per-machine token in var/")
    return parser


def resolve_token(env, dev: bool) -> str:
    token = action_token_from_env(env)
    if token:
        return token
    if dev:
        return dev_action_token()
    raise SystemExit("BOT_ACTION_TOKEN is not set: the action server refuses to start without it "
                     "(every Rasa server must send the same token; `--dev` uses a development token in var/).")


def main(argv: Optional[List[str]] = None) -> None:
    args = _parser().parse_args(argv)
    token = resolve_token(os.environ, args.dev)
    if len(token) < MIN_TOKEN_LENGTH:
        raise SystemExit(f"BOT_ACTION_TOKEN must have at least {MIN_TOKEN_LENGTH} characters")
    host = args.host or os.environ.get("BOT_ACTION_HOST") or DEFAULT_HOST
    logging.getLogger("matplotlib").setLevel(logging.WARN)
    utils.configure_colored_logging(args.loglevel)
    utils.configure_file_logging(logging.getLogger(APPLICATION_ROOT_LOGGER_NAME), args.log_file, args.loglevel,
                                 args.logging_config_file)
    utils.update_sanic_log_level()
    app = create_app(token, args.actions or "actions")  # the project's actions/ unless told otherwise
    logger.info("Action endpoint is up and running on http://%s:%d (token required)", host, args.port)
    app.run(host, args.port, workers=utils.number_of_sanic_workers(), access_log=False)


if __name__ == "__main__":
    main(sys.argv[1:])
