"""List exports: formula-safe cells, every list under its page's filters and visibility,
streamed CSV and XLSX read back, the audit record, the limits, and who may export (pages
and the API)."""

import csv
import datetime
import io
import zipfile
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree

import pytest
from django.http import StreamingHttpResponse
from django.test import Client, override_settings
from python_calamine import CalamineWorkbook

from conftest import login
from kehu.activities import services as activities
from kehu.core.context import tenant_scope
from kehu.core.models import AuditEntry
from kehu.dataio import export_services
from kehu.dataio.export_writers import Cell, csv_chunks, text_cell, xlsx_chunks
from kehu.dataio.exports import EXPORTS
from kehu.dataio.models import Export
from kehu.parties import services as parties
from kehu.sales import services as sales
from kehu.tenancy.models import Tenant, User

DANGEROUS = ["=1+1", "+86 138", "-2+3", "@SUM(A1)", "\tx", "\rx", "\0x"]


# --- cells -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", DANGEROUS)
def test_text_that_a_spreadsheet_would_run_gets_a_quote(value: str) -> None:
    assert text_cell(value) == "'" + value


def test_numbers_dates_and_empty_cells_stay_what_they_are() -> None:
    assert text_cell(-12) == "-12"
    assert text_cell(Decimal("-3.50")) == "-3.50"
    assert text_cell(None) == ""
    assert text_cell(datetime.date(2030, 1, 2)) == "2030-01-02"
    moment = datetime.datetime(2030, 1, 2, 1, 30, tzinfo=datetime.UTC)
    assert text_cell(moment) == "2030-01-02 09:30:00"  # Asia/Shanghai
    assert text_cell(True) == "是"
    assert text_cell("张三") == "张三"


def test_csv_has_a_bom_and_safe_cells() -> None:
    data = b"".join(csv_chunks(["名称", "=金额"], [[v, -5] for v in DANGEROUS]))
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["名称", "'=金额"]
    assert [r[0] for r in rows[1:]] == ["'" + v for v in DANGEROUS]
    assert {r[1] for r in rows[1:]} == {"-5"}


def _xlsx(data: bytes) -> list[list[Any]]:
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return [row for name in book.sheet_names for row in book.get_sheet_by_name(name).to_python()]


def test_xlsx_keeps_numbers_as_numbers_and_formulas_as_text() -> None:
    day = datetime.date(2030, 1, 2)
    rows: list[list[Cell]] = [['=HYPERLINK("x")', Decimal("-12.5"), -3, day, None, False]]
    data = b"".join(xlsx_chunks(["名称", "金额", "数量", "日期", "空", "直接"], rows, title="t"))
    [header, row] = _xlsx(data)
    assert header == ["名称", "金额", "数量", "日期", "空", "直接"]
    assert row[0] == '\'=HYPERLINK("x")'
    assert row[1] == -12.5 and isinstance(row[1], float)
    assert row[2] == -3
    assert row[3] in (day, datetime.datetime(2030, 1, 2))
    assert row[4] == ""
    assert row[5] == "否"


def test_xlsx_goes_on_to_a_new_sheet_when_one_is_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kehu.dataio.export_writers.XLSX_SHEET_ROWS", 3)
    data = b"".join(xlsx_chunks(["n"], [[i] for i in range(5)], title="列表"))
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    assert book.sheet_names == ["列表", "列表 2", "列表 3"]
    assert _xlsx(data) == [["n"], [0], [1], ["n"], [2], [3], ["n"], [4]]


def test_xlsx_is_streamed_well_formed_and_holds_any_text() -> None:
    """The first chunk leaves before the rows are all read; every part is well-formed XML;
    CJK text, characters XML cannot hold and formulas come back as safe text."""
    read = 0

    def rows() -> Any:
        nonlocal read
        for i in range(20_000):
            read += 1
            yield [i, f"客户{i} <&> \x01\x0b控制\ufffe", "=1+1" if i % 2 else "  空格 ", None]

    chunks = xlsx_chunks(["编号", "名称<>", "=式", "空"], rows(), title="客户/档案:[1]")
    first = next(chunks)
    assert first.startswith(b"PK") and read < 20_000
    data = first + b"".join(chunks)
    assert read == 20_000
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        for name in archive.namelist():
            ElementTree.fromstring(archive.read(name))  # noqa: S314 (our own file: raises if not well-formed)
        assert "[Content_Types].xml" in archive.namelist()
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    assert book.sheet_names == ["客户 档案  1"]
    [header, *body] = book.get_sheet_by_name("客户 档案  1").to_python()
    assert header == ["编号", "名称<>", "'=式", "空"]
    assert len(body) == 20_000
    assert body[0] == [0, "客户0 <&> 控制", "  空格 ", ""]
    assert body[1][2] == "'=1+1"


