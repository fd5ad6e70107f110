"""`make bench-ocpi`: the OCPI receiver under load, on PostgreSQL and on SQLite.

    python -m bench.ocpi                      # both databases, the full run (about 25-35 minutes on 2 cores)
    python -m bench.ocpi --backends sqlite --quick   # a smoke run of a few seconds

For each database: a fresh database, the receiver started as `bot ocpi-receiver --workers N` on 127.0.0.1,
a registered CPO and `--sessions` charging sessions of our own cards (PUT), then:
- sustained: as many session PATCHes as the receiver takes (closed loop, `--concurrency` connections);
- at rate: `--rate` PATCHes a second for `--duration` s (open loop), p50/p95/p99 from when each was due;
- for both: the CPU time a PATCH cost the receiver, the database server and the load generator (on a
  machine shared with other work the rates follow the load; the CPU a PATCH costs much less so);
- growth: the readings table filled to each of `--grow` rows (1M, 10M), then the cost of one update
  (one at a time) and the latency at `--rate`;
- memory (`--memory-updates`, 1 million by default, PostgreSQL unless `--memory-backends`): resident memory
  of the receiver's processes while that many PATCHes arrive (on the grown table).
Every phase stops by itself (`--duration`, `--memory-updates`; growth and memory end at `--max-minutes`).
Results: results/ocpi-latest.json and results/ocpi-latest.md (and a dated copy).
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional

import requests
from sqlalchemy import func, insert, select, text

from bench.ocpi_load import LoadResult, closed_loop, open_loop, patch_body, run as run_load
from bench.procmem import process_tree
from bench.stats import latency_summary
from bot.apps.ocpi_receiver import READY_PATH, make_store, start_ocpi_receiver
from bot.domain.ocpi import iso
from bot.settings import PROJECT_ROOT, settings_from_env
from bot.store import ocpi_ingest
from bot.store.db import create_schema
from bot.store.models import Account, ChargeCard
from bot.store.ocpi_models import OcpiReading, OcpiSession
from harness.stack import free_port

DEFAULT_PG = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MODULE = "/ocpi/emsp/2.2.1"


def log(message: str) -> None:
    print(f"[bench-ocpi {time.strftime('%H:%M:%S')}] {message}", flush=True)


def rss_mb(pid: int) -> float:
    total = 0
    for p in process_tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


class Sampler:
    """Resident memory of a process tree, sampled every `every_s` in a thread."""

    def __init__(self, pid: int, every_s: float = 1.0):
        self.pid, self.every_s, self.samples = pid, every_s, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), rss_mb(self.pid)))
            self._stop.wait(self.every_s)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.monotonic(), rss_mb(self.pid)))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads), from /proc; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU time a phase cost, per PATCH: the receiver's processes, the database's server processes serving
    the bench database (PostgreSQL), and this process (the load generator). On a machine shared with other
    work the rates move with the load; these move much less, so they say what changed in the code."""

    def __init__(self, run: "Run"):
        self.run = run

    def _database_pids(self) -> List[int]:
        if not self.run.settings.database_url.startswith("postgresql"):
            return []
        import psycopg2

        with closing(psycopg2.connect(self.run.settings.database_url, connect_timeout=5)) as conn, conn.cursor() as cur:
            cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
            return [pid for (pid,) in cur.fetchall()]

    def _sample(self) -> Dict[str, Dict[int, float]]:
        return {"receiver": {p: cpu_seconds(p) for p in process_tree(self.run.server.process.pid)},
                "database": {p: cpu_seconds(p) for p in self._database_pids()}}

    def __enter__(self) -> "CpuMeter":
        self.before, self.own = self._sample(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        after, own = self._sample(), time.process_time()
        self.spent = {part: sum(s - self.before[part].get(p, 0.0) for p, s in after[part].items()) for part in after}
        self.spent["load_generator"] = own - self.own

    def per_op(self, ops: int) -> Dict[str, float]:
        return {part: round(1000 * seconds / max(1, ops), 3) for part, seconds in self.spent.items()}


# --- one database --------------------------------------------------------------------------------------


class Postgres:
    def __init__(self, server_url: str):
        from sqlalchemy.engine import make_url

        self.server = make_url(server_url)
        self.name = f"stale_bench_ocpi_{os.getpid()}_{secrets.token_hex(3)}"

    def _admin(self):
        import psycopg2

        conn = psycopg2.connect(host=self.server.host, port=self.server.port or 5432, user=self.server.username,
                                password=self.server.password, dbname=self.server.database or "postgres",
                                connect_timeout=5)
        conn.autocommit = True
        return conn

    def __enter__(self) -> str:
        with closing(self._admin()) as conn, conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{self.name}"')
        return self.server.set(database=self.name).render_as_string(hide_password=False)

    def __exit__(self, *exc) -> None:
        with closing(self._admin()) as conn, conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class Sqlite:
    def __enter__(self) -> str:
        self.dir = tempfile.mkdtemp(prefix="bench-ocpi-")
        return f"sqlite:///{self.dir}/charging.db"

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class Run:
    """A receiver on one database, its sessions, and a sequence that keeps every PATCH newer than the last."""

    def __init__(self, backend: str, url: str, args: argparse.Namespace, workdir: Path):
        self.backend, self.args = backend, args
        self.env = dict(os.environ, BOT_DATABASE_URL=url, RASA_TELEMETRY_ENABLED="false")
        self.port = free_port()
        self.env["BOT_OCPI_PUBLIC_URL"] = f"http://127.0.0.1:{self.port}"
        self.settings = settings_from_env(self.env)
        self.workdir = workdir
        self.seq = itertools.count(1)
        self.base = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=2)
        self.sessions = [f"BENCH-{n:06d}" for n in range(args.sessions)]
        self.server = None
        self.token = ""

    def prepare(self) -> None:
        create_schema(self.settings)
        store = make_store(self.settings)
        with store.engine.begin() as conn:
            conn.execute(insert(Account.__table__), [{"id": "bench", "name": "Bench driver"}])
            conn.execute(insert(ChargeCard.__table__), [
                {"contract_id": f"NL-EFL-C{n:08d}-0", "uid": f"BENCH{n:08d}", "account_id": "bench"}
                for n in range(len(self.sessions))])
            ocpi_ingest.issue_token_a(conn, "bench CPO")
        from bot.domain.ocpi import Credentials, CredentialsRole

        with store.engine.begin() as conn:
            reg = conn.execute(select(func.max(ocpi_ingest.OcpiRegistration.id))).scalar_one()
            self.token = ocpi_ingest.register(conn, reg, Credentials("b", "http://127.0.0.1:9/v", (
                CredentialsRole("CPO", "NL", "GRN", "Bench CPO", None),)), [])
        store.dispose()
        self.server = start_ocpi_receiver(self.port, self.workdir / f"receiver-{self.backend}.log", self.env,
                                          workers=self.args.workers)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.server.url + READY_PATH, timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"receiver not ready:\n{self.server.log_tail()}")
        time.sleep(0.5)  # every worker listening

        def put(n: int):
            sid = self.sessions[n]
            body = {"country_code": "NL", "party_id": "GRN", "id": sid, "start_date_time": iso(self.base),
                    "kwh": 0, "cdr_token": {"country_code": "NL", "party_id": "EFL", "uid": f"BENCH{n:08d}",
                                            "type": "RFID", "contract_id": f"NL-EFL-C{n:08d}-0"},
                    "auth_method": "WHITELIST", "location_id": "LOC-BENCH-1", "evse_uid": f"EVSE-BENCH-{n % 50}",
                    "connector_id": "1", "currency": "EUR", "status": "ACTIVE", "last_updated": iso(self.base)}
            return "PUT", f"{MODULE}/sessions/NL/GRN/{sid}", json.dumps(body).encode()

        result = run_load(closed_loop(self.server.url, self.token, put, 16, total=len(self.sessions)))
        if result.ok != len(self.sessions):
            raise RuntimeError(f"only {result.ok} of {len(self.sessions)} sessions stored: {result.first_error}")

    def patch(self, _n: int):
        seq = next(self.seq)
        sid = self.sessions[seq % len(self.sessions)]
        stamp = iso(self.base + timedelta(milliseconds=seq))
        return "PATCH", f"{MODULE}/sessions/NL/GRN/{sid}", patch_body(seq * 0.001, stamp)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def readings(self) -> int:
        store = make_store(self.settings)
        try:
            with store.reader.connect() as conn:
                return conn.execute(select(func.count()).select_from(OcpiReading)).scalar_one()
        finally:
            store.dispose()

    def grow_to(self, rows: int, per_session: int = 1000) -> float:
        """Fills the readings table to `rows` with readings of other sessions; returns the seconds it took."""
        started = time.monotonic()
        store = make_store(self.settings)
        try:
            while True:
                have = self.readings()
                if have >= rows:
                    break
                count = min(200, -(-(rows - have) // per_session))
                with store.engine.begin() as conn:
                    first = conn.execute(select(func.count()).select_from(OcpiSession)).scalar_one()
                    stamp = self.base - timedelta(days=30)
                    conn.execute(insert(OcpiSession.__table__), [dict(
                        country_code="NL", party_id="GRN", session_id=f"FILL-{first + k:08d}", status="ACTIVE",
                        kwh=0.0, start_datetime=stamp, last_updated=stamp, location_id="LOC-BENCH-1",
                        evse_uid="EVSE-BENCH-0", token_uid="FILL", contract_id="FILL", unknown_card=True,
                        mirrored=False, object="{}", received_at=stamp) for k in range(count)])
                    ids = [r[0] for r in conn.execute(select(OcpiSession.id).where(
                        OcpiSession.session_id.like("FILL-%"), OcpiSession.id > conn.execute(
                            select(func.coalesce(func.max(OcpiReading.session_ref), 0))).scalar_one()))]
                    if conn.dialect.name == "postgresql":
                        conn.execute(text(
                            "INSERT INTO ocpi_readings (session_ref, timestamp, kwh) SELECT s, "
                            "TIMESTAMP '2020-01-01' + g * INTERVAL '1 second', g * 0.01 "
                            "FROM unnest(CAST(:ids AS bigint[])) s, generate_series(1, :n) g"), {"ids": ids, "n": per_session})
                    else:
                        conn.execute(text(
                            "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < :n) "
                            "INSERT INTO ocpi_readings (session_ref, timestamp, kwh) "
                            "SELECT s.id, printf('2020-01-01 00:00:%06d.000000', x), x * 0.01 "
                            "FROM ocpi_sessions s, g WHERE s.id >= :lo AND s.id <= :hi"),
                            {"n": per_session, "lo": min(ids), "hi": max(ids)})
            with store.engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        finally:
            store.dispose()
        return time.monotonic() - started


def summary(result: LoadResult) -> Dict[str, Any]:
    return {"ok": result.ok, "failed": result.failed, "seconds": round(result.elapsed_s, 1),
            "per_second": round(result.rate, 1), **latency_summary(result.latencies),
            **({"first_error": result.first_error} if result.first_error else {})}


def bench_backend(backend: str, url: str, args: argparse.Namespace, workdir: Path, deadline: float) -> Dict[str, Any]:
    run = Run(backend, url, args, workdir)
    out: Dict[str, Any] = {"backend": backend, "workers": args.workers, "sessions": args.sessions,
                           "load_average_at_start": os.getloadavg()}
    try:
        log(f"{backend}: preparing {args.sessions} sessions")
        run.prepare()
        log(f"{backend}: sustained, {args.concurrency} connections, {args.duration} s")
        with CpuMeter(run) as cpu:
            result = run_load(closed_loop(run.server.url, run.token, run.patch, args.concurrency,
                                          duration_s=args.duration))
        out["sustained"] = dict(summary(result), cpu_ms_per_patch=cpu.per_op(result.ok))
        log(f"{backend}: sustained {out['sustained']['per_second']}/s, p99 {out['sustained']['p99_ms']} ms, "
            f"CPU ms a PATCH {out['sustained']['cpu_ms_per_patch']}")
        log(f"{backend}: {args.rate}/s for {args.duration} s")
        with CpuMeter(run) as cpu:
            result = run_load(open_loop(run.server.url, run.token, run.patch, args.rate, args.duration))
        out["at_rate"] = dict(summary(result), cpu_ms_per_patch=cpu.per_op(result.ok))
        log(f"{backend}: at {args.rate}/s p50 {out['at_rate']['p50_ms']} p95 {out['at_rate']['p95_ms']} "
            f"p99 {out['at_rate']['p99_ms']} ms, CPU ms a PATCH {out['at_rate']['cpu_ms_per_patch']}")
        out["growth"] = []
        for rows in args.grow:
            if time.monotonic() > deadline:
                out["growth"].append({"rows": rows, "skipped": "the run's time bound was reached"})
                continue
            log(f"{backend}: filling the readings table to {rows:,} rows")
            fill_s = run.grow_to(rows)
            one = run_load(closed_loop(run.server.url, run.token, run.patch, 1, duration_s=args.single_s))
            loaded = run_load(open_loop(run.server.url, run.token, run.patch, args.rate, args.single_s * 2))
            out["growth"].append({"rows": run.readings(), "fill_seconds": round(fill_s, 1),
                                  "one_at_a_time": summary(one), "at_rate": summary(loaded)})
            log(f"{backend}: at {rows:,} rows one update p50 {out['growth'][-1]['one_at_a_time']['p50_ms']} ms, "
                f"at {args.rate}/s p99 {out['growth'][-1]['at_rate']['p99_ms']} ms")
        if backend in args.memory_backends and args.memory_updates and time.monotonic() < deadline:
            log(f"{backend}: memory over {args.memory_updates:,} updates")
            before = rss_mb(run.server.process.pid)
            with Sampler(run.server.process.pid) as sampler:
                result = run_load(closed_loop(
                    run.server.url, run.token, run.patch, args.concurrency, total=args.memory_updates,
                    duration_s=max(10.0, deadline - time.monotonic()), keep_latencies=False,
                    on_progress=lambda n: log(f"{backend}: {n:,} updates, receiver {rss_mb(run.server.process.pid)} MB")))
            values = [mb for _, mb in sampler.samples]
            out["memory"] = {"updates": result.ok, "failed": result.failed, "seconds": round(result.elapsed_s, 1),
                             "per_second": round(result.rate, 1), "rss_before_mb": before,
                             "rss_peak_mb": max(values), "rss_after_mb": values[-1],
                             "rss_at_quarters_mb": [values[min(len(values) - 1, len(values) * q // 4)] for q in range(1, 5)]}
            log(f"{backend}: memory {out['memory']}")
        out["readings_rows_at_end"] = run.readings()
        out["load_average_at_end"] = os.getloadavg()
    finally:
        run.stop()
    return out


def render(results: Dict[str, Any]) -> str:
    lines = [f"# OCPI receiver benchmark, {results['date']}", "",
             f"{results['machine']}; receiver workers: {results['workers']}; sessions: {results['sessions']}.", "",
             "| measure | " + " | ".join(r["backend"] for r in results["backends"]) + " |",
             "|---|" + "---|" * len(results["backends"])]

    def row(name: str, get) -> None:
        cells = []
        for r in results["backends"]:
            try:
                value = get(r)
            except (KeyError, IndexError, TypeError):
                value = None
            cells.append("-" if value is None else str(value))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")

    row("load average (1/5/15 min) at start", lambda r: " / ".join(f"{x:.1f}" for x in r["load_average_at_start"]))
    row("sustained PATCH/s", lambda r: r["sustained"]["per_second"])
    for p in ("p50", "p95", "p99"):
        row(f"sustained {p} (ms)", lambda r, p=p: r["sustained"][f"{p}_ms"])
    rate = results["rate"]
    for p in ("p50", "p95", "p99"):
        row(f"at {rate}/s {p} (ms)", lambda r, p=p: r["at_rate"][f"{p}_ms"])
    for phase, name in (("sustained", "sustained"), ("at_rate", f"at {rate}/s")):
        row(f"{name}: CPU ms a PATCH, receiver / database / load generator",
            lambda r, phase=phase: " / ".join(str(r[phase]["cpu_ms_per_patch"].get(k, "-"))
                                              for k in ("receiver", "database", "load_generator")))
    row("memory: updates", lambda r: f"{r['memory']['updates']:,} at {r['memory']['per_second']}/s")
    row("memory: RSS before / peak / after (MB)",
        lambda r: f"{r['memory']['rss_before_mb']} / {r['memory']['rss_peak_mb']} / {r['memory']['rss_after_mb']}")
    for n in range(len(results["grow"])):
        row(f"readings {results['grow'][n]:,}: one update p50/p99 (ms)",
            lambda r, n=n: f"{r['growth'][n]['one_at_a_time']['p50_ms']} / {r['growth'][n]['one_at_a_time']['p99_ms']}")
        row(f"readings {results['grow'][n]:,}: at {rate}/s p99 (ms)", lambda r, n=n: r["growth"][n]["at_rate"]["p99_ms"])
        row(f"readings {results['grow'][n]:,}: fill time (s)", lambda r, n=n: r["growth"][n]["fill_seconds"])
    return "\n".join(lines) + "\n"


def parse(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ocpi", description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--postgres-url", default=DEFAULT_PG, help="server to create the throw-away database on")
    # One process, as `bot ocpi-receiver` starts by default: on 2 cores shared with PostgreSQL and the load
    # generator, a second process split the batches (more transactions a PATCH) for no more throughput.
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--single-s", type=float, default=5.0)
    parser.add_argument("--memory-updates", type=int, default=1_000_000)
    parser.add_argument("--memory-backends", default="postgresql")
    parser.add_argument("--grow", default="1000000,10000000")
    parser.add_argument("--max-minutes", type=float, default=50.0, help="the whole run stops growing after this")
    parser.add_argument("--out", default=str(PROJECT_ROOT / "results"))
    parser.add_argument("--quick", action="store_true", help="a few seconds: for the smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.sessions, args.concurrency, args.duration, args.rate = 20, 4, 1.0, 50.0
        args.single_s, args.memory_updates, args.grow, args.workers = 0.5, 500, "3000", 1
        args.memory_backends = args.backends
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    args.memory_backends = [b.strip() for b in args.memory_backends.split(",") if b.strip()]
    args.grow = [int(g) for g in str(args.grow).split(",") if g.strip()]
    return args


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    args = parse(argv)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + args.max_minutes * 60
    results: Dict[str, Any] = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                               "machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}",
                               "workers": args.workers, "sessions": args.sessions, "rate": args.rate,
                               "grow": args.grow, "backends": []}
    with tempfile.TemporaryDirectory(prefix="bench-ocpi-logs-") as logs:
        for backend in args.backends:
            database = Postgres(args.postgres_url) if backend == "postgresql" else Sqlite()
            with database as url:
                results["backends"].append(bench_backend(backend, url, args, Path(logs), deadline))
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M")
    table = render(results)
    for name in ("ocpi-latest", f"ocpi-{stamp}"):
        (out_dir / f"{name}.json").write_text(json.dumps(results, indent=2))
        (out_dir / f"{name}.md").write_text(table)
    print(table)
    return results


if __name__ == "__main__":
    main()
