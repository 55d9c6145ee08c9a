"""Importing orders: one row per line, the rows of one 订单号 one order (never split by a
batch), checked and written by the sales app's bulk import, upserted by 订单号, the
party's first sale making it current, returns against their original order."""

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import TestCase
from django.utils import translation

from kehu.core.context import tenant_scope
from kehu.core.models import AuditEntry
from kehu.dataio import services
from kehu.dataio.models import Import, ImportRow, ImportStatus, Outcome
from kehu.dataio.targets.orders import OrderTarget
from kehu.dataio.tests.conftest import csv_bytes, run, upload
from kehu.parties import services as parties
from kehu.parties.models import Party, RelationshipState
from kehu.sales import services as sales
from kehu.sales.models import Order, OrderKind, OrderLine, Product
from kehu.tenancy.models import Tenant, User

pytestmark = pytest.mark.usefixtures("in_acme")

HEADER = ["订单号", "客户名称", "日期", "产品", "数量", "单价", "折扣", "币种", "状态"]
ORDER = [
    ["SO-1", "深圳腾飞科技有限公司", "2024年3月5日", "P-100", "2", "", "", "", "已确认"],
    ["SO-1", "", "", "书桌", "1", "280", "10", "", ""],
]


@pytest.fixture
def world(alice: User) -> dict[str, object]:
    tengfei = parties.party_create(actor=alice, kind="organisation", name="深圳腾飞科技有限公司")
    yunfan = parties.party_create(actor=alice, kind="organisation", name="杭州云帆贸易有限公司")
    chair = sales.product_create(
        actor=alice, code="P-100", name="办公椅", unit_price=Decimal(100), unit_cost=Decimal(60)
    )
    desk = sales.product_create(actor=alice, code="P-200", name="书桌", unit_price=Decimal(300))
    return {"tengfei": tengfei, "yunfan": yunfan, "chair": chair, "desk": desk}


def _job(user: User, rows: list[list[str]], encoding: str = "utf-8") -> Import:
    content = csv_bytes(rows, encoding)
    return services.import_upload(actor=user, file=upload("订单.csv", content), target="orders")


def _messages(job: Import) -> dict[int, list[str]]:
    rows = ImportRow.objects.filter(job=job, phase=job.phase, outcome=Outcome.REFUSED)
    return {r.number: r.messages for r in rows.order_by("number")}


def test_an_order_of_two_rows_is_one_order_and_makes_its_party_current(
    alice: User, world: dict[str, object]
) -> None:
    job = _job(alice, [HEADER, *ORDER])
    assert job.mapping == {
        "0": "number",
        "1": "party_name",
        "2": "order_date",
        "3": "product",
        "4": "quantity",
        "5": "unit_price",
        "6": "line_discount",
        "7": "currency",
        "8": "status",
    }
    checked = services.import_dry_run(actor=alice, job=job)
    assert checked.counts == {"created": 2} and Order.objects.count() == 0
    done = run(alice, job)
    assert done.status == ImportStatus.DONE and done.counts == {"created": 2}
    order = Order.objects.get()
    assert (order.number, order.external_id, order.kind, order.status) == (
        "SO-1",
        "SO-1",
        "order",
        "confirmed",
    )
    assert (order.order_date, order.currency) == (datetime.date(2024, 3, 5), "CNY")
    lines = OrderLine.objects.filter(order=order).order_by("position")
    # 2 × 100 (the catalogue's price) and 1 × 280 − 10: revenue 470, cost 2 × 60.
    assert [(str(ln.product), ln.quantity, ln.amount) for ln in lines] == [
        (str(world["chair"]), Decimal(2), Decimal("200.00")),
        (str(world["desk"]), Decimal(1), Decimal("270.00")),
    ]
    assert (order.revenue, order.cost, order.profit) == (
        Decimal("470.00"),
        Decimal("120.00"),
        Decimal("350.00"),
    )
    tengfei = world["tengfei"]
    assert isinstance(tengfei, Party)
    tengfei.refresh_from_db()
    assert tengfei.relationship_state == RelationshipState.CURRENT
    assert AuditEntry.objects.filter(object_type="sales.order", object_id=order.pk).count() == 2
    rows = ImportRow.objects.filter(job=job, phase="run")
    assert {r.party_id for r in rows} == {tengfei.pk}


def test_a_gbk_file_with_english_headers(alice: User, world: dict[str, object]) -> None:
    rows = [
        ["Order No", "Customer", "Order Date", "Product Code", "Qty", "Currency", "Type"],
        ["A-9", "杭州云帆贸易有限公司", "2024/4/1", "办公椅", "3", "人民币", "订单"],
    ]
    job = _job(alice, rows, "gbk")
    assert job.encoding == "gb18030"
    assert set(job.mapping.values()) == {
        "number",
        "party_name",
        "order_date",
        "product",
        "quantity",
        "currency",
        "kind",
    }
    assert run(alice, job).counts == {"created": 1}
    assert Order.objects.get().revenue == Decimal("300.00")


