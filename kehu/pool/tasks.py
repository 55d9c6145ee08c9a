"""Background work of the pool: the nightly sweep, and an admin's "run now"."""

import datetime
import logging

from django.utils import timezone
from django_tasks import task

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
