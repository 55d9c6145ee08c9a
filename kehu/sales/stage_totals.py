"""The number of deals and their amount per stage and owner (`sales.StageTotal`), kept by
the deal services in their write's own transaction and read by the board
(docs/decisions/0014-stage-totals.md).

A service notes a deal's key before it changes (`board_key`) and hands the keys before
and after to `stage_totals_move`; a new deal has no key before. Each change is one
`INSERT … ON CONFLICT DO UPDATE` that adds to the row, so two transactions moving deals
of the same stage side by side both count. `stage_totals_rebuild()` recomputes a
tenant (`manage.py sales_stage_totals_rebuild`) for deals written around the services
(the demo generator, a backup restore); `stage_totals_drift()` says where the kept rows
and a live count differ.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import NamedTuple, TypeVar

from django.db import connections, transaction

from kehu.core.context import current_tenant_id
from kehu.sales.models import ZERO, Opportunity, StageTotal

K = TypeVar("K")


class BoardKey(NamedTuple):
    stage_id: int
    owner_id: int
    cents: int


def cents(amount: Decimal | None) -> int:
    """An amount of money (two places; none counts as nothing) in whole cents."""
    return int((amount or ZERO) * 100)


def board_key(deal: Opportunity) -> BoardKey:
    return BoardKey(deal.stage_id, deal.owner_id, cents(deal.amount))


def _add(deltas: Iterable[tuple[int, int, int, int]]) -> None:
    """Add (stage, owner, deals, cents) to the rows of those keys, making missing ones."""
    table = StageTotal._meta.db_table
    sql = (
        f'INSERT INTO "{table}" ("tenant_id", "stage_id", "owner_id", "deals", "amount_cents") '  # noqa: S608
        "VALUES (%s, %s, %s, %s, %s) "
        'ON CONFLICT ("tenant_id", "stage_id", "owner_id") DO UPDATE SET '
        f'"deals" = "{table}"."deals" + excluded."deals", '
        f'"amount_cents" = "{table}"."amount_cents" + excluded."amount_cents"'
    )
    tenant = current_tenant_id()
    rows = [(tenant, *delta) for delta in deltas if delta[2] or delta[3]]
    if rows:
        with connections[StageTotal.objects.db].cursor() as cursor:
            cursor.executemany(sql, rows)


def stage_totals_move(before: BoardKey | None, after: BoardKey | None) -> None:
    """A deal went from key `before` (None: it is new) to key `after` (None: it is gone)."""
    if before == after:
        return
    deltas: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    if before is not None:
        row = deltas[before.stage_id, before.owner_id]
        row[0] -= 1
        row[1] -= before.cents
    if after is not None:
        row = deltas[after.stage_id, after.owner_id]
        row[0] += 1
        row[1] += after.cents
    _add((stage, owner, n, c) for (stage, owner), (n, c) in sorted(deltas.items()))


def live_totals() -> dict[tuple[int, int], tuple[int, int]]:
    """(stage, owner) → (deals, cents) counted from the current tenant's deals (summed in
    Python: SQLite would add the amounts as floating point)."""
    found: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    deals = Opportunity.objects.order_by().values_list("stage_id", "owner_id", "amount")
    for stage, owner, amount in deals.iterator(chunk_size=5000):
        row = found[stage, owner]
        row[0] += 1
        row[1] += cents(amount)
    return {key: (n, c) for key, (n, c) in found.items()}


def kept_totals() -> dict[tuple[int, int], tuple[int, int]]:
    rows = StageTotal.objects.exclude(deals=0, amount_cents=0)
    return {
        (stage, owner): (n, c)
        for stage, owner, n, c in rows.values_list("stage_id", "owner_id", "deals", "amount_cents")
    }


Pair = tuple[int, int]


def drift(kept: Mapping[K, Pair], live: Mapping[K, Pair]) -> dict[K, tuple[Pair, Pair]]:
    """Key → (kept, live) wherever two sets of kept counts differ, a missing key counting
    as (0, 0) (empty: all is right)."""
    return {
        key: (kept.get(key, (0, 0)), live.get(key, (0, 0)))
        for key in kept.keys() | live.keys()
        if kept.get(key, (0, 0)) != live.get(key, (0, 0))
    }


def stage_totals_drift() -> dict[tuple[int, int], tuple[Pair, Pair]]:
    """(stage, owner) → (kept, live) wherever the two differ (empty: all is right)."""
    return drift(kept_totals(), live_totals())


@transaction.atomic
def stage_totals_rebuild() -> int:
    """The current tenant's rows computed again from its deals; the rows written."""
    StageTotal.objects.all().delete()
    tenant = current_tenant_id()
    rows = [
        StageTotal(tenant_id=tenant, stage_id=stage, owner_id=owner, deals=n, amount_cents=c)
        for (stage, owner), (n, c) in sorted(live_totals().items())
    ]
    StageTotal.objects.bulk_create(rows, batch_size=1000)
    return len(rows)