def test_re_importing_the_file_creates_nothing_new_and_a_change_updates(
    alice: User, world: dict[str, object]
) -> None:
    run(alice, _job(alice, [HEADER, *ORDER]))
    assert run(alice, _job(alice, [HEADER, *ORDER])).counts == {"unchanged": 2}
    more = [ORDER[0], [*ORDER[1][:4], "2", *ORDER[1][5:]]]
    assert run(alice, _job(alice, [HEADER, *more])).counts == {"updated": 2}
    order = Order.objects.get()
    assert order.revenue == Decimal("750.00")  # 200 + 2 × 280 − 10
    assert OrderLine.objects.count() == 2


BAD = [
    HEADER,
    ["SO-2", "杭州云帆贸易有限公司", "2024-03-06", "P-100", "-1", "", "", "", ""],
    ["SO-3", "杭州云帆贸易有限公司", "2024-03-06", "P-999", "1", "", "", "", ""],
    ["SO-4", "杭州云帆贸易有限公司", "2024-03-06", "P-100", "1", "", "", "比特币", ""],
    ["SO-5", "外星公司", "2024-03-06", "P-100", "1", "", "", "", ""],
    ["SO-6", "杭州云帆贸易有限公司", "2024-03-06", "P-100", "1", "", "", "", ""],
    ["SO-6", "深圳腾飞科技有限公司", "", "P-200", "1", "", "", "", ""],
    ["", "杭州云帆贸易有限公司", "2024-03-06", "P-100", "1", "", "", "", ""],
    ["SO-7", "杭州云帆贸易有限公司", "2024-03-06", "P-100", "1", "", "", "", "已发货"],
    ["SO-8", "杭州云帆贸易有限公司", "2024-03-06", "P-100", "1", "", "", "", "在路上"],
]


def test_bad_rows_are_refused_with_the_row_the_column_and_why(
    alice: User, world: dict[str, object], other: Tenant, charlie: User
) -> None:
    with tenant_scope(other.pk):
        parties.party_create(actor=charlie, kind="organisation", name="外星公司")
    job = services.import_dry_run(actor=alice, job=_job(alice, BAD))
    assert job.counts == {"refused": 8, "created": 1}
    assert _messages(job) == {
        2: ["第 2 行，「数量」列：数量必须大于 0。"],
        3: ["第 3 行，「产品」列：没有编码或名称为「P-999」的产品。"],
        4: ["第 4 行，「币种」列：不支持的币种：比特币。"],
        5: ["第 5 行，「客户名称」列：没有名为「外星公司」的客户。"],
        6: ["第 6 行：订单 SO-6 的第 7 行有错误，整单未导入。"],
        7: ["第 7 行，「客户名称」列：与本订单第 6 行不同：深圳腾飞科技有限公司"],
        8: ["第 8 行，「订单号」列：订单号为空。"],
        10: ["第 10 行，「状态」列：状态应为草稿、已确认、已完成、已取消之一：在路上"],
    }
    with translation.override("en"):
        job = services.import_dry_run(actor=alice, job=_job(alice, BAD[:2]))
    assert _messages(job) == {2: ["Row 2, column “数量”: The quantity must be greater than 0."]}


def test_a_batch_never_splits_an_order(
    alice: User, world: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "BATCH_ROWS", 2)
    third = ["SO-1", "", "", "P-100", "1", "", "", "", ""]
    later = ["SO-2", "杭州云帆贸易有限公司", "2024-03-07", "P-200", "1", "", "", "", ""]
    job = run(alice, _job(alice, [HEADER, *ORDER, third, later]))
    assert job.counts == {"created": 4}
    order = Order.objects.get(number="SO-1")
    assert OrderLine.objects.filter(order=order).count() == 3
    assert Order.objects.count() == 2


def test_the_rows_of_an_order_must_be_together(alice: User, world: dict[str, object]) -> None:
    later = ["SO-2", "杭州云帆贸易有限公司", "2024-03-07", "P-200", "1", "", "", "", ""]
    job = services.import_dry_run(actor=alice, job=_job(alice, [HEADER, ORDER[0], later, ORDER[1]]))
    assert _messages(job) == {
        4: ["第 4 行，「订单号」列：同一订单的行应当相邻：订单号「SO-1」已出现在第 2 行。"]
    }


def test_an_order_typed_in_by_hand_with_the_same_number_is_not_overwritten(
    alice: User, world: dict[str, object]
) -> None:
    chair, tengfei = world["chair"], world["tengfei"]
    assert isinstance(chair, Product) and isinstance(tengfei, Party)
    sales.order_create(
        actor=alice, party=tengfei, lines=[sales.LineIn(chair, Decimal(1))], number="SO-1"
    )
    job = services.import_dry_run(actor=alice, job=_job(alice, [HEADER, *ORDER]))
    assert _messages(job)[2] == ["第 2 行，「订单号」列：已有订单使用这个订单号。"]


