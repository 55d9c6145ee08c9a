"""Importing interactions: the customer by 客户编号 or exact name, Chinese kinds and
dates, the staff member who logged it, every bad row refused with where and why, and a
re-import that creates nothing new."""

import datetime
from pathlib import Path

import pytest
import xlsxwriter
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from kehu.activities.models import Interaction, InteractionParty
from kehu.core.context import tenant_scope
from kehu.core.models import AuditEntry
from kehu.dataio import services
from kehu.dataio.models import ExternalKey, Import, ImportRow, ImportStatus, InteractionKey, Outcome
from kehu.dataio.tests.conftest import csv_bytes, run, upload
from kehu.parties import services as parties
from kehu.parties.models import Party
from kehu.tenancy.models import Tenant, User

pytestmark = pytest.mark.usefixtures("in_acme")

HEADER = ["客户名称", "类型", "主题", "内容", "时间", "时长（分钟）", "记录人"]
GOOD = [
    [
        "深圳腾飞科技有限公司",
        "电话",
        "报价沟通",
        "客户要求下周报价",
        "2024年3月5日 14:30",
        "30",
        "",
    ],
    ["杭州云帆贸易有限公司", "拜访", "上门演示", "", "2024/3/6", "1.5小时", "bob"],
]


@pytest.fixture
def customers(alice: User, bob: User) -> dict[str, Party]:
    tengfei = parties.party_create(actor=alice, kind="organisation", name="深圳腾飞科技有限公司")
    yunfan = parties.party_create(actor=alice, kind="organisation", name="杭州云帆贸易有限公司")
    mine = parties.party_create(actor=bob, kind="organisation", name="广州小白商行")
    ExternalKey.objects.create(source="旧系统", external_id="C001", party=tengfei)
    return {"tengfei": tengfei, "yunfan": yunfan, "bob's": mine}


def _job(
    alice: User, rows: list[list[str]], encoding: str = "utf-8", name: str = "互动.csv"
) -> Import:
    content = csv_bytes(rows, encoding)
    return services.import_upload(actor=alice, file=upload(name, content), target="interactions")


def _messages(job: Import) -> dict[int, list[str]]:
    rows = ImportRow.objects.filter(job=job, phase=job.phase, outcome=Outcome.REFUSED)
    return {r.number: r.messages for r in rows.order_by("number")}


def _local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(year, month, day, hour, minute))


def test_a_utf8_file_is_mapped_checked_and_imported(
    alice: User, bob: User, customers: dict[str, Party]
) -> None:
    job = _job(alice, [HEADER, *GOOD])
    assert job.target == "interactions"
    assert job.mapping == {
        "0": "party_name",
        "1": "kind",
        "2": "subject",
        "3": "body",
        "4": "occurred_at",
        "5": "duration",
        "6": "staff",
    }
    checked = services.import_dry_run(actor=alice, job=job)
    assert checked.status == ImportStatus.CHECKED and checked.counts == {"created": 2}
    assert Interaction.objects.count() == 0  # a dry run writes nothing
    touched = {k: p.owner_touched_at for k, p in customers.items()}
    done = run(alice, job)
    assert done.status == ImportStatus.DONE and done.counts == {"created": 2}
    call = Interaction.objects.get(subject="报价沟通")
    assert (call.kind, call.body, call.duration_minutes) == ("call", "客户要求下周报价", 30)
    assert call.occurred_at == _local(2024, 3, 5, 14, 30) and call.created_by == alice
    visit = Interaction.objects.get(subject="上门演示")
    assert (visit.kind, visit.duration_minutes, visit.created_by) == ("visit", 90, bob)
    assert visit.occurred_at == _local(2024, 3, 6)
    link = InteractionParty.objects.get(interaction=call)
    assert (link.party, link.occurred_at) == (customers["tengfei"], call.occurred_at)
    # In each party's history, as interaction_log writes it; the owner's touch restarts
    # the pool clock of the party alice owns and logged for (bob's visit does not).
    entry = AuditEntry.objects.get(object_type="activities.interaction", object_id=call.pk)
    assert (entry.root_type, entry.root_id, entry.actor) == ("parties.party", link.party_id, alice)
    assert entry.changes["subject"] == [None, "报价沟通"]
    customers["tengfei"].refresh_from_db()
    customers["yunfan"].refresh_from_db()
    assert customers["tengfei"].owner_touched_at > touched["tengfei"]
    assert customers["yunfan"].owner_touched_at == touched["yunfan"]
    rows = ImportRow.objects.filter(job=job, phase="run").order_by("number")
    assert [(r.number, r.party_id) for r in rows] == [
        (2, customers["tengfei"].pk),
        (3, customers["yunfan"].pk),
    ]


