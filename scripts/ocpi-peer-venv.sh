#!/usr/bin/env bash
# Builds the separate virtualenv that runs the OCPI 2.2.1 test peer (extrawest-ocpi on
# uvicorn). Its pins (pydantic 1.10.12, fastapi 0.101) differ from Rasa's, so it never
# shares the project's .venv. Idempotent: returns at once when the venv already matches
# tests/ocpi/peer/requirements.txt; rebuilds when the pins change or a build was cut short.
#
#   scripts/ocpi-peer-venv.sh        prints the peer's python path on the last line
#
# Environment: OCPI_PEER_VENV (default: var/ocpi-peer-venv), OCPI_PEER_PYTHON (interpreter).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${OCPI_PEER_VENV:-$ROOT/var/ocpi-peer-venv}"
REQS="$ROOT/tests/ocpi/peer/requirements.txt"
STAMP="$VENV/.built-from"

want="$(sha256sum "$REQS" | cut -d' ' -f1)"
is_current() { [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; }

if is_current; then
    echo "$VENV/bin/python"
    exit 0
fi

mkdir -p "$(dirname "$VENV")"
# Two test runs may start at once: one builds, the other waits and then finds it current.
exec 9>"$VENV.lock"
flock 9
if is_current; then
    echo "$VENV/bin/python"
    exit 0
fi

# Python 3.10 exactly: on 3.11+ f-strings format the peer's str-Enums as "VersionNumber.v_2_2_1",
# which breaks the Link headers extrawest-ocpi 2025.7.16 builds for pagination.
pick_python() {
    if [ -n "${OCPI_PEER_PYTHON:-}" ]; then
        echo "$OCPI_PEER_PYTHON"
        return
    fi
    if python3.10 -c 'pass' >/dev/null 2>&1; then
        echo "python3.10"
        return
    fi
    if command -v pyenv >/dev/null 2>&1; then
        local v
        v="$(pyenv versions --bare 2>/dev/null | grep -E '^3\.10\.[0-9]+$' | sort -V | tail -n1 || true)"
        if [ -n "$v" ]; then
            echo "$(pyenv root)/versions/$v/bin/python3.10"
            return
        fi
    fi
    echo "ocpi-peer-venv: no Python 3.10 found; set OCPI_PEER_PYTHON" >&2
    exit 1
}
PY="$(pick_python)"
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 10), sys.version' \
    || { echo "ocpi-peer-venv: $PY is not Python 3.10" >&2; exit 1; }

echo "ocpi-peer-venv: building $VENV with $("$PY" --version)" >&2
rm -rf "$VENV"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$REQS" >&2
"$VENV/bin/python" -c 'import py_ocpi, uvicorn' >&2
# Written last: a build that stopped half-way is rebuilt on the next run.
echo "$want" >"$STAMP"
echo "$VENV/bin/python"
