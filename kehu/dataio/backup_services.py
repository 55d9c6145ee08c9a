"""Backups and restores as jobs an admin starts: audited, run in the background.

A backup is written by a task into the file storage (backups/<tenant>/) and downloaded
from the backups page when done. A restore takes an uploaded backup file and restores
it into the admin's own tenant, which must be empty (kehu/dataio/backup.py); the job
records the outcome, the counts and what had to change (notes).
"""

import tempfile

from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.audit import audit_write
from kehu.core.models import AuditEntry
from kehu.dataio import backup
from kehu.dataio.models import Backup, BackupKind, BackupStatus
from kehu.tenancy.models import User


def require_admin(user: User) -> None:
    if not user.is_tenant_admin:
        raise PermissionDenied(_("只有管理员可以备份和恢复公司数据。"))


@transaction.atomic
def backup_request(*, actor: User) -> Backup:
    """Queue a backup of the actor's tenant."""
    require_admin(actor)
    job = Backup.objects.create(kind=BackupKind.BACKUP, created_by=actor)
    audit_write(actor_id=actor.pk, action=AuditEntry.Action.CREATE, obj=job, changes={})
    from kehu.dataio.tasks import run_backup

    tenant_id, job_id = job.tenant_id, job.pk
    transaction.on_commit(lambda: run_backup.enqueue(tenant_id, job_id))
    return job


def backup_run(*, job_id: int) -> Backup:
    """Write the backup zip to a temporary file, then into storage; record the outcome."""
    job = Backup.objects.get(pk=job_id)
    Backup.objects.filter(pk=job.pk).update(status=BackupStatus.RUNNING)
    try:
        with tempfile.TemporaryFile() as out:
            result = backup.backup_write(job.tenant_id, out)
            out.seek(0)
            stamp = timezone.localtime(job.created_at).strftime("%Y%m%d-%H%M%S")
            job.file.save(f"kehu-backup-{stamp}.zip", File(out), save=False)
            job.file_size = job.file.size
    except Exception as exc:  # a failed backup says so on its page
        job.status, job.error = BackupStatus.FAILED, str(exc)[:2000]
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error", "finished_at"])
        raise
    job.status, job.counts, job.finished_at = BackupStatus.DONE, result.counts, timezone.now()
    job.save(update_fields=["status", "file", "file_size", "counts", "finished_at"])
    return job


def restore_upload(*, actor: User, file: UploadedFile) -> Backup:
    """Restore an uploaded backup into the actor's (empty) tenant, now, all or nothing.
    A refused or failed restore is recorded with its reason and changes nothing else."""
    require_admin(actor)
    job = Backup.objects.create(
        kind=BackupKind.RESTORE, created_by=actor, status=BackupStatus.RUNNING
    )
    try:
        result = backup.backup_restore(job.tenant_id, file)
    except Exception as exc:
        message = exc.message if isinstance(exc, backup.BackupError) else str(exc)[:2000]
        job.status, job.error, job.finished_at = BackupStatus.FAILED, message, timezone.now()
        job.save(update_fields=["status", "error", "finished_at"])
        raise
    job.status, job.counts, job.notes = BackupStatus.DONE, result.counts, result.notes
    job.finished_at = timezone.now()
    with transaction.atomic():
        job.save(update_fields=["status", "counts", "notes", "finished_at"])
        changes = {"rows": sum(result.counts.values()), "file": file.name or ""}
        audit_write(actor_id=actor.pk, action=AuditEntry.Action.RESTORE, obj=job, changes=changes)
    return job
