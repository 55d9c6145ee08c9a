"""Customer value end to end: score a tenant's customers from the database and back.

    python bench/insights.py --customers 1000000   # SQLite: var/bench-insights.sqlite3
    python bench/insights.py --customers 1000000 \\
        --database-url postgres://postgres@127.0.0.1:5432/kehu_bench_insights

Fills a fresh database (its name must contain "bench") with one tenant: N current
customers and their orders (one line each, over a small catalogue), drawn from a known
BG/NBD + Gamma-Gamma process (the one of bench/insights_model.py, about ten orders per
customer). Then, each in its own process so that peak memory is that side's alone:

- kehu: a scoring run as the nightly job does it (`scoring_run_now`): read the orders,
  categories and staff hours from the database, aggregate, fit BG/NBD and Gamma-Gamma,
  score, write one CustomerScore row per customer, publish. The run's own stage timings
  (ScoringRun.parameters["seconds"]) are printed, with the process's peak RSS.
- lifetimes 0.11.3 (var/lifetimes-venv, see bench/README.md) on the same orders: its
  summary function, both fits and its scoring (bench/insights_lifetimes.py).

Prints the figures against the targets and writes JSON under var/bench/. `--keep` keeps
the database, `--load-only` fills it and stops, and `--reuse` scores an existing one
again (the loading is not timed; migrate it first if the code has new migrations).
"""

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, database_label, machine, peak_rss_mib, setup_django, write_json
from generate import analyse, fresh_database, tune_for_loading
from insights_model import (
    HISTORY_DAYS,
    LIFETIMES_PYTHON,
    LIFETIMES_SIDE,
    VAR,
    generate,
    relative_differences,
    run_side,
)

TENANT_SLUG = "bench-insights"
DEFAULT_URL = f"sqlite:///{ROOT / 'var' / 'bench-insights.sqlite3'}"
AS_OF = datetime.date(2026, 6, 30)
FIRST_DAY = AS_OF - datetime.timedelta(days=HISTORY_DAYS - 1)
EPOCH = datetime.date(1970, 1, 1)
MARGIN = 0.3  # every product's unit cost is 70% of its price
CATEGORIES, PRODUCTS = 8, 40
BATCH = 50_000
TARGETS = {"end_to_end_s": 60.0, "model_s": 30.0, "peak_rss_gib": 2.0, "speed_ratio": 3.0}


