"""Latency and throughput of the customer pages and API on a real server.

    python bench/web.py --database-url sqlite:///var/bench.sqlite3
    python bench/web.py --database-url postgres://postgres@127.0.0.1:5432/kehu_bench

Fill the database first (bench/generate.py). The script starts gunicorn on 127.0.0.1
(DEBUG off), signs in as the tenant's admin (a session written straight into the
database, as django.contrib.auth.login would) and as a salesperson who sees only their
own customers, creates an API token, and sends each page and endpoint requests from N
concurrent clients. It prints p50/p95/p99 latency and requests per second against the
target (p95 ≤ 100 ms) and writes the figures to bench/out/. Only 127.0.0.1 is contacted.
"""

import argparse
import datetime
import http.client
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    DEFAULT_SQLITE,
    ROOT,
    SECRET_KEY,
    TENANT_SLUG,
    USERNAME_PREFIX,
    database_label,
    machine,
    setup_django,
    write_json,
)

HOST = "127.0.0.1"
TARGET_P95_MS = 100.0


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str  # "{id}" is replaced by a random party id on each request
    auth: str  # "admin" | "sales" (session cookie) | "token" (API bearer token)


@dataclass
class Sample:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    bytes: int = 0
    errors: int = 0
    wall: float = 0.0


@dataclass(frozen=True)
class Setup:
    """What the requests need: credentials and real values to ask for."""

    admin_cookie: str
    sales_cookie: str
    token: str
    party_ids: list[int]
    parties: int


def endpoints(name: str, pinyin: str, province: str) -> list[Endpoint]:
    initials = "".join(s[0] for s in pinyin.split("-"))
    full = pinyin.replace("-", "")
    q = quote
    return [
        Endpoint("list", "/customers/", "admin"),
        Endpoint("list ?state=current", "/customers/?state=current", "admin"),
        Endpoint(f"list ?province={province}", f"/customers/?province={q(province)}", "admin"),
        Endpoint("list (sales, own)", "/customers/", "sales"),
        Endpoint(f"search ?q={name}", f"/customers/?q={q(name)}", "admin"),
        Endpoint(f"search ?q={full}", f"/customers/?q={full}", "admin"),
        Endpoint(f"search ?q={initials}", f"/customers/?q={initials}", "admin"),
        Endpoint("search ?q=138", "/customers/?q=138", "admin"),
        Endpoint("detail", "/customers/{id}/", "admin"),
        Endpoint("api list", "/api/v1/parties", "token"),
        Endpoint(f"api ?q={full}", f"/api/v1/parties?q={full}", "token"),
        Endpoint(f"api ?q={name}", f"/api/v1/parties?q={q(name)}", "token"),
        Endpoint("api detail", "/api/v1/parties/{id}", "token"),
    ]


# --- preparing -------------------------------------------------------------------------


def prepare(database_url: str, tenant_slug: str, prefix: str) -> Setup:
    """Sessions and a token for the benchmark tenant's staff, and party ids to ask for."""
    setup_django(database_url)
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.db.models import Max, Min

    from kehu.core.context import tenant_scope
    from kehu.parties.models import Party
    from kehu.tenancy.models import Tenant, User
    from kehu.tenancy.services import api_token_create

    def session_for(user: User) -> str:
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"

    tenant = Tenant.objects.get(slug=tenant_slug)
    with tenant_scope(tenant.pk):
        admin = User.objects.get(username=f"{prefix}admin")
        sales = User.objects.get(username=f"{prefix}sales1")
        _token, raw = api_token_create(actor=admin, name=f"bench {datetime.datetime.now():%H%M%S}")
        bounds = Party.objects.aggregate(low=Min("id"), high=Max("id"))
        low, high = int(bounds["low"]), int(bounds["high"])
        rng = random.Random(1)
        candidates = [rng.randint(low, high) for _ in range(400)]
        ids = list(Party.objects.filter(pk__in=candidates).values_list("id", flat=True)[:200])
        count = Party.objects.count()
    return Setup(session_for(admin), session_for(sales), raw, ids, count)


