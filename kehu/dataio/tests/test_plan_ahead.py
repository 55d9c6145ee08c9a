"""Planning each next batch in a helper process (kehu.dataio.ahead) changes nothing: the
same file imported with and without it gives the same outcomes, messages and rows."""

import re
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import translation

from kehu.core import bulk
from kehu.core.context import tenant_scope
from kehu.core.models import AuditEntry
from kehu.dataio import ahead, services
from kehu.dataio.models import ExternalKey, Import, ImportRow, ImportStatus
from kehu.dataio.tests.conftest import csv_bytes, run, upload
from kehu.parties.models import Address, ContactPoint, Party, PartyLink, SearchKey
from kehu.tenancy.models import Tenant, User

_ID = re.compile(r"#\d+")
HEADER = ["客户编号", "客户名称", "联系人", "手机", "邮箱", "省", "市", "负责人"]


def _rows() -> list[list[str]]:
    rows = [HEADER]
    for i in range(40):
        rows.append(
            [
                f"C{i:03d}",
                f"杭州{'星河' if i % 2 else '云帆'}科技有限公司{i}",
                "张伟" if i % 3 else "李娜",
                f"1381234{i:04d}",
                f"u{i}@qq.com",
                "浙江",
                "杭州",
                "",
            ]
        )
    rows[5][3] = "1234"  # not a mobile: refused
    rows[9][7] = "张无忌"  # no such staff member: refused
    rows[12][1] = ""  # a person only (联系人 without 客户名称)
    rows[30] = [*rows[3]]  # the same 客户编号 as an earlier batch's row: a duplicate
    rows[31][4] = "u7@qq.com"  # another row's email, two batches later: likely the same
    rows[33][2] = ""  # an organisation without a contact person
    return rows


def _import(actor: User, tenant: Tenant, *, plan_ahead: bool) -> Import:
    content = csv_bytes(_rows())
    with tenant_scope(tenant.pk), override_settings(IMPORT_PLAN_AHEAD=plan_ahead):
        job = services.import_upload(actor=actor, file=upload("客户.csv", content))
        job = services.import_set_mapping(
            actor=actor, job=job, mapping=job.mapping, options={"key": "external_id"}
        )
        job = run(actor, job)
    assert job.status == ImportStatus.DONE, job.error
    return job


def _outcomes(job: Import) -> list[tuple[Any, ...]]:
    with tenant_scope(job.tenant_id):
        rows = ImportRow.objects.filter(job=job).order_by("phase", "number")
        # A message may name a party by its id, which differs between the tenants.
        return [
            (r.phase, r.number, r.outcome, [_ID.sub("#…", m) for m in r.messages], r.values)
            for r in rows
        ]


def _archive(tenant: Tenant) -> dict[str, Any]:
    """What the import wrote into a tenant, by names (the ids differ between tenants)."""
    with tenant_scope(tenant.pk):
        names = dict(Party.objects.values_list("pk", "name"))
        fields = ("kind", "name", "name_pinyin", "name_initials", "province", "city", "uscc")
        return {
            "parties": sorted(Party.objects.values_list(*fields)),
            "contacts": sorted(
                (names[p], k, v, primary)
                for p, k, v, primary in ContactPoint.objects.values_list(
                    "party_id", "kind", "value", "is_primary"
                )
            ),
            "addresses": sorted(
                (names[p], *rest)
                for p, *rest in Address.objects.values_list(
                    "party_id", "province", "city", "street", "is_primary"
                )
            ),
            "links": sorted(
                (names[a], names[b], kind)
                for a, b, kind in PartyLink.objects.values_list(
                    "from_party_id", "to_party_id", "kind"
                )
            ),
            "keys": sorted((names[p], k) for p, k in SearchKey.objects.values_list("party", "key")),
            "external": sorted(
                (names[p], e) for p, e in ExternalKey.objects.values_list("party", "external_id")
            ),
            "audit": sorted(
                AuditEntry.objects.filter(root_type="parties.party").values_list(
                    "action", "object_type", "object_repr"
                )
            ),
        }


def test_planning_ahead_in_a_helper_gives_the_same_import(
    acme: Tenant, other: Tenant, alice: User, charlie: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "BATCH_ROWS", 7)
    started: list[object] = []
    original = ahead.Planner.__init__

    def spy(self: ahead.Planner, target: ahead.PlansAhead) -> None:
        started.append(target)
        original(self, target)

    monkeypatch.setattr(ahead.Planner, "__init__", spy)
    with translation.override("en"):  # the helper words its errors in the job's language
        helped = _import(alice, acme, plan_ahead=True)
        assert len(started) == 1  # the run (the small file's dry run is in the request)
        plain = _import(charlie, other, plan_ahead=False)
        assert len(started) == 1
    ours = _outcomes(helped)
    assert ours == _outcomes(plain)
    refused = [o for o in ours if o[2] == "refused" and o[0] == "run"]
    assert {o[1] for o in refused} == {6, 10}
    assert any("No active staff member of that name: 张无忌" in m for o in refused for m in o[3])
    assert {o[1] for o in ours if o[2] == "duplicate" and o[0] == "run"} == {31, 32}
    assert helped.counts == plain.counts
    assert _archive(acme) == _archive(other)
    assert len(_archive(acme)["keys"]) > 300


@pytest.mark.skipif(connection.vendor != "sqlite", reason="a setting of SQLite's log")
def test_a_run_checkpoints_less_often_and_puts_the_setting_back(
    acme: Tenant, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each batch of a run is written with the log checkpointed every ~64 MB, not every
    ~4 MB (kehu.core.bulk.fewer_checkpoints); the dry run and what follows the run have
    the connection's own setting."""

    def setting() -> int:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint")
            return int(cursor.fetchone()[0])

    before = setting()
    seen: list[tuple[str, int]] = []
    original = services._save_rows

    def spy(job: Import, phase: str, *args: Any) -> None:
        seen.append((phase, setting()))
        original(job, phase, *args)

    monkeypatch.setattr(services, "_save_rows", spy)
    monkeypatch.setattr(services, "BATCH_ROWS", 20)
    _import(alice, acme, plan_ahead=False)
    assert seen == [("dry_run", before)] * 2 + [("run", bulk.BULK_WAL_AUTOCHECKPOINT)] * 2
    assert before != bulk.BULK_WAL_AUTOCHECKPOINT and setting() == before
