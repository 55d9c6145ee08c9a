"""Time the customer asset balance sheet (kehu/insights/balance_selectors.py) on a firm of
N scored customers in two runs, with open tasks, referrals and planned spend.

    .venv/bin/python bench/balance_sheet.py --customers 100000
    .venv/bin/python bench/balance_sheet.py --database-url postgres://postgres@127.0.0.1:5432/kehu_bench_balance

Builds its own firm in its own database (migrated on first use; SQLite by default at
var/bench-balance.sqlite3), then prints the median of a few timings of the whole sheet
(admin: firm-wide; a rep: his own tenth of the customers) and of a list behind a figure,
and the query count of each. JSON to bench/out/.
"""

import argparse
import datetime
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, database_label, is_sqlite, machine, setup_django, write_json

SLUG = "bench-balance"
BATCH = 5000


def build(customers: int) -> None:
    from kehu.activities.models import Task
    from kehu.core.context import tenant_scope
    from kehu.insights.models import CustomerScore, PlannedSpend, RunStatus, ScoringRun
    from kehu.parties.models import Party, PartyLink
    from kehu.tenancy.models import Role, Tenant, User, Visibility

    tenant, made = Tenant.objects.get_or_create(slug=SLUG, defaults={"name": "资产负债表测试"})
    if not made:
        return
    with tenant_scope(tenant.pk):
        admin = User.objects.create(
            tenant=tenant, username="bb_admin", role=Role.ADMIN, visibility=Visibility.ALL
        )
        rep = User.objects.create(
            tenant=tenant, username="bb_rep", role=Role.SALES, visibility=Visibility.OWN
        )
        parties = [
            Party(
                tenant=tenant,
                kind="organisation",
                name=f"客户{i}",
                relationship_state="current",
                owner=rep if i % 10 == 0 else admin,
            )
            for i in range(customers)
        ]
        Party.objects.bulk_create(parties, batch_size=BATCH)
        ids = list(Party.objects.order_by("id").values_list("id", flat=True))
        old = ScoringRun.objects.create(as_of=datetime.date(2026, 10, 31), status=RunStatus.DONE)
        new = ScoringRun.objects.create(as_of=datetime.date(2026, 11, 30), status=RunStatus.DONE)
        tiers = "SABCCCCCCC"
        rows = []
        for i, pk in enumerate(ids):
            for run, shift in ((old, 0), (new, 1)):
                if (run is old and i % 20 == 19) or (run is new and i % 25 == 24):
                    continue  # some are gained, some lost
                rows.append(
                    CustomerScore(
                        tenant=tenant,
                        run=run,
                        party_id=pk,
                        as_of=run.as_of,
                        current_value=Decimal(i % 1000),
                        growth_potential=Decimal(i % 100),
                        clp=Decimal(i % 1000 + i % 100),
                        tier=tiers[(i + shift * (i % 3)) % 10],
                        p_alive=((i * 7) % 100) / 100,
                        inferred_stage="stability",
                        lifecycle_stage="stability",
                    )
                )
        CustomerScore.objects.bulk_create(rows, batch_size=BATCH)
        due = datetime.date(2026, 12, 5)
        tasks = [
            Task(tenant=tenant, title="回访", due_date=due, assignee=admin, party_id=pk)
            for pk in ids[::10]
        ]
        Task.objects.bulk_create(tasks, batch_size=BATCH)
        links = [
            PartyLink(tenant=tenant, from_party_id=a, to_party_id=b, kind="refers")
            for a, b in zip(ids[::50], ids[1::50], strict=False)
        ]
        PartyLink.objects.bulk_create(links, batch_size=BATCH)
        PlannedSpend.objects.create(
            period_start=datetime.date(2026, 11, 1),
            period_end=datetime.date(2026, 11, 30),
            kind="acquisition",
            amount=Decimal(50000),
        )


def timed(call: Any, repeat: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    seconds = []
    with CaptureQueriesContext(connection) as queries:
        call()
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    return {"median_ms": round(statistics.median(seconds) * 1000, 1), "queries": len(queries)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default=f"sqlite:///{ROOT / 'var' / 'bench-balance.sqlite3'}"
    )
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    setup_django(args.database_url)
    from django.core.management import call_command

    (ROOT / "var").mkdir(exist_ok=True)
    call_command("migrate", verbosity=0)
    start = time.perf_counter()
    build(args.customers)
    built = time.perf_counter() - start
    if not is_sqlite(args.database_url):
        from django.db import connection

        with connection.cursor() as cursor:  # what autovacuum would have done by now
            cursor.execute("ANALYZE")

    from kehu.core.context import tenant_scope
    from kehu.insights import balance_selectors as selectors
    from kehu.tenancy.models import Tenant, User

    tenant = Tenant.objects.get(slug=SLUG)
    results: dict[str, Any] = {}
    with tenant_scope(tenant.pk):
        admin, rep = User.objects.get(username="bb_admin"), User.objects.get(username="bb_rep")
        run = selectors.chosen_run(None)
        assert run is not None
        sheet = selectors.balance_sheet(admin, run)
        results["sheet_admin"] = timed(lambda: selectors.balance_sheet(admin, run), args.repeat)
        results["sheet_rep"] = timed(lambda: selectors.balance_sheet(rep, run), args.repeat)
        results["behind_churned"] = timed(
            lambda: selectors.behind(admin, run, "churned"), args.repeat
        )
    payload = {
        "database": database_label(args.database_url),
        "customers": args.customers,
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "build_seconds": round(built, 1),
        "total_assets": str(sheet.total_assets),
        "results": results,
    }
    path = write_json(f"balance-{payload['database']}-{args.customers}.json", payload)
    for name, row in results.items():
        print(f"{name}: {row['median_ms']} ms median, {row['queries']} queries")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