def test_xlsx_dates_and_times_are_date_cells_in_the_firms_time_zone() -> None:
    moment = datetime.datetime(2030, 1, 2, 1, 30, tzinfo=datetime.UTC)
    day = datetime.date(2030, 1, 2)
    data = b"".join(xlsx_chunks(["时间", "日期", "是否"], [[moment, day, True]], title="t"))
    [_header, row] = _xlsx(data)
    assert row[0] == datetime.datetime(2030, 1, 2, 9, 30)  # Asia/Shanghai
    assert row[1] in (day, datetime.datetime(2030, 1, 2))
    assert row[2] == "是"


def test_an_xlsx_of_no_rows_has_the_header() -> None:
    assert _xlsx(b"".join(xlsx_chunks(["名称"], [], title="t"))) == [["名称"]]


# --- lists -------------------------------------------------------------------------------


def _download(client: Client, path: str, **query: str) -> Any:
    response = client.get(path, query)
    assert isinstance(response, StreamingHttpResponse), response
    return response, b"".join(response.streaming_content)


def _csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


@pytest.fixture
def firm(acme: Tenant, alice: User, bob: User) -> dict[str, Any]:
    with tenant_scope(acme.pk):
        mine = parties.party_create(
            actor=alice, kind="organisation", name="=甲公司", province="广东省"
        )
        bobs = parties.party_create(
            actor=bob, kind="organisation", name="鲍的客户", province="北京市", owner=bob
        )
        parties.tag_add(actor=alice, party=mine, name="VIP")
        parties.party_role_add(actor=alice, party=mine, role="distributor")
        activities.interaction_log(actor=alice, parties=[mine], kind="visit", subject="拜访")
        activities.interaction_log(actor=bob, parties=[bobs], kind="call", subject="电话")
        chair = sales.product_create(actor=alice, code="CH-1", name="椅子", unit_price=Decimal(100))
        order = sales.order_create(
            actor=alice, party=mine, lines=[sales.LineIn(chair, Decimal(2))], status="confirmed"
        )
        sales.return_create(actor=alice, original=order, lines=[(chair, Decimal(1))])
    return {"mine": mine, "bobs": bobs}


def test_party_export_honours_the_filters_and_says_so_in_the_audit(
    firm: dict[str, Any], acme: Tenant, alice: User
) -> None:
    response, data = _download(login(alice), "/exports/parties.csv", province="广东省", page="3")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    header, *rows = _csv_rows(data)
    assert header[:3] == ["编号", "类型", "名称"]
    assert [r[2] for r in rows] == ["'=甲公司"]
    row = dict(zip(header, rows[0], strict=True))
    assert row["角色"] == "经销商" and row["标签"] == "VIP" and row["省"] == "广东省"
    with tenant_scope(acme.pk):
        record = Export.objects.get()
        assert (record.list_name, record.file_format, record.row_count) == ("parties", "csv", 1)
        assert record.filters["province"] == "广东省" and record.finished_at is not None
        entries = AuditEntry.objects.filter(object_type="dataio.export").order_by("id")
        assert [e.action for e in entries] == ["create", "update"]
        assert entries[0].changes["filters"]["province"] == "广东省"
        assert entries[1].changes["row_count"] == [None, 1]


