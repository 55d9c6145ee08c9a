"""Background scoring: a manager's "run now", and the nightly run of every firm."""

import logging

from django_tasks import task

from kehu.core.context import tenant_scope
from kehu.insights import selectors, services
from kehu.insights.models import ScoringRun
from kehu.parties.models import Party
from kehu.pool.tasks import next_night
from kehu.tenancy.models import Tenant

log = logging.getLogger(__name__)


@task()
def scoring_run_task(tenant_id: int, run_id: int) -> int:
    """Execute a queued run; returns how many customers it scored."""
    with tenant_scope(tenant_id):
        run = ScoringRun.objects.get(pk=run_id)
        return services.scoring_run_execute(run=run).customers_scored


def score_every_tenant() -> int:
    """Score each firm that wants its nightly run and has current customers."""
    scored = 0
    for tenant_id in Tenant.objects.order_by("id").values_list("id", flat=True):
        with tenant_scope(tenant_id):
            if not selectors.insight_settings().nightly:
                continue
            if not Party.objects.filter(relationship_state__in=services.SCORED_STATES).exists():
                continue
            try:
                scored += services.scoring_run_now(actor=None).customers_scored
            except services.RunInProgress:
                log.info("tenant %s: a scoring run is in progress, skipped", tenant_id)
            except Exception:
                # One firm's failure (recorded on its run) does not stop the others.
                log.exception("tenant %s: nightly scoring failed", tenant_id)
    log.info("nightly scoring: %s customers", scored)
    return scored


@task()
def scoring_nightly() -> int:
    """Score every firm, then book the next night's run: the worker keeps it going."""
    scored = score_every_tenant()
    scoring_nightly.using(run_after=next_night()).enqueue()
    return scored
