"""A tenant's whole data as one zip, and that zip restored into an empty tenant.

What is in a backup: the tenant's staff (`tenancy.User`) and every row of every model
that inherits `TenantOwned` (found through the app registry, so a new model is in the
next backup without a change here; a test fails if one is left out), and the files those
rows name (import uploads). A few models are left out on purpose, in `EXCLUDED`, each
with its reason.

The zip holds `manifest.json` (format, the schema as the applied migrations of every
app, and per model its fields, row count and SHA-256) and one JSON-lines file per model
(`data/<app>.<model>.jsonl`: one JSON array per row, the values in the manifest's field
order, rows by id) and the files under `files/`.

Restoring into a tenant that already holds records is refused. Every row gets a new
id (the tables are shared by all tenants); every foreign key, and the ids the audit log
and the export records name in their JSON, are translated through the old → new maps.
Values that must be unique across the server (user names, API-token and invitation
digests, web-form tokens) are kept when free; one already taken (the source tenant
still lives here) is changed and listed in the restore's notes. The whole restore is
one transaction, checked before it commits: the restored tenant, read back and
translated to the old ids, must give the same row counts and checksums as the backup,
or nothing is written.
"""

import datetime
import decimal
import hashlib
import json
import secrets
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO, Any, cast

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, models, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.activities.summary import effort_rebuild
from kehu.core.bulk import BulkWriter
from kehu.core.context import tenant_scope
from kehu.core.models import TenantOwned
from kehu.sales.stage_stays import stage_stays_rebuild
from kehu.sales.stage_totals import stage_totals_rebuild
from kehu.sales.summary import summary_rebuild
from kehu.tenancy.models import Tenant, User

FORMAT = "kehu-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
BATCH = 5000

# Tenant-owned models a backup leaves out, and why.
EXCLUDED = {
    "dataio.backup": "the backup machinery itself: its file is the backup",
    "sales.dailysales": "the daily sales summary: computed from the orders after a restore",
    "sales.summaryparty": "the daily sales summary's record of parties: computed likewise",
    "sales.summarypending": "orders the summary has still to add: a restore computes it whole",
    "sales.stagetotal": "the board's deals per stage and owner: computed from the deals",
    "sales.stagestays": "the stays per stage and day: computed from the stage moves",
    "activities.dailyeffort": "the daily effort summary: computed from the restored activities",
    "sales.idempotencyrecord": (
        "answers cached for a client's retries of one request; they name the source "
        "tenant's ids, and a retry against a restored tenant must run afresh"
    ),
}
# Ids inside JSON: the export records' filters name rows of these models.
FILTER_KEYS = {
    "owner_id": "tenancy.user",
    "team_id": "tenancy.team",
    "tag_id": "parties.tag",
    "party_id": "parties.party",
    "category_id": "sales.productcategory",
    "pipeline_id": "sales.pipeline",
    "stage_id": "sales.stage",
}

Row = list[Any]
IdMaps = dict[str, dict[int, int]]


