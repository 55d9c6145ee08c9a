"""The daily effort summary (decision 0015): `DailyEffort` rows of staff minutes per
party per day (the firm's day), and per whole month, by source, counted as
`selectors.party_effort` counts them.

`effort_refresh(party_ids)` computes those parties' rows again from their interactions,
done tasks and service time (three GROUP BY queries over the parties' index ranges),
in the caller's transaction. Every write of effort calls it: logging, editing and
deleting an interaction, closing or reopening a task and correcting its time, logging,
correcting and deleting service time, the interaction import, a party merge and its
undo. Nothing else of a party is stored (its owner, team, visibility and deletion are
joined when a report reads the rows), so party edits, deletes, restores and handovers
need nothing. `effort_rebuild()` computes a whole tenant (`manage.py
effort_summary_rebuild`, the demo generator, a backup restore).
"""

import datetime
from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.db.models.functions import TruncDay

from kehu.activities.models import DailyEffort
from kehu.activities.selectors import effort_grouped, effort_sources, month_start
from kehu.core.context import current_tenant_id
from kehu.parties.models import Party
from kehu.sales.summary import day_or_month

CHUNK = 500  # parties per statement (SQLite's limit on parameters)
SLOTS = ("interaction_minutes", "task_minutes", "service_minutes")
TOTAL = F("interaction_minutes") + F("task_minutes") + F("service_minutes")


def _rows(party_ids: Sequence[int] | None) -> list[DailyEffort]:
    """The parties' (every party's: None) day rows and month rows."""
    tenant_id = current_tenant_id()
    cells: dict[tuple[int, bool, datetime.date], DailyEffort] = {}
    for slot, rows, moment, minutes in effort_sources(party_ids):
        for pk, day, total in effort_grouped(rows, moment, minutes, "party_id", TruncDay):
            for month, start in ((False, day), (True, month_start(day))):
                cell = cells.get((pk, month, start))
                if cell is None:
                    cell = DailyEffort(tenant_id=tenant_id, party_id=pk, day=start, month=month)
                    cells[pk, month, start] = cell
                setattr(cell, slot, getattr(cell, slot) + total)
    return list(cells.values())


def _insert(rows: Iterable[DailyEffort]) -> None:
    it = iter(rows)
    while batch := list(islice(it, 5000)):
        DailyEffort.objects.bulk_create(batch)


@transaction.atomic
def effort_refresh(party_ids: Iterable[int]) -> None:
    """The parties' rows computed again. Their party rows are locked first (in id order),
    so that two transactions refreshing one party (PostgreSQL) do not both insert."""
    ids = sorted(set(party_ids))
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i : i + CHUNK]
        locked = Party.with_deleted.select_for_update(no_key=True).filter(pk__in=chunk)
        list(locked.order_by("pk").values_list("pk", flat=True))
        DailyEffort.objects.filter(party_id__in=chunk).delete()
        _insert(_rows(chunk))


@transaction.atomic
def effort_rebuild() -> int:
    """The current tenant's whole effort summary; the rows written."""
    DailyEffort.objects.all().delete()
    rows = _rows(None)
    _insert(rows)
    return len(rows)


def effort_rows(
    since: datetime.date, until: datetime.date, parties: Any | None
) -> QuerySet[DailyEffort]:
    """The rows that add up [since, until] (whole months' rows, the days' rows around
    them) of `parties` (ids, or a queryset of ids; None: every party's, deleted ones'
    too); `TOTAL` is a row's minutes."""
    found = DailyEffort.objects.filter(day_or_month(since, until, tenant_id=current_tenant_id()))
    return found if parties is None else found.filter(party_id__in=parties)
