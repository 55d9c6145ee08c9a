"""The sales API: catalogue, orders, returns, bulk import (all or nothing, idempotent)
and export, with who may do what."""

import json
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kehu.core.context import tenant_scope
from kehu.core.models import AuditEntry
from kehu.core.tests.test_api_problems import api_client, assert_problem, field_errors
from kehu.parties import services as parties
from kehu.parties.models import Party, RelationshipState, StateChange
from kehu.sales import services
from kehu.sales.models import IdempotencyRecord, Order, OrderLine, OrderStatus
from kehu.sales.tests.helpers import party_in, product, sale
from kehu.tenancy.models import Tenant, User

D = Decimal


def post(client: Client, path: str, body: Any, **headers: str) -> Any:
    return client.post(
        f"/api/v1{path}", json.dumps(body), content_type="application/json", headers=headers
    )


def patch(client: Client, path: str, body: Any) -> Any:
    return client.patch(f"/api/v1{path}", json.dumps(body), content_type="application/json")


def counts(tenant: Tenant) -> dict[str, int]:
    with tenant_scope(tenant.pk):
        return {
            "orders": Order.objects.count(),
            "lines": OrderLine.objects.count(),
            "audit": AuditEntry.objects.count(),
            "states": StateChange.objects.count(),
            "keys": IdempotencyRecord.objects.count(),
        }


@pytest.fixture
def catalogue(acme: Tenant, alice: User) -> dict[str, Any]:
    with tenant_scope(acme.pk):
        chair = product(alice, "CH-1", "100.00", "60.00")
        desk = product(alice, "DK-1", "500.00", "300.00")
        party = party_in(alice, "甲公司")
        org = parties.party_create(
            actor=alice, kind="organisation", name="乙公司", uscc="91350100M000100Y43"
        )
    return {"chair": chair, "desk": desk, "party": party, "org": org}


# --- products --------------------------------------------------------------------------


def test_managers_write_the_catalogue_and_everyone_reads_it(
    catalogue: dict[str, Any], alice: User, bob: User, dora: User
) -> None:
    body = {"code": "LP-1", "name": "台灯", "unit": "台", "unit_price": "199", "unit_cost": 80}
    created = post(api_client(alice), "/products", body)
    assert created.status_code == 201, created.content
    assert created.json()["unit_price"] == "199.00"
    for user in (bob, dora):
        assert_problem(post(api_client(user), "/products", {**body, "code": "LP-2"}), 403)
        listed = api_client(user).get("/api/v1/products?q=LP").json()
        assert [p["code"] for p in listed["items"]] == ["LP-1"]
    pk = created.json()["id"]
    assert_problem(patch(api_client(bob), f"/products/{pk}", {"name": "x"}), 403)
    assert (
        patch(api_client(alice), f"/products/{pk}", {"unit_price": "209.5"}).json()["unit_price"]
        == "209.50"
    )
    assert api_client(alice).delete(f"/api/v1/products/{pk}").status_code == 204
    assert api_client(dora).get(f"/api/v1/products/{pk}").json()["is_active"] is False
    active = api_client(dora).get("/api/v1/products?active=true").json()["items"]
    assert [p["code"] for p in active] == ["CH-1", "DK-1"]


def test_product_errors_name_the_field(catalogue: dict[str, Any], alice: User) -> None:
    client = api_client(alice)
    duplicate = {"code": "CH-1", "name": "x", "unit_price": 1}
    errors = field_errors(post(client, "/products", duplicate), 409)
    assert errors == {"code": "已有产品使用这个编码。"}
    errors = field_errors(post(client, "/products", {"code": "Z", "name": "x", "unit_price": -1}))
    assert list(errors) == ["unit_price"]
    bad = {"code": "Z", "name": "x", "unit_price": 1, "currency": "ABC"}
    assert list(field_errors(post(client, "/products", bad))) == ["currency"]


