"""The daily sales summary against the orders: every revenue report and new-vs-existing
read from the summary equals the same report computed from the orders themselves
(`live_*`), on a varied book that is then edited, cancelled, returned, imported, merged,
moved and deleted through the services, as staff would."""

import datetime
import importlib
import random
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db.models import Sum
from django.test import TestCase

from kehu.core.context import tenant_scope
from kehu.core.tests.test_api_problems import api_client
from kehu.dataio import merge
from kehu.parties import services as parties
from kehu.parties.models import Party
from kehu.reports import selectors
from kehu.reports.periods import Period
from kehu.reports.selectors import Dimension, ReportFilters
from kehu.sales import services as sales
from kehu.sales import summary
from kehu.sales.models import (
    BOOKED,
    DailySales,
    Order,
    OrderStatus,
    Product,
    SummaryParty,
    SummaryPending,
)
from kehu.sales.summary import new_within, stale_parties, summary_catch_up, summary_rebuild
from kehu.sales.tests.helpers import product
from kehu.sales.tests.test_api import post
from kehu.tenancy import services as tenancy
from kehu.tenancy.models import Role, Tenant, User, Visibility

D = Decimal
WHOLE = ReportFilters(since=datetime.date(2024, 1, 1), until=datetime.date(2025, 12, 31))
PLACES = [
    ("广东省", "深圳市", "展会"),
    ("广东省", "广州市", "客户推荐"),
    ("北京市", "北京市", ""),
    ("浙江省", "杭州市", "官网表单"),
    ("", "", ""),
]


def staff(acme: Tenant, name: str, role: str, visibility: str) -> User:
    return User.objects.create(
        tenant=acme, username=name, display_name=name.title(), role=role, visibility=visibility
    )


@pytest.fixture
def world(acme: Tenant, alice: User, bob: User) -> dict[str, Any]:
    """Four reps in two teams (and one in none), ten parties in five places, four CNY
    products in two categories (one in none) and a USD one; ~120 orders over 2024–2025
    in every state, with discounts, returns, a second currency."""
    with tenant_scope(acme.pk):
        carol = staff(acme, "carol", Role.SALES, Visibility.TEAM)
        erin = staff(acme, "erin", Role.SALES, Visibility.ALL)
        reps = [alice, bob, carol, erin]
        south = tenancy.team_create(actor=alice, name="华南")
        north = tenancy.team_create(actor=alice, name="华北")
        for team, member in ((south, alice), (south, bob), (north, bob), (north, carol)):
            tenancy.team_member_add(actor=alice, team=team, user=member)
        chairs = sales.category_create(actor=alice, name="椅子")
        desks = sales.category_create(actor=alice, name="桌子")
        goods = [
            product(alice, "CH-1", "100.00", "60.00", category=chairs),
            product(alice, "CH-2", "80.50", "41.25", category=chairs),
            product(alice, "DK-1", "500.00", "300.00", category=desks),
            product(alice, "LP-1", "33.33", "20.00"),
        ]
        dollar = product(alice, "US-1", "10.00", "6.00", currency="USD")
        rng = random.Random(7)
        book = []
        for i in range(10):
            province, city, source = PLACES[i % len(PLACES)]
            book.append(
                parties.party_create(
                    actor=alice,
                    kind="organisation",
                    name=f"客户{i}",
                    owner=reps[i % len(reps)],
                    province=province,
                    city=city,
                    source=source,
                )
            )
        orders = []
        for _ in range(120):
            party = rng.choice(book)
            usd = rng.random() < 0.1
            items = (
                [sales.LineIn(dollar, D(rng.randint(1, 5)))]
                if usd
                else [
                    sales.LineIn(p, D(rng.randint(1, 4)), discount=D(rng.choice([0, 0, 5])))
                    for p in rng.sample(goods, rng.randint(1, 3))
                ]
            )
            order = sales.order_create(
                actor=alice,
                party=party,
                lines=items,
                order_date=datetime.date(2024, 1, 1) + datetime.timedelta(rng.randint(0, 729)),
                status=rng.choice([OrderStatus.CONFIRMED, OrderStatus.FULFILLED, "draft"]),
                currency="USD" if usd else "CNY",
                discount=D(0 if usd else rng.choice([0, 0, 0, 10, 25])),
                owner=rng.choice(reps),
            )
            orders.append(order)
        for order in orders[::7]:
            if order.is_booked:
                line = order.lines.first()
                assert line is not None
                sales.return_create(
                    actor=alice,
                    original=order,
                    lines=[(line.product, D(1))],
                    order_date=order.order_date + datetime.timedelta(rng.randint(0, 40)),
                )
        for order in orders[1::11]:
            order.refresh_from_db()
            if order.status == "draft":
                sales.order_confirm(actor=alice, order=order)
            elif not order.returns.exists() and order.status == OrderStatus.CONFIRMED:
                sales.order_cancel(actor=alice, order=order)
    return {"reps": reps, "parties": book, "goods": goods, "teams": (south, north)}