def test_a_gbk_file_with_english_headers_and_customer_ids(
    alice: User, customers: dict[str, Party]
) -> None:
    rows = [
        ["Customer ID", "Type", "Subject", "Date", "Minutes", "Staff"],
        ["C001", "Meeting", "季度回顾", "2024-04-01 09:00", "45", "Alice"],
        ["C001", "微信", "发送资料", "20240402", "", "alice"],
    ]
    job = _job(alice, rows, "gbk")
    assert job.encoding == "gb18030"
    assert job.mapping == {
        "0": "party_key",
        "1": "kind",
        "2": "subject",
        "3": "occurred_at",
        "4": "duration",
        "5": "staff",
    }
    assert run(alice, job).counts == {"created": 2}
    kinds = Interaction.objects.filter(links__party=customers["tengfei"]).values_list(
        "kind", flat=True
    )
    assert sorted(kinds) == ["meeting", "wechat"]


BAD = [
    HEADER,
    ["不存在的公司", "电话", "问候", "", "2024-03-05", "", ""],
    ["深圳腾飞科技有限公司", "传真", "问候", "", "2024-03-05", "", ""],
    ["深圳腾飞科技有限公司", "电话", "问候", "", "2024-02-30", "", ""],
    ["深圳腾飞科技有限公司", "电话", "问候", "", "2024-03-05", "半小时", ""],
    ["深圳腾飞科技有限公司", "电话", "问候", "", "2024-03-05", "", "张三"],
    ["深圳腾飞科技有限公司", "电话", "", "", "2024-03-05", "", ""],
    ["深圳腾飞科技有限公司", "电话", "问候", "", "", "", ""],
    ["王芳", "电话", "问候", "", "2024-03-05", "", ""],
    ["外星公司", "电话", "问候", "", "2024-03-05", "", ""],
    ["深圳腾飞科技有限公司", "电话", "回访", "", "2099-01-01", "", ""],
]


def test_bad_rows_are_refused_with_the_row_the_column_and_why(
    alice: User, customers: dict[str, Party], other: Tenant, charlie: User
) -> None:
    parties.party_create(actor=alice, kind="person", name="王芳")
    parties.party_create(actor=alice, kind="person", name="王芳", gender="female")
    with tenant_scope(other.pk):
        parties.party_create(actor=charlie, kind="organisation", name="外星公司")
    job = services.import_dry_run(actor=alice, job=_job(alice, BAD))
    assert job.counts == {"refused": 10}
    assert _messages(job) == {
        2: ["第 2 行，「客户名称」列：没有名为「不存在的公司」的客户。"],
        3: ["第 3 行，「类型」列：类型应为电话、拜访、会议、邮件、微信、备注之一：传真"],
        4: ["第 4 行，「时间」列：不是有效的时间：2024-02-30"],
        5: ["第 5 行，「时长（分钟）」列：不是有效的时长（分钟）：半小时"],
        6: ["第 6 行，「记录人」列：找不到这位在职员工：张三"],
        7: ["第 7 行：主题和内容都为空。"],
        8: ["第 8 行，「时间」列：时间为空。"],
        9: ["第 9 行，「客户名称」列：有 2 个客户名为「王芳」，请改用客户编号区分。"],
        10: ["第 10 行，「客户名称」列：没有名为「外星公司」的客户。"],
        11: ["第 11 行，「时间」列：互动时间不能晚于明天。"],
    }
    with translation.override("en"):
        job = services.import_dry_run(actor=alice, job=_job(alice, BAD[:3]))
    assert _messages(job) == {
        2: ["Row 2, column “客户名称”: No customer is named “不存在的公司”."],
        3: [
            "Row 3, column “类型”: The type should be one of "
            "Phone, Visit, Meeting, Email, WeChat, Note: 传真"
        ],
    }