# --- the server ------------------------------------------------------------------------


def start_server(
    database_url: str, port: int, workers: int, threads: int
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": HOST,
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "bench")]),
    }
    python = Path(sys.executable)
    # DEBUG off serves hashed static files listed in a manifest that collectstatic writes.
    collect: list[str | Path] = [python, "manage.py", "collectstatic", "--noinput", "-v0"]
    done = subprocess.run(collect, cwd=ROOT, env=env, capture_output=True, text=True)  # noqa: S603
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or ["?"]
        print(f"WARNING: collectstatic failed ({last[0]}); serving with bench/bench_settings.py")
        env["DJANGO_SETTINGS_MODULE"] = "bench_settings"
    gunicorn = python.parent / "gunicorn"
    command = [
        str(gunicorn), "kehu.wsgi", "-w", str(workers), "--threads", str(threads),
        "-b", f"{HOST}:{port}", "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)  # noqa: S603
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=5)
            conn.request("GET", "/api/v1/openapi.json")
            conn.getresponse().read()
            conn.close()
            return server
        except OSError:
            time.sleep(0.5)
    stop_server(server)
    raise SystemExit("gunicorn did not answer within 60 s")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


# --- measuring -------------------------------------------------------------------------


class Client:
    """One keep-alive connection sending GETs with the right credentials."""

    def __init__(self, port: int, setup: Setup):
        self.port = port
        self.setup = setup
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)

    def get(self, endpoint: Endpoint, rng: random.Random) -> tuple[int, int]:
        path = endpoint.path
        if "{id}" in path:
            path = path.replace("{id}", str(rng.choice(self.setup.party_ids)))
        headers = {"Host": HOST}
        if endpoint.auth == "token":
            headers["Authorization"] = f"Bearer {self.setup.token}"
        else:
            cookie = (
                self.setup.admin_cookie if endpoint.auth == "admin" else self.setup.sales_cookie
            )
            headers["Cookie"] = cookie
        try:
            self.conn.request("GET", path, headers=headers)
            response = self.conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
            return 0, 0
        return response.status, len(body)


