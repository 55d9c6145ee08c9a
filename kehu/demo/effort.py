"""The demo firm's effort and pool: task times, e-mail and WeChat durations, service-time
entries, and a few parties waiting in the customer pool (公海).

Drawn from a Random of its own, after everything else, so that adding these never moves
a value the rest of the generator draws. Written as bulk rows and set-based UPDATEs: a
few statements for the whole firm.
"""

import datetime
from collections.abc import Sequence
from random import Random

from django.db.models import F, Value
from django.db.models.functions import Mod

from kehu.activities.models import (
    Interaction,
    InteractionKind,
    ServiceKind,
    ServiceTime,
    Task,
    TaskStatus,
)
from kehu.core.bulk import BulkWriter, Row
from kehu.demo.factory import STATE_CODES, PartyFactory, S, Weighted, below
from kehu.parties.models import OwnershipChange, OwnershipKind, Party
from kehu.pool.models import PoolSettings

SERVICE_KINDS = Weighted(
    [
        (ServiceKind.SERVICE, 40),
        (ServiceKind.SUPPORT, 25),
        (ServiceKind.IMPLEMENTATION, 15),
        (ServiceKind.TRAINING, 10),
        (ServiceKind.SALES, 10),
    ]
)
SERVICE_NOTES = (
    "上门巡检设备",
    "远程排查系统故障",
    "年度服务回访",
    "新员工操作培训",
    "配合客户月结对账",
    "处理发货异常",
    "整理续约方案",
    "",
)
SERVICE_MINUTES = (30, 45, 60, 90, 120, 180, 240)
POOL_SHARE = 0.05  # of the prospects and lost customers, idle long enough to be in the pool
POOL_STATES = frozenset(STATE_CODES[s] for s in (S.POTENTIAL, S.TARGET, S.LOST))


def add_effort_and_pool(
    writer: BulkWriter, factory: PartyFactory, party_ids: Sequence[int], seed: int
) -> None:
    rng = Random(seed * 7919 + 1)
    _durations()
    _service_time(writer, factory, party_ids, rng)
    _pool(writer, factory, party_ids, rng)


def _durations() -> None:
    """Minutes on the done tasks and on mail and WeChat, varied by id (deterministic)."""
    Task.objects.filter(status=TaskStatus.DONE).update(
        time_spent_minutes=Value(15) + Mod(F("id"), Value(8)) * Value(15)
    )
    Interaction.objects.filter(kind=InteractionKind.EMAIL).update(
        duration_minutes=Value(10) + Mod(F("id"), Value(4)) * Value(5)
    )
    Interaction.objects.filter(kind=InteractionKind.WECHAT).update(
        duration_minutes=Value(5) + Mod(F("id"), Value(3)) * Value(5)
    )


def _service_time(
    writer: BulkWriter, factory: PartyFactory, party_ids: Sequence[int], rng: Random
) -> None:
    """Service time on a third of the current customers, by their owner or the service desk."""
    customers = {STATE_CODES[S.CURRENT], STATE_CODES[S.WON_BACK]}
    rows: list[Row] = []
    for idx, state in enumerate(factory.states):
        if state not in customers or rng.random() >= 0.35:
            continue
        created = factory.created_at(idx + 1).date()
        span = max(1, min(365, (factory.today - created).days))
        for _ in range(1 + below(rng, 4)):
            worker = factory.owner_of[idx] if rng.random() < 0.5 else factory.service
            day = factory.today - datetime.timedelta(days=below(rng, span))
            rows.append(
                (
                    party_ids[idx],
                    worker,
                    day,
                    rng.choice(SERVICE_MINUTES),
                    SERVICE_KINDS.pick(rng),
                    rng.choice(SERVICE_NOTES),
                    worker,
                )
            )
    fields = ("party_id", "user_id", "worked_on", "minutes", "kind", "note", "created_by_id")
    writer.insert(ServiceTime, fields, rows)


def _pool(writer: BulkWriter, factory: PartyFactory, party_ids: Sequence[int], rng: Random) -> None:
    """The pool rule switched on, with the manager as custodian, and some older prospects
    and lost customers already returned to the pool by it."""
    custodian = factory.manager
    PoolSettings.objects.create(tenant_id=writer.tenant_id, enabled=True, custodian_id=custodian)
    older = int(factory.n * 0.8)  # the newest parties were touched too recently
    chosen = [
        idx
        for idx in range(older)
        if factory.states[idx] in POOL_STATES and rng.random() < POOL_SHARE
    ]
    by_day: dict[int, list[int]] = {}
    rows: list[Row] = []
    for idx in chosen:
        days_ago = 1 + below(rng, 60)
        by_day.setdefault(days_ago, []).append(party_ids[idx])
        at = writer.now - datetime.timedelta(days=days_ago)
        previous = factory.owner_of[idx]
        rows.append(
            (
                party_ids[idx],
                OwnershipKind.POOL_AUTO_RELEASE,
                previous,
                custodian,
                "负责人 30 天未跟进",
                at,
            )
        )
    for days_ago, ids in sorted(by_day.items()):
        at = writer.now - datetime.timedelta(days=days_ago)
        Party.objects.filter(pk__in=ids).update(
            pool_previous_owner=F("owner"), owner=custodian, in_pool_since=at
        )
    fields = ("party_id", "kind", "from_owner_id", "to_owner_id", "note", "changed_at")
    writer.insert(OwnershipChange, fields, rows)