def filter_sets(world: dict[str, Any]) -> list[ReportFilters]:
    north = world["teams"][1]
    bob = world["reps"][1]
    partial = ReportFilters(since=datetime.date(2024, 3, 15), until=datetime.date(2025, 2, 10))
    found = [ReportFilters(**{**WHOLE.__dict__, "period": period}) for period in Period.values]
    found.append(ReportFilters(**{**partial.__dict__, "period": Period.QUARTER}))
    found.append(ReportFilters(**{**partial.__dict__, "owner_id": bob.pk}))
    found.append(ReportFilters(**{**WHOLE.__dict__, "team_id": north.pk}))
    found.append(ReportFilters(**{**partial.__dict__, "province": "广东省"}))
    return found


def assert_summary_is_live(user: User, world: dict[str, Any]) -> int:
    """Every report, every filter: the summary's answer is the orders' answer."""
    compared = 0
    for filters in filter_sets(world):
        for by in Dimension.ALL:
            summary = selectors.revenue_report(user, filters, by)
            assert summary == selectors.live_revenue_report(user, filters, by), (by, filters)
            compared += len(summary.rows)
        summary_splits = selectors.new_vs_existing(user, filters)
        assert summary_splits == selectors.live_new_vs_existing(user, filters), filters
    return compared


def assert_every_reader_is_live(world: dict[str, Any]) -> None:
    """The admin (the firm's rows), a rep who sees their own parties and one who sees
    their team's (the party rows of those parties), one who sees all: each as live."""
    for user in world["reps"]:
        assert_summary_is_live(user, world)


SUMMED = ("orders", "quantity", "cost", "revenue", "profit")


def stored_rows() -> Counter[tuple[Any, ...]]:
    """Every row's key, then its sums (SUMMED)."""
    fields = [
        f.attname
        for f in DailySales._meta.concrete_fields
        if f.attname != "id" and f.attname not in SUMMED
    ]
    fields += SUMMED
    return Counter(DailySales.objects.values_list(*fields))


def test_every_report_from_the_summary_equals_the_orders(
    world: dict[str, Any], alice: User, acme: Tenant
) -> None:
    with tenant_scope(acme.pk):
        assert all(selectors.reads_summary(alice, by) for by in Dimension.ALL)
        assert DailySales.objects.filter(dimension="product").count() > 50
        assert assert_summary_is_live(alice, world) > 100  # rows compared, not empty tables
        # Own and team visibility read the party rows (for all but products, categories).
        bob, carol = world["reps"][1], world["reps"][2]
        assert assert_summary_is_live(bob, world) > 20
        assert assert_summary_is_live(carol, world) > 20
        # Kept order by order, the summary is what computing it whole gives.
        kept = stored_rows()
        summary_rebuild()
        assert stored_rows() == kept


def test_the_comparison_reads_the_summary(world: dict[str, Any], alice: User, acme: Tenant) -> None:
    with tenant_scope(acme.pk):
        # WHOLE is 24 whole months: it reads the months' rows.
        row = DailySales.objects.filter(dimension="owner", currency="CNY", month=True).first()
        assert row is not None
        DailySales.objects.filter(pk=row.pk).update(revenue=row.revenue + 1)
        summary = selectors.revenue_report(alice, WHOLE, Dimension.REP)
        live = selectors.live_revenue_report(alice, WHOLE, Dimension.REP)
        assert summary.total.revenue == live.total.revenue + 1


