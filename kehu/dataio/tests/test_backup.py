"""Backups and restores: every record of a tenant out and back into a new tenant, field
by field; refusals (a tenant with data, a newer schema, a damaged file, a broken
reference) that write nothing; the page and the commands, with the outsider and
colleagues without rights."""

import hashlib
import io
import json
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import models
from django.test import TestCase

from conftest import PASSWORD, login
from kehu.core.context import tenant_scope
from kehu.core.models import AuditEntry, TenantOwned
from kehu.core.tests.test_api_access import World, world  # noqa: F401 - the fixture
from kehu.dataio import backup, quality
from kehu.dataio import services as imports
from kehu.dataio.backup import (
    EXCLUDED,
    FILTER_KEYS,
    BackupError,
    backed_up_models,
    backup_restore,
)
from kehu.dataio.models import Backup, BackupStatus, Import
from kehu.dataio.tests.conftest import run
from kehu.insights import services as insights
from kehu.parties import services as parties
from kehu.parties.models import Party
from kehu.sales import lead_services
from kehu.sales import pipeline_services as deals
from kehu.sales import services as sales
from kehu.sales.models import Product
from kehu.tenancy.models import Role, Team, Tenant, User, Visibility


def _unscoped(model: type[models.Model]) -> models.QuerySet[Any]:
    manager: models.Manager[Any] = getattr(model, "all_tenants")  # noqa: B009 - typed
    return manager.all()


def _label(model: Any) -> str:
    return str(model._meta.label_lower)


@pytest.fixture
def full(world: World, acme: Tenant, alice: User, bob: User) -> World:  # noqa: F811
    """The access tests' world, plus a row in every model it leaves empty."""
    with tenant_scope(acme.pk):
        party = Party.objects.get(pk=world["party"])
        rival = parties.party_create(actor=alice, kind="organisation", name="竞争者")
        parties.party_role_add(actor=alice, party=rival, role="competitor")
        parties.party_role_add(actor=alice, party=party, role="distributor")
        furniture = sales.category_create(actor=alice, name="家具")
        sales.category_create(actor=alice, name="椅子", parent=furniture)
        desk = sales.product_create(
            actor=alice,
            code="DK-1",
            name="书桌",
            unit_price=Decimal("299.50"),
            category=furniture,
        )
        chair = Product.objects.get(pk=world["product"])
        deals.opportunity_create(
            actor=alice,
            party=party,
            name="整套家具",
            lines=[sales.LineIn(desk, Decimal(3)), sales.LineIn(chair, Decimal(1))],
            competitors=[rival],
        )
        team = Team.objects.get(pk=world["team"])
        deals.settings_update(actor=alice, stale_days=21, default_team=team)
        lead_services.assignment_rule_add(actor=alice, region="广东", team=team)
        lead_services.lead_create(actor=alice, name="李雷", mobile="13900003333", region="广东")
        lead_services.web_form_create(actor=alice, title="官网表单", fields=["company", "mobile"])
        content = "外部编号,客户名称\nX-1,丙公司\n".encode()
        job = imports.import_upload(actor=alice, file=SimpleUploadedFile("编号.csv", content))
        run(alice, job)
        imports.template_save(actor=alice, job=job, name="带编号")
        content = "外部编号,客户名称,主题,时间\nI-1,丙公司,问候,2024-03-05\n".encode()
        file = SimpleUploadedFile("互动.csv", content)
        run(alice, imports.import_upload(actor=alice, file=file, target="interactions"))
        insights.insight_settings_update(actor=alice, horizon_months=24)
        insights.stage_override_set(actor=alice, party=party, stage="formation", reason="新签框架")
        person = Party.objects.get(pk=world["person"])
        insights.win_back_tasks_create(actor=alice, parties=[person])
        quality.snapshot_take()
    login(bob).get("/exports/parties.csv", {"owner": str(alice.pk)})  # refused rows: none
    response = login(alice).get("/exports/parties.csv", {"owner": str(alice.pk)})
    b"".join(response.streaming_content)  # type: ignore[attr-defined]
    return world


def _zip(tenant: Tenant) -> bytes:
    out = io.BytesIO()
    with tenant_scope(tenant.pk):
        backup.backup_write(tenant.pk, out)
    return out.getvalue()


# --- what a backup covers ----------------------------------------------------------------


