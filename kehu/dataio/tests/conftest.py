"""Helpers of the import tests."""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from kehu.dataio import services
from kehu.dataio.models import Import, ImportStatus
from kehu.tenancy.models import User


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    text = "\r\n".join(delimiter.join(cell for cell in row) for row in rows) + "\r\n"
    return text.encode(encoding)


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


def run(actor: User, job: Import) -> Import:
    """Dry-run then run the job; the task runs at once (the immediate backend), as the
    transaction that queued it commits."""
    services.import_dry_run(actor=actor, job=job)
    job.refresh_from_db()
    assert job.status == ImportStatus.CHECKED, job.error
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.import_start(actor=actor, job=job)
    job.refresh_from_db()
    return job
