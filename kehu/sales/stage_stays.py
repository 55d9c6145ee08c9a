"""How many stays in each stage ended on each day, and how long they were in all
(`sales.StageStays`), kept with every stage move and read by the time-in-stage report
for the firm (docs/decisions/0019-stage-stays.md).

`stage_stays_add` is called by the deal services when they record a move that ends a
stay (`pipeline_services._record_move`), in the move's transaction; each is one
`INSERT … ON CONFLICT DO UPDATE` that adds to the day's row, so two moves out of one
stage on one day side by side both count (PostgreSQL). A stay's length is kept in whole
microseconds, rounded from the move's `stayed_seconds` as the rebuild rounds it, so the
kept sums and a recount agree exactly. `stage_stays_rebuild()` recomputes a tenant from
its moves (the demo generator, a backup restore, `manage.py sales_stage_stays_rebuild`);
`stage_stays_drift()` says where the kept rows and a recount differ.
"""

import datetime
from collections import defaultdict
from typing import cast

from django.db import connections, transaction
from django.utils import timezone

from kehu.core.context import current_tenant_id
from kehu.sales.models import StageMove, StageStays
from kehu.sales.stage_totals import Pair, drift

Key = tuple[int, datetime.date]  # (stage, day)


def micros(seconds: float) -> int:
    return round(seconds * 1_000_000)


def stay_day(moved_at: datetime.datetime) -> datetime.date:
    """The firm's day of a move (the report's ranges are the firm's days)."""
    return timezone.localtime(moved_at).date()


def stage_stays_add(stage_id: int, moved_at: datetime.datetime, seconds: float) -> None:
    """A stay of `seconds` in the stage ended at `moved_at`."""
    table = StageStays._meta.db_table
    sql = (
        f'INSERT INTO "{table}" ("tenant_id", "stage_id", "day", "stays", "micros") '  # noqa: S608
        "VALUES (%s, %s, %s, 1, %s) "
        'ON CONFLICT ("tenant_id", "stage_id", "day") DO UPDATE SET '
        f'"stays" = "{table}"."stays" + 1, '
        f'"micros" = "{table}"."micros" + excluded."micros"'
    )
    row = (current_tenant_id(), stage_id, stay_day(moved_at), micros(seconds))
    with connections[StageStays.objects.db].cursor() as cursor:
        cursor.execute(sql, row)


def live_stays() -> dict[Key, tuple[int, int]]:
    """(stage, day) → (stays, microseconds), counted from the current tenant's moves."""
    found: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    moves = StageMove.objects.filter(from_stage__isnull=False, stayed_seconds__isnull=False)
    rows = moves.order_by().values_list("from_stage_id", "moved_at", "stayed_seconds")
    for stage, moved_at, seconds in rows.iterator(chunk_size=5000):
        row = found[stage, stay_day(moved_at)]
        row[0] += 1
        row[1] += micros(cast(float, seconds))  # not null, by the filter
    return {key: (n, us) for key, (n, us) in found.items()}


def kept_stays() -> dict[Key, tuple[int, int]]:
    rows = StageStays.objects.exclude(stays=0, micros=0)
    return {
        (stage, day): (n, us)
        for stage, day, n, us in rows.values_list("stage_id", "day", "stays", "micros")
    }


def stage_stays_drift() -> dict[Key, tuple[Pair, Pair]]:
    """(stage, day) → (kept, live) wherever the two differ (empty: all is right)."""
    return drift(kept_stays(), live_stays())


@transaction.atomic
def stage_stays_rebuild() -> int:
    """The current tenant's rows computed again from its moves; the rows written."""
    StageStays.objects.all().delete()
    tenant = current_tenant_id()
    rows = [
        StageStays(tenant_id=tenant, stage_id=stage, day=day, stays=n, micros=us)
        for (stage, day), (n, us) in sorted(live_stays().items())
    ]
    StageStays.objects.bulk_create(rows, batch_size=1000)
    return len(rows)
