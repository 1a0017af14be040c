"""Load on the registry's read side: certificate lookup (API and page) and verification.

Target: >= 1,000 requests/s with p99 < 50 ms on 2 cores, on SQLite and PostgreSQL.
The script builds a throwaway registry (an SQLite file, or a PostgreSQL server
started on 127.0.0.1 the way the registry tests start theirs), issues N real
signed certificates through the Registry API, runs the app with uvicorn in a
separate process as ``llmcert serve`` does (access log on unless told
otherwise), and drives each endpoint from another process at a fixed
concurrency: ``wrk`` when installed, else a small aiohttp client below. Every
number is measured after a warm-up; the load generator shares the machine.
``cpu ms`` is the server's CPU time per request (all its workers, not
PostgreSQL's); ``load`` is the 1-minute load average when the run ended.

    python bench/registry_load.py --db sqlite --workers 1 2
    python bench/registry_load.py --db postgres --duration 10 --concurrency 16 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ENDPOINTS = ("api", "page", "verify")
_PATHS = {"api": "/api/v1/certificates/", "page": "/certificates/", "verify": "/api/v1/verify"}
_OUTPUT_ENV = "LLMCERT_BENCH_OUTPUT"
_TARGET_RPS, _TARGET_P99_MS = 1000.0, 50.0


# -- the server process ------------------------------------------------------------


def build_app() -> Any:
    """uvicorn factory (``--factory``): what ``llmcert serve`` builds, configured from the env."""
    from llmcert.registry import open_registry
    from llmcert.server import Limits, SigningConfig, create_app
    from llmcert.server._services_worker import services_worker

    store = open_registry()  # LLMCERT_DATABASE_URL
    worker = services_worker(store, Path(os.environ[_OUTPUT_ENV]), concurrency=1)
    # One load generator is one client address: the per-client limit on anonymous callers
    # would measure itself, not the server, so it is lifted here.
    limits = Limits(anonymous_rate=1e9, anonymous_burst=10**9)
    return create_app(store, worker=worker, signing=SigningConfig.from_env(), limits=limits)


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its descendants (uvicorn's workers), from /proc."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        proc = int(stat.parent.name)
        parents[proc], ticks[proc] = int(fields[1]), int(fields[11]) + int(fields[12])
    total, todo = 0, [pid]
    while todo:
        proc = todo.pop()
        total += ticks.get(proc, 0)
        todo += [child for child, parent in parents.items() if parent == proc]
    return total / os.sysconf("SC_CLK_TCK")


def serve(port: int, workers: int, access_log: bool) -> None:
    """The server process: uvicorn over a listening socket bound here, one or more workers.

    uvicorn's own ``--workers`` binds its socket with protocol 0, so asyncio never
    sets TCP_NODELAY on accepted connections and every keep-alive response waits
    ~40 ms for a delayed ACK (Kludex/uvicorn#3149). Binding with IPPROTO_TCP
    here gives each worker what single-process ``llmcert serve`` already gets.
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        "registry_load:build_app", factory=True, host="127.0.0.1", port=port, workers=workers,
        log_level="info", access_log=access_log, server_header=False,
    )  # fmt: skip
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.set_inheritable(True)
    if workers == 1:
        uvicorn.Server(config).run(sockets=[sock])
    else:
        Multiprocess(config, sockets=[sock]).run()


@contextmanager
def serving(
    env: dict[str, str], workers: int, access_log: bool, log: Path
) -> Iterator[tuple[str, int]]:
    port = _free_port()
    cmd = [sys.executable, __file__, "--serve", str(port), "--workers", str(workers)]
    cmd += [] if access_log else ["--no-access-log"]
    with log.open("ab") as sink:
        proc = subprocess.Popen(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/api/v1/issuer", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server did not start; see {log}")
            time.sleep(0.2)
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- databases ---------------------------------------------------------------------