class BackupError(Exception):
    """A backup that cannot be restored here, or a tenant that cannot take it."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def backed_up_models() -> list[type[models.Model]]:
    """The staff model, then every tenant-owned model but those in EXCLUDED."""
    owned = [
        m
        for m in apps.get_models()
        if issubclass(m, TenantOwned) and m._meta.label_lower not in EXCLUDED
    ]
    return [User, *sorted(owned, key=lambda m: m._meta.label_lower)]


def _fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """The columns a backup holds: the primary key first, every other but the tenant."""
    meta = model._meta
    rest = [f for f in meta.concrete_fields if not f.primary_key and f.name != "tenant"]
    return [meta.pk, *rest]


def _unscoped(model: type[models.Model]) -> models.QuerySet[Any]:
    """Every row of the model: a backup names its tenant itself, and a restore must see
    the values other tenants hold in server-wide unique columns."""
    manager: models.Manager[Any] = cast(Any, model).all_tenants
    return manager.all()


def _rows(
    model: type[models.Model],
    tenant_id: int,
    names: list[str] | None = None,
    between: tuple[int, int] | None = None,
) -> Iterator[tuple[Any, ...]]:
    """The tenant's rows of `model` by id, in keyset pages, as plain values; `names`
    the columns (default: all the backup holds), `between` ids in this range only."""
    names = names or [f.attname for f in _fields(model)]
    rows = _unscoped(model).filter(tenant_id=tenant_id)
    if between is not None:
        rows = rows.filter(pk__range=between)
    rows = rows.order_by("pk").values_list(*names)
    after: int | None = None
    while True:
        page = list((rows if after is None else rows.filter(pk__gt=after))[:BATCH])
        yield from page
        if len(page) < BATCH:
            return
        after = page[-1][0]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    return value


def _line(row: Iterable[Any]) -> bytes:
    text = json.dumps([_plain(v) for v in row], ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8") + b"\n"


# --- the schema --------------------------------------------------------------------------


def _applied_migrations() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for app, name in sorted(MigrationRecorder(connection).applied_migrations()):
        out.setdefault(app, []).append(name)
    return out


def _check_schema(migrations: Mapping[str, list[str]]) -> None:
    """Refuse a backup from a newer kehu: one whose schema has migrations this code
    does not know."""
    known = set(MigrationLoader(connection, ignore_no_migrations=True).disk_migrations)
    unknown = sorted(
        f"{app}.{name}"
        for app, names in migrations.items()
        for name in names
        if (app, name) not in known
    )
    if unknown:
        raise BackupError(
            _(
                "这个备份来自更新版本的 kehu（数据库结构 %(names)s 在本系统中没有），"
                "请先升级后再恢复。"
            )
            % {"names": "、".join(unknown[:5])}
        )


# --- backup ------------------------------------------------------------------------------


@dataclass
class BackupResult:
    counts: dict[str, int]
    files: int


def backup_write(tenant_id: int, out: IO[bytes]) -> BackupResult:
    """Write the tenant's backup zip to `out` (a file, or a stream: the zip needs no
    seeking). Reads each table in pages; memory stays flat."""
    tenant = Tenant.objects.get(pk=tenant_id)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "tenant": {"id": tenant.pk, "name": tenant.name, "slug": tenant.slug},
        "created_at": timezone.now().isoformat(),
        "migrations": _applied_migrations(),
        "models": {},
        "files": {},
    }
    counts: dict[str, int] = {}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for model in backed_up_models():
            label = model._meta.label_lower
            digest = hashlib.sha256()
            n = 0
            with archive.open(f"data/{label}.jsonl", "w", force_zip64=True) as data:
                for row in _rows(model, tenant_id):
                    line = _line(row)
                    digest.update(line)
                    data.write(line)
                    n += 1
            counts[label] = n
            manifest["models"][label] = {
                "fields": [f.attname for f in _fields(model)],
                "rows": n,
                "sha256": digest.hexdigest(),
            }
            manifest["files"].update(_write_files(archive, model, tenant_id))
        archive.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
    return BackupResult(counts, len(manifest["files"]))


def _file_fields(model: type[models.Model]) -> list[models.FileField]:
    return [f for f in model._meta.concrete_fields if isinstance(f, models.FileField)]


def _write_files(
    archive: zipfile.ZipFile, model: type[models.Model], tenant_id: int
) -> dict[str, str]:
    """The files the model's rows name, under files/<their name>; {name: sha256}."""
    out: dict[str, str] = {}
    for f in _file_fields(model):
        names = _unscoped(model).filter(tenant_id=tenant_id).exclude(**{f.attname: ""})
        for name in names.values_list(f.attname, flat=True).iterator():
            if name in out or not default_storage.exists(name):
                continue
            digest = hashlib.sha256()
            with (
                default_storage.open(name, "rb") as source,
                archive.open(f"files/{name}", "w", force_zip64=True) as target,
            ):
                while chunk := source.read(1 << 20):
                    digest.update(chunk)
                    target.write(chunk)
            out[name] = digest.hexdigest()
    return out


# --- restore -----------------------------------------------------------------------------


@dataclass
class RestoreResult:
    counts: dict[str, int]
    notes: list[str] = field(default_factory=list)


# Records about access rather than business data: a new firm's admin has them (their
# invitation, a token) before the restore, and they do not make the firm "not empty".
ACCESS_RECORDS = ("tenancy.user", "tenancy.invitation", "tenancy.apitoken")


def models_with_data(tenant_id: int) -> list[str]:
    """The labels of models holding business records of the tenant; a restore needs none.
    Staff and their invitations and tokens (and the audit entries about them) may be
    there: the admin who restores is one."""
    busy = []
    for m in backed_up_models():
        label = m._meta.label_lower
        if label in ACCESS_RECORDS:
            continue
        rows = _unscoped(m).filter(tenant_id=tenant_id)
        if label == "core.auditentry":
            rows = rows.exclude(object_type__in=ACCESS_RECORDS)
        if rows.exists():
            busy.append(label)
    return busy


