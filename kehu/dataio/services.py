"""Writes of the import flow: upload, map, dry run, run (in batches), resume.

The run is a background task that reads the file and hands it to the target 1,000 rows
at a time. Each batch is one transaction: the target's writes, the rows' outcomes and
the job's checkpoint (`rows_done`, counts) commit together or not at all. A batch begins
by locking the job and checking that the checkpoint is where this run expects it, so a
resumed run and a stray old worker can never both write the same rows.
"""

import contextlib
import datetime
import itertools
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.audit import audit_write
from kehu.core.bulk import BulkWriter, fewer_checkpoints
from kehu.core.context import current_tenant_id
from kehu.core.models import AuditEntry
from kehu.dataio import ahead, readers
from kehu.dataio import mapping as mappings
from kehu.dataio.models import (
    DuplicatePolicy,
    Import,
    ImportRow,
    ImportStatus,
    ImportTarget,
    MappingTemplate,
    Outcome,
    Phase,
)
from kehu.dataio.targets import SourceRow, fields_of, spec_of, target_for
from kehu.dataio.targets.common import PlannedTarget
from kehu.dataio.targets.parties import UPSERT_KEYS
from kehu.parties.models import PartyKind
from kehu.tenancy.models import User

BATCH_ROWS = 1000
# A dry run of a file up to this size runs in the request; a larger one is a task.
SYNC_DRY_RUN_BYTES = 512 * 1024
# A run whose last batch committed longer ago than this may be resumed.
STALLED_AFTER = datetime.timedelta(minutes=2)
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
Action = AuditEntry.Action


@transaction.atomic
def import_upload(*, actor: User, file: File[bytes], target: str = "parties") -> Import:
    """Store the file, read its header row and guess the mapping (or apply a template)."""
    name = Path(file.name or "").name
    try:
        fmt = readers.format_of(name)
    except ValidationError as exc:
        raise ValidationError({"file": exc.messages}) from exc
    if file.size > MAX_UPLOAD_BYTES:
        raise ValidationError({"file": _("文件超过 512 MB。")})
    if target not in ImportTarget.values:
        raise ValidationError({"target": _("不是可导入的对象：%(target)s") % {"target": target}})
    # The tenant is set now, not at save(): the upload's path is filed under it.
    job = Import(
        tenant_id=current_tenant_id(),
        created_by=actor,
        target=target,
        file_name=name[:200],
        file_format=fmt,
    )
    job.file.save(name, file, save=False)
    try:
        table = readers.open_table(Path(job.file.path), fmt)
    except ValidationError as exc:
        job.file.delete(save=False)
        raise ValidationError({"file": exc.messages}) from exc
    table.close()
    if not any(table.headers):
        job.file.delete(save=False)
        raise ValidationError({"file": _("文件的第一行应是列名，但它是空的。")})
    job.headers, job.encoding = table.headers, table.encoding
    job.mapping = _initial_mapping(job)
    if target == ImportTarget.PARTIES:
        job.options = {"duplicates": DuplicatePolicy.SKIP, "default_kind": PartyKind.ORGANISATION}
    job.save()
    audit_write(
        actor_id=actor.pk, action=Action.CREATE, obj=job, changes={"file_name": [None, name]}
    )
    return job


def _initial_mapping(job: Import) -> dict[str, str]:
    """The latest template that fits every header of this file, else a guess."""
    fields = fields_of(job.target)
    keys = {f.key for f in fields}
    for template in MappingTemplate.objects.filter(target=job.target).order_by("-id"):
        applied = mappings.from_template(job.headers, template.columns, keys)
        if applied and len(applied) == len(template.columns):
            return applied
    return mappings.guess(job.headers, fields)


def _require_status(job: Import, allowed: Collection[str]) -> None:
    if job.status not in allowed:
        raise ValidationError(
            _("导入处于「%(status)s」状态，不能进行这一步。") % {"status": job.get_status_display()}
        )


EDITABLE = {ImportStatus.UPLOADED, ImportStatus.CHECKED}


