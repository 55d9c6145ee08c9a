"""Background work of imports (the dry run of a large file and every real run), the
duplicate scan, backups, and the nightly data-quality snapshot."""

import logging

from django_tasks import task

from kehu.core.context import tenant_scope
from kehu.dataio import services
from kehu.pool.tasks import next_night
from kehu.tenancy.models import Tenant

log = logging.getLogger(__name__)


@task()
def run_import(tenant_id: int, job_id: int, phase: str) -> None:
    """Process the job's file from its checkpoint; see services.import_process."""
    with tenant_scope(tenant_id):
        services.import_process(job_id=job_id, phase=phase, plan_ahead=True)


@task()
def run_duplicate_scan(tenant_id: int, scan_id: int) -> None:
    """A full duplicate scan from its checkpoint; see duplicates.scan_run."""
    from kehu.dataio import duplicates

    with tenant_scope(tenant_id):
        try:
            duplicates.scan_run(scan_id=scan_id)
        except Exception as exc:
            duplicates.scan_failed(scan_id=scan_id, error=repr(exc))
            raise


@task()
def run_backup(tenant_id: int, job_id: int) -> None:
    """Write the tenant's backup zip; see backup_services.backup_run."""
    from kehu.dataio import backup_services

    with tenant_scope(tenant_id):
        backup_services.backup_run(job_id=job_id)


def snapshot_every_tenant() -> int:
    """Today's data-quality snapshots of every firm; returns the rows written."""
    from kehu.dataio import quality

    written = 0
    for tenant_id in Tenant.objects.order_by("id").values_list("id", flat=True):
        with tenant_scope(tenant_id):
            try:
                written += quality.snapshot_take()
            except Exception:
                # One firm's failure does not stop the others.
                log.exception("tenant %s: data-quality snapshot failed", tenant_id)
    log.info("data-quality snapshots: %s rows", written)
    return written


@task()
def quality_snapshot_nightly() -> int:
    """Snapshot every firm, then book the next night's: the worker keeps it going."""
    written = snapshot_every_tenant()
    quality_snapshot_nightly.using(run_after=next_night()).enqueue()
    return written
