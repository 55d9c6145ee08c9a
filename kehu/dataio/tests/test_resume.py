"""A failure or a kill mid-import loses nothing and writes nothing twice: each batch
commits whole or not at all, and a resumed run starts after the last committed batch."""

import datetime
from collections.abc import Sequence
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import TestCase

from kehu.dataio import services
from kehu.dataio.models import Import, ImportRow, ImportStatus, Phase
from kehu.dataio.targets import RowResult, SourceRow
from kehu.dataio.targets.parties import PartyTarget
from kehu.dataio.tests.conftest import csv_bytes, upload
from kehu.parties.models import ContactPoint, Party, SearchKey
from kehu.tenancy.models import User

pytestmark = pytest.mark.usefixtures("in_acme")
ROWS = 45


class WorkerKilled(BaseException):
    """What SIGKILL looks like from inside: nothing after it runs (no except Exception)."""


def _checked(alice: User, monkeypatch: pytest.MonkeyPatch) -> Import:
    monkeypatch.setattr(services, "BATCH_ROWS", 10)
    rows = [["客户名称", "手机"]] + [[f"客户{i:03d}", f"1381234{i:04d}"] for i in range(ROWS)]
    job = services.import_upload(actor=alice, file=upload("客户.csv", csv_bytes(rows)))
    return services.import_dry_run(actor=alice, job=job)


def _crash_on_batch(monkeypatch: pytest.MonkeyPatch, n: int, error: BaseException) -> None:
    original = PartyTarget.process
    calls = {"n": 0}

    def process(
        self: PartyTarget, rows: Sequence[SourceRow], *, write: bool, **kwargs: Any
    ) -> list[RowResult]:
        calls["n"] += 1
        results = original(self, rows, write=write, **kwargs)  # the batch's writes are made …
        if calls["n"] == n:
            raise error  # … and then the worker dies before the batch commits
        return results

    monkeypatch.setattr(PartyTarget, "process", process)


def _start(alice: User, job: Import) -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.import_start(actor=alice, job=job)


def _state() -> tuple[int, int, int]:
    return Party.objects.count(), ContactPoint.objects.count(), SearchKey.objects.count()


def test_a_failed_batch_is_rolled_back_and_the_run_resumes_after_the_last_good_one(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _checked(alice, monkeypatch)
    _crash_on_batch(monkeypatch, 3, RuntimeError("disk full"))
    _start(alice, job)  # the task backend records the task as failed
    job.refresh_from_db()
    assert (job.status, job.rows_done) == (ImportStatus.FAILED, 20)
    assert "disk full" in job.error
    assert Party.objects.count() == 20  # batches 1 and 2, none of batch 3
    assert ImportRow.objects.filter(job=job, phase=Phase.RUN).count() == 20
    assert services.import_resumable(job)
    monkeypatch.undo()
    monkeypatch.setattr(services, "BATCH_ROWS", 10)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.import_resume(actor=alice, job=job)
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.counts) == (ImportStatus.DONE, ROWS, {"created": ROWS})
    names = list(Party.objects.order_by("name").values_list("name", flat=True))
    assert names == [f"客户{i:03d}" for i in range(ROWS)]  # nothing lost, nothing doubled
    assert ContactPoint.objects.count() == ROWS
    assert ImportRow.objects.filter(job=job, phase=Phase.RUN).count() == ROWS


def test_a_killed_worker_leaves_whole_batches_and_a_stalled_run_resumes(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _checked(alice, monkeypatch)
    _crash_on_batch(monkeypatch, 2, WorkerKilled())
    _start(alice, job)
    job.refresh_from_db()
    assert (job.status, job.rows_done) == (ImportStatus.RUNNING, 10)
    assert _state()[0] == 10
    assert not services.import_resumable(job)  # not yet: it may still be working
    assert job.progressed_at is not None
    later = job.progressed_at + services.STALLED_AFTER + datetime.timedelta(seconds=1)
    assert services.import_resumable(job, later)
    monkeypatch.setattr(services, "STALLED_AFTER", datetime.timedelta(0))
    monkeypatch.setattr(PartyTarget, "process", _original_process)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.import_resume(actor=alice, job=job)
    job.refresh_from_db()
    assert (job.status, job.counts) == (ImportStatus.DONE, {"created": ROWS})
    assert _state() == (ROWS, ROWS, SearchKey.objects.count())
    assert Party.objects.values("name").distinct().count() == ROWS


_original_process = PartyTarget.process


def test_a_stray_old_worker_cannot_write_batches_a_resumed_run_has_written(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _checked(alice, monkeypatch)
    _start(alice, job)
    before = _state()
    stale = Import.objects.get(pk=job.pk)
    stale.rows_done = 0  # what a worker that loaded the job before the others ran believes
    monkeypatch.setattr(Import.objects, "select_related", lambda *a: _Returning(stale))
    services.import_process(job_id=job.pk, phase=Phase.RUN)
    assert _state() == before


class _Returning:
    def __init__(self, job: Import) -> None:
        self.job = job

    def get(self, **_kw: Any) -> Import:
        return self.job


def test_a_run_needs_a_dry_run_first(alice: User, monkeypatch: pytest.MonkeyPatch) -> None:
    job = _checked(alice, monkeypatch)
    _start(alice, job)
    job.refresh_from_db()
    with pytest.raises(ValidationError, match="不能进行这一步"):
        services.import_start(actor=alice, job=job)
    with pytest.raises(ValidationError, match="无需继续"):
        services.import_resume(actor=alice, job=job)