def test_every_tenant_owned_model_is_backed_up_or_excluded_with_a_reason() -> None:
    owned = {m._meta.label_lower for m in apps.get_models() if issubclass(m, TenantOwned)}
    covered = {m._meta.label_lower for m in backed_up_models()}
    assert owned - covered == set(EXCLUDED)
    assert all(len(reason) > 20 for reason in EXCLUDED.values())


def test_every_reference_of_a_backed_up_model_stays_inside_the_backup() -> None:
    covered = set(backed_up_models()) | {Tenant}
    for model in backed_up_models():
        for f in model._meta.get_fields():
            if f.is_relation and f.concrete and not f.many_to_many:
                assert f.related_model in covered, (model, f.name)
            if f.many_to_many and f.concrete and model is not User:
                through = getattr(model, f.name).through
                assert through in covered, (model, f.name)


def test_a_backup_holds_every_model_with_counts_and_checksums(full: World, acme: Tenant) -> None:
    archive = zipfile.ZipFile(io.BytesIO(_zip(acme)))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["tenant"]["slug"] == "acme"
    assert "parties" in manifest["migrations"]
    for model in backed_up_models():
        label = model._meta.label_lower
        entry = manifest["models"][label]
        data = archive.read(f"data/{label}.jsonl")
        assert entry["rows"] == len(data.splitlines()) >= 1, label
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    uploads = [n for n in manifest["files"] if n.startswith("imports/")]
    assert len(uploads) == 3  # the world's, the one with ids, the interactions
    for name in uploads:
        assert hashlib.sha256(archive.read(f"files/{name}")).hexdigest() == manifest["files"][name]


# --- the round trip ----------------------------------------------------------------------


def _ordinals(tenant_id: int) -> dict[str, dict[int, int]]:
    """Each row's place among its model's rows of the tenant, by id: what a foreign key
    means regardless of the ids a restore drew."""
    return {
        m._meta.label_lower: {
            pk: n
            for n, pk in enumerate(
                _unscoped(m).filter(tenant_id=tenant_id).order_by("pk").values_list("pk", flat=True)
            )
        }
        for m in backed_up_models()
    }


def _through(value: Any, places: dict[int, int]) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return ("row", places.get(value, value))
    if isinstance(value, list):
        return [_through(v, places) for v in value]
    return value


def _canonical(tenant: Tenant) -> dict[str, list[dict[str, Any]]]:
    """Every row of every backed-up model, field by field, with ids replaced by places,
    the tenant left out, files by their content."""
    places = _ordinals(tenant.pk)
    out: dict[str, list[dict[str, Any]]] = {}
    for model in backed_up_models():
        rows = []
        for obj in _unscoped(model).filter(tenant_id=tenant.pk).order_by("pk"):
            row: dict[str, Any] = {}
            for f in model._meta.concrete_fields:
                if f.primary_key or f.name == "tenant":
                    continue
                value = getattr(obj, f.attname)
                if f.is_relation and value is not None:
                    value = ("row", places[_label(f.related_model)][value])
                elif isinstance(f, models.FileField):
                    value = default_storage.open(value.name).read() if value else b""
                row[f.name] = value
            rows.append(row)
        out[model._meta.label_lower] = rows
    for row in out["core.auditentry"]:
        for kind, key in (("object_type", "object_id"), ("root_type", "root_id")):
            if row[kind] in places:
                row[key] = ("row", places[row[kind]].get(row[key], row[key]))
        target = apps.get_model(row["object_type"])
        for name, value in list(row["changes"].items()):
            field: Any = next((f for f in target._meta.get_fields() if f.name == name), None)
            if field is not None and field.is_relation and field.related_model is not Tenant:
                row["changes"][name] = _through(value, places[_label(field.related_model)])
    for row in out["dataio.export"]:
        row["filters"] = {
            k: _through(v, places[FILTER_KEYS[k]]) if k in FILTER_KEYS else v
            for k, v in row["filters"].items()
        }
    return out