def test_edits_cancels_moves_and_deletes_keep_it_equal(
    world: dict[str, Any], alice: User, acme: Tenant
) -> None:
    reps, book = world["reps"], world["parties"]
    with tenant_scope(acme.pk):
        booked = Order.objects.filter(status__in=BOOKED, kind="order", returns__isnull=True)
        # A date moved into another year, and to another rep.
        moved = booked.filter(status=OrderStatus.CONFIRMED).order_by("pk").first()
        assert moved is not None
        sales.order_update(
            actor=alice,
            order=moved,
            order_date=datetime.date(2025, 12, 30),
            owner=reps[3],
        )
        # A party's first sale cancelled: it becomes new later (or never).
        first = (
            booked.filter(status=OrderStatus.CONFIRMED).exclude(pk=moved.pk).order_by("order_date")
        ).first()
        assert first is not None
        sales.order_cancel(actor=alice, order=first)
        # Where a party is and where it came from change; another is deleted.
        parties.party_update(actor=alice, party=book[0], province="江苏省", city="南京市")
        parties.party_update(actor=alice, party=book[1], source="电话咨询")
        parties.party_delete(actor=alice, party=book[2])
        assert set(stale_parties()) == {book[0].pk, book[1].pk, book[2].pk}
        assert_every_reader_is_live(world)
        assert stale_parties() == []  # the reports healed them
        # A merge moves one party's orders to another, and its undo moves them back.
        survivor, loser = Party.objects.get(pk=book[3].pk), Party.objects.get(pk=book[4].pk)
        record = merge.party_merge(
            actor=alice, survivor=survivor, loser=loser, choices={"province": "loser"}
        )
        assert_every_reader_is_live(world)
        merge.party_merge_undo(actor=alice, record=record)
        assert_every_reader_is_live(world)
        parties.party_restore(actor=alice, party=Party.with_deleted.get(pk=book[2].pk))
        # A product moves to another category, and one to none.
        chair, other_chair = world["goods"][1], world["goods"][0]
        desks = world["goods"][2].category
        sales.product_update(actor=alice, product=chair, category=desks)
        sales.product_update(actor=alice, product=other_chair, category=None)
        assert_every_reader_is_live(world)
        kept = stored_rows()
        summary_rebuild()
        assert stored_rows() == kept


def test_orders_imported_in_bulk_are_in_the_summary(
    world: dict[str, Any], alice: User, acme: Tenant
) -> None:
    party = world["parties"][5]
    body = {
        "orders": [
            {
                "external_id": f"ERP-{i}",
                "order_date": f"2025-0{i + 1}-0{i + 1}",
                "party_id": party.pk,
                "status": "confirmed",
                "lines": [{"product_code": "CH-1", "quantity": i + 1}],
            }
            for i in range(3)
        ]
    }
    client = api_client(alice)
    answer = post(client, "/orders/bulk", body)
    assert answer.status_code == 200, answer.content
    with tenant_scope(acme.pk):
        day = DailySales.objects.filter(dimension="owner", day=datetime.date(2025, 3, 3))
        imported = Order.objects.get(external_id="ERP-2")
        # Noted, not yet added: the task (or the next reader) adds them.
        assert not day.exists()
        runs = SummaryPending.objects.order_by("first_id").values_list("first_id", "last_id")
        ids = sorted(
            Order.objects.filter(external_id__startswith="ERP-").values_list("pk", flat=True)
        )
        assert [pk for lo, hi in runs for pk in range(lo, hi + 1)] == ids
        assert summary_catch_up() == 3
        assert not SummaryPending.objects.exists()
        assert day.aggregate(r=Sum("revenue"))["r"] >= imported.revenue == D("300.00")
        assert summary_catch_up() == 0  # nothing twice
        assert_every_reader_is_live(world)
    # The same external ids again, with another date: the import updates them.
    body["orders"][2]["order_date"] = "2024-07-07"
    answer = post(client, "/orders/bulk", body)
    assert answer.status_code == 200, answer.content
    with tenant_scope(acme.pk):
        assert Order.objects.get(external_id="ERP-2").order_date == datetime.date(2024, 7, 7)
        assert_every_reader_is_live(world)


def imported(client: Any, party: Party, prefix: str, n: int, day: str) -> list[Order]:
    body = {
        "orders": [
            {
                "external_id": f"{prefix}-{i}",
                "order_date": day,
                "party_id": party.pk,
                "status": "confirmed",
                "lines": [{"product_code": "CH-1", "quantity": i + 1}],
            }
            for i in range(n)
        ]
    }
    answer = post(client, "/orders/bulk", body)
    assert answer.status_code == 200, answer.content
    return list(Order.objects.filter(external_id__startswith=f"{prefix}-").order_by("pk"))