@contextmanager
def postgres(workdir: Path) -> Iterator[str]:
    """A throwaway PostgreSQL on loopback, trust auth; run as ``postgres`` when we are root."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    initdb = shutil.which("initdb") or (found[0] if found else None)
    if initdb is None:
        raise SystemExit("no PostgreSQL binaries (initdb, pg_ctl); apt-get install postgresql")
    pg_ctl = str(Path(initdb).with_name("pg_ctl"))
    home = workdir / "pg"
    home.mkdir()
    owner: dict[str, Any] = {}
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(home, account.pw_uid, account.pw_gid)
        owner = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(home)}
    data, port = home / "data", _free_port()

    def run(*args: str) -> None:
        subprocess.run(args, env=env, cwd=home, check=True, capture_output=True, **owner)

    run(initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C",
        "--no-sync")  # fmt: skip
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -k {home} -c fsync=off"
    run(pg_ctl, "-D", str(data), "-l", str(home / "server.log"), "-w", "-o", options, "start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop")


def make_keys(directory: Path) -> Path:
    pem, key = serialization.Encoding.PEM, ec.generate_private_key(ec.SECP256R1())
    private, public = directory / "issuer.pem", directory / "issuer.pub.pem"
    plain = serialization.NoEncryption()
    private.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, plain))
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    public.write_bytes(key.public_key().public_bytes(pem, spki))
    return private


def seed(url: str, key: Path, n: int) -> list[tuple[str, dict[str, Any]]]:
    """N models filed, assessed, approved and certified with real envelopes: (id, envelope)."""
    from llmcert._hashing import digest_bytes, digest_json
    from llmcert.certificates import issue_certificate
    from llmcert.models._types import ModelIdentity
    from llmcert.registry import FilingStatus, open_registry

    store = open_registry(url)
    now = datetime.now(UTC).replace(microsecond=0)
    issued = []
    try:
        for i in range(n):
            identity = ModelIdentity(
                kind="artefact",
                ref=f"llamacpp:bench-{i}.gguf",
                artefact_digest=digest_bytes(f"bench-{i}".encode()),
                engine="llama-cpp-python",
            )
            model = store.register_model(
                name=f"bench-model-{i}", ref=identity.ref, identity_digest=identity.digest,
                owner="bench", actor="applicant:bench",
            )  # fmt: skip
            filing = store.submit_filing(
                model.id, "bench-std@1", applicant="bench", actor="applicant:bench"
            )
            store.transition_filing(filing.id, FilingStatus.ASSESSING, actor="system")
            body = {"model": identity.to_dict(), "verdict": "pass", "standard": "bench-std@1"}
            digest = digest_json(body)
            store.record_assessment(
                filing.id, digest=digest, verdict="pass", body=body, actor="system"
            )
            store.transition_filing(filing.id, FilingStatus.AWAITING_REVIEW, actor="system")
            store.transition_filing(filing.id, FilingStatus.APPROVED, actor="assessor:bench")
            cert_id = f"{i:032x}"
            envelope = issue_certificate(
                model_identity=identity.to_dict(), model_digest=identity.digest,
                standard_id="bench-std", standard_version="1", assessment_digest=digest,
                verdict="pass", issuer="bench registry", private_key_path=key, now=now,
                model_name=model.name, certificate_id=cert_id,
            )  # fmt: skip
            store.add_certificate(
                filing.id, certificate_id=cert_id, envelope=envelope, issued_at=now,
                expires_at=now + timedelta(days=365), actor="assessor:bench",
            )  # fmt: skip
            issued.append((cert_id, envelope))
    finally:
        store.close()
    return issued


# -- load generators -------------------------------------------------------------------

_LUA = """
local items = {%s}
local mode, prefix, n = "%s", "%s", #items
local i = 0
request = function()
  i = i %% n + 1
  if mode == "verify" then
    return wrk.format("POST", prefix, {["Content-Type"] = "application/json"}, items[i])
  end
  return wrk.format("GET", prefix .. items[i])
end
done = function(s, lat, _)
  local e = s.errors
  io.write(string.format(
    'WRKJSON {"requests":%%d,"seconds":%%f,"bad":%%d,"p50":%%d,"p95":%%d,"p99":%%d,"max":%%d}\\n',
    s.requests, s.duration / 1e6, e.status + e.connect + e.read + e.write + e.timeout,
    lat:percentile(50), lat:percentile(95), lat:percentile(99), lat.max))