def measure(
    port: int, setup: Setup, endpoint: Endpoint, clients: int, requests: int, seconds: float
) -> Sample:
    """`requests` requests (at most `seconds`) from `clients` threads at once."""
    sample = Sample()
    lock = threading.Lock()
    sent = 0
    deadline = time.monotonic() + seconds

    def work(seed: int) -> None:
        nonlocal sent
        rng = random.Random(seed)
        client = Client(port, setup)
        while True:
            with lock:
                if sent >= requests or time.monotonic() > deadline:
                    return
                sent += 1
            began = time.perf_counter()
            status, size = client.get(endpoint, rng)
            elapsed = time.perf_counter() - began
            with lock:
                sample.latencies.append(elapsed)
                sample.statuses[status] = sample.statuses.get(status, 0) + 1
                sample.bytes += size
                sample.errors += status != 200

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sample.wall = time.perf_counter() - began
    return sample


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, round(share * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def summarise(endpoint: Endpoint, clients: int, sample: Sample) -> dict[str, Any]:
    latencies = sample.latencies
    ms = [x * 1000 for x in latencies]
    wall = sample.wall or 1e-9
    p95 = percentile(ms, 0.95) if ms else None
    ok = bool(ms) and sample.errors == 0
    return {
        "endpoint": endpoint.name,
        "path": endpoint.path,
        "clients": clients,
        "requests": len(latencies),
        "statuses": {str(k): v for k, v in sorted(sample.statuses.items())},
        "p50_ms": percentile(ms, 0.50) if ms else None,
        "p95_ms": p95,
        "p99_ms": percentile(ms, 0.99) if ms else None,
        "mean_ms": sum(ms) / len(ms) if ms else None,
        "req_per_s": len(latencies) / wall,
        "mean_bytes": sample.bytes // max(1, len(latencies)),
        "passes": ok and p95 is not None and p95 <= TARGET_P95_MS,
    }


def probe(port: int, setup: Setup, endpoint: Endpoint) -> int:
    """Status of one request (after two warm-up requests)."""
    client = Client(port, setup)
    rng = random.Random(0)
    status = 0
    for _ in range(3):
        status, _size = client.get(endpoint, rng)
    return status


def print_row(row: dict[str, Any]) -> None:
    def num(value: float | None) -> str:
        return "-" if value is None else f"{value:8.1f}"

    statuses = ",".join(f"{k}×{v}" for k, v in row["statuses"].items())
    verdict = "pass" if row["passes"] else "FAIL"
    print(
        f"{row['endpoint']:<28} {row['clients']:>3} {row['requests']:>6} {num(row['p50_ms'])} "
        f"{num(row['p95_ms'])} {num(row['p99_ms'])} {row['req_per_s']:8.1f}  {verdict:<5} "
        f"{statuses}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_SQLITE)
    parser.add_argument("--port", type=int, default=8201, help="8200–8299")
    parser.add_argument("--url-port", type=int, default=0, help="use a server already running")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--clients", default="1,8", help="concurrency levels, e.g. 1,8")
    parser.add_argument("--requests", type=int, default=200, help="per endpoint and level")
    parser.add_argument("--seconds", type=float, default=30, help="at most, per endpoint")
    parser.add_argument("--name", default="张伟", help="a common two-character name")
    parser.add_argument("--pinyin", default="zhang-wei", help="its pinyin, syllables by '-'")
    parser.add_argument("--province", default="广东省")
    parser.add_argument("--only", default="", help="endpoints whose name contains this")
    args = parser.parse_args()
    levels = [int(x) for x in args.clients.split(",") if x]
    url = args.database_url

    setup = prepare(url, TENANT_SLUG, USERNAME_PREFIX)
    print(f"{database_label(url)}: {setup.parties:,} parties; load {os.getloadavg()}")
    server = None
    port = args.url_port
    if not port:
        if not 8200 <= args.port <= 8299:
            raise SystemExit("use a port in 8200–8299")
        port = args.port
        server = start_server(url, port, args.workers, args.threads)
    results: list[dict[str, Any]] = []
    try:
        print(
            f"{'endpoint':<28} {'c':>3} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
            f"{'req/s':>8}  target"
        )
        for endpoint in endpoints(args.name, args.pinyin, args.province):
            if args.only and args.only not in endpoint.name:
                continue
            status = probe(port, setup, endpoint)
            if status != 200:
                row = summarise(endpoint, 0, Sample(statuses={status: 1}))
                results.append(row)
                print(f"{endpoint.name:<28} not measured: HTTP {status or 'no answer'}")
                continue
            for clients in levels:
                sample = measure(port, setup, endpoint, clients, args.requests, args.seconds)
                row = summarise(endpoint, clients, sample)
                results.append(row)
                print_row(row)
    finally:
        if server is not None:
            stop_server(server)
    passed = [r for r in results if r["clients"]]
    print(
        f"\n{sum(r['passes'] for r in passed)}/{len(passed)} measurements meet p95 ≤ "
        f"{TARGET_P95_MS:.0f} ms; {sum(1 for r in results if not r['clients'])} not measured"
    )
    payload = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "database": database_label(url),
        "parties": setup.parties,
        "server": {
            "workers": args.workers,
            "threads": args.threads,
            "port": port,
        },
        "requests_per_endpoint": args.requests,
        "load_average_after": os.getloadavg(),
        "machine": machine(),
        "target_p95_ms": TARGET_P95_MS,
        "results": results,
    }
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
    name = f"web-{database_label(url)}-{setup.parties}-{stamp}.json"
    path = write_json(name, payload)
    print(f"figures written to {path}")


if __name__ == "__main__":
    main()