class _Plan:
    """How one model's rows are translated: which columns are foreign keys (to which
    model), which hold files, which must be unique across the server."""

    def __init__(self, model: type[models.Model], names: list[str]):
        self.model = model
        self.label = model._meta.label_lower
        by_attname = {f.attname: f for f in _fields(model)}
        unknown = [n for n in names if n not in by_attname]
        if unknown or not names or names[0] != model._meta.pk.attname:
            raise BackupError(
                _("备份中的 %(model)s 有本系统没有的字段 %(fields)s：它来自更新的版本，请先升级。")
                % {"model": self.label, "fields": "、".join(unknown) or "id"}
            )
        self.names = names
        self.fields = [by_attname[n] for n in names]
        self.missing = [f for f in by_attname.values() if f.attname not in names]
        self.fks: list[tuple[int, str]] = []
        for i, f in enumerate(self.fields):
            related = f.related_model if f.is_relation else None
            if related is not None and related is not Tenant:
                self.fks.append((i, cast(type[models.Model], related)._meta.label_lower))
        self.files = [i for i, f in enumerate(self.fields) if isinstance(f, models.FileField)]
        self.unique = [i for i, f in enumerate(self.fields) if f.unique and not f.primary_key]

    def translate(self, row: Row, maps: IdMaps, strict: bool, notes: list[str]) -> Row:
        """The row with its id and foreign keys through `maps` (JSON values in, out)."""
        out = list(row)
        out[0] = maps[self.label][row[0]]
        for i, target in self.fks:
            value = row[i]
            if value is None:
                continue
            mapped = maps.get(target, {}).get(value)
            if mapped is None:
                if strict and not self.fields[i].null:
                    raise BackupError(
                        _("%(model)s #%(id)s 的 %(field)s 指向备份中没有的记录。")
                        % {"model": self.label, "id": row[0], "field": self.names[i]}
                    )
                notes.append(f"{self.label}#{row[0]}.{self.names[i]}: {value} → null")
            out[i] = mapped
        references = GENERIC_REFERENCES.get(self.label)
        if references is not None:
            references(self, out, maps)
        return out

    def decoded(self, row: Row) -> tuple[Any, ...]:
        """JSON values back to the model fields' Python types, for the database."""
        values = []
        for f, value in zip(self.fields, row, strict=True):
            if value is not None and not isinstance(f, models.JSONField):
                value = f.to_python(value)
            values.append(value)
        return tuple(values)


def _audit_references(plan: _Plan, row: Row, maps: IdMaps) -> None:
    """An audit entry names its record and its root by type and id, and its changes
    hold the ids its foreign keys had before and after."""
    i = {name: k for k, name in enumerate(plan.names)}
    for type_col, id_col in (("object_type", "object_id"), ("root_type", "root_id")):
        mapped = maps.get(row[i[type_col]], {}).get(row[i[id_col]])
        if mapped is not None:
            row[i[id_col]] = mapped
    row[i["changes"]] = _translated_changes(row[i["object_type"]], row[i["changes"]], maps)


def _translated_changes(object_type: str, changes: Any, maps: IdMaps) -> Any:
    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError):
        return changes
    if not isinstance(changes, dict):
        return changes
    out = dict(changes)
    for name, value in changes.items():
        try:
            f = model._meta.get_field(name)
        except FieldDoesNotExist:  # a free-form key (a summary, not a field)
            continue
        if f.is_relation and f.related_model is not None and f.related_model is not Tenant:
            target = cast(type[models.Model], f.related_model)._meta.label_lower
            out[name] = _ids_through(value, maps.get(target, {}))
    return out


def _ids_through(value: Any, id_map: Mapping[int, int]) -> Any:
    """Every int in `value` (an id, a [before, after] pair, a list of ids) through the map."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return id_map.get(value, value)
    if isinstance(value, list):
        return [_ids_through(v, id_map) for v in value]
    return value


def _export_references(plan: _Plan, row: Row, maps: IdMaps) -> None:
    """An export's filters name the owner, team, tag or party it was filtered by."""
    i = plan.names.index("filters")
    filters = row[i]
    if isinstance(filters, dict):
        row[i] = {
            k: _ids_through(v, maps.get(FILTER_KEYS[k], {})) if k in FILTER_KEYS else v
            for k, v in filters.items()
        }


