"""The import flow through its services: upload, map, dry run, run, re-run, resume."""

import pytest

from kehu.core.models import AuditEntry
from kehu.dataio import services
from kehu.dataio.models import (
    DuplicateCandidate,
    ExternalKey,
    Import,
    ImportRow,
    ImportStatus,
    Outcome,
    Phase,
)
from kehu.dataio.tests.conftest import csv_bytes, run, upload
from kehu.parties.models import Address, ContactPoint, Party, PartyLink, PartyRole, PartyTag
from kehu.parties.search import matching_party_ids
from kehu.tenancy.models import User

pytestmark = pytest.mark.usefixtures("in_acme")

HEADER = [
    "客户编号",
    "客户名称",
    "联系人",
    "职位",
    "手机",
    "电话",
    "邮箱",
    "省",
    "市",
    "地址",
    "行业",
    "标签",
    "客户类型",
]
ROWS = [
    [
        "C001",
        "深圳腾飞科技有限公司",
        "张伟",
        "采购经理",
        "13812345678",
        "0755-12345678",
        "zw@tengfei.cn",
        "广东",
        "深圳",
        "南山区科技园1号",
        "制造",
        "VIP、重点",
        "客户",
    ],
    [
        "C002",
        "杭州云帆贸易有限公司",
        "",
        "",
        "",
        "0571-87654321",
        "",
        "浙江省",
        "杭州市",
        "",
        "贸易",
        "",
        "经销商",
    ],
    [
        "C003",
        "",
        "李娜",
        "",
        "１３９１２３４５６７８",
        "",
        "LiNa@Example.com",
        "",
        "",
        "北京市朝阳区建国路88号",
        "",
        "",
        "",
    ],
    ["C004", "坏数据公司", "", "", "12345", "", "not-an-email", "火星", "", "", "", "", ""],
]


def _job(alice: User, rows: list[list[str]] | None = None, name: str = "客户.csv") -> Import:
    content = csv_bytes([HEADER, *(ROWS if rows is None else rows)])
    return services.import_upload(actor=alice, file=upload(name, content))


def _run(alice: User, job: Import) -> Import:
    return run(alice, job)


def _counts() -> dict[str, int]:
    return {
        "parties": Party.objects.count(),
        "contacts": ContactPoint.objects.count(),
        "addresses": Address.objects.count(),
        "links": PartyLink.objects.count(),
        "tags": PartyTag.objects.count(),
        "roles": PartyRole.objects.count(),
        "keys": ExternalKey.objects.count(),
    }


def test_the_guess_maps_every_column(alice: User) -> None:
    job = _job(alice)
    assert job.mapping == {
        "0": "external_id",
        "1": "name",
        "2": "contact",
        "3": "title",
        "4": "mobile",
        "5": "phone",
        "6": "email",
        "7": "province",
        "8": "city",
        "9": "address",
        "10": "industry",
        "11": "tags",
        "12": "roles",
    }


def test_the_upload_is_filed_under_its_tenant(alice: User) -> None:
    job = _job(alice)
    assert job.file.name.startswith(f"imports/{alice.tenant_id}/"), job.file.name


def test_a_dry_run_writes_nothing_and_says_what_each_row_would_do(alice: User) -> None:
    job = _job(alice)
    services.import_dry_run(actor=alice, job=job)
    job.refresh_from_db()
    assert job.status == ImportStatus.CHECKED
    assert job.total_rows == 4
    assert job.counts == {"created": 3, "refused": 1}
    assert Party.objects.count() == 0
    refused = ImportRow.objects.get(job=job, outcome=Outcome.REFUSED)
    assert refused.number == 5
    assert refused.values == ROWS[3]
    assert "第 5 行，「手机」列：不是有效的手机号码：12345" in refused.messages
    assert any("「省」列：不是已知的省份：火星" in m for m in refused.messages)
    assert any("「邮箱」列" in m for m in refused.messages)


def test_the_run_creates_parties_with_their_parts(alice: User) -> None:
    job = _run(alice, _job(alice))
    assert job.status == ImportStatus.DONE
    assert job.counts == {"created": 3, "refused": 1}
    org = Party.objects.get(name="深圳腾飞科技有限公司")
    assert (org.kind, org.province, org.city, org.district, org.industry) == (
        "organisation",
        "广东省",
        "深圳市",
        "南山区",
        "制造",
    )
    assert org.owner == alice and org.name_pinyin.startswith("shenzhen")
    person = Party.objects.get(name="张伟")
    link = PartyLink.objects.get(from_party=org, to_party=person)
    assert (link.kind, link.title) == ("employs", "采购经理")
    assert set(person.contact_points.values_list("kind", "value")) == {
        ("mobile", "+8613812345678"),
        ("email", "zw@tengfei.cn"),
    }
    assert set(org.contact_points.values_list("kind", "value")) == {("phone", "+8675512345678")}
    assert sorted(org.party_tags.values_list("tag__name", flat=True)) == ["VIP", "重点"]
    assert list(org.roles.values_list("role", flat=True)) == ["customer"]
    assert org.addresses.get().street == "科技园1号"
    lina = Party.objects.get(name="李娜")
    assert (lina.kind, lina.province, lina.city, lina.district) == (
        "person",
        "北京市",
        "北京市",
        "朝阳区",
    )
    assert lina.contact_points.get(kind="email").value == "lina@example.com"
    # Search keys as the archive writes them: by name, pinyin, phone.
    assert org.pk in set(matching_party_ids("腾飞"))
    assert person.pk in set(matching_party_ids("13812345678"))
    assert lina.pk in set(matching_party_ids("lina"))
    assert AuditEntry.objects.filter(object_type="parties.party", action="create").count() == 4
    assert AuditEntry.objects.filter(root_type="parties.party", root_id=org.pk).count() >= 6


