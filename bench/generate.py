"""Fill a fresh benchmark database with one tenant of N parties, and time it.

    python bench/generate.py --parties 1000000 --interactions 2000000 \\
        --database-url sqlite:///var/bench.sqlite3
    python bench/generate.py --parties 1000000 \\
        --database-url postgres://postgres@127.0.0.1:5432/kehu_bench

The database is dropped and migrated first: its name must contain "bench". The tenant
is slug "bench" with staff bench_admin, bench_sales1 … (password kehu-demo-2024).
"""

import argparse
import datetime
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    DEFAULT_SQLITE,
    TENANT_SLUG,
    USERNAME_PREFIX,
    database_label,
    is_sqlite,
    machine,
    setup_django,
    sqlite_path,
    write_json,
)


def fresh_database(database_url: str) -> None:
    """Drop and create the benchmark database (only one whose name says "bench")."""
    if is_sqlite(database_url):
        path = sqlite_path(database_url)
        if "bench" not in path.name:
            raise SystemExit(f"refusing to drop {path}: the file name must contain 'bench'")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        return
    import psycopg

    url = urlparse(database_url)
    name = url.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to drop database {name!r}: the name must contain 'bench'")
    admin_url = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def tune_for_loading(database_url: str) -> None:
    """Session settings for one big load; the server's configuration is left alone."""
    from django.db import connection

    with connection.cursor() as cursor:
        if is_sqlite(database_url):
            # A crash mid-load loses the benchmark database, nothing else.
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA cache_size=-4000000")  # 4 GB of page cache
            cursor.execute("PRAGMA temp_store=MEMORY")
        else:
            cursor.execute("SET synchronous_commit = off")
            cursor.execute("SET maintenance_work_mem = '1GB'")


def analyse(database_url: str) -> None:
    """Planner statistics, as autovacuum (PostgreSQL) or `PRAGMA optimize` would gather.
    On PostgreSQL also VACUUM, as autovacuum would after a bulk load: it sets the
    visibility map, without which no index-only scan skips the table (the capped counts)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE" if is_sqlite(database_url) else "VACUUM (ANALYZE)")


def database_size(database_url: str) -> int:
    from django.db import connection

    if is_sqlite(database_url):
        path = sqlite_path(database_url)
        return sum(
            Path(f"{path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{path}{s}").exists()
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        return int(cursor.fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parties", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=None, help="default: 2 × parties")
    parser.add_argument("--orders", type=int, default=0, help="about this many orders")
    parser.add_argument(
        "--opportunities", type=int, default=0, help="deals in two pipelines (bench/board.py)"
    )
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--database-url", default=DEFAULT_SQLITE)
    parser.add_argument(
        "--no-analyze", action="store_true", help="skip ANALYZE after loading (SQLite's default)"
    )
    args = parser.parse_args()
    interactions = args.parties * 2 if args.interactions is None else args.interactions
    url = args.database_url

    timings: dict[str, float] = {}
    began = time.perf_counter()
    fresh_database(url)
    setup_django(url)

    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    timings["migrate"] = time.perf_counter() - began
    print(f"migrated a fresh {database_label(url)} database in {timings['migrate']:.1f} s")

    from kehu.demo.generator import generate
    from kehu.tenancy.models import Tenant

    tune_for_loading(url)
    tenant = Tenant.objects.create(name="基准测试公司", slug=TENANT_SLUG)
    started = time.perf_counter()
    # Stages as the generator reports them (parties, interactions, orders, pipeline …).
    marks: dict[str, float] = {}
    next_print: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        marks[stage] = time.perf_counter()
        if done / max(total, 1) >= next_print.get(stage, 0.0):
            next_print[stage] = done / total + 0.1
            elapsed = marks[stage] - started
            print(f"  {stage:<12} {done:>10,}/{total:,}  {elapsed:7.1f} s", flush=True)

    report = generate(
        tenant,
        parties=args.parties,
        interactions=interactions,
        orders=args.orders,
        opportunities=args.opportunities,
        seed=args.seed,
        username_prefix=USERNAME_PREFIX,
        batch_size=args.batch_size,
        progress=progress,
    )
    timings["generate"] = report.seconds
    parties_done = marks.get("parties", started)
    timings["parties_stage"] = parties_done - started
    timings["interactions_stage"] = marks.get("interactions", parties_done) - parties_done
    if "orders" in marks:
        timings["orders_stage"] = marks["orders"] - marks.get("interactions", parties_done)
    if not args.no_analyze:
        t = time.perf_counter()
        analyse(url)
        timings["analyze"] = time.perf_counter() - t
    size = database_size(url)
    rows = report.total_rows
    print()
    for label, n in sorted(report.rows.items()):
        print(f"  {label:<32} {n:>12,}")
    print(f"  {'total rows':<32} {rows:>12,}")
    print()
    print(f"generated {args.parties:,} parties and {interactions:,} interactions")
    print(
        f"  in {report.seconds:.1f} s: {rows / report.seconds:,.0f} rows/s, "
        f"{args.parties / timings['parties_stage']:,.0f} parties/s (parties stage "
        f"{timings['parties_stage']:.1f} s, interactions stage "
        f"{timings['interactions_stage']:.1f} s)"
    )
    if "analyze" in timings:
        print(f"  ANALYZE {timings['analyze']:.1f} s")
    print(f"  database size {size / 1024**3:.2f} GiB")
    payload: dict[str, Any] = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "database": database_label(url),
        "parties": args.parties,
        "interactions": interactions,
        "seed": args.seed,
        "batch_size": args.batch_size,
        "rows": dict(report.rows),
        "total_rows": rows,
        "seconds": timings,
        "rows_per_second": rows / report.seconds,
        "database_bytes": size,
        "machine": machine(),
    }
    path = write_json(f"generate-{database_label(url)}-{args.parties}.json", payload)
    print(f"  figures written to {path}")


if __name__ == "__main__":
    main()