def test_a_customer_the_importer_may_not_see_is_not_found(
    bob: User, customers: dict[str, Party]
) -> None:
    rows = [HEADER, GOOD[0], ["广州小白商行", "电话", "问候", "", "2024-03-05", "", ""]]
    job = services.import_dry_run(actor=bob, job=_job(bob, rows))
    assert job.counts == {"refused": 1, "created": 1}
    assert _messages(job) == {
        2: ["第 2 行，「客户名称」列：没有名为「深圳腾飞科技有限公司」的客户。"]
    }


def test_re_importing_creates_nothing_new_and_a_changed_row_updates(
    alice: User, customers: dict[str, Party]
) -> None:
    run(alice, _job(alice, [HEADER, *GOOD]))
    again = run(alice, _job(alice, [HEADER, *GOOD]))
    assert again.counts == {"unchanged": 2}
    changed = [[*GOOD[0][:3], "客户改为下月报价", *GOOD[0][4:]], GOOD[1]]
    assert run(alice, _job(alice, [HEADER, *changed])).counts == {"updated": 1, "unchanged": 1}
    assert Interaction.objects.count() == 2 and InteractionParty.objects.count() == 2
    call = Interaction.objects.get(subject="报价沟通")
    assert call.body == "客户改为下月报价"
    update = AuditEntry.objects.get(object_id=call.pk, action="update")
    assert update.changes == {"body": ["客户要求下周报价", "客户改为下月报价"]}


def test_an_external_id_is_the_interaction_even_when_its_time_changes(
    alice: User, customers: dict[str, Party]
) -> None:
    header = ["外部编号", *HEADER]
    first = [["A-1", *GOOD[0]], ["A-1", *GOOD[0]]]
    job = run(alice, _job(alice, [header, *first], name="crm.csv"))
    assert job.counts == {"created": 1, "duplicate": 1}
    moved = [["A-1", *GOOD[0][:4], "2024-03-05 16:00", *GOOD[0][5:]]]
    assert run(alice, _job(alice, [header, *moved], name="crm.csv")).counts == {"updated": 1}
    key = InteractionKey.objects.get()
    assert (key.source, key.external_id) == ("crm.csv", "A-1")
    assert key.interaction.occurred_at == _local(2024, 3, 5, 16)
    link = InteractionParty.objects.get()
    assert link.occurred_at == _local(2024, 3, 5, 16)  # the timeline's copy moved too


def test_the_mapping_needs_a_customer_column(alice: User, customers: dict[str, Party]) -> None:
    job = _job(alice, [HEADER, *GOOD])
    with pytest.raises(ValidationError) as caught:
        services.import_set_mapping(actor=alice, job=job, mapping={"2": "subject"}, options={})
    expected = ["请至少指定「客户名称」或「客户编号」所在的列。"]
    assert caught.value.message_dict == {"mapping": expected}


def test_an_excel_date_time_cell_keeps_its_time(
    alice: User, customers: dict[str, Party], tmp_path: Path
) -> None:
    path = tmp_path / "互动.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["客户名称", "主题", "跟进时间", "时长"])
    sheet.write_row(1, 0, ["杭州云帆贸易有限公司", "电话回访"])
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    sheet.write_datetime(1, 2, datetime.datetime(2024, 5, 6, 15, 45), stamp)
    sheet.write_number(1, 3, 20)
    book.close()
    file = upload("互动.xlsx", path.read_bytes())
    job = services.import_upload(actor=alice, file=file, target="interactions")
    assert run(alice, job).counts == {"created": 1}
    logged = Interaction.objects.get()
    assert (logged.kind, logged.duration_minutes) == ("note", 20)  # no 类型: a note
    assert logged.occurred_at == _local(2024, 5, 6, 15, 45)