def test_the_import_books_the_catch_up_and_a_report_catches_up_too(
    world: dict[str, Any], alice: User, acme: Tenant
) -> None:
    client = api_client(alice)
    party = world["parties"][3]
    with tenant_scope(acme.pk), TestCase.captureOnCommitCallbacks(execute=True) as booked:
        imported(client, party, "TASK", 2, "2025-04-04")
    assert len(booked) == 1  # the first batch waiting books the task (immediate in tests)
    with tenant_scope(acme.pk):
        assert not SummaryPending.objects.exists()
        assert_every_reader_is_live(world)
    # Without the task: the next report adds them before it reads.
    with tenant_scope(acme.pk):
        imported(client, party, "READ", 2, "2025-04-05")
        assert SummaryPending.objects.count() == 1
        assert_every_reader_is_live(world)
        assert not SummaryPending.objects.exists()


def test_an_order_changed_before_the_catch_up_is_counted_once(
    world: dict[str, Any], alice: User, acme: Tenant
) -> None:
    """Every write of the summary adds what is pending first, so the edited order is not
    counted by the edit's refresh and again by the catch-up."""
    client = api_client(alice)
    party, other = world["parties"][4], world["parties"][7]
    with tenant_scope(acme.pk):
        first, second, _third = imported(client, party, "EDIT", 3, "2025-06-06")
        sales.order_update(actor=alice, order=first, order_date=datetime.date(2024, 2, 2))
        assert not SummaryPending.objects.exists()
        assert_every_reader_is_live(world)
        imported(client, other, "MORE", 2, "2023-03-03")
        sales.order_cancel(actor=alice, order=second)
        parties.party_update(actor=alice, party=other, province="浙江省", city="杭州市")
        assert_every_reader_is_live(world)
        kept = stored_rows()
        summary_rebuild()
        assert_same_rows(stored_rows(), kept)


def test_visibility_still_applies(
    world: dict[str, Any], alice: User, bob: User, acme: Tenant
) -> None:
    carol, erin = world["reps"][2], world["reps"][3]
    with tenant_scope(acme.pk):
        # Own and team visibility do not read the firm's rows (they know no party).
        assert not selectors.reads_summary(bob) and not selectors.reads_summary(carol)
        # A salesperson who sees every party reads the summary, as the admin does.
        assert selectors.reads_summary(erin, Dimension.REP)
        assert selectors.revenue_report(erin, WHOLE, Dimension.REP) == (
            selectors.revenue_report(alice, WHOLE, Dimension.REP)
        )
        assert_summary_is_live(erin, world)
        in_range = Order.objects.filter(
            status__in=BOOKED, currency="CNY", order_date__gte=WHOLE.since
        )
        own = in_range.filter(party__owner=bob).aggregate(r=Sum("revenue"))["r"]
        report = selectors.revenue_report(bob, WHOLE, Dimension.PRODUCT)
        assert report.total.revenue == own.quantize(D("0.01"))
        everyone = selectors.revenue_report(alice, WHOLE, Dimension.PRODUCT).total.revenue
        assert own < everyone
        # Carol sees her team's (华北: Bob and Carol) parties.
        team = in_range.filter(party__owner__in=[bob, carol]).aggregate(r=Sum("revenue"))["r"]
        carols = selectors.new_vs_existing(carol, WHOLE)
        assert sum(s.revenue for s in carols) == team.quantize(D("0.01"))


def test_a_firm_reads_only_its_own_summary(
    world: dict[str, Any], charlie: User, acme: Tenant, other: Tenant
) -> None:
    with tenant_scope(other.pk):
        assert not DailySales.objects.exists()
        report = selectors.revenue_report(charlie, WHOLE, Dimension.PERIOD)
        assert report.total == selectors.Figures() and not report.other_currencies
    with tenant_scope(acme.pk):
        assert DailySales.objects.exists() and Product.objects.count() == 5


