"""Latency of the report pages and endpoints on a real server (target p95 ≤ 150 ms).

    python bench/generate.py --parties 20000 --orders 200000 \\
        --database-url sqlite:///var/bench-reports.sqlite3
    python bench/reports.py --database-url sqlite:///var/bench-reports.sqlite3
    (PostgreSQL: postgres://postgres@127.0.0.1:5432/kehu_bench_reports)

The same harness as bench/web.py (gunicorn on 127.0.0.1, the admin's and a
salesperson's sessions, a token): each report page and endpoint over the last 12
months, p50/p95/p99 from N requests, the load average beside them, figures in bench/out/.
"""

import datetime
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    TENANT_SLUG,
    USERNAME_PREFIX,
    database_label,
    machine,
    page_bench_arguments,
    write_json,
)
from web import (
    Endpoint,
    Sample,
    measure,
    prepare,
    print_row,
    probe,
    start_server,
    stop_server,
    summarise,
)

DEFAULT_DATABASE = (
    f"sqlite:///{Path(__file__).resolve().parent.parent / 'var' / 'bench-reports.sqlite3'}"
)
TARGET_P95_MS = 150.0
PAGES = [
    "revenue-by-period",
    "revenue-by-rep",
    "revenue-by-team",
    "revenue-by-product",
    "revenue-by-category",
    "revenue-by-region",
    "revenue-by-channel",
    "customer-effort",
    "new-vs-existing",
    # The deal reports (the default pipeline where the page needs one).
    "pipeline-by-stage",
    "win-rate-by-period",
    "win-rate-by-rep",
    "win-rate-by-team",
    "win-rate-by-pipeline",
    "lost-reasons",
    "sales-cycle-by-period",
    "sales-cycle-by-rep",
    "sales-cycle-by-pipeline",
    "sales-cycle-distribution",
    "time-in-stage",
]
API = [f"revenue?by={by}" for by in ("period", "rep", "team", "product", "region")] + [
    "customer-effort",
    "new-vs-existing",
    "pipeline-by-stage",
    "win-rate?by=rep",
    "lost-reasons",
    "sales-cycle?by=period",
    "sales-cycle-distribution",
    "time-in-stage",
]


def endpoints() -> list[Endpoint]:
    pages = [Endpoint(slug, f"/reports/{slug}/", "admin") for slug in PAGES]
    own = [
        Endpoint("revenue-by-period (sales, own)", "/reports/revenue-by-period/", "sales"),
        Endpoint("new-vs-existing (sales, own)", "/reports/new-vs-existing/", "sales"),
        Endpoint("win-rate-by-period (sales, own)", "/reports/win-rate-by-period/", "sales"),
    ]
    api = [Endpoint(f"api {path}", f"/api/v1/reports/{path}", "token") for path in API]
    return pages + own + api


def main() -> None:
    parser = page_bench_arguments(__doc__.splitlines()[0], database=DEFAULT_DATABASE, port=8251)
    args = parser.parse_args()
    url = args.database_url
    if "bench-reports" not in url and "bench_reports" not in url:
        raise SystemExit("use var/bench-reports.sqlite3 or kehu_bench_reports")
    setup = prepare(url, TENANT_SLUG, USERNAME_PREFIX)
    print(f"{database_label(url)}: {setup.parties:,} parties; load {os.getloadavg()}")
    server = start_server(url, args.port, args.workers, args.threads)
    results: list[dict[str, Any]] = []
    try:
        for endpoint in endpoints():
            status = probe(args.port, setup, endpoint)
            if status != 200:
                results.append(summarise(endpoint, 0, Sample(statuses={status: 1})))
                print(f"{endpoint.name:<28} not measured: HTTP {status or 'no answer'}")
                continue
            sample = measure(args.port, setup, endpoint, args.clients, args.requests, args.seconds)
            row = summarise(endpoint, args.clients, sample)
            ok = not sample.errors and set(sample.statuses) == {200}
            row["passes"] = ok and row["p95_ms"] is not None and row["p95_ms"] <= TARGET_P95_MS
            results.append(row)
            print_row(row)
    finally:
        stop_server(server)
    payload = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "database": database_label(url),
        "parties": setup.parties,
        "requests_per_endpoint": args.requests,
        "load_average_after": os.getloadavg(),
        "machine": machine(),
        "target_p95_ms": TARGET_P95_MS,
        "results": results,
    }
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
    print(
        f"figures written to {write_json(f'reports-{database_label(url)}-{stamp}.json', payload)}"
    )


if __name__ == "__main__":
    main()