@transaction.atomic
def import_set_mapping(
    *, actor: User, job: Import, mapping: dict[str, str], options: dict[str, Any]
) -> Import:
    """A corrected mapping and options; any earlier dry run no longer counts."""
    _require_status(job, EDITABLE)
    clean = _clean_mapping(job, mapping)
    job.options = _clean_options(job, clean, {**job.options, **options})
    before = {"mapping": job.mapping, "options": job.options}
    job.mapping, job.status, job.counts, job.total_rows = clean, ImportStatus.UPLOADED, {}, None
    job.save()
    ImportRow.objects.filter(job=job).delete()
    audit_write(
        actor_id=actor.pk,
        action=Action.UPDATE,
        obj=job,
        changes={"mapping": [before["mapping"], clean], "options": [None, job.options]},
    )
    return job


def _clean_mapping(job: Import, mapping: dict[str, str]) -> dict[str, str]:
    fields = {f.key: f for f in fields_of(job.target)}
    clean: dict[str, str] = {}
    used: Counter[str] = Counter()
    for index, key in mapping.items():
        if not key:
            continue
        if not str(index).isdigit() or int(index) >= len(job.headers):
            raise ValidationError({"mapping": _("没有第 %(index)s 列。") % {"index": index}})
        if key not in fields:
            raise ValidationError({"mapping": _("不是可导入的字段：%(key)s") % {"key": key}})
        used[key] += 1
        if used[key] > 1 and not fields[key].many:
            raise ValidationError(
                {"mapping": _("「%(field)s」只能对应一列。") % {"field": fields[key].label}}
            )
        clean[str(int(index))] = key
    spec = spec_of(job.target)
    if not set(spec.needs) & set(clean.values()):
        raise ValidationError({"mapping": spec.missing})
    return clean


def _source(options: dict[str, Any]) -> str:
    return str(options.get("source") or "").strip()[:50]


def _clean_options(job: Import, mapping: dict[str, str], options: dict[str, Any]) -> dict[str, Any]:
    if job.target != ImportTarget.PARTIES:
        # The other targets' one option: which system the 外部编号 / 客户编号 belong to.
        return {"source": _source(options)}
    key = options.get("key") or ""
    if key and key not in UPSERT_KEYS:
        raise ValidationError({"key": _("不是可用的匹配方式：%(key)s") % {"key": key}})
    if key and key != "name" and key not in mapping.values():
        raise ValidationError({"key": _("按这个字段匹配，需要先指定它所在的列。")})
    if options.get("duplicates", DuplicatePolicy.SKIP) not in DuplicatePolicy.values:
        raise ValidationError({"duplicates": _("不是可用的重复处理方式。")})
    if options.get("default_kind", PartyKind.ORGANISATION) not in PartyKind.values:
        raise ValidationError({"default_kind": _("默认类型应为组织或个人。")})
    source = _source(options)
    return {
        "key": key,
        "duplicates": options.get("duplicates") or DuplicatePolicy.SKIP,
        "default_kind": options.get("default_kind") or PartyKind.ORGANISATION,
        "source": source,
    }


@transaction.atomic
def template_save(*, actor: User, job: Import, name: str) -> MappingTemplate:
    """Save the job's mapping under `name` ({header: field}); a same-named one is replaced."""
    name = " ".join(name.split())
    if not name or len(name) > 50:
        raise ValidationError({"name": _("模板名称应为 1–50 个字符。")})
    template, _created = MappingTemplate.objects.update_or_create(
        target=job.target,
        name=name,
        defaults={"columns": mappings.to_template(job.headers, job.mapping), "created_by": actor},
    )
    return template


@transaction.atomic
def template_delete(*, actor: User, template: MappingTemplate) -> None:
    audit_write(actor_id=actor.pk, action=Action.DELETE, obj=template, changes={})
    template.delete()


