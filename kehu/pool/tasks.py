"""Background work of the pool: the nightly sweep, and an admin's "run now"."""

import datetime
import logging
from typing import Any

from django.utils import timezone
from django_tasks import task
from django_tasks.base import Task

from kehu.core.context import tenant_scope
from kehu.pool.services import pool_sweep
from kehu.tenancy.models import Tenant

log = logging.getLogger(__name__)
SWEEP_HOUR = 2  # the firm's night: 02:00


@task()
def pool_sweep_tenant(tenant_id: int) -> int:
    """Sweep one firm now (the settings page's button); returns how many moved."""
    with tenant_scope(tenant_id):
        return pool_sweep()


def sweep_every_tenant() -> int:
    moved = 0
    for tenant_id in Tenant.objects.order_by("id").values_list("id", flat=True):
        with tenant_scope(tenant_id):
            moved += pool_sweep()
    log.info("pool sweep moved %s parties", moved)
    return moved


def next_night(now: datetime.datetime | None = None) -> datetime.datetime:
    """The next SWEEP_HOUR o'clock in the firm's time zone."""
    local = timezone.localtime(now or timezone.now())
    at = local.replace(hour=SWEEP_HOUR, minute=0, second=0, microsecond=0)
    return at if at > local else at + datetime.timedelta(days=1)


@task()
def pool_sweep_nightly() -> int:
    """Sweep every firm, then book the next night's run: the worker keeps it going."""
    moved = sweep_every_tenant()
    pool_sweep_nightly.using(run_after=next_night()).enqueue()
    return moved


def book_nightly(nightly: Task[[], Any]) -> datetime.datetime | None:
    """Book `nightly` for the next night unless a run of it is already waiting (make
    run books each nightly task before starting the worker, so a restart does not book
    it twice); returns when it will run, or None when it was booked already."""
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    # Waiting, whenever it is due (ready() would leave out tomorrow night's run).
    waiting = DBTaskResult.objects.filter(
        status=TaskResultStatus.READY, task_path=nightly.module_path
    )
    if waiting.exists():
        return None
    run_after = next_night()
    nightly.using(run_after=run_after).enqueue()
    return run_after