def test_another_firms_products_are_not_found(catalogue: dict[str, Any], charlie: User) -> None:
    client = api_client(charlie)
    pk = catalogue["chair"].pk
    assert_problem(client.get(f"/api/v1/products/{pk}"), 404)
    assert_problem(patch(client, f"/products/{pk}", {"name": "x"}), 404)
    assert client.get("/api/v1/products").json()["items"] == []


def test_the_product_list_has_a_fixed_number_of_queries(
    catalogue: dict[str, Any], alice: User, django_assert_num_queries: Any
) -> None:
    client = api_client(alice)
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        office = services.category_create(actor=alice, name="办公")
        for i in range(5):
            product(alice, f"P-{i}", category=office)
    client.get("/api/v1/me")  # the token's first use is recorded once; not counted here
    # the token with its user, the count, the page with its categories
    with django_assert_num_queries(3):
        assert len(client.get("/api/v1/products").json()["items"]) == 7


# --- orders ----------------------------------------------------------------------------


def test_create_an_order_and_the_party_becomes_a_customer(
    catalogue: dict[str, Any], alice: User
) -> None:
    party = catalogue["party"]
    body = {
        "party": party.pk,
        "status": "confirmed",
        "order_date": "2025-04-01",
        "discount": "10",
        "lines": [
            {"product": catalogue["chair"].pk, "quantity": 3, "discount": "5"},
            {"product": catalogue["desk"].pk, "quantity": "1", "unit_price": "450"},
        ],
    }
    response = post(api_client(alice), "/orders", body)
    assert response.status_code == 201, response.content
    order = response.json()
    assert (order["revenue"], order["cost"], order["profit"]) == ("735.00", "480.00", "255.00")
    assert [line["amount"] for line in order["lines"]] == ["295.00", "450.00"]
    assert order["owner"]["username"] == "alice" and order["party"]["name"] == "甲公司"
    party.refresh_from_db()
    assert party.relationship_state == RelationshipState.CURRENT


def test_bad_input_is_refused_by_field(catalogue: dict[str, Any], alice: User) -> None:
    client = api_client(alice)
    chair = catalogue["chair"].pk
    base = {"party": catalogue["party"].pk}
    errors = field_errors(
        post(client, "/orders", {**base, "lines": [{"product": chair, "quantity": -1}]})
    )
    assert errors == {"lines[0].quantity": "应大于 0。"}
    errors = field_errors(
        post(
            client,
            "/orders",
            {**base, "currency": "BTC", "lines": [{"product": chair, "quantity": 1}]},
        )
    )
    assert list(errors) == ["currency"]
    errors = field_errors(
        post(client, "/orders", {**base, "lines": [{"product": 999999, "quantity": 1}]})
    )
    assert errors == {"lines[0].product": "没有找到这个产品。"}
    assert counts(alice.tenant)["orders"] == 0  # type: ignore[arg-type]


def test_another_firms_party_is_not_found(
    catalogue: dict[str, Any], charlie: User, acme: Tenant
) -> None:
    before = counts(acme)
    body = {
        "party": catalogue["party"].pk,
        "lines": [{"product": catalogue["chair"].pk, "quantity": 1}],
    }
    assert_problem(post(api_client(charlie), "/orders", body), 404)
    assert counts(acme) == before


def test_orders_follow_their_partys_visibility(
    catalogue: dict[str, Any], alice: User, bob: User, dora: User
) -> None:
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        theirs = sale(alice, catalogue["party"], [(catalogue["chair"], "1")])
        bobs = sale(bob, party_in(bob, "鲍的客户"), [(catalogue["chair"], "2")])
    bob_client = api_client(bob)
    assert_problem(bob_client.get(f"/api/v1/orders/{theirs.pk}"), 404)
    assert [o["id"] for o in bob_client.get("/api/v1/orders").json()["items"]] == [bobs.pk]
    assert_problem(bob_client.get(f"/api/v1/orders?party={catalogue['party'].pk}"), 404)
    assert_problem(post(bob_client, f"/orders/{theirs.pk}/cancel", {}), 404)
    dora_client = api_client(dora)
    assert dora_client.get(f"/api/v1/orders/{theirs.pk}").status_code == 200
    assert_problem(post(dora_client, f"/orders/{theirs.pk}/cancel", {}), 403)