GENERIC_REFERENCES: dict[str, Callable[[_Plan, Row, IdMaps], None]] = {
    "core.auditentry": _audit_references,
    "dataio.export": _export_references,
}


class _Archive:
    """A backup zip opened for restoring: its manifest checked, its rows read."""

    def __init__(self, source: IO[bytes] | str):
        try:
            self.zip = zipfile.ZipFile(source)
            self.manifest = json.loads(self.zip.read(MANIFEST))
        except (zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise BackupError(
                _("这不是 kehu 的备份文件（无法读取其中的 manifest.json）。")
            ) from exc
        if self.manifest.get("format") != FORMAT:
            raise BackupError(_("这不是 kehu 的备份文件。"))
        if self.manifest.get("version", 0) > FORMAT_VERSION:
            raise BackupError(_("这个备份的格式比本系统新，请先升级 kehu。"))
        _check_schema(self.manifest.get("migrations", {}))
        known = {m._meta.label_lower: m for m in backed_up_models()}
        unknown = sorted(set(self.manifest["models"]) - set(known))
        if unknown:
            raise BackupError(
                _("备份中有本系统没有的数据表 %(names)s：它来自更新的版本，请先升级。")
                % {"names": "、".join(unknown)}
            )
        self.plans = [
            _Plan(model, self.manifest["models"][label]["fields"])
            for label, model in known.items()
            if label in self.manifest["models"]
        ]

    def rows(self, label: str) -> Iterator[Row]:
        with self.zip.open(f"data/{label}.jsonl") as data:
            for line in data:
                yield json.loads(line)

    def verify(self) -> None:
        """Every data file and every file is what the manifest says: nothing truncated."""
        for label, entry in self.manifest["models"].items():
            digest = hashlib.sha256()
            n = 0
            with self.zip.open(f"data/{label}.jsonl") as data:
                for line in data:
                    digest.update(line)
                    n += 1
            if n != entry["rows"] or digest.hexdigest() != entry["sha256"]:
                raise BackupError(
                    _("备份文件已损坏：%(model)s 的数据与清单不符。") % {"model": label}
                )


def backup_restore(tenant_id: int, source: IO[bytes] | str) -> RestoreResult:
    """Restore the backup into the (empty) tenant, all or nothing; see the module's
    docstring. Raises BackupError with a message for the user."""
    archive = _Archive(source)
    archive.verify()
    busy = models_with_data(tenant_id)
    if busy:
        raise BackupError(
            _(
                "只能恢复到没有任何数据的公司：这家公司已有数据（%(names)s）。请新建一家公司后再恢复。"
            )
            % {"names": "、".join(busy[:5])}
        )
    tenant = Tenant.objects.get(pk=tenant_id)
    saved: list[str] = []
    try:
        with transaction.atomic():
            result = _restore_rows(tenant, archive, saved)
    except BaseException:
        for name in saved:
            default_storage.delete(name)
        raise
    return result


def _restore_rows(tenant: Tenant, archive: _Archive, saved: list[str]) -> RestoreResult:
    writer = BulkWriter(tenant.pk, timezone.now())
    maps: IdMaps = {}
    for plan in archive.plans:
        old = [row[0] for row in archive.rows(plan.label)]
        maps[plan.label] = dict(zip(old, writer.reserve_ids(plan.model, len(old)), strict=True))
    notes: list[str] = []
    renamed: dict[tuple[str, int], dict[Any, Any]] = {}
    files = _restore_files(archive, tenant, saved)
    for plan in archive.plans:
        batch: list[tuple[Any, ...]] = []
        for row in archive.rows(plan.label):
            out = plan.translate(row, maps, strict=True, notes=notes)
            for i in plan.files:
                out[i] = files.get(out[i], out[i])
            batch.append(tuple(out))
            if len(batch) == BATCH:
                _insert(writer, plan, batch, tenant, renamed, notes)
                batch = []
        _insert(writer, plan, batch, tenant, renamed, notes)
    _check_restored(tenant.pk, archive, maps, files, renamed)
    with tenant_scope(tenant.pk):
        summary_rebuild()  # derived from the restored orders (EXCLUDED from the backup)
        stage_totals_rebuild()  # likewise, from the restored deals
        stage_stays_rebuild()  # likewise, from the restored stage moves
        effort_rebuild()  # likewise from the restored activities
    counts = {label: entry["rows"] for label, entry in archive.manifest["models"].items()}
    return RestoreResult(counts, notes)


def _insert(
    writer: BulkWriter,
    plan: _Plan,
    batch: list[tuple[Any, ...]],
    tenant: Tenant,
    renamed: dict[tuple[str, int], dict[Any, Any]],
    notes: list[str],
) -> None:
    if not batch:
        return
    rows = [list(r) for r in batch]
    for i in plan.unique:
        _free_unique(plan, i, rows, tenant, renamed.setdefault((plan.label, i), {}), notes)
    names = [f.attname for f in plan.fields]
    writer.insert(plan.model, names, [plan.decoded(r) for r in rows])


def _free_unique(
    plan: _Plan,
    i: int,
    rows: list[Row],
    tenant: Tenant,
    renamed: dict[Any, Any],
    notes: list[str],
) -> None:
    """Values of a server-wide unique column that another tenant holds get a new value:
    a user name gets the tenant's slug, a secret a fresh random one (its old secret is
    the source tenant's, so an API token or an invitation link must be issued again)."""
    f = plan.fields[i]
    values = [r[i] for r in rows if r[i] not in (None, "")]
    taken = set(
        _unscoped(plan.model)
        .filter(**{f"{f.attname}__in": values})
        .values_list(f.attname, flat=True)
    )
    for r in rows:
        if r[i] not in taken:
            continue
        old = r[i]
        if plan.model is User:
            new = f"{old}-{tenant.slug}"[: f.max_length]
            notes.append(_("用户名 %(old)s 已被占用，恢复为 %(new)s。") % {"old": old, "new": new})
        else:
            new = secrets.token_hex(f.max_length // 2 if f.max_length else 16)
            notes.append(
                _("%(model)s #%(id)s 的 %(field)s 已被占用，已换新：需要重新生成。")
                % {"model": plan.label, "id": r[0], "field": f.attname}
            )
        renamed[new] = old
        r[i] = new


def _restore_files(archive: _Archive, tenant: Tenant, saved: list[str]) -> dict[str, str]:
    """The backup's files saved under the new tenant's folder: {old name: new name}."""
    out: dict[str, str] = {}
    source_tenant = archive.manifest["tenant"]["id"]
    for name, digest in archive.manifest.get("files", {}).items():
        content = archive.zip.read(f"files/{name}")
        if hashlib.sha256(content).hexdigest() != digest:
            raise BackupError(_("备份文件已损坏：%(file)s 与清单不符。") % {"file": name})
        parts = list(PurePosixPath(name).parts)
        if len(parts) >= 3 and parts[1] == str(source_tenant):
            parts[1] = str(tenant.pk)  # imports/<tenant id>/<file>
        # The storage picks a free name if this one is taken (the source still lives).
        new = default_storage.save(str(PurePosixPath(*parts)), ContentFile(content))
        saved.append(new)
        out[name] = new
    return out


def _check_restored(
    tenant_id: int,
    archive: _Archive,
    maps: IdMaps,
    files: Mapping[str, str],
    renamed: Mapping[tuple[str, int], Mapping[Any, Any]],
) -> None:
    """Read the restored tenant back, translate it to the backup's ids and values, and
    compare counts and checksums with the manifest; any difference undoes the restore."""
    back: IdMaps = {label: {new: old for old, new in m.items()} for label, m in maps.items()}
    old_files = {new: old for old, new in files.items()}
    for plan in archive.plans:
        entry = archive.manifest["models"][plan.label]
        digest = hashlib.sha256()
        n = 0
        # The rows restored: their ids were drawn above any the tenant had before (its
        # admin, their invitation).
        ids = maps[plan.label].values()
        between = (min(ids), max(ids)) if ids else (0, -1)
        for values in _rows(plan.model, tenant_id, plan.names, between):
            row = json.loads(_line(values))
            row = plan.translate(row, back, strict=False, notes=[])
            for i in plan.files:
                row[i] = old_files.get(row[i], row[i])
            for i in plan.unique:
                row[i] = renamed.get((plan.label, i), {}).get(row[i], row[i])
            digest.update(_line(row))
            n += 1
        if n != entry["rows"] or digest.hexdigest() != entry["sha256"]:
            raise BackupError(
                _("恢复后校验失败：%(model)s 与备份不一致，已撤销本次恢复。")
                % {"model": plan.label}
            )