def test_restore_into_a_new_tenant_gives_back_every_record_field_by_field(
    full: World, acme: Tenant, alice: User
) -> None:
    data = _zip(acme)
    copy = Tenant.objects.create(name="恢复公司", slug="copy")
    with tenant_scope(copy.pk):
        result = backup_restore(copy.pk, io.BytesIO(data))
    before, after = _canonical(acme), _canonical(copy)
    assert result.counts == {label: len(rows) for label, rows in before.items()}
    # Acme still lives here: its user names, token and invitation digests and the web
    # form's token are taken, so the copy's got new ones (and the notes say so).
    for row in after["tenancy.user"]:
        assert row["username"].endswith("-copy")
        row["username"] = row["username"].removesuffix("-copy")
    for label, name in [
        ("tenancy.apitoken", "digest"),
        ("tenancy.invitation", "digest"),
        ("sales.webform", "token"),
    ]:
        for a, b in zip(before[label], after[label], strict=True):
            assert a.pop(name) != b.pop(name)
    assert any("alice" in note for note in result.notes)
    for label in before:
        assert after[label] == before[label], label
    # The restored firm works: Alice's copy sees the same customers through the scoped
    # managers, and her old password signs her in.
    restored = User.all_tenants.get(tenant=copy, username="alice-copy")
    assert restored.check_password(PASSWORD)
    with tenant_scope(copy.pk):
        assert sorted(Party.with_deleted.values_list("name", flat=True)) == sorted(
            Party.with_deleted.model.all_tenants.filter(tenant=acme).values_list("name", flat=True)
        )


def test_restore_into_a_tenant_with_data_is_refused_and_writes_nothing(
    full: World, acme: Tenant, other: Tenant, charlie: User
) -> None:
    data = _zip(acme)
    with tenant_scope(other.pk):
        parties.party_create(actor=charlie, kind="person", name="已有客户")
    before = _counts(other)
    with tenant_scope(other.pk), pytest.raises(BackupError, match="只能恢复到没有任何数据的公司"):
        backup_restore(other.pk, io.BytesIO(data))
    assert _counts(other) == before


def _counts(tenant: Tenant) -> dict[str, int]:
    return {
        m._meta.label_lower: _unscoped(m).filter(tenant_id=tenant.pk).count()
        for m in backed_up_models()
    }


def _edited(data: bytes, change: Any) -> bytes:
    """The backup with `change(members)` applied to its {name: bytes}."""
    source = zipfile.ZipFile(io.BytesIO(data))
    members = {name: source.read(name) for name in source.namelist()}
    change(members)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name, content in members.items():
            target.writestr(name, content)
    return out.getvalue()


def _manifest_edit(members: dict[str, bytes], edit: Any) -> None:
    manifest = json.loads(members["manifest.json"])
    edit(manifest)
    members["manifest.json"] = json.dumps(manifest).encode()


@pytest.fixture
def empty(db: None) -> Tenant:
    return Tenant.objects.create(name="新公司", slug="fresh")


def test_a_backup_from_a_newer_schema_is_refused(full: World, acme: Tenant, empty: Tenant) -> None:
    newer = _edited(
        _zip(acme),
        lambda m: _manifest_edit(
            m, lambda man: man["migrations"]["parties"].append("0999_from_the_future")
        ),
    )
    with tenant_scope(empty.pk), pytest.raises(BackupError, match="更新版本"):
        backup_restore(empty.pk, io.BytesIO(newer))
    assert sum(_counts(empty).values()) == 0


def test_a_field_this_version_lacks_is_refused(full: World, acme: Tenant, empty: Tenant) -> None:
    newer = _edited(
        _zip(acme),
        lambda m: _manifest_edit(
            m, lambda man: man["models"]["parties.tag"]["fields"].append("colour")
        ),
    )
    with tenant_scope(empty.pk), pytest.raises(BackupError, match="colour"):
        backup_restore(empty.pk, io.BytesIO(newer))


def test_a_damaged_backup_is_refused(full: World, acme: Tenant, empty: Tenant) -> None:
    def damage(members: dict[str, bytes]) -> None:
        members["data/parties.party.jsonl"] = members["data/parties.party.jsonl"].replace(
            "甲公司".encode(), "乙公司".encode()
        )

    with tenant_scope(empty.pk), pytest.raises(BackupError, match="已损坏"):
        backup_restore(empty.pk, io.BytesIO(_edited(_zip(acme), damage)))
    with tenant_scope(empty.pk), pytest.raises(BackupError, match="不是 kehu 的备份"):
        backup_restore(empty.pk, io.BytesIO(b"PK not a zip"))