def test_list_filters_and_query_count(
    catalogue: dict[str, Any], alice: User, django_assert_num_queries: Any
) -> None:
    chair = catalogue["chair"]
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        first = sale(alice, catalogue["party"], [(chair, "1")], status=OrderStatus.DRAFT)
        for _ in range(4):
            sale(alice, catalogue["org"], [(chair, "1")])
        services.return_create(
            actor=alice,
            original=sale(alice, catalogue["org"], [(chair, "2")]),
            lines=[(chair, D("1"))],
        )
    client = api_client(alice)
    assert [o["id"] for o in client.get("/api/v1/orders?status=draft").json()["items"]] == [
        first.pk
    ]
    assert client.get("/api/v1/orders?kind=return").json()["count"] == 1
    assert client.get(f"/api/v1/orders?party={catalogue['org'].pk}").json()["count"] == 6
    assert client.get("/api/v1/orders?q=乙公司").json()["count"] == 6
    assert client.get("/api/v1/orders?date_from=2025-03-02").json()["count"] == 1  # the return
    assert client.get("/api/v1/orders?date_to=2025-02-28").json()["count"] == 0
    with django_assert_num_queries(3):  # the token, the count, the page with parties and owners
        assert len(client.get("/api/v1/orders").json()["items"]) == 7


def test_update_confirm_fulfil_cancel(catalogue: dict[str, Any], alice: User) -> None:
    client = api_client(alice)
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        order = sale(
            alice, catalogue["party"], [(catalogue["chair"], "1")], status=OrderStatus.DRAFT
        )
    changed = patch(
        client,
        f"/orders/{order.pk}",
        {"lines": [{"product": catalogue["desk"].pk, "quantity": 2}], "note": "加量"},
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["revenue"] == "1000.00"
    assert post(client, f"/orders/{order.pk}/confirm", {}).json()["status"] == "confirmed"
    assert post(client, f"/orders/{order.pk}/fulfil", {}).json()["status"] == "fulfilled"
    assert field_errors(post(client, f"/orders/{order.pk}/cancel", {})) == {
        "status": "订单不能从「已完成」变为「已取消」。"
    }


def test_returns_through_the_api(catalogue: dict[str, Any], alice: User) -> None:
    client = api_client(alice)
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        order = sale(alice, catalogue["party"], [(catalogue["chair"], "2")])
    chair = catalogue["chair"].pk
    made = post(
        client, f"/orders/{order.pk}/returns", {"lines": [{"product": chair, "quantity": 1}]}
    )
    assert made.status_code == 201, made.content
    assert (made.json()["kind"], made.json()["revenue"], made.json()["original_id"]) == (
        "return",
        "-100.00",
        order.pk,
    )
    too_many = post(
        client, f"/orders/{order.pk}/returns", {"lines": [{"product": chair, "quantity": 2}]}
    )
    assert field_errors(too_many) == {"lines[0].quantity": "退货数量超过可退数量（1）。"}


# --- bulk ------------------------------------------------------------------------------


def batch(catalogue: dict[str, Any], n: int, *, prefix: str = "ERP") -> dict[str, Any]:
    party, org = catalogue["party"], catalogue["org"]
    return {
        "orders": [
            {
                "external_id": f"{prefix}-{i}",
                "number": f"{prefix}{i:05d}",
                "order_date": "2025-01-15",
                **({"party_id": party.pk} if i % 2 else {"party_uscc": org.uscc}),
                "lines": [
                    {"product_code": "CH-1", "quantity": i % 3 + 1},
                    {"product_code": "DK-1", "quantity": "1", "discount": "50"},
                ],
            }
            for i in range(n)
        ]
    }


def test_a_batch_is_written_with_its_audit_and_first_sales(
    catalogue: dict[str, Any], alice: User, acme: Tenant
) -> None:
    response = post(api_client(alice), "/orders/bulk", batch(catalogue, 10))
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["updated"], body["unchanged"]) == (10, 0, 0)
    assert [row["index"] for row in body["orders"]] == list(range(10))
    with tenant_scope(acme.pk):
        order = Order.objects.get(external_id="ERP-4")
        assert (order.party, order.revenue, order.profit) == (catalogue["org"], D("650"), D("230"))
        assert order.owner == alice and order.status == OrderStatus.CONFIRMED
        assert AuditEntry.objects.filter(object_type="sales.order").count() == 20
        states = dict(Party.objects.values_list("name", "relationship_state"))
        assert states == {"甲公司": "current", "乙公司": "current"}
        assert StateChange.objects.filter(to_state="current").count() == 2


