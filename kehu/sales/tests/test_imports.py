"""The bulk importer's fast path: plain rows with drawn ids, checked against what the
services write, under concurrency and failure."""

import gc
import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.test import Client
from django.utils import timezone

from kehu.core.audit import snapshot
from kehu.core.bulk import BulkWriter, collector_paused
from kehu.core.context import tenant_scope
from kehu.core.models import AuditEntry
from kehu.core.tests.test_api_problems import api_client, assert_problem
from kehu.sales import imports, services
from kehu.sales.models import Order, OrderLine
from kehu.sales.tests import test_api
from kehu.sales.tests.test_api import batch, counts, post
from kehu.tenancy.models import Tenant, User

catalogue = test_api.catalogue  # the same firm: two products, a party, an organisation


def test_the_audit_of_an_imported_order_is_what_the_services_would_write(
    alice: User, acme: Tenant, catalogue: dict[str, Any]
) -> None:
    body = batch(catalogue, 3)
    body["orders"][1].update(number="", discount="50", note="<b>加急</b>")
    body["orders"][1]["lines"][0].update(unit_price="99.5", quantity="2.5")
    assert post(api_client(alice), "/orders/bulk", body).status_code == 200
    with tenant_scope(acme.pk):
        for order in Order.objects.all():
            lines = list(order.lines.select_related("product").order_by("position"))
            entries = AuditEntry.objects.filter(object_type="sales.order", object_id=order.pk)
            assert sorted(entries.values_list("root_type", "root_id")) == sorted(
                [("parties.party", order.party_id), ("sales.order", order.pk)]
            )
            stored = snapshot(order, services.ORDER_FIELDS)
            after = {k: v for k, v in stored.items() if v is not None}
            after["lines"] = services.lines_summary(lines)
            for entry in entries:
                assert entry.changes == {k: [None, v] for k, v in after.items()}
                assert entry.object_repr == str(order) and entry.actor_id == alice.pk
        unnumbered = Order.objects.get(external_id="ERP-1")
        assert unnumbered.number == services.default_number(unnumbered)
        assert unnumbered.revenue == sum(line.amount for line in unnumbered.lines.all()) - 50


def test_ids_are_drawn_past_every_order_already_there(
    alice: User, acme: Tenant, catalogue: dict[str, Any]
) -> None:
    client = api_client(alice)
    first = post(client, "/orders/bulk", batch(catalogue, 3, prefix="A")).json()
    with tenant_scope(acme.pk):
        single = services.order_create(
            actor=alice,
            party=catalogue["party"],
            lines=[services.LineIn(catalogue["chair"], Decimal(1))],
        )
    second = post(client, "/orders/bulk", batch(catalogue, 3, prefix="B")).json()
    ids = [row["id"] for answer in (first, second) for row in answer["orders"]]
    assert len({*ids, single.pk}) == 7 and min(ids[3:]) > single.pk
    with tenant_scope(acme.pk):
        assert sorted(Order.objects.values_list("pk", flat=True)) == sorted([*ids, single.pk])
        assert set(OrderLine.objects.values_list("order_id", flat=True)) == {*ids, single.pk}


def test_a_batch_that_fails_after_its_ids_were_drawn_writes_nothing(
    alice: User, acme: Tenant, catalogue: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clash only the database sees (say a racing batch) after the orders and lines went
    in: the whole batch is undone, its key kept nowhere, and the next batch is whole."""
    client = api_client(alice)
    before = counts(acme)
    insert = BulkWriter.insert

    def failing_audit(writer: BulkWriter, model: Any, fields: Any, rows: Any) -> None:
        if model is AuditEntry:
            raise IntegrityError("audit clash")
        insert(writer, model, fields, rows)

    monkeypatch.setattr(BulkWriter, "insert", failing_audit)
    failed = post(client, "/orders/bulk", batch(catalogue, 5), **{"Idempotency-Key": "k"})
    assert_problem(failed, 409)
    assert counts(acme) == before
    monkeypatch.setattr(BulkWriter, "insert", insert)
    again = post(client, "/orders/bulk", batch(catalogue, 5), **{"Idempotency-Key": "k"})
    assert again.json()["created"] == 5
    with tenant_scope(acme.pk):
        assert OrderLine.objects.count() == 10
        assert AuditEntry.objects.filter(object_type="sales.order").count() == 10


@pytest.mark.django_db(transaction=True)
def test_ids_are_only_drawn_inside_a_transaction(in_acme: None) -> None:
    """On SQLite the ids after the largest are only ours while the write lock is held,
    which the transaction takes at BEGIN (IMMEDIATE): outside one, drawing is refused."""
    writer = BulkWriter(1, timezone.now())
    if connection.vendor == "sqlite":
        with pytest.raises(RuntimeError):
            writer.reserve_ids(Order, 2)
    with transaction.atomic():
        first = writer.reserve_ids(Order, 2)
    assert len(first) == 2 and first[1] == first[0] + 1


@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="the SQLite test database is in memory with a shared cache, where a second "
    "writer is refused ('table is locked') rather than waiting for the write lock as on "
    "a file; bench/orders_import.py runs two workers on a file",
)
@pytest.mark.django_db(transaction=True)
def test_two_batches_at_once_draw_different_ids(
    alice: User, acme: Tenant, catalogue: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests import at the same moment, both holding their drawn ids at once (a
    barrier after the draw): the sequence gives each its own."""
    clients = [api_client(alice), api_client(alice)]
    both_drawn = threading.Barrier(2, timeout=10)
    reserve = BulkWriter.reserve_ids

    def reserve_together(writer: BulkWriter, model: Any, n: int) -> Any:
        ids = reserve(writer, model, n)
        both_drawn.wait()
        return ids

    monkeypatch.setattr(BulkWriter, "reserve_ids", reserve_together)
    answers: dict[str, Any] = {}
    start = threading.Barrier(2, timeout=10)

    def send(client: Client, prefix: str) -> None:
        try:
            start.wait()
            answers[prefix] = post(client, "/orders/bulk", batch(catalogue, 40, prefix=prefix))
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=send, args=(c, p)) for c, p in zip(clients, "AB", strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [answers[p].status_code for p in "AB"] == [200, 200]
    ids = {p: {row["id"] for row in answers[p].json()["orders"]} for p in "AB"}
    assert len(ids["A"]) == len(ids["B"]) == 40 and not ids["A"] & ids["B"]
    with tenant_scope(acme.pk):
        assert set(Order.objects.values_list("pk", flat=True)) == ids["A"] | ids["B"]
        assert OrderLine.objects.count() == 160


def test_a_batch_is_checked_and_written_with_the_collector_paused(
    alice: User, catalogue: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    for name in ("orders_check", "orders_write"):
        real = getattr(imports, name)

        def spy(*args: Any, real: Any = real, **kwargs: Any) -> Any:
            seen.append(gc.isenabled())
            return real(*args, **kwargs)

        monkeypatch.setattr(imports, name, spy)
    assert gc.isenabled()
    assert post(api_client(alice), "/orders/bulk", batch(catalogue, 2)).status_code == 200
    assert seen == [False, False]
    assert gc.isenabled()


def test_the_collector_comes_back_after_a_refused_batch(
    alice: User, catalogue: dict[str, Any]
) -> None:
    body = batch(catalogue, 2)
    body["orders"][1]["party_id"] = 10**9
    assert post(api_client(alice), "/orders/bulk", body).status_code == 422
    assert gc.isenabled()


def test_the_collector_stays_off_where_it_was_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
