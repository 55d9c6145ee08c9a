"""Choosing what a file imports (客户 / 互动记录 / 订单) on the page and through the API:
the mapping offered, the background dry run and run with their progress, the error
file, and who may do any of it."""

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase
from django.urls import reverse

from conftest import login, page_text
from kehu.activities.models import Interaction
from kehu.core.context import tenant_scope
from kehu.core.tests.test_api_problems import api_client, assert_problem
from kehu.dataio import services
from kehu.dataio.models import Import, ImportStatus
from kehu.dataio.tests.conftest import csv_bytes, upload
from kehu.parties import services as parties
from kehu.sales import services as sales
from kehu.sales.models import Order
from kehu.tenancy.models import Tenant, User

ORDERS = [
    ["订单号", "客户", "日期", "产品", "数量"],
    ["SO-1", "深圳腾飞科技有限公司", "2024-03-05", "P-100", "2"],
    ["SO-1", "", "", "P-100", "-3"],
    ["SO-2", "深圳腾飞科技有限公司", "2024-03-06", "P-100", "1"],
]
INTERACTIONS = [
    ["客户名称", "类型", "主题", "时间"],
    ["深圳腾飞科技有限公司", "拜访", "上门演示", "2024-03-05 10:00"],
]


@pytest.fixture
def catalogue(alice: User, acme: Tenant) -> None:
    with tenant_scope(acme.pk):
        parties.party_create(actor=alice, kind="organisation", name="深圳腾飞科技有限公司")
        sales.product_create(actor=alice, code="P-100", name="办公椅", unit_price=Decimal(100))


def _file(rows: list[list[str]], name: str = "订单.csv", encoding: str = "gbk") -> Any:
    return upload(name, csv_bytes(rows, encoding))


def _job(alice: User, rows: list[list[str]], target: str) -> Import:
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        return services.import_upload(actor=alice, file=_file(rows), target=target)


def test_the_upload_form_offers_the_three_targets(alice: User) -> None:
    page = login(alice).get(reverse("dataio:list")).content.decode()
    for value in ("parties", "interactions", "orders"):
        assert f'name="target" value="{value}"' in page
    assert "互动记录" in page_text(login(alice).get(reverse("dataio:list")))


def test_orders_through_the_pages_in_the_background(
    alice: User, catalogue: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "SYNC_DRY_RUN_BYTES", 0)  # the dry run is a task too
    client = login(alice)
    response = client.post(reverse("dataio:list"), {"file": _file(ORDERS), "target": "orders"})
    job = Import.all_tenants.get()
    assert response.status_code == 302 and job.target == "orders"
    page = client.get(reverse("dataio:detail", args=[job.pk])).content.decode()
    assert 'value="number" selected' in page and 'value="product" selected' in page
    assert 'name="duplicates"' not in page and 'name="source"' in page  # parties' options go
    form = {f"col_{i}": key for i, key in job.mapping.items()} | {"source": ""}
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            reverse("dataio:detail", args=[job.pk]), form | {"action": "dry_run"}
        )
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportStatus.CHECKED and job.counts == {"refused": 2, "created": 1}
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(reverse("dataio:start", args=[job.pk]))
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.percent) == (ImportStatus.DONE, 3, 100)
    assert list(Order.all_tenants.values_list("number", flat=True)) == ["SO-2"]
    progress = client.get(reverse("dataio:progress", args=[job.pk]))
    assert progress["HX-Refresh"] == "true" and "3 / 3" in page_text(progress)
    done = page_text(client.get(reverse("dataio:detail", args=[job.pk])))
    assert "去订单列表查看" in done and "导入订单" in done
    errors = client.get(reverse("dataio:errors", args=[job.pk]))
    lines = list(csv.reader(io.StringIO(b"".join(errors.streaming_content).decode("utf-8-sig"))))  # type: ignore[attr-defined]
    assert lines == [
        [*ORDERS[0], "错误"],
        [*ORDERS[1], "第 2 行：订单 SO-1 的第 3 行有错误，整单未导入。"],
        ["SO-1", "", "", "P-100", "'-3", "第 3 行，「数量」列：数量必须大于 0。"],
    ]


def test_interactions_through_the_api(alice: User, catalogue: None) -> None:
    client = api_client(alice)
    created = client.post(
        "/api/v1/imports",
        {"file": SimpleUploadedFile("互动.csv", csv_bytes(INTERACTIONS)), "target": "interactions"},
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["target"] == "interactions" and body["options"] == {}
    assert body["mapping"] == {"0": "party_name", "1": "kind", "2": "subject", "3": "occurred_at"}
    assert {"key": "party_key", "label": "客户编号", "many": False} in body["fields"]
    path = f"/api/v1/imports/{body['id']}"
    assert client.post(f"{path}/dry-run").json()["counts"] == {"created": 1}
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert client.post(f"{path}/run").status_code == 202
    assert client.get(path).json()["status"] == "done"
    assert Interaction.all_tenants.get().subject == "上门演示"


def test_an_unknown_target_is_refused_by_the_api(alice: User) -> None:
    response = api_client(alice).post(
        "/api/v1/imports", {"file": SimpleUploadedFile("a.csv", b"a\n1\n"), "target": "tasks"}
    )
    assert_problem(response, 422)
    assert not Import.all_tenants.exists()


@pytest.mark.parametrize("target", ["interactions", "orders"])
@pytest.mark.parametrize("persona", ["bob", "dora", "charlie"])
def test_others_cannot_see_or_run_an_import_of_either_target(
    target: str, persona: str, alice: User, catalogue: None, request: pytest.FixtureRequest
) -> None:
    job = _job(alice, INTERACTIONS if target == "interactions" else ORDERS, target)
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        services.import_dry_run(actor=alice, job=job)
    user = request.getfixturevalue(persona)
    client = login(user)
    for name in ("detail", "progress", "errors"):
        assert client.get(reverse(f"dataio:{name}", args=[job.pk])).status_code == 404
    assert client.post(reverse("dataio:start", args=[job.pk])).status_code == 404
    api = api_client(user)
    assert_problem(api.get(f"/api/v1/imports/{job.pk}"), 404)
    assert_problem(api.post(f"/api/v1/imports/{job.pk}/run"), 404)
    job.refresh_from_db()
    assert job.status == ImportStatus.CHECKED
    assert not Interaction.all_tenants.exists() and not Order.all_tenants.exists()


@pytest.mark.parametrize("target", ["interactions", "orders"])
def test_a_read_only_colleague_may_not_upload_either_target(dora: User, target: str) -> None:
    response = login(dora).post(reverse("dataio:list"), {"file": _file(ORDERS), "target": target})
    assert response.status_code == 403
    api = api_client(dora)
    file = SimpleUploadedFile("订单.csv", csv_bytes(ORDERS))
    assert_problem(api.post("/api/v1/imports", {"file": file, "target": target}), 403)
    assert not Import.all_tenants.exists()


def test_pages_need_sign_in(alice: User) -> None:
    job = _job(alice, ORDERS, "orders")
    response = Client().get(reverse("dataio:detail", args=[job.pk]))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_list_and_its_export_say_what_each_import_was(alice: User) -> None:
    _job(alice, ORDERS, "orders")
    _job(alice, INTERACTIONS, "interactions")
    client = login(alice)
    page = client.get(reverse("dataio:list")).content.decode()
    assert "<td>订单</td>" in page and "<td>互动记录</td>" in page
    response = client.get("/exports/imports.csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(row["导入对象"] for row in rows) == ["互动记录", "订单"]