def import_dry_run(*, actor: User, job: Import) -> Import:
    """Check every row without writing: a small file now, in the request; a large one
    in the background (the page polls it)."""
    in_request = job.file.size <= SYNC_DRY_RUN_BYTES
    with transaction.atomic():
        _require_status(job, EDITABLE)
        _clean_mapping(job, job.mapping)
        job.status, job.rows_done, job.counts, job.error = ImportStatus.CHECKING, 0, {}, ""
        job.save()
        ImportRow.objects.filter(job=job).delete()
        if not in_request:
            _enqueue(job, Phase.DRY_RUN)
    if in_request:
        import_process(job_id=job.pk, phase=Phase.DRY_RUN)
        job.refresh_from_db()
    return job


@transaction.atomic
def import_start(*, actor: User, job: Import) -> Import:
    """Queue the real run. The dry run comes first: it counts the rows for the progress
    bar and shows what the run will do."""
    _require_status(job, {ImportStatus.CHECKED})
    job.status, job.rows_done, job.counts, job.error = ImportStatus.QUEUED, 0, {}, ""
    job.save()
    audit_write(
        actor_id=actor.pk, action=Action.STATE, obj=job, changes={"status": ["checked", "queued"]}
    )
    _enqueue(job, Phase.RUN)
    return job


def import_resumable(job: Import, now: datetime.datetime | None = None) -> bool:
    """A failed run, or one whose worker stopped committing batches (killed)."""
    if job.status == ImportStatus.FAILED and job.started_at is not None:
        return True
    if job.status != ImportStatus.RUNNING:
        return False
    last = job.progressed_at or job.started_at
    return last is not None and (now or timezone.now()) - last > STALLED_AFTER


@transaction.atomic
def import_resume(*, actor: User, job: Import) -> Import:
    """Go on from the last committed batch: the rows before it stay, none is redone."""
    if not import_resumable(job):
        raise ValidationError(_("这个导入没有中断，无需继续。"))
    job.status, job.error = ImportStatus.QUEUED, ""
    job.save(update_fields=["status", "error"])
    audit_write(
        actor_id=actor.pk,
        action=Action.STATE,
        obj=job,
        changes={"rows_done": [None, job.rows_done]},
    )
    _enqueue(job, Phase.RUN)
    return job


def _enqueue(job: Import, phase: str) -> None:
    from kehu.dataio.tasks import run_import

    job_id, tenant_id = job.pk, job.tenant_id
    transaction.on_commit(lambda: run_import.enqueue(tenant_id, job_id, phase))


# The batch loop (run by the task, or in the request for a small dry run).


class CheckpointMovedError(RuntimeError):
    """Another worker has committed batches of this run: this one stops."""


def import_process(*, job_id: int, phase: str, plan_ahead: bool = False) -> None:
    """Process the job's rows in batches; `plan_ahead` (the task, never a request): plan
    each next batch in a helper process while this one writes (see kehu.dataio.ahead)."""
    job = Import.objects.select_related("created_by").get(pk=job_id)
    start = job.rows_done if phase == Phase.RUN else 0
    _mark_started(job, phase)
    counts: Counter[str] = Counter(job.counts)
    try:
        table = readers.open_table(Path(job.file.path), job.file_format)
        try:
            _process_rows(job, phase, table.rows, start, counts, plan_ahead=plan_ahead)
        finally:
            table.close()
    except CheckpointMovedError:
        return  # a resumed run has taken over: it finishes the job
    except ValidationError as exc:
        _fail(job, " ".join(exc.messages))
        return
    except Exception as exc:
        _fail(job, _("导入意外中止：%(error)s") % {"error": exc})
        raise
    _finish(job, phase)