def test_re_importing_the_same_file_creates_nothing(alice: User) -> None:
    _run(alice, _job(alice))
    before = _counts()
    audits = AuditEntry.objects.count()
    second = _run(alice, _job(alice))
    assert second.counts == {"unchanged": 3, "refused": 1}
    assert _counts() == before
    assert AuditEntry.objects.filter(object_type="parties.party").count() == 4
    assert AuditEntry.objects.count() == audits + 2  # the second job's own: upload, start


def test_a_re_import_updates_only_changed_fields_and_adds_new_parts(alice: User) -> None:
    _run(alice, _job(alice))
    org = Party.objects.get(name="深圳腾飞科技有限公司")
    changed = [list(ROWS[0]) for _ in range(1)]
    changed[0][10] = "电子"
    changed[0][11] = "VIP、新品"
    changed[0][5] = "0755-88886666"
    job = _run(alice, _job(alice, changed))
    assert job.counts == {"updated": 1}
    org.refresh_from_db()
    assert org.industry == "电子"
    assert sorted(org.party_tags.values_list("tag__name", flat=True)) == ["VIP", "新品", "重点"]
    assert org.contact_points.count() == 2
    assert org.pk in set(matching_party_ids("75588886666"))
    update = AuditEntry.objects.get(object_type="parties.party", action="update")
    assert update.changes == {"industry": ["制造", "电子"]}
    assert ImportRow.objects.get(job=job, phase=Phase.RUN).party_id == org.pk


@pytest.mark.parametrize(
    ("policy", "outcome", "parties"),
    [
        ("skip", Outcome.DUPLICATE, 4),
        ("create", Outcome.CREATED, 5),
        ("update", Outcome.UPDATED, 4),
    ],
)
def test_a_row_sharing_an_email_with_a_party_is_a_likely_duplicate(
    alice: User, policy: str, outcome: str, parties: int
) -> None:
    _run(alice, _job(alice))
    row = ["C999", "", "李娜娜", "", "", "", "lina@example.com", "", "", "", "教育", "", ""]
    job = _job(alice, [row])
    services.import_set_mapping(
        actor=alice, job=job, mapping=job.mapping, options={"duplicates": policy}
    )
    job = _run(alice, job)
    result = ImportRow.objects.get(job=job, phase=Phase.RUN)
    assert result.outcome == outcome
    assert any("疑似与已有客户「李娜」" in m for m in result.messages)
    assert Party.objects.count() == parties
    # Created anyway, the pair waits in the review queue; skipped or updated, no pair.
    pairs = list(DuplicateCandidate.objects.values_list("party_a__name", "party_b__name"))
    assert pairs == ([("李娜", "李娜娜")] if policy == "create" else [])


def test_the_same_key_twice_in_a_file_is_one_party(alice: User) -> None:
    job = _run(alice, _job(alice, [ROWS[1], ROWS[1]]))
    assert job.counts == {"created": 1, "duplicate": 1}
    assert Party.objects.filter(name="杭州云帆贸易有限公司").count() == 1


def test_a_colleague_cannot_update_a_party_they_may_not_see(alice: User, bob: User) -> None:
    _run(alice, _job(alice))
    job = run(
        bob,
        services.import_upload(actor=bob, file=upload("客户.csv", csv_bytes([HEADER, ROWS[1]]))),
    )
    assert job.counts == {"refused": 1}
    assert "不在您的可见范围内" in ImportRow.objects.get(job=job, phase=Phase.RUN).messages[0]


def test_an_owner_column_names_staff_and_an_unknown_one_is_refused(alice: User, bob: User) -> None:
    rows = [["客户名称", "负责人"], ["甲公司", "Bob"], ["乙公司", "无此人"]]
    job = run(alice, services.import_upload(actor=alice, file=upload("a.csv", csv_bytes(rows))))
    assert Party.objects.get().owner == bob
    refused = ImportRow.objects.get(job=job, phase=Phase.RUN, outcome=Outcome.REFUSED)
    assert refused.messages == ["第 3 行，「负责人」列：找不到这位在职员工：无此人"]


def test_rows_sharing_a_mobile_across_batches_are_found_by_the_dry_run_too(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dry run says what the run will do even when the earlier row is in an earlier
    batch (not yet in the archive during a dry run)."""
    monkeypatch.setattr(services, "BATCH_ROWS", 1)
    again = [
        "C010",
        "广州新丰贸易有限公司",
        "王强",
        "",
        "13812345678",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
    ]
    job = _job(alice, [ROWS[0], again])
    services.import_dry_run(actor=alice, job=job)
    dry = dict(
        ImportRow.objects.filter(job=job, phase=Phase.DRY_RUN).values_list("number", "outcome")
    )
    assert dry == {2: Outcome.CREATED, 3: Outcome.DUPLICATE}
    job = _run(alice, Import.objects.get(pk=job.pk))
    assert job.counts == {"created": 1, "duplicate": 1}
    dry_note = ImportRow.objects.get(job=job, phase=Phase.DRY_RUN, number=3).messages
    assert any("与文件第 2 行的手机、邮箱或信用代码相同" in m for m in dry_note)
    # In the run the earlier row is written by then: the archive's check finds it.
    note = ImportRow.objects.get(job=job, phase=Phase.RUN, number=3).messages
    assert any("疑似与已有客户「张伟」" in m for m in note)
    assert not Party.objects.filter(name="广州新丰贸易有限公司").exists()