end
"""


def _items(endpoint: str, certs: list[tuple[str, dict[str, Any]]]) -> list[str]:
    if endpoint == "verify":
        return [json.dumps({"certificate": env}) for _, env in certs[:200]]
    return [cid for cid, _ in certs]


def run_wrk(base: str, endpoint: str, items: list[str], seconds: float, conc: int, tmp: Path) -> dict[str, float]:  # fmt: skip
    script = tmp / f"{endpoint}.lua"
    quoted = ",".join(f"[==[{item}]==]" for item in items)
    script.write_text(_LUA % (quoted, endpoint, _PATHS[endpoint]), encoding="utf-8")
    cmd = ["wrk", "-t1", f"-c{conc}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
           "-s", str(script), base]  # fmt: skip
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    raw = json.loads(line.removeprefix("WRKJSON "))
    return {
        "rps": raw["requests"] / raw["seconds"], "requests": raw["requests"], "bad": raw["bad"],
        **{k: raw[k] / 1000 for k in ("p50", "p95", "p99", "max")},
    }  # fmt: skip


async def _drive(base: str, endpoint: str, items: list[str], seconds: float, conc: int) -> dict[str, float]:  # fmt: skip
    import aiohttp

    latencies: list[float] = []
    bad = 0
    stop = time.perf_counter() + seconds

    async def client(offset: int, session: aiohttp.ClientSession) -> None:
        nonlocal bad
        i = offset
        while time.perf_counter() < stop:
            item = items[i % len(items)]
            i += conc
            start = time.perf_counter()
            if endpoint == "verify":
                call = session.post(base + _PATHS[endpoint], data=item,
                                    headers={"Content-Type": "application/json"})  # fmt: skip
            else:
                call = session.get(base + _PATHS[endpoint] + item)
            async with call as reply:
                await reply.read()
                bad += reply.status != 200
            latencies.append(time.perf_counter() - start)

    connector = aiohttp.TCPConnector(limit=conc)
    began = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(client(k, session) for k in range(conc)))
    elapsed = time.perf_counter() - began
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {"rps": len(latencies) / elapsed, "requests": len(latencies), "bad": bad,
            "p50": pct(0.50), "p95": pct(0.95), "p99": pct(0.99), "max": latencies[-1] * 1000}  # fmt: skip


def run_aiohttp(base: str, endpoint: str, items: list[str], seconds: float, conc: int, tmp: Path) -> dict[str, float]:  # fmt: skip
    """The same measurement from a child process running the aiohttp client."""
    spec = tmp / f"{endpoint}.json"
    spec.write_text(json.dumps([base, endpoint, items, seconds, conc]), encoding="utf-8")
    cmd = [sys.executable, __file__, "--drive", str(spec)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


# -- the benchmark -------------------------------------------------------------------


def bench_db(db: str, args: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    keys = tmp / "keys"
    keys.mkdir(exist_ok=True)
    key = make_keys(keys)
    with postgres(tmp) if db == "postgres" else nullcontext(f"sqlite:///{tmp}/r.sqlite") as url:
        began = time.perf_counter()
        certs = seed(url, key, args.certificates)
        print(f"[{db}] seeded {len(certs)} certificates in {time.perf_counter() - began:.1f} s",
              file=sys.stderr)  # fmt: skip
        env = {**os.environ, "LLMCERT_DATABASE_URL": url, "LLMCERT_SIGNING_KEY": str(key),
               _OUTPUT_ENV: str(tmp / "out")}  # fmt: skip
        drive = run_wrk if args.loadgen == "wrk" else run_aiohttp
        rows, log = [], tmp / "server.log"
        for workers in args.workers:
            with serving(env, workers, args.access_log, log) as (base, pid):
                for endpoint in args.endpoints:
                    items = _items(endpoint, certs)
                    drive(base, endpoint, items, args.warmup, args.concurrency, tmp)
                    cpu = tree_cpu_seconds(pid)
                    result = drive(base, endpoint, items, args.duration, args.concurrency, tmp)
                    cpu_ms = (tree_cpu_seconds(pid) - cpu) * 1000 / max(1, result["requests"])
                    load = float(Path("/proc/loadavg").read_text().split()[0])
                    rows.append(
                        {"db": db, "workers": workers, "endpoint": endpoint, **result,
                         "cpu_ms": cpu_ms, "load": load}
                    )  # fmt: skip
                    print(_row(rows[-1]), file=sys.stderr)
        return rows


_HEADER = "db        workers endpoint     req/s  p50 ms  p95 ms  p99 ms  max ms   bad cpu ms  load  target"


def _row(r: dict[str, Any]) -> str:
    met = r["rps"] >= _TARGET_RPS and r["p99"] < _TARGET_P99_MS and not r["bad"]
    return (f"{r['db']:9} {r['workers']:>7} {r['endpoint']:9} {r['rps']:8.0f} {r['p50']:7.1f} "
            f"{r['p95']:7.1f} {r['p99']:7.1f} {r['max']:7.1f} {r['bad']:5d} {r['cpu_ms']:6.2f} {r['load']:5.1f}  "
            f"{'met' if met else 'MISSED'}")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per endpoint")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds discarded first")
    parser.add_argument("--concurrency", type=int, default=16, help="connections kept busy")
    parser.add_argument("--workers", type=int, nargs="+", default=[1], help="uvicorn workers")
    parser.add_argument("--certificates", type=int, default=1000, help="certificates seeded")
    parser.add_argument("--endpoints", nargs="+", choices=ENDPOINTS, default=list(ENDPOINTS))
    parser.add_argument("--loadgen", choices=("auto", "wrk", "aiohttp"), default="auto")
    parser.add_argument("--no-access-log", dest="access_log", action="store_false",
                        help="drop uvicorn's per-request log line (llmcert serve keeps it)")  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--drive", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:  # the server process
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        serve(args.serve, args.workers[0], args.access_log)
        return
    if args.drive is not None:  # the aiohttp child process
        base, endpoint, items, seconds, conc = json.loads(args.drive.read_text(encoding="utf-8"))
        print(json.dumps(asyncio.run(_drive(base, endpoint, items, seconds, conc))))
        return
    if args.loadgen == "auto":
        args.loadgen = "wrk" if shutil.which("wrk") else "aiohttp"
    print(f"cores={os.cpu_count()} loadgen={args.loadgen} concurrency={args.concurrency} "
          f"access_log={args.access_log} duration={args.duration}s", file=sys.stderr)  # fmt: skip
    rows = []
    for db in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        with tempfile.TemporaryDirectory(prefix=f"llmcert-load-{db}-") as tmp:
            if db == "postgres":
                os.chmod(tmp, 0o755)  # the postgres account must reach its folder inside
            rows += bench_db(db, args, Path(tmp))
    print(_HEADER)
    for row in rows:
        print(_row(row))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
