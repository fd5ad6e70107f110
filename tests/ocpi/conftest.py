"""Fixtures: a real OCPI 2.2.1 peer (extrawest-ocpi in its own venv) and scripted HTTP peers."""
from __future__ import annotations

import base64
import json
import os
import selectors
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest
import requests

from tests.ocpi.ocpi_seed import TOKEN, build_seed
from tests.ocpi.scripted_http import ScriptedServer

ROOT = Path(__file__).resolve().parents[2]
VENV_SCRIPT = ROOT / "scripts" / "ocpi-peer-venv.sh"
SERVE = Path(__file__).resolve().parent / "peer" / "serve.py"
STARTUP_DEADLINE_S = 30.0
_peer_stderr: list = []  # where the running peer writes, for failure reports


@dataclass(frozen=True)
class Peer:
    base_url: str
    token: str
    now: datetime  # the seed's "now": session times are relative to it
    seed: dict


@pytest.fixture(scope="session")
def peer_python() -> str:
    """The peer venv's interpreter, built by scripts/ocpi-peer-venv.sh (instant when present)."""
    started = time.monotonic()
    proc = subprocess.run(["bash", str(VENV_SCRIPT)], capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        pytest.fail(f"building the OCPI peer venv failed:\n{proc.stderr[-4000:]}")
    python = proc.stdout.strip().splitlines()[-1]
    sys.stderr.write(f"\n[ocpi] peer venv ready in {time.monotonic() - started:.2f}s: {python}\n")
    return python


def _read_port(proc: subprocess.Popen, deadline: float) -> int:
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buffer = b""
    while time.monotonic() < deadline and proc.poll() is None:
        if sel.select(timeout=0.1):
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buffer += chunk
            for line in buffer.decode(errors="replace").splitlines():
                if line.startswith("PORT "):
                    return int(line.split()[1])
    raise RuntimeError("the peer did not report its port")


def _wait_ready(base_url: str, deadline: float) -> None:
    # A real authenticated OCPI call, not just an open port: the app is up when it answers.
    headers = {"Authorization": "Token " + base64.b64encode(TOKEN.encode()).decode()}
    last = None
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base_url}/locations/", headers=headers, timeout=1).status_code == 200:
                return
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"the peer did not answer OCPI calls in time ({last})")


def start_peer(peer_python: str, seed: dict, workdir: Path, name: str = "peer"):
    """The peer (peer/serve.py) on `seed`, started and answering OCPI calls: (process, its 2.2.1 base URL,
    its stderr file). Raises RuntimeError, with what the peer logged, when it does not come up."""
    seed_path = workdir / f"{name}-seed.json"
    seed_path.write_text(json.dumps(seed), encoding="utf-8")
    stderr_path = workdir / f"{name}.stderr"
    with open(stderr_path, "wb") as stderr:
        # cwd is the empty workdir: py_ocpi would read a stray .env from its cwd.
        proc = subprocess.Popen([peer_python, str(SERVE), str(seed_path)], cwd=workdir, stdout=subprocess.PIPE, stderr=stderr)
    try:
        deadline = time.monotonic() + STARTUP_DEADLINE_S
        port = _read_port(proc, deadline)
        base_url = f"http://127.0.0.1:{port}/ocpi/cpo/2.2.1"
        _wait_ready(base_url, deadline)
    except Exception as exc:
        _stop(proc)
        raise RuntimeError(f"the OCPI peer did not start: {exc}\n--- peer stderr ---\n{_tail(stderr_path)}") from exc
    return proc, base_url, stderr_path


@pytest.fixture(scope="session")
def ocpi_peer(peer_python: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    seed = build_seed(now)
    started = time.monotonic()
    try:
        proc, base_url, stderr_path = start_peer(peer_python, seed, tmp_path_factory.mktemp("ocpi-peer"))
    except RuntimeError as exc:
        pytest.fail(str(exc))
    _peer_stderr.append(stderr_path)
    sys.stderr.write(f"[ocpi] peer up at {base_url} in {time.monotonic() - started:.2f}s\n")
    yield Peer(base_url=base_url, token=TOKEN, now=now, seed=seed)
    _stop(proc)
    if proc.returncode not in (0, -15):
        sys.stderr.write(f"[ocpi] peer exited with {proc.returncode}\n{_tail(stderr_path)}\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # When a test against the peer fails, show what the peer logged.
    outcome = yield
    report = outcome.get_result()
    if report.failed and "ocpi_peer" in item.fixturenames:
        for path in _peer_stderr:
            report.sections.append(("OCPI peer stderr", _tail(path)))


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    if proc.stdout:
        proc.stdout.close()


def _tail(path: Path, size: int = 4000) -> str:
    try:
        return path.read_bytes()[-size:].decode(errors="replace")
    except OSError:
        return "(no stderr captured)"


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.close()

