"""Background work of sales: adding a bulk import's orders to the daily summary."""

import logging

from django_tasks import task

from kehu.core.context import tenant_scope
from kehu.sales.summary import summary_catch_up

log = logging.getLogger(__name__)


@task()
def summary_catch_up_tenant(tenant_id: int) -> int:
    """Add one firm's pending orders to its daily summary; how many it added."""
    with tenant_scope(tenant_id):
        return summary_catch_up()


def summary_catch_up_later(tenant_id: int) -> None:
    """Book the catch-up (after the import's commit). The orders are safe either way:
    whoever reads the summary next adds them first, so a failure to book is logged only."""
    try:
        summary_catch_up_tenant.enqueue(tenant_id)
    except Exception:
        log.exception("could not book the summary catch-up of tenant %s", tenant_id)
