"""Query plans and timings of the reads behind the list, search and detail pages.

    python bench/explain.py --database-url sqlite:///var/bench.sqlite3

Builds the same querysets the views do (through kehu.parties.selectors and
kehu.activities.selectors, as the benchmark tenant's admin or salesperson), prints each
query's plan (EXPLAIN QUERY PLAN on SQLite, EXPLAIN ANALYZE on PostgreSQL) and its median
time over a few runs. Use it to see why a page misses its target.
"""

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DEFAULT_SQLITE, TENANT_SLUG, USERNAME_PREFIX, is_sqlite, setup_django


def timed(run: Callable[[], Any], times: int = 5) -> float:
    spent = []
    for _ in range(times):
        began = time.perf_counter()
        run()
        spent.append(time.perf_counter() - began)
    return statistics.median(spent) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_SQLITE)
    parser.add_argument("--name", default="张伟")
    parser.add_argument("--province", default="广东省")
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    setup_django(args.database_url)

    from django.db.models import QuerySet

    from kehu.activities.models import InteractionParty, Task
    from kehu.core.audit import audit_for
    from kehu.core.context import tenant_scope
    from kehu.core.models import AuditEntry
    from kehu.parties.models import Party, StateChange
    from kehu.parties.search import matching_party_ids
    from kehu.parties.selectors import PartyFilters, capped_count, party_list
    from kehu.tenancy.models import Tenant, User

    sqlite = is_sqlite(args.database_url)
    tenant = Tenant.objects.get(slug=TENANT_SLUG)

    def counter(parties: QuerySet[Party]) -> Callable[[], Any]:
        return lambda: capped_count(parties)

    def show(label: str, queryset: QuerySet[Any], run: Callable[[], Any] | None = None) -> None:
        if args.only and args.only not in label:
            return
        ms = timed(run or (lambda: list(queryset.all())))  # .all(): a fresh, uncached copy
        print(f"\n== {label}: {ms:.1f} ms (median of 5)")
        print(f"   {queryset.query}"[:600])
        plan = queryset.explain() if sqlite else queryset.explain(analyze=True)
        print("   " + plan.replace("\n", "\n   "))

    with tenant_scope(tenant.pk):
        admin = User.objects.get(username=f"{USERNAME_PREFIX}admin")
        sales = User.objects.get(username=f"{USERNAME_PREFIX}sales1")
        party = Party.objects.order_by("-id")[1000]
        cases = {
            # As the customer list asks (kehu.parties.forms): pool parties have their page.
            "list": (admin, PartyFilters(in_pool=False)),
            "list ?state=current": (admin, PartyFilters(state="current", in_pool=False)),
            f"list ?province={args.province}": (
                admin,
                PartyFilters(province=args.province, in_pool=False),
            ),
            "list (sales, own)": (sales, PartyFilters(in_pool=False)),
            f"search ?q={args.name}": (admin, PartyFilters(q=args.name, in_pool=False)),
            "search ?q=zhangwei": (admin, PartyFilters(q="zhangwei", in_pool=False)),
            "search ?q=zw": (admin, PartyFilters(q="zw", in_pool=False)),
            "search ?q=138": (admin, PartyFilters(q="138", in_pool=False)),
        }
        for label, (user, filters) in cases.items():
            parties = party_list(user, filters)
            show(f"{label}: first page", parties[:50])
            count_qs = parties.order_by().values("pk")[:10_001]
            show(f"{label}: capped count", count_qs, counter(parties))
        for query in (args.name, "zw", "138"):
            show(f"search keys {query}", matching_party_ids(query))
        show(
            "detail: interactions",
            InteractionParty.objects.filter(party=party)
            .select_related("interaction")
            .order_by("-occurred_at")[:50],
        )
        show(
            "detail: state changes", StateChange.objects.filter(party=party).order_by("-changed_at")
        )
        show("detail: tasks", Task.objects.filter(party=party).order_by("-created_at")[:50])
        show(
            "detail: created entry (party_timeline)",
            AuditEntry.objects.filter(
                root_type="parties.party",
                root_id=party.pk,
                object_type="parties.party",
                action=AuditEntry.Action.CREATE,
            )[:1],
        )
        show("detail: history (audit_for)", audit_for(party)[:50])


if __name__ == "__main__":
    main()
