"""Background work of imports: the dry run of a large file and every real run."""

from django_tasks import task

from kehu.core.context import tenant_scope
from kehu.dataio import services


@task()
def run_import(tenant_id: int, job_id: int, phase: str) -> None:
    """Process the job's file from its checkpoint; see services.import_process."""
    with tenant_scope(tenant_id):
        services.import_process(job_id=job_id, phase=phase)


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