def test_whole_months_read_the_month_rows_and_the_rest_the_day_rows(
    world: dict[str, Any], alice: User, acme: Tenant
) -> None:
    with tenant_scope(acme.pk):
        month = datetime.date(2024, 6, 1)
        row = DailySales.objects.filter(
            dimension="owner", currency="CNY", month=True, day=month
        ).first()
        assert row is not None  # June 2024 has sales
        DailySales.objects.filter(pk=row.pk).update(revenue=row.revenue + 1)

        def gap(since: datetime.date, until: datetime.date) -> Decimal:
            filters = ReportFilters(since=since, until=until)
            summary = selectors.revenue_report(alice, filters, Dimension.PERIOD).total
            return (
                summary.revenue
                - selectors.live_revenue_report(alice, filters, Dimension.PERIOD).total.revenue
            )

        june_30 = datetime.date(2024, 6, 30)
        assert gap(month, june_30) == 1  # the whole month: its month row
        assert gap(datetime.date(2024, 5, 15), datetime.date(2024, 7, 10)) == 1
        assert gap(datetime.date(2024, 6, 2), june_30) == 0  # not whole: its days' rows
        assert gap(month, datetime.date(2024, 6, 29)) == 0


@pytest.mark.parametrize("runs_at_once", [400, 1])
def test_bulk_batches_of_new_orders_add_up_to_the_rebuilt_summary(
    world: dict[str, Any], alice: User, acme: Tenant, runs_at_once: int, monkeypatch: Any
) -> None:
    """Batches of only new orders are added to the rows (`summary_catch_up`, all id
    ranges in one go or one range at a time), not computed again: new buyers, first
    sales moved earlier (into another month, quarter, year), a party edited since it was
    summarised, drafts, discounts, several lines of one category, another currency — and
    what they leave is what a rebuild gives."""
    monkeypatch.setattr(summary, "RUNS_AT_ONCE", runs_at_once)
    rng = random.Random(11)
    book, reps = world["parties"], world["reps"]
    client = api_client(alice)
    with tenant_scope(acme.pk):
        newcomer = parties.party_create(
            actor=alice, kind="organisation", name="新客户", owner=alice, province="广东省"
        )
        # Edited without any report read since: the batch finds it out of step.
        parties.party_update(actor=alice, party=book[6], province="江苏省", city="南京市")
        firsts_before = dict(SummaryParty.objects.values_list("party_id", "first_day"))
    codes = ["CH-1", "CH-2", "DK-1", "LP-1"]
    n = 0
    for batch in range(4):
        orders = []
        for _ in range(25):
            n += 1
            usd = rng.random() < 0.1
            lines = (
                [{"product_code": "US-1", "quantity": rng.randint(1, 5)}]
                if usd
                else [
                    {
                        "product_code": code,
                        "quantity": rng.randint(1, 4),
                        "discount": str(rng.choice([0, 0, 3])),
                    }
                    for code in rng.sample(codes, rng.randint(1, 3))
                ]
            )
            party = newcomer if n % 9 == 0 else rng.choice(book)
            orders.append(
                {
                    "external_id": f"ADD-{n}",
                    "party_id": party.pk,
                    # From 2023 on: earlier than most parties' first sale.
                    "order_date": str(datetime.date(2023, 1, 1) + datetime.timedelta(n * 23)),
                    "status": rng.choice(["confirmed", "fulfilled", "confirmed", "draft"]),
                    "currency": "USD" if usd else "CNY",
                    "discount": "0" if usd else str(rng.choice([0, 0, 7])),
                    "owner_id": rng.choice(reps).pk,
                    "lines": lines,
                }
            )
        answer = post(client, "/orders/bulk", {"orders": orders})
        assert answer.status_code == 200, answer.content
        assert answer.json()["created"] == 25, batch
    with tenant_scope(acme.pk):
        assert SummaryPending.objects.count() >= 4  # drafts are not pending: more ranges
        booked = Order.objects.filter(external_id__startswith="ADD-", status__in=BOOKED)
        assert summary_catch_up() == booked.count() > 50
        firsts = dict(SummaryParty.objects.values_list("party_id", "first_day"))
        moved = [pk for pk, day in firsts_before.items() if day and (firsts[pk] or day) < day]
        assert len(moved) >= 3 and firsts[newcomer.pk] is not None
        assert SummaryParty.objects.get(party=book[6]).province == "江苏省"
        kept = stored_rows()
        summary_rebuild()
        assert_same_rows(stored_rows(), kept)
        assert_every_reader_is_live(world)