def drop_indexes(tables: list[str]) -> list[str]:
    """Drop the plain (non-constraint) indexes of the tables; their CREATE statements.

    Filling a table and then building its indexes once is several times faster than
    keeping a dozen indexes up to date row by row."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = ANY(%s) "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
                [tables],
            )
        else:
            marks = ", ".join(["%s"] * len(tables))
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                f"AND sql IS NOT NULL AND tbl_name IN ({marks})",
                tables,
            )
        found = cursor.fetchall()
        for name, _sql in found:
            cursor.execute(f'DROP INDEX "{name}"')
    return [sql for _name, sql in found]


def load(database_url: str, customers: int, seed: int) -> dict[str, Any]:
    """A fresh database with the tenant, its customers and their orders; the orders also
    go to an .npz file for the lifetimes side."""
    began = time.perf_counter()
    fresh_database(database_url)
    setup_django(database_url)
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from kehu.core.bulk import BulkWriter
    from kehu.core.context import tenant_scope
    from kehu.parties.models import Party
    from kehu.sales.models import Order, OrderLine, Product, ProductCategory
    from kehu.tenancy.models import Role, Tenant, User, Visibility

    call_command("migrate", verbosity=0)
    tune_for_loading(database_url)
    data = generate(customers, seed)
    # Customers are parties 1…N; day numbers become dates ending on the scoring day.
    party = data["customer_ids"] - 100_000 + 1
    dates = np.datetime64(FIRST_DAY) + data["day_numbers"].astype("timedelta64[D]")
    amounts = data["amounts"]
    rng = np.random.default_rng(seed + 1)
    tenant = Tenant.objects.create(name="价值基准公司", slug=TENANT_SLUG)
    writer = BulkWriter(tenant.pk, timezone.now())
    with tenant_scope(tenant.pk):
        owner = User.objects.create_user(
            username="bench_insights",
            password="kehu-demo-2024",  # noqa: S106 (a benchmark database's staff)
            tenant=tenant,
            role=Role.ADMIN,
            visibility=Visibility.ALL,
        )
        categories = [
            ProductCategory.objects.create(name=f"品类{i + 1}") for i in range(CATEGORIES)
        ]
        products = [
            Product.objects.create(
                code=f"P{i + 1:03d}",
                name=f"产品{i + 1}",
                category=categories[i % CATEGORIES],
                unit_price=100,
                unit_cost=70,
            )
            for i in range(PRODUCTS)
        ]
        product_ids = np.array([p.pk for p in products])
        tables = [m._meta.db_table for m in (Party, Order, OrderLine)]
        indexes = drop_indexes(tables)
        for start in range(0, customers, BATCH):
            numbers = range(start + 1, min(start + BATCH, customers) + 1)
            rows = [(pk, "organisation", f"客户{pk:07d}", "current", owner.pk) for pk in numbers]
            with transaction.atomic():
                writer.insert(Party, ("id", "kind", "name", "relationship_state", "owner_id"), rows)
        order_fields = (
            "id",
            "party_id",
            "status",
            "order_date",
            "subtotal",
            "revenue",
            "cost",
            "profit",
            "owner_id",
        )
        line_fields = (
            "order_id",
            "position",
            "product_id",
            "quantity",
            "unit_price",
            "unit_cost",
            "amount",
            "cost_amount",
        )
        cost = np.round(amounts * (1 - MARGIN), 2)
        product = product_ids[rng.integers(0, PRODUCTS, amounts.size)]
        for start in range(0, amounts.size, BATCH):
            stop = min(start + BATCH, amounts.size)
            ids = list(range(start + 1, stop + 1))
            day = dates[start:stop].astype(datetime.date).tolist()
            amount, spent = amounts[start:stop].tolist(), cost[start:stop].tolist()
            who, what = party[start:stop].tolist(), product[start:stop].tolist()
            orders = [
                (pk, p, "confirmed", d, a, a, c, round(a - c, 2), owner.pk)
                for pk, p, d, a, c in zip(ids, who, day, amount, spent, strict=True)
            ]
            lines = [
                (pk, 1, item, 1, a, c, a, c)
                for pk, item, a, c in zip(ids, what, amount, spent, strict=True)
            ]
            with transaction.atomic():
                writer.insert(Order, order_fields, orders)
                writer.insert(OrderLine, line_fields, lines)
            if (start // BATCH) % 20 == 0:
                done = time.perf_counter() - began
                print(f"  orders {stop:>11,}/{amounts.size:,}  {done:7.1f} s", flush=True)
        with connection.cursor() as cursor:
            for sql in indexes:
                cursor.execute(sql)
        print(f"  indexes rebuilt  {time.perf_counter() - began:7.1f} s", flush=True)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for model in (Party, Order):
                    table = model._meta.db_table
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                        f'(SELECT max(id) FROM "{table}"))'
                    )
    analyse(database_url)
    VAR.mkdir(parents=True, exist_ok=True)
    data_file = VAR / f"db-orders-{customers}-{seed}.npz"
    np.savez(
        data_file,
        customer_ids=party,
        day_numbers=(dates - np.datetime64(EPOCH)).astype(np.int64),
        amounts=amounts,
        observation_end=np.array((AS_OF - EPOCH).days),
    )
    return {
        "load_seconds": round(time.perf_counter() - began, 1),
        "orders": int(amounts.size),
        "data_file": str(data_file),
    }


def score_side(database_url: str) -> dict[str, Any]:
    """One scoring run, in this process; its timings, parameters and peak RSS."""
    setup_django(database_url)
    from kehu.core.context import tenant_scope
    from kehu.insights import services
    from kehu.insights.models import CustomerScore
    from kehu.tenancy.models import Tenant

    tenant = Tenant.objects.get(slug=TENANT_SLUG)
    memory: dict[str, dict[str, float]] = {}
    mark = services._Clock.mark

    def mark_with_memory(clock: Any, stage: str) -> None:
        # The process's memory as each stage ends: where the peak comes from.
        mark(clock, stage)
        memory[stage] = memory_mib()

    services._Clock.mark = mark_with_memory  # type: ignore[method-assign,assignment]
    with tenant_scope(tenant.pk):
        started = memory_mib()
        start = time.perf_counter()
        run = services.scoring_run_now(actor=None, as_of=AS_OF)
        wall = time.perf_counter() - start
        written = CustomerScore.objects.filter(run=run).count()
    return {
        "wall_seconds": round(wall, 2),
        "stages": run.parameters["seconds"],
        "memory_at_start_mib": started,
        "memory_by_stage_mib": memory,
        "method": run.method,
        "customers_scored": run.customers_scored,
        "rows_written": written,
        "bgnbd": run.parameters.get("bgnbd", {}),
        "gamma_gamma": run.parameters.get("gamma_gamma", {}),
        "peak_rss_mib": peak_rss_mib(),
    }


def memory_mib() -> dict[str, float]:
    """VmHWM (the peak so far), RssAnon and RssFile (mapped files, e.g. SQLite's mmap), MiB;
    and the process's CPU seconds so far ("cpu", user + system: on a shared machine it
    moves less than the wall clock)."""
    wanted = {"VmHWM:": "peak", "RssAnon:": "anonymous", "RssFile:": "file"}
    times = os.times()
    out = {"cpu": round(times.user + times.system, 2)}
    for line in Path("/proc/self/status").read_text().splitlines():
        parts = line.split()
        if parts and parts[0] in wanted:
            out[wanted[parts[0]]] = round(int(parts[1]) / 1024, 1)
    return out


def load_average() -> float:
    return round(float(Path("/proc/loadavg").read_text().split()[0]), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--database-url", default=f"sqlite:///{ROOT / 'var' / 'bench-insights.sqlite3'}"
    )
    parser.add_argument("--reuse", action="store_true", help="score the existing database")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--load-only", action="store_true", help="fill and keep the database; score later"
    )
    parser.add_argument("--no-lifetimes", action="store_true")
    parser.add_argument("--lifetimes-timeout", type=float, default=1800, help="seconds")
    parser.add_argument("--side", choices=["score"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = args.database_url
    if args.side == "score":
        print(json.dumps(score_side(url)))
        return
    data_file = VAR / f"db-orders-{args.customers}-{args.seed}.npz"
    if args.reuse:
        loaded: dict[str, Any] = {"load_seconds": None, "data_file": str(data_file)}
    else:
        print(f"loading {args.customers:,} customers into {database_label(url)} …")
        loaded = load(url, args.customers, args.seed)
        print(f"  loaded {loaded['orders']:,} orders in {loaded['load_seconds']} s")
        if args.load_only:
            print(f"kept {database_label(url)}: score it with --reuse")
            return
    result: dict[str, Any] = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "database": database_label(url),
        "customers": args.customers,
        "seed": args.seed,
        **loaded,
        "load_average_before": load_average(),
    }
    me = [sys.executable, str(Path(__file__).resolve()), "--side", "score"]
    ours = run_side([*me, "--database-url", url], timeout=3600)
    result["kehu"] = ours
    result["load_average_after_kehu"] = load_average()
    theirs: dict[str, Any] = {"skipped": "--no-lifetimes"}
    if not args.no_lifetimes and not LIFETIMES_PYTHON.exists():
        theirs = {"skipped": f"{LIFETIMES_PYTHON} not found (see bench/README.md)"}
    elif not args.no_lifetimes:
        theirs = run_side(
            [str(LIFETIMES_PYTHON), str(LIFETIMES_SIDE), str(data_file)],
            timeout=args.lifetimes_timeout,
            peer=True,
        )
    result["lifetimes"] = theirs
    report(result)
    if not args.keep and not args.reuse:
        Path(str(loaded["data_file"])).unlink(missing_ok=True)
    path = write_json(f"insights-{database_label(url)}-{args.customers}.json", result)
    print(f"figures written to {path}")


def report(result: dict[str, Any]) -> None:
    ours, theirs = result["kehu"], result["lifetimes"]
    stages = ours["stages"]
    model = stages["model"]
    rss_gib = ours["peak_rss_mib"] / 1024
    print()
    print(
        f"{result['customers']:,} customers, {ours['customers_scored']:,} scored "
        f"({ours['method']}), {ours['rows_written']:,} score rows written, "
        f"{result['database']}, load average {result['load_average_before']}"
    )
    memory = ours.get("memory_by_stage_mib", {})
    cpu_before = ours.get("memory_at_start_mib", {}).get("cpu", 0.0)
    for stage, seconds in stages.items():
        at = memory.get(stage)
        after = ""
        if at:
            cpu = at.get("cpu", 0.0) - cpu_before
            cpu_before = at.get("cpu", 0.0)
            after = (
                f"  cpu {cpu:6.2f} s   after it: peak {at['peak']:,.0f}, "
                f"anon {at['anonymous']:,.0f}, file {at['file']:,.0f} MiB"
            )
        print(f"  {stage:<28}{seconds:>9.2f} s{after}")
    checks = [
        ("end to end (wall)", ours["wall_seconds"], TARGETS["end_to_end_s"], "s"),
        ("aggregate + fit + score", model, TARGETS["model_s"], "s"),
        ("peak RSS", rss_gib, TARGETS["peak_rss_gib"], "GiB"),
    ]
    for label, value, target, unit in checks:
        verdict = "ok" if value <= target else "OVER"
        print(f"  {label:<28}{value:>9.2f} {unit:<4} target ≤ {target:g} {unit}  {verdict}")
    if "seconds" not in theirs:
        print(f"  lifetimes: {theirs}")
        return
    lifetimes_s = sum(theirs["seconds"].values())
    ratio = lifetimes_s / model
    result["speed_ratio_model"] = ratio
    result["speed_ratio_end_to_end"] = lifetimes_s / ours["wall_seconds"]
    result["relative_difference"] = relative_differences(ours, theirs)
    worst = max(result["relative_difference"].items(), key=lambda item: item[1])
    print(
        f"  lifetimes summary+fit+score {lifetimes_s:.2f} s, peak RSS "
        f"{theirs['peak_rss_mib'] / 1024:.2f} GiB (in memory, from its own file)"
    )
    model_cpu = memory.get("model", {}).get("cpu", 0.0) - memory.get(
        "read_categories_and_hours", {}
    ).get("cpu", 0.0)
    if "cpu_seconds" in theirs and model_cpu > 0:
        result["cpu_ratio_model"] = theirs["cpu_seconds"] / model_cpu
        print(
            f"  CPU seconds: lifetimes {theirs['cpu_seconds']:.2f}, kehu's model stage "
            f"{model_cpu:.2f} ({result['cpu_ratio_model']:.1f}x)"
        )
    verdict = "ok" if ratio >= TARGETS["speed_ratio"] else "UNDER"
    print(f"  speed ratio (lifetimes / kehu's model stage) {ratio:.1f}x  target ≥ 3x  {verdict}")
    print(f"  speed ratio (lifetimes / kehu end to end)    {result['speed_ratio_end_to_end']:.1f}x")
    print(f"  largest parameter difference {worst[0]} {worst[1]:.2e} relative (target ≤ 1e-3)")
    result["machine"] = machine()


if __name__ == "__main__":
    main()