def test_joined_columns_stay_with_their_rows_across_pages(
    acme: Tenant, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of two rows; between the listed parties, ones the filter leaves out with
    roles and tags of their own (inside a page's id range): each row keeps its own."""
    monkeypatch.setattr("kehu.dataio.exports.PAGE_ROWS", 2)
    with tenant_scope(acme.pk):
        for n in range(7):
            province = "广东省" if n % 2 == 0 else "北京市"
            party = parties.party_create(
                actor=alice, kind="organisation", name=f"公司{n}", province=province
            )
            parties.tag_add(actor=alice, party=party, name=f"标签{n}")
            if n % 3:
                parties.party_role_add(actor=alice, party=party, role="distributor")
    _response, data = _download(login(alice), "/exports/parties.csv", province="广东省")
    header, *rows = _csv_rows(data)
    found = [
        (r[header.index("名称")], r[header.index("标签")], r[header.index("角色")]) for r in rows
    ]
    assert found == [
        ("公司6", "标签6", ""),
        ("公司4", "标签4", "经销商"),
        ("公司2", "标签2", "经销商"),
        ("公司0", "标签0", ""),
    ]


def test_a_salesperson_exports_only_their_own_customers(firm: dict[str, Any], bob: User) -> None:
    _response, data = _download(login(bob), "/exports/parties.xlsx")
    [header, *rows] = _xlsx(data)
    assert [r[header.index("名称")] for r in rows] == ["鲍的客户"]
    _response, data = _download(login(bob), "/exports/interactions.csv")
    assert [r[3] for r in _csv_rows(data)[1:]] == ["电话"]


def test_an_outsider_exports_their_own_firm_only(firm: dict[str, Any], charlie: User) -> None:
    for slug in EXPORTS:
        _response, data = _download(login(charlie), f"/exports/{slug}.csv")
        assert len(_csv_rows(data)) == 1, slug  # the header only


def test_every_list_exports_in_both_formats(firm: dict[str, Any], alice: User) -> None:
    client = login(alice)
    for slug, definition in EXPORTS.items():
        _response, data = _download(client, f"/exports/{slug}.csv")
        assert _csv_rows(data)[0] == definition.headers()
        _response, data = _download(client, f"/exports/{slug}.xlsx")
        assert _xlsx(data)[0] == definition.headers()


def test_order_export_keeps_a_return_negative_and_numeric(
    firm: dict[str, Any], alice: User
) -> None:
    _response, data = _download(login(alice), "/exports/orders.xlsx")
    header, *rows = _xlsx(data)
    revenue = sorted(r[header.index("收入")] for r in rows)
    assert revenue == [-100.0, 200.0]
    _response, data = _download(login(alice), "/exports/orders.csv", kind="return")
    header, *rows = _csv_rows(data)
    assert [r[header.index("收入")] for r in rows] == ["-100.00"]


def test_a_read_only_colleague_may_not_export(
    firm: dict[str, Any], acme: Tenant, dora: User
) -> None:
    client = login(dora)
    assert client.get("/exports/parties.csv").status_code == 403
    assert client.get("/api/v1/exports/parties?format=csv").status_code == 403
    assert "导出 CSV" not in client.get("/customers/").content.decode()
    with tenant_scope(acme.pk):
        assert Export.objects.count() == 0


def test_an_unknown_list_or_format(firm: dict[str, Any], alice: User) -> None:
    client = login(alice)
    assert client.get("/exports/secrets.csv").status_code == 404
    response = client.get("/exports/parties.pdf")
    assert response.status_code == 302
    assert client.get("/api/v1/exports/secrets").status_code == 404
    assert client.get("/api/v1/exports/parties?format=pdf").status_code == 422


@override_settings(KEHU_EXPORT_MAX_ROWS=1)
def test_too_many_rows_is_refused_with_the_filters_kept(
    firm: dict[str, Any], acme: Tenant, alice: User
) -> None:
    client = login(alice)
    response = client.get("/exports/parties.csv", {"kind": "organisation"})
    assert response.status_code == 302
    assert response["Location"] == "/customers/?kind=organisation"
    page = client.get(response["Location"])
    assert "一次最多导出 1 行" in page.content.decode()
    api = client.get("/api/v1/exports/parties")
    assert api.status_code == 422 and "缩小筛选范围" in api.json()["detail"]
    with tenant_scope(acme.pk):
        assert Export.objects.count() == 0


@override_settings(KEHU_EXPORTS_PER_HOUR=1)
def test_too_many_exports_in_an_hour(firm: dict[str, Any], alice: User) -> None:
    client = login(alice)
    _download(client, "/api/v1/exports/parties")
    response = client.get("/api/v1/exports/parties")
    assert response.status_code == 429
    assert "一小时内最多导出 1 次" in response.json()["detail"]


def test_the_api_export_takes_the_list_filters(firm: dict[str, Any], alice: User) -> None:
    response, data = _download(login(alice), "/api/v1/exports/parties", province="北京市")
    assert [r[2] for r in _csv_rows(data)[1:]] == ["鲍的客户"]
    response, data = _download(login(alice), "/api/v1/exports/parties", format="xlsx")
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert len(_xlsx(data)) == 3


def test_list_pages_offer_the_export_with_their_filters(firm: dict[str, Any], alice: User) -> None:
    client = login(alice)
    page = client.get("/customers/", {"province": "广东省", "page": "1"}).content.decode()
    assert 'href="/exports/parties.csv?province=%E5%B9%BF%E4%B8%9C%E7%9C%81"' in page
    assert 'href="/exports/parties.xlsx?province=' in page
    for path, slug in [
        ("/pool/", "pool"),
        ("/interactions/", "interactions"),
        ("/tasks/", "tasks"),
        ("/orders/", "orders"),
        ("/products/", "products"),
        ("/leads/", "leads"),
        ("/opportunities/", "opportunities"),
        ("/imports/", "imports"),
    ]:
        assert f'href="/exports/{slug}.csv' in client.get(path).content.decode(), path


def test_a_download_broken_off_records_the_rows_sent(
    firm: dict[str, Any], acme: Tenant, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("kehu.dataio.export_writers.CHUNK", 1)  # a chunk per row
    with tenant_scope(acme.pk):
        file = export_services.export_start(
            actor=alice, definition=EXPORTS["parties"], file_format="csv", data={}
        )
    next(file.chunks)  # the header and the first row
    file.chunks.close()  # the client went away: the server closes the stream
    with tenant_scope(acme.pk):
        record = Export.objects.get()
        assert record.finished_at is None and record.row_count == 1
        assert AuditEntry.objects.filter(object_type="dataio.export").latest("id").changes == {
            "row_count": [None, 1],
            "finished": [False, False],
        }