def test_sending_a_batch_again_writes_nothing_new(
    catalogue: dict[str, Any], alice: User, acme: Tenant
) -> None:
    client = api_client(alice)
    post(client, "/orders/bulk", batch(catalogue, 6))
    before = counts(acme)
    again = post(client, "/orders/bulk", batch(catalogue, 6)).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 6)
    assert counts(acme) == before
    changed = batch(catalogue, 6)
    changed["orders"][2]["lines"][0]["quantity"] = 9
    result = post(client, "/orders/bulk", changed).json()
    assert (result["created"], result["updated"], result["unchanged"]) == (0, 1, 5)
    with tenant_scope(acme.pk):
        assert Order.objects.count() == 6
        assert Order.objects.get(external_id="ERP-2").revenue == D("1350")


def test_a_bad_row_writes_nothing_and_is_named(
    catalogue: dict[str, Any], alice: User, acme: Tenant
) -> None:
    client = api_client(alice)
    before = counts(acme)
    body = batch(catalogue, 50)
    body["orders"][42]["lines"][1]["quantity"] = -1
    assert field_errors(post(client, "/orders/bulk", body)) == {
        "orders[42].lines[1].quantity": "应大于 0。"
    }
    body = batch(catalogue, 50)
    body["orders"][42]["lines"][1]["product_code"] = "NOPE"
    body["orders"][7]["party_id"] = 999999
    body["orders"][9]["number"] = body["orders"][3]["number"]
    body["orders"][11]["currency"] = "XXX"
    errors = field_errors(post(client, "/orders/bulk", body))
    assert errors == {"orders[11].currency": errors["orders[11].currency"]}
    del body["orders"][11]["currency"]
    errors = field_errors(post(client, "/orders/bulk", body))
    assert errors == {
        "orders[42].lines[1].product_code": "没有这个产品编码：NOPE",
        "orders[7].party_id": "没有找到这个客户，或您无权查看。",
        "orders[9].number": "与 orders[3] 重复：ERP00003",
    }
    assert counts(acme) == before


def test_a_batch_may_not_name_parties_the_caller_cannot_see(
    catalogue: dict[str, Any], bob: User, charlie: User, acme: Tenant
) -> None:
    clients = [api_client(bob), api_client(charlie)]
    before = counts(acme)
    for client in clients:
        errors = field_errors(post(client, "/orders/bulk", batch(catalogue, 2)))
        assert "orders[0].party_uscc" in errors and "orders[1].party_id" in errors
    assert counts(acme) == before


def test_read_only_staff_may_not_import(
    catalogue: dict[str, Any], dora: User, acme: Tenant
) -> None:
    client = api_client(dora)
    before = counts(acme)
    assert_problem(post(client, "/orders/bulk", batch(catalogue, 2)), 403)
    assert counts(acme) == before