def _process_rows(
    job: Import,
    phase: str,
    rows: Iterator[list[str]],
    start: int,
    counts: Counter[str],
    *,
    plan_ahead: bool = False,
) -> None:
    target = target_for(job)
    write = phase == Phase.RUN
    numbered = (SourceRow(n, values) for n, values in enumerate(rows, start=2) if any(values))
    done = start
    rest = itertools.islice(numbered, start, None)
    batches = _batches(rest, BATCH_ROWS, target.group_of)
    planner: ahead.Planner | None = None
    batch = next(batches, None)
    planned: Any = None  # the helper's plans of `batch`, when it planned it
    # A run on SQLite checkpoints its log less often (kehu.core.bulk.fewer_checkpoints).
    checkpoints = fewer_checkpoints() if write else contextlib.nullcontext()
    try:
        with checkpoints:
            while batch is not None:
                following = next(batches, None)
                # A run only: a dry run is mostly planning, so the helper would just move its
                # work (and pickle it); measured, it never paid (docs/benchmarks.md).
                if following and planner is None and plan_ahead and write and ahead.enabled(target):
                    planner = ahead.Planner(cast(ahead.PlansAhead, target))
                coming = planner.submit(following, write=write) if planner and following else None
                plans = planned.get() if planned is not None else None
                with transaction.atomic():
                    _lock_checkpoint(job, done)
                    if plans is None:
                        results = target.process(batch, write=write)
                    else:
                        results = cast(PlannedTarget, target).process(
                            batch, write=write, plans=plans
                        )
                    _save_rows(job, phase, batch, results)
                    counts.update(r.outcome for r in results)
                    done += len(batch)
                    Import.objects.filter(pk=job.pk).update(
                        rows_done=done, counts=dict(counts), progressed_at=timezone.now()
                    )
                batch, planned = following, coming
    finally:
        if planner is not None:
            planner.close()


def _batches(
    rows: Iterator[SourceRow], size: int, group_of: Callable[[SourceRow], str]
) -> Iterator[list[SourceRow]]:
    """`size` rows at a time, and then the rows of the last row's group (an order's
    lines), so that no group is split. The batches are the same on every pass over the
    file, so a resumed run's checkpoint falls where the first run's did."""
    ahead: SourceRow | None = None
    while True:
        batch = [ahead] if ahead is not None else []
        batch += itertools.islice(rows, size - len(batch))
        if not batch:
            return
        ahead = None
        group = group_of(batch[-1])
        for row in rows:
            if group and group_of(row) == group:
                batch.append(row)
            else:
                ahead = row
                break
        yield batch


def _lock_checkpoint(job: Import, expected: int) -> None:
    current = (
        Import.objects.select_for_update().filter(pk=job.pk).values_list("rows_done", flat=True)
    )
    if current.get() != expected:
        raise CheckpointMovedError(job.pk)


def _save_rows(job: Import, phase: str, batch: Sequence[SourceRow], results: Sequence[Any]) -> None:
    """Each row's outcome, as plain rows (see kehu.core.bulk): a batch has a thousand."""
    values = {row.number: row.values for row in batch}
    kept = {Outcome.REFUSED, Outcome.DUPLICATE}
    empty: list[str] = []
    rows = [
        (
            job.pk,
            phase,
            r.number,
            r.outcome,
            r.party_id,
            r.messages,
            values[r.number] if r.outcome in kept else empty,
        )
        for r in results
    ]
    writer = BulkWriter(job.tenant_id, timezone.now())
    # The two lists go in as JSON (one document for the batch on SQLite).
    writer.insert_plain(ImportRow, ROW_COLUMNS, rows, nested=ROW_COLUMNS[-2:])


ROW_COLUMNS = ("job_id", "phase", "number", "outcome", "party_id", "messages", "values")


def _mark_started(job: Import, phase: str) -> None:
    status = ImportStatus.CHECKING if phase == Phase.DRY_RUN else ImportStatus.RUNNING
    now = timezone.now()
    Import.objects.filter(pk=job.pk).update(status=status, started_at=now, progressed_at=now)
    job.status, job.started_at = status, now


def _fail(job: Import, message: str) -> None:
    Import.objects.filter(pk=job.pk).update(
        status=ImportStatus.FAILED, error=message[:2000], finished_at=timezone.now()
    )


def _finish(job: Import, phase: str) -> None:
    job.refresh_from_db()
    if phase == Phase.DRY_RUN:
        job.status, job.total_rows = ImportStatus.CHECKED, job.rows_done
    else:
        job.status = ImportStatus.DONE
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "total_rows", "finished_at"])
