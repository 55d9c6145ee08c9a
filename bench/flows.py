"""Time the tier-migration and lifecycle-flow reads on two runs of N customers' scores.

    python bench/flows.py --customers 100000 --database-url sqlite:///var/bench-flows.sqlite3
    python bench/flows.py --database-url postgres://postgres@127.0.0.1:5432/kehu_bench_flows

The database is dropped and migrated first (its name must contain "bench"); the demo
generator makes N parties and their staff, then two finished runs score 95 % of them
each (the first 95 % and the last 95 %: 5 % new, 5 % out) with random tiers and stages,
among --history older runs of everyone.
Times, in the tenant's scope, the grouped matrix query (kehu/insights/flows_selectors.py)
for the admin (whole firm) and a salesperson (own customers), and one cell's first page
of customers with its count; prints median and worst of --repeats, and the matrix
query's plan.
"""

import argparse
import datetime
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ROOT,
    TENANT_SLUG,
    USERNAME_PREFIX,
    database_label,
    is_sqlite,
    machine,
    setup_django,
    write_json,
)
from generate import analyse, fresh_database, tune_for_loading

DEFAULT_DATABASE = f"sqlite:///{ROOT / 'var' / 'bench-flows.sqlite3'}"


def timed(run: Callable[[], Any], repeats: int) -> dict[str, float]:
    run()  # warm
    samples = []
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        samples.append((time.perf_counter() - began) * 1000)
    return {"median_ms": statistics.median(samples), "max_ms": max(samples)}


def score_runs(customers: int, history: int, seed: int) -> tuple[Any, Any]:
    """`history` older runs of everyone (the rows the two compared runs sit among), then
    the two runs compared."""
    from decimal import Decimal

    from kehu.insights.models import CustomerScore, RunStatus, ScoringRun
    from kehu.parties.models import Party

    rng = random.Random(seed)
    ids = list(Party.objects.order_by("pk").values_list("pk", flat=True)[:customers])
    cut = len(ids) // 20
    older = [
        ScoringRun.objects.create(
            as_of=datetime.date(2026, 8, 1) - datetime.timedelta(days=30 * i),
            status=RunStatus.DONE,
        )
        for i in range(history)
    ]
    earlier = ScoringRun.objects.create(as_of=datetime.date(2026, 8, 31), status=RunStatus.DONE)
    later = ScoringRun.objects.create(as_of=datetime.date(2026, 11, 30), status=RunStatus.DONE)
    tiers, stages = "SABC", ("exploration", "formation", "stability", "decline")
    scored = [(run, ids) for run in older]
    scored += [(earlier, ids[: len(ids) - cut]), (later, ids[cut:])]
    for run, party_ids in scored:
        rows = [
            CustomerScore(
                tenant_id=run.tenant_id,
                run=run,
                party_id=pk,
                as_of=run.as_of,
                clp=Decimal(rng.randint(-500, 50_000)),
                tier=rng.choices(tiers, weights=(5, 15, 30, 50))[0],
                inferred_stage=(stage := rng.choice(stages)),
                lifecycle_stage=stage,
            )
            for pk in party_ids
        ]
        CustomerScore.objects.bulk_create(rows, batch_size=5000)
    return earlier, later


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--history", type=int, default=4, help="older runs of everyone")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument(
        "--keep", action="store_true", help="measure the database an earlier run left"
    )
    args = parser.parse_args()
    url = args.database_url
    if "bench-flows" not in url and "bench_flows" not in url:
        raise SystemExit("use var/bench-flows.sqlite3 or kehu_bench_flows")
    if not args.keep:
        fresh_database(url)
    setup_django(url)
    from django.core.management import call_command
    from django.db import connection

    from kehu.core.context import tenant_scope
    from kehu.demo.generator import generate
    from kehu.insights import flows_selectors as flows
    from kehu.insights.models import ScoringRun
    from kehu.parties.selectors import capped_count
    from kehu.tenancy.models import Role, Tenant, User

    if args.keep:
        tenant = Tenant.objects.get(slug=TENANT_SLUG)
        with tenant_scope(tenant.pk):
            earlier, later = list(ScoringRun.objects.order_by("-as_of"))[1::-1]
    else:
        call_command("migrate", verbosity=0)
        tune_for_loading(url)
        tenant = Tenant.objects.create(name="基准测试公司", slug=TENANT_SLUG)
        began = time.perf_counter()
        generate(tenant, parties=args.customers, interactions=0, username_prefix=USERNAME_PREFIX)
        with tenant_scope(tenant.pk):
            earlier, later = score_runs(args.customers, args.history, args.seed)
        analyse(url)
        print(f"loaded in {time.perf_counter() - began:.0f} s")
    with tenant_scope(tenant.pk):
        runs = ScoringRun.objects.count()
    print(f"{database_label(url)}: {args.customers:,} customers, {runs} runs")
    results: dict[str, dict[str, float]] = {}
    with tenant_scope(tenant.pk):
        admin = User.objects.filter(role=Role.ADMIN).order_by("pk").first()
        sales = User.objects.filter(role=Role.SALES).order_by("pk").first()
        assert admin is not None and sales is not None
        figures = flows.flows(admin, flows.TIER, earlier, later)
        print(f"  matrix: {len(figures.cells)} cells, {figures.customers:,} customers")

        def cell_page() -> None:
            rows = flows.cell_customers(admin, flows.TIER, earlier, later, "B", "C")
            list(rows[:50])
            capped_count(rows)

        cases: dict[str, Callable[[], Any]] = {
            "tier matrix (admin)": lambda: flows.flows(admin, flows.TIER, earlier, later),
            "stage flows (admin)": lambda: flows.flows(admin, flows.STAGE, earlier, later),
            "tier matrix (sales, own)": lambda: flows.flows(sales, flows.TIER, earlier, later),
            "cell B→C first page + count (admin)": cell_page,
        }
        for name, case in cases.items():
            results[name] = timed(case, args.repeats)
            r = results[name]
            print(f"  {name:<40} median {r['median_ms']:8.1f} ms   max {r['max_ms']:8.1f} ms")
        sql, params = flows.flows_sql(admin, flows.TIER, earlier, later)
        explain = "EXPLAIN QUERY PLAN " if is_sqlite(url) else "EXPLAIN "
        with connection.cursor() as cursor:
            cursor.execute(explain + sql, params)
            print("  plan of the matrix query:")
            for row in cursor.fetchall():
                print("    ", row[-1])
    path = write_json(
        f"flows-{database_label(url)}-{args.customers}.json",
        {
            "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "database": database_label(url),
            "customers": args.customers,
            "runs": runs,
            "results": results,
            "machine": machine(),
        },
    )
    print(f"  figures written to {path}")


if __name__ == "__main__":
    main()