def test_a_restore_that_fails_midway_leaves_nothing_behind(
    full: World, acme: Tenant, empty: Tenant
) -> None:
    """A party left out of the data (with a checksum to match): the rows that name it
    cannot be restored, and what was written before them is undone, files too."""

    def drop_first_party(members: dict[str, bytes]) -> None:
        name = "data/parties.party.jsonl"
        lines = members[name].splitlines(keepends=True)
        members[name] = b"".join(lines[1:])
        entry = {"rows": len(lines) - 1, "sha256": hashlib.sha256(members[name]).hexdigest()}
        _manifest_edit(members, lambda man: man["models"]["parties.party"].update(entry))

    files_before = _stored_files()
    with tenant_scope(empty.pk), pytest.raises(BackupError, match="指向备份中没有的记录"):
        backup_restore(empty.pk, io.BytesIO(_edited(_zip(acme), drop_first_party)))
    assert sum(_counts(empty).values()) == 0
    assert _stored_files() == files_before


def _stored_files() -> set[str]:
    root = Path(default_storage.location)  # type: ignore[attr-defined]
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


# --- the page and the commands -----------------------------------------------------------


def test_an_admin_backs_up_and_downloads(full: World, acme: Tenant, alice: User) -> None:
    client = login(alice)
    assert client.get("/settings/backups/").status_code == 200
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post("/settings/backups/new/")
    assert response.status_code == 302
    with tenant_scope(acme.pk):
        job = Backup.objects.get()
    assert job.status == BackupStatus.DONE
    assert job.counts == _counts(acme) | {"dataio.export": job.counts["dataio.export"]}
    download = client.get(f"/settings/backups/{job.pk}/download/")
    assert download.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))  # type: ignore[attr-defined]
    assert json.loads(archive.read("manifest.json"))["tenant"]["slug"] == "acme"
    with tenant_scope(acme.pk):
        assert AuditEntry.objects.filter(object_type="dataio.backup").count() == 1


def test_the_backup_page_refuses_colleagues_and_outsiders(
    full: World, acme: Tenant, alice: User, bob: User, dora: User, charlie: User
) -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):
        login(alice).post("/settings/backups/new/")
    with tenant_scope(acme.pk):
        job = Backup.objects.get()
    for colleague in (bob, dora):
        client = login(colleague)
        assert client.get("/settings/backups/").status_code == 403
        assert client.post("/settings/backups/new/").status_code == 403
        assert client.get(f"/settings/backups/{job.pk}/download/").status_code == 403
        upload = SimpleUploadedFile("b.zip", b"x")
        assert client.post("/settings/backups/restore/", {"file": upload}).status_code == 403
    outsider = login(charlie)
    assert outsider.get(f"/settings/backups/{job.pk}/download/").status_code == 404
    with tenant_scope(acme.pk):
        assert Backup.objects.count() == 1


def test_an_admin_of_an_empty_firm_restores_through_the_page(
    full: World, acme: Tenant, alice: User, empty: Tenant
) -> None:
    erin = User.objects.create_user(
        username="erin",
        password=PASSWORD,
        tenant=empty,
        role=Role.ADMIN,
        visibility=Visibility.ALL,
    )
    data = _zip(acme)
    client = login(erin)
    page = client.get("/settings/backups/")
    assert "恢复" in page.content.decode()
    response = client.post(
        "/settings/backups/restore/", {"file": SimpleUploadedFile("acme.zip", data)}
    )
    assert response.status_code == 302
    assert _counts(empty)["parties.party"] == _counts(acme)["parties.party"]
    # A second restore finds the firm full: refused, with the reason on the page.
    again = client.post(
        "/settings/backups/restore/", {"file": SimpleUploadedFile("acme.zip", data)}
    )
    assert again.status_code == 422
    assert "只能恢复到没有任何数据的公司" in again.content.decode()
    assert _counts(empty)["parties.party"] == _counts(acme)["parties.party"]


def test_the_commands_back_up_and_restore(full: World, acme: Tenant, tmp_path: Path) -> None:
    path = tmp_path / "acme.zip"
    call_command("backup_tenant", "acme", str(path))
    call_command("restore_tenant", "copy2", str(path), "--create", "副本公司")
    copy = Tenant.objects.get(slug="copy2")
    assert _counts(copy) == _counts(acme)
    with tenant_scope(copy.pk):
        job = Import.objects.get(file_name="编号.csv")
        assert job.file.name.startswith("imports/")
        assert job.file.read() == "外部编号,客户名称\nX-1,丙公司\n".encode()