def test_an_idempotency_key_replays_the_first_answer(
    catalogue: dict[str, Any], alice: User, acme: Tenant
) -> None:
    client = api_client(alice)
    first = post(client, "/orders/bulk", batch(catalogue, 3), **{"Idempotency-Key": "k-1"})
    assert first.status_code == 200
    after_first = counts(acme)
    again = post(client, "/orders/bulk", batch(catalogue, 3), **{"Idempotency-Key": "k-1"})
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()  # "created": 3, not "unchanged"
    assert counts(acme) == after_first
    other = post(client, "/orders/bulk", batch(catalogue, 4), **{"Idempotency-Key": "k-1"})
    body = assert_problem(other, 422)
    assert "Idempotency-Key" in body["detail"]
    assert counts(acme) == after_first


def test_a_failed_keyed_batch_keeps_no_answer(
    catalogue: dict[str, Any], alice: User, acme: Tenant
) -> None:
    client = api_client(alice)
    bad = batch(catalogue, 2)
    bad["orders"][1]["lines"][0]["product_code"] = "NOPE"
    assert_problem(post(client, "/orders/bulk", bad, **{"Idempotency-Key": "k-2"}), 422)
    assert counts(acme)["keys"] == 0
    good = post(client, "/orders/bulk", batch(catalogue, 2), **{"Idempotency-Key": "k-2"})
    assert good.json()["created"] == 2


def test_a_batch_takes_the_same_queries_whatever_its_size(
    catalogue: dict[str, Any], alice: User
) -> None:
    client = api_client(alice)
    post(client, "/orders/bulk", batch(catalogue, 2, prefix="W"))  # both parties are customers now

    def queries(n: int, prefix: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert (
                post(client, "/orders/bulk", batch(catalogue, n, prefix=prefix)).status_code == 200
            )
        return len(captured)

    # (SQLite splits a big INSERT by its limit on parameters: keep both batches under it.)
    assert queries(3, "A") == queries(9, "B")


def test_export_pages_through_every_order_by_cursor(
    catalogue: dict[str, Any], alice: User, bob: User, django_assert_num_queries: Any
) -> None:
    client = api_client(alice)
    post(client, "/orders/bulk", batch(catalogue, 7))
    seen: list[str] = []
    cursor = ""
    pages = 0
    while True:
        page = client.get(f"/api/v1/orders/export?limit=3&cursor={cursor}").json()
        seen += [o["external_id"] for o in page["items"]]
        assert all(len(o["lines"]) == 2 for o in page["items"])
        pages += 1
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert sorted(seen) == sorted(f"ERP-{i}" for i in range(7)) and pages == 3
    assert api_client(bob).get("/api/v1/orders/export").json()["items"] == []
    assert list(field_errors(client.get("/api/v1/orders/export?cursor=@@"))) == ["cursor"]
    with django_assert_num_queries(3):  # the token, the orders, their lines
        client.get("/api/v1/orders/export?limit=50")


@pytest.mark.skipif(connection.vendor != "sqlite", reason="a setting of SQLite's log")
def test_a_batch_commits_without_checkpointing_and_the_thread_is_asked(
    catalogue: dict[str, Any], alice: User, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite a batch's commit leaves the copying of the log to the process's
    checkpoint thread (kehu.core.bulk.checkpoint_after); the connection's own setting is
    back for what follows."""
    import sqlite3

    from kehu.core import bulk
    from kehu.sales import imports

    def setting() -> int:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint")
            return int(cursor.fetchone()[0])

    path = str(tmp_path / "orders.sqlite3")
    sqlite3.connect(path).execute("PRAGMA journal_mode=WAL").fetchall()
    monkeypatch.setattr(bulk, "_wal_file", lambda _connection: path)
    seen: list[int] = []
    original = imports.orders_write

    def spy(checked: Any) -> Any:
        seen.append(setting())
        return original(checked)

    monkeypatch.setattr(imports, "orders_write", spy)
    before = setting()
    assert post(api_client(alice), "/orders/bulk", batch(catalogue, 3)).status_code == 200
    assert (seen, setting()) == ([0], before) and before > 0
    assert bulk._Checkpointer.of(path).wait(1, timeout=10)