def assert_same_rows(rebuilt: Counter[tuple[Any, ...]], kept: Counter[tuple[Any, ...]]) -> None:
    """The same keys and counts; revenue and profit within a millionth: shares of an order's
    revenue added batch by batch are rounded to six places before they are added."""
    assert set(kept.values()) == set(rebuilt.values()) == {1}
    n = len(SUMMED)
    by_key = {row[:-n]: row[-n:] for row in kept}
    assert len(by_key) == len(rebuilt) == len(kept)
    for row in rebuilt:
        sums = by_key[row[:-n]]
        assert sums[:3] == row[-n:][:3], row  # orders, quantity, cost: exact
        assert all(abs(a - b) <= D("0.000001") for a, b in zip(sums[3:], row[-2:], strict=True)), (
            row
        )


def test_new_within_is_the_summary_query_s() -> None:
    first = datetime.date(2024, 5, 20)
    assert new_within(datetime.date(2024, 5, 1), first) == 3
    assert new_within(datetime.date(2024, 4, 30), first) == 2
    assert new_within(datetime.date(2024, 7, 1), first) == 1
    assert new_within(datetime.date(2025, 5, 20), first) == 0
    assert new_within(datetime.date(2024, 5, 20), None) == 0


def test_own_visibility_reads_the_party_rows_of_the_parties_it_sees(
    world: dict[str, Any], alice: User, bob: User, acme: Tenant
) -> None:
    book = world["parties"]
    with tenant_scope(acme.pk):
        bobs = [p for p in book if p.owner_id == bob.pk]
        row = DailySales.objects.filter(
            dimension="party", currency="CNY", month=True, party_key__in=[p.pk for p in bobs]
        ).first()
        assert row is not None
        DailySales.objects.filter(pk=row.pk).update(revenue=row.revenue + 1)
        report = selectors.revenue_report(bob, WHOLE, Dimension.PERIOD)
        live = selectors.live_revenue_report(bob, WHOLE, Dimension.PERIOD)
        assert report.total.revenue == live.total.revenue + 1
        DailySales.objects.filter(pk=row.pk).update(revenue=row.revenue)
        # Who sees which party is read with the report: a party handed to Bob, one he
        # serves on its account team, and one left in the pool count at once; one handed
        # away no longer does.
        others = [p for p in book if p.owner_id != bob.pk]
        given, served, pooled = others[0], others[1], others[2]
        before = selectors.revenue_report(bob, WHOLE, Dimension.REP)
        parties.party_hand_over(actor=alice, party=given, receiver=bob, note="")
        parties.account_team_add(actor=alice, party=served, user=bob, role="service")
        Party.objects.filter(pk=pooled.pk).update(in_pool_since=datetime.datetime.now(datetime.UTC))
        parties.party_hand_over(actor=alice, party=bobs[0], receiver=alice, note="")
        after = selectors.revenue_report(bob, WHOLE, Dimension.REP)
        assert after != before
        assert after == selectors.live_revenue_report(bob, WHOLE, Dimension.REP)
        seen = Order.objects.filter(
            status__in=BOOKED,
            currency="CNY",
            party__in=[*bobs[1:], given, served, pooled],
            order_date__gte=WHOLE.since,
            order_date__lte=WHOLE.until,
        )
        assert after.total.revenue == seen.aggregate(r=Sum("revenue"))["r"].quantize(D("0.01"))
        assert_every_reader_is_live(world)


def test_a_rep_of_another_firm_reads_no_party_rows(
    world: dict[str, Any], charlie: User, acme: Tenant, other: Tenant
) -> None:
    with tenant_scope(other.pk):
        rep = staff(other, "olga", Role.SALES, Visibility.OWN)
        report = selectors.revenue_report(rep, WHOLE, Dimension.PERIOD)
        assert report.total == selectors.Figures() and not report.other_currencies
    with tenant_scope(acme.pk):
        assert DailySales.objects.filter(dimension="party").exists()


def test_the_party_rows_migration_leaves_pending_orders_to_the_catch_up(
    world: dict[str, Any], alice: User, acme: Tenant
) -> None:
    fill = importlib.import_module("kehu.sales.migrations.0007_daily_sales_party").fill
    with tenant_scope(acme.pk):
        imported(api_client(alice), world["parties"][3], "MIG", 3, "2025-05-05")
        assert SummaryPending.objects.exists()  # imported, not yet caught up
        DailySales.objects.filter(dimension="party").delete()
        fill(django_apps, None)
        assert DailySales.objects.filter(dimension="party").exists()
        assert summary_catch_up() == 3
        kept = stored_rows()
        summary_rebuild()
        assert_same_rows(stored_rows(), kept)