def test_a_return_names_its_original_order(alice: User, world: dict[str, object]) -> None:
    run(alice, _job(alice, [HEADER, *ORDER]))
    header = ["订单号", "客户名称", "日期", "产品", "数量", "类型", "原订单号"]
    back = ["RT-1", "深圳腾飞科技有限公司", "2024-03-10", "P-100", "1", "退货", "SO-1"]
    too_many = ["RT-2", "深圳腾飞科技有限公司", "2024-03-10", "P-100", "5", "退货", "SO-1"]
    checked = services.import_dry_run(actor=alice, job=_job(alice, [header, back, too_many]))
    assert checked.counts == {"created": 1, "refused": 1}
    assert _messages(checked) == {3: ["第 3 行，「数量」列：退货数量超过可退数量（2）。"]}
    assert Order.objects.filter(kind=OrderKind.RETURN).count() == 0  # rolled back
    assert run(alice, _job(alice, [header, back])).counts == {"created": 1}
    returned = Order.objects.get(kind=OrderKind.RETURN)
    assert (returned.number, returned.original, returned.revenue) == (
        "RT-1",
        Order.objects.get(number="SO-1"),
        Decimal("-100.00"),
    )
    assert run(alice, _job(alice, [header, back])).counts == {"unchanged": 1}
    assert Order.objects.filter(kind=OrderKind.RETURN).count() == 1
    # The order, now with a return, imported again as it is: unchanged; changed: refused.
    assert run(alice, _job(alice, [HEADER, *ORDER])).counts == {"unchanged": 2}
    changed = [ORDER[0], [*ORDER[1][:4], "3", *ORDER[1][5:]]]
    job = run(alice, _job(alice, [HEADER, *changed]))
    assert _messages(job)[2] == ["第 2 行：订单已有退货，不能通过导入修改。"]


def test_a_failed_batch_of_orders_is_rolled_back_whole_and_the_run_resumes(
    alice: User, world: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three-line orders in batches of 2 rows: each batch is one whole order (the batch
    grows to the order's end); the second fails after writing, and the resumed run
    starts at the second order, so each order has its three lines once."""
    monkeypatch.setattr(services, "BATCH_ROWS", 2)
    rows = [HEADER]
    for n in range(1, 4):
        first = [f"SO-{n}", "杭州云帆贸易有限公司", "2024-03-05", "P-100", "1", "", "", "", ""]
        rows += [first, *([f"SO-{n}", "", "", "P-200", "1", "", "", "", ""] for _ in range(2))]
    job = services.import_dry_run(actor=alice, job=_job(alice, rows))
    assert job.total_rows == 9
    original = OrderTarget.process
    calls = {"n": 0}

    def process(self: OrderTarget, batch: Any, *, write: bool) -> Any:
        calls["n"] += 1
        results = original(self, batch, write=write)
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return results

    monkeypatch.setattr(OrderTarget, "process", process)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.import_start(actor=alice, job=job)
    job.refresh_from_db()
    assert (job.status, job.rows_done) == (ImportStatus.FAILED, 3)
    assert list(Order.objects.values_list("number", flat=True)) == ["SO-1"]
    monkeypatch.setattr(OrderTarget, "process", original)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.import_resume(actor=alice, job=job)
    job.refresh_from_db()
    assert (job.status, job.counts) == (ImportStatus.DONE, {"created": 9})
    lines = {o.number: o.lines.count() for o in Order.objects.all()}
    assert lines == {"SO-1": 3, "SO-2": 3, "SO-3": 3}


def test_a_dry_run_checks_a_return_of_an_order_the_same_file_creates(
    alice: User, world: dict[str, object]
) -> None:
    header = ["订单号", "客户名称", "日期", "产品", "数量", "类型", "原订单号"]
    sale = ["SO-9", "杭州云帆贸易有限公司", "2024-03-01", "P-100", "3", "", ""]
    back = ["RT-9", "杭州云帆贸易有限公司", "2024-03-02", "P-100", "1", "退货", "SO-9"]
    too_many = ["RT-10", "杭州云帆贸易有限公司", "2024-03-02", "P-100", "4", "退货", "SO-9"]
    job = services.import_dry_run(actor=alice, job=_job(alice, [header, sale, back, too_many]))
    assert job.counts == {"created": 2, "refused": 1}
    assert _messages(job) == {4: ["第 4 行，「数量」列：退货数量超过可退数量（3）。"]}
    assert not Order.objects.exists()  # the dry run's writes were rolled back
    job = run(alice, _job(alice, [header, sale, back]))
    assert job.counts == {"created": 2}
    assert Order.objects.get(number="RT-9").original == Order.objects.get(number="SO-9")
