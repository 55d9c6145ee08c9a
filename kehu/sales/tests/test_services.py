"""Catalogue and order services: arithmetic, state changes, returns and refusals."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from kehu.core.audit import audit_for
from kehu.core.context import tenant_scope
from kehu.parties.models import RelationshipState, StateChange
from kehu.sales import services
from kehu.sales.models import Order, OrderKind, OrderLine, OrderStatus
from kehu.sales.selectors import party_sales
from kehu.sales.services import LineIn
from kehu.sales.tests.helpers import DAY, party_in, product, sale
from kehu.tenancy.models import User

pytestmark = pytest.mark.usefixtures("in_acme")
D = Decimal
S = RelationshipState


def errors_of(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return exc.value.message_dict


# --- arithmetic ------------------------------------------------------------------------


def test_margin_is_computed_from_the_lines(alice: User) -> None:
    party = party_in(alice)
    chair = product(alice, "CH-1", "100.00", "60.00")
    desk = product(alice, "DK-1", "1250.50", "800.25")
    order = services.order_create(
        actor=alice,
        party=party,
        lines=[
            LineIn(chair, D("3"), discount=D("10.00")),  # 300 − 10 = 290, cost 180
            LineIn(desk, D("2")),  # 2501.00, cost 1600.50
        ],
        discount=D("91.00"),
        order_date=DAY,
    )
    assert order.subtotal == D("2791.00")
    assert order.revenue == D("2700.00")
    assert order.cost == D("1780.50")
    assert order.profit == D("919.50")
    assert order.margin == D("919.50") / D("2700.00")
    amounts = list(order.lines.order_by("position").values_list("amount", "cost_amount"))
    assert amounts == [(D("290.00"), D("180.00")), (D("2501.00"), D("1600.50"))]


def test_amounts_round_to_the_cent_half_up(alice: User) -> None:
    tea = product(alice, "TEA", "9.99", "3.35")
    order = sale(alice, party_in(alice), [(tea, "0.335")])
    line = order.lines.get()
    assert line.amount == D("3.35")  # 3.34665 → 3.35
    assert line.cost_amount == D("1.12")  # 1.12225 → 1.12
    assert order.profit == D("2.23")


def test_prices_are_captured_when_ordered(alice: User) -> None:
    chair = product(alice, "CH-1", "100.00", "60.00")
    order = sale(alice, party_in(alice), [(chair, "1")])
    services.product_update(actor=alice, product=chair, unit_price=D("120"), unit_cost=D("70"))
    order.refresh_from_db()
    line = order.lines.get()
    assert (line.unit_price, line.unit_cost, order.revenue) == (D("100"), D("60"), D("100"))


def test_given_prices_win_over_the_catalogue(alice: User) -> None:
    chair = product(alice, "CH-1", "100.00", "60.00")
    order = services.order_create(
        actor=alice,
        party=party_in(alice),
        lines=[LineIn(chair, D("2"), unit_price=D("0"), unit_cost=D("55"))],
    )
    assert (order.revenue, order.cost, order.profit) == (D("0"), D("110"), D("-110"))
    assert order.margin is None  # a free sample has no margin, not a division by zero


# --- numbers, audit --------------------------------------------------------------------


def test_orders_are_numbered_and_numbers_are_unique(alice: User) -> None:
    chair = product(alice)
    party = party_in(alice)
    first = sale(alice, party, [(chair, "1")])
    assert first.number == f"SO20250301-{first.pk:06d}"
    sale(alice, party, [(chair, "1")], number="HT-2025-001")
    with pytest.raises(ValidationError) as exc:
        sale(alice, party, [(chair, "1")], number="HT-2025-001")
    assert errors_of(exc) == {"number": ["已有订单使用这个订单号。"]}
    with pytest.raises(ValidationError) as exc:
        sale(alice, party, [(chair, "1")], number=first.number)
    assert "number" in errors_of(exc)
    assert Order.objects.count() == 2


def test_an_order_is_in_its_own_history_and_its_partys(alice: User) -> None:
    party = party_in(alice)
    order = sale(alice, party, [(product(alice), "2")], status=OrderStatus.DRAFT)
    services.order_confirm(actor=alice, order=order)
    own = [(e.action, sorted(e.changes)) for e in audit_for(order)]
    assert own[0] == ("update", ["status"])
    assert own[1][0] == "create" and "lines" in own[1][1] and "revenue" in own[1][1]
    created = audit_for(order).last()
    assert created is not None and created.changes["lines"] == [None, ["A-100 × 2 @ 100.00 − 0.00"]]
    on_party = audit_for(party).filter(object_type="sales.order")
    assert on_party.count() == 2


# --- the relationship state ------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (S.POTENTIAL, S.CURRENT),
        (S.TARGET, S.CURRENT),
        (S.LOST, S.WON_BACK),
        (S.CURRENT, S.CURRENT),
        (S.WON_BACK, S.WON_BACK),
    ],
)
def test_a_booked_order_makes_the_party_a_customer(alice: User, before: str, after: str) -> None:
    party = party_in(alice, state=before)
    moves = StateChange.objects.filter(party=party).count()
    order = sale(alice, party, [(product(alice), "1")])
    party.refresh_from_db()
    assert party.relationship_state == after
    changes = StateChange.objects.filter(party=party).order_by("-id")
    assert changes.count() == moves + (before != after)
    if before != after:
        change = changes.first()
        assert change is not None and order.number in change.reason
        assert change.changed_by == alice


def test_a_draft_is_not_a_sale_until_confirmed(alice: User) -> None:
    party = party_in(alice)
    order = sale(alice, party, [(product(alice), "1")], status=OrderStatus.DRAFT)
    party.refresh_from_db()
    assert party.relationship_state == S.POTENTIAL
    services.order_confirm(actor=alice, order=order)
    party.refresh_from_db()
    assert party.relationship_state == S.CURRENT
    reason = StateChange.objects.get(party=party).reason
    assert reason == f"首次成交：订单 {order.number}"


def test_a_second_order_moves_nothing(alice: User) -> None:
    party = party_in(alice)
    chair = product(alice)
    sale(alice, party, [(chair, "1")])
    sale(alice, party, [(chair, "1")])
    assert StateChange.objects.filter(party=party).count() == 1


# --- status ----------------------------------------------------------------------------


def test_status_moves_follow_the_rules(alice: User) -> None:
    order = sale(alice, party_in(alice), [(product(alice), "1")], status=OrderStatus.DRAFT)
    with pytest.raises(ValidationError) as exc:
        services.order_fulfil(actor=alice, order=order)
    assert errors_of(exc) == {"status": ["订单不能从「草稿」变为「已完成」。"]}
    services.order_confirm(actor=alice, order=order)
    services.order_fulfil(actor=alice, order=order)
    with pytest.raises(ValidationError):
        services.order_cancel(actor=alice, order=order)
    order.refresh_from_db()
    assert order.status == OrderStatus.FULFILLED


def test_new_orders_cannot_start_cancelled(alice: User) -> None:
    with pytest.raises(ValidationError) as exc:
        sale(alice, party_in(alice), [(product(alice), "1")], status=OrderStatus.CANCELLED)
    assert "status" in errors_of(exc)


def test_a_cancelled_order_is_left_out_of_the_partys_sales(alice: User) -> None:
    party = party_in(alice)
    chair = product(alice)
    sale(alice, party, [(chair, "2")])
    services.order_cancel(actor=alice, order=sale(alice, party, [(chair, "5")]))
    totals = party_sales(party.pk)
    assert (totals.orders, totals.revenue, totals.profit) == (1, D("200"), D("80"))
    assert totals.last_order == DAY


# --- updates ---------------------------------------------------------------------------


def test_update_replaces_the_lines_and_recomputes(alice: User) -> None:
    chair = product(alice, "CH-1", "100", "60")
    desk = product(alice, "DK-1", "500", "300")
    order = sale(alice, party_in(alice), [(chair, "1")])
    services.order_update(
        actor=alice, order=order, lines=[LineIn(desk, D("2"))], note="改为两张桌子"
    )
    order.refresh_from_db()
    assert [(line.product_id, line.quantity) for line in order.lines.all()] == [(desk.pk, D("2"))]
    assert (order.revenue, order.profit, order.note) == (D("1000"), D("400"), "改为两张桌子")
    entry = audit_for(order).first()
    assert entry is not None
    assert entry.changes["lines"] == [["CH-1 × 1 @ 100.00 − 0.00"], ["DK-1 × 2 @ 500.00 − 0.00"]]


def test_update_refuses_unknown_fields_and_cancelled_orders(alice: User) -> None:
    order = sale(alice, party_in(alice), [(product(alice), "1")])
    with pytest.raises(ValidationError):
        services.order_update(actor=alice, order=order, kind=OrderKind.RETURN)
    services.order_cancel(actor=alice, order=order)
    with pytest.raises(ValidationError):
        services.order_update(actor=alice, order=order, note="x")


def test_a_currency_change_reprices_nothing_silently(alice: User) -> None:
    chair = product(alice)
    order = sale(alice, party_in(alice), [(chair, "1")])
    with pytest.raises(ValidationError) as exc:
        services.order_update(actor=alice, order=order, currency="USD")
    assert errors_of(exc) == {"currency": ["更换币种时请按新币种重新填写订单行。"]}
    with pytest.raises(ValidationError) as exc:
        services.order_update(
            actor=alice, order=order, currency="USD", lines=[LineIn(chair, D("1"))]
        )
    assert set(errors_of(exc)) == {"lines[0].unit_price", "lines[0].unit_cost"}
    usd = [LineIn(chair, D("1"), unit_price=D("14"), unit_cost=D("8.5"))]
    services.order_update(actor=alice, order=order, currency="USD", lines=usd)
    order.refresh_from_db()
    assert (order.currency, order.revenue, order.profit) == ("USD", D("14"), D("5.5"))


# --- refusals --------------------------------------------------------------------------


def test_bad_lines_are_refused_each_by_its_field(alice: User) -> None:
    chair = product(alice)
    party = party_in(alice)
    with pytest.raises(ValidationError) as exc:
        services.order_create(
            actor=alice,
            party=party,
            lines=[
                LineIn(chair, D("1")),
                LineIn(chair, D("-2")),
                LineIn(chair, D("1"), discount=D("100.01")),
                LineIn(chair, D("1"), unit_price=D("-1")),
                LineIn(chair, D("1.0001")),
            ],
        )
    errors = errors_of(exc)
    assert errors.pop("lines[4].quantity")  # Django's own "at most 3 decimal places"
    assert errors == {
        "lines[1].quantity": ["数量必须大于 0。"],
        "lines[2].discount": ["行折扣不能超过行金额。"],
        "lines[3].unit_price": ["不能为负数。"],
    }
    assert Order.objects.count() == 0 and OrderLine.objects.count() == 0


def test_an_order_needs_lines_and_a_discount_within_its_amount(alice: User) -> None:
    party = party_in(alice)
    with pytest.raises(ValidationError) as exc:
        services.order_create(actor=alice, party=party, lines=[])
    assert errors_of(exc) == {"lines": ["订单至少要有一行。"]}
    with pytest.raises(ValidationError) as exc:
        sale(alice, party, [(product(alice), "1")], discount=D("100.01"))
    assert errors_of(exc) == {"discount": ["整单折扣不能超过订单金额。"]}


def test_an_unknown_currency_is_refused(alice: User) -> None:
    with pytest.raises(ValidationError) as exc:
        sale(alice, party_in(alice), [(product(alice), "1")], currency="XYZ")
    assert errors_of(exc) == {"currency": ["不支持的币种：XYZ。"]}


def test_a_product_priced_in_another_currency_needs_prices(alice: User) -> None:
    usd = product(alice, "US-1", "10", "6", currency="USD")
    party = party_in(alice)
    with pytest.raises(ValidationError) as exc:
        sale(alice, party, [(usd, "1")])
    assert set(errors_of(exc)) == {"lines[0].unit_price", "lines[0].unit_cost"}
    order = sale(alice, party, [(usd, "1")], currency="USD")
    assert (order.currency, order.revenue) == ("USD", D("10"))


def test_an_inactive_product_cannot_be_sold(alice: User) -> None:
    chair = services.product_deactivate(actor=alice, product=product(alice))
    with pytest.raises(ValidationError) as exc:
        sale(alice, party_in(alice), [(chair, "1")])
    assert errors_of(exc) == {"lines[0].product": ["产品「产品A-100」已停售。"]}


def test_another_firms_party_or_product_is_refused(alice: User, charlie: User) -> None:
    with tenant_scope(charlie.tenant_id):  # type: ignore[arg-type]
        their_party = party_in(charlie, "外公司")
        their_product = product(charlie, "X-1")
    with pytest.raises(ValidationError) as exc:
        sale(alice, their_party, [(product(alice), "1")], owner=alice)
    assert errors_of(exc) == {"party": ["没有找到这个客户，或您无权查看。"]}
    with pytest.raises(ValidationError) as exc:
        sale(alice, party_in(alice), [(their_product, "1")])
    assert errors_of(exc) == {"lines[0].product": ["没有找到这个产品。"]}
    assert Order.objects.count() == 0


def test_the_owner_must_be_active_staff_of_the_firm(alice: User, bob: User, charlie: User) -> None:
    chair = product(alice)
    with pytest.raises(ValidationError) as exc:
        sale(alice, party_in(alice), [(chair, "1")], owner=charlie)
    assert "owner" in errors_of(exc)
    order = sale(alice, party_in(alice, "乙公司"), [(chair, "1")], owner=bob)
    assert order.owner == bob


# --- returns ---------------------------------------------------------------------------


def test_a_return_refunds_what_was_paid_in_proportion(alice: User) -> None:
    chair = product(alice, "CH-1", "100.00", "60.00")
    original = services.order_create(
        actor=alice,
        party=party_in(alice),
        lines=[LineIn(chair, D("4"), discount=D("20.00"))],  # 380
        discount=D("38.00"),  # revenue 342
        status=OrderStatus.CONFIRMED,
        order_date=DAY,
    )
    returned = services.return_create(actor=alice, original=original, lines=[(chair, D("1"))])
    assert returned.kind == OrderKind.RETURN and returned.original == original
    assert returned.status == OrderStatus.CONFIRMED
    line = returned.lines.get()
    assert (line.unit_price, line.discount, line.amount) == (D("100"), D("5.00"), D("95.00"))
    assert returned.discount == D("9.50")  # 38 × 95 / 380
    assert (returned.revenue, returned.cost, returned.profit) == (
        D("-85.50"),
        D("-60"),
        D("-25.50"),
    )
    assert returned.number.startswith("RT")
    rest = services.return_create(actor=alice, original=original, lines=[(chair, D("3"))])
    assert returned.revenue + rest.revenue == -original.revenue
    assert returned.profit + rest.profit == -original.profit


def test_returning_more_than_was_bought_is_refused(alice: User) -> None:
    chair = product(alice, "CH-1")
    desk = product(alice, "DK-1")
    original = sale(alice, party_in(alice), [(chair, "2")])
    with pytest.raises(ValidationError) as exc:
        services.return_create(actor=alice, original=original, lines=[(chair, D("3"))])
    assert errors_of(exc) == {"lines[0].quantity": ["退货数量超过可退数量（2）。"]}
    first = services.return_create(actor=alice, original=original, lines=[(chair, D("1.5"))])
    with pytest.raises(ValidationError) as exc:
        services.return_create(
            actor=alice, original=original, lines=[(chair, D("0.4")), (chair, D("0.2"))]
        )
    assert errors_of(exc) == {"lines[1].quantity": ["退货数量超过可退数量（0.5）。"]}
    with pytest.raises(ValidationError) as exc:
        services.return_create(actor=alice, original=original, lines=[(desk, D("1"))])
    assert errors_of(exc) == {"lines[0].product": ["原订单中没有这个产品。"]}
    services.order_cancel(actor=alice, order=first)  # a cancelled return frees its quantity
    services.return_create(actor=alice, original=original, lines=[(chair, D("2"))])
    assert Order.objects.filter(kind=OrderKind.RETURN).count() == 2


def test_only_booked_orders_can_be_returned(alice: User) -> None:
    chair = product(alice)
    draft = sale(alice, party_in(alice), [(chair, "1")], status=OrderStatus.DRAFT)
    with pytest.raises(ValidationError) as exc:
        services.return_create(actor=alice, original=draft, lines=[(chair, D("1"))])
    assert "original" in errors_of(exc)
    original = sale(alice, party_in(alice, "乙公司"), [(chair, "2")])
    returned = services.return_create(actor=alice, original=original, lines=[(chair, D("1"))])
    with pytest.raises(ValidationError):
        services.return_create(actor=alice, original=returned, lines=[(chair, D("1"))])
    with pytest.raises(ValidationError) as exc:
        services.return_create(
            actor=alice,
            original=original,
            lines=[(chair, D("1"))],
            order_date=DAY - datetime.timedelta(days=1),
        )
    assert "order_date" in errors_of(exc)


def test_an_order_with_returns_keeps_its_lines_and_is_not_cancelled(alice: User) -> None:
    chair = product(alice)
    original = sale(alice, party_in(alice), [(chair, "2")])
    services.return_create(actor=alice, original=original, lines=[(chair, D("1"))])
    with pytest.raises(ValidationError) as exc:
        services.order_update(actor=alice, order=original, lines=[LineIn(chair, D("5"))])
    assert errors_of(exc) == {"lines": ["订单已有退货，不能修改订单行。"]}
    with pytest.raises(ValidationError) as exc:
        services.order_cancel(actor=alice, order=original)
    assert errors_of(exc) == {"status": ["请先取消这个订单的退货。"]}
    services.order_update(actor=alice, order=original, note="备注可以改")


def test_returns_count_against_the_partys_sales(alice: User) -> None:
    chair = product(alice, "CH-1", "100", "60")
    party = party_in(alice)
    original = sale(alice, party, [(chair, "3")])
    services.return_create(actor=alice, original=original, lines=[(chair, D("1"))])
    totals = party_sales(party.pk)
    assert (totals.orders, totals.returns, totals.revenue, totals.profit) == (
        1,
        1,
        D("200"),
        D("80"),
    )


# --- the catalogue ---------------------------------------------------------------------


def test_products_are_unique_by_code_and_audited(alice: User) -> None:
    chair = product(alice, " CH-1 ")
    assert chair.code == "CH-1"
    with pytest.raises(ValidationError) as exc:
        product(alice, "CH-1")
    assert errors_of(exc) == {"code": ["已有产品使用这个编码。"]}
    services.product_update(actor=alice, product=chair, unit_price=D("150"))
    services.product_deactivate(actor=alice, product=chair)
    chair.refresh_from_db()
    assert (chair.unit_price, chair.is_active) == (D("150"), False)
    assert [e.action for e in audit_for(chair)] == ["update", "update", "create"]


def test_product_money_is_never_negative(alice: User) -> None:
    with pytest.raises(ValidationError) as exc:
        product(alice, "N-1", "-1")
    assert "unit_price" in errors_of(exc)


def test_categories_nest_and_are_unique(alice: User) -> None:
    office = services.category_create(actor=alice, name="办公家具")
    chairs = services.category_create(actor=alice, name="办公椅", parent=office)
    assert chairs.parent == office
    with pytest.raises(ValidationError):
        services.category_create(actor=alice, name=" 办公椅 ")
    chair = product(alice, "CH-1", category=chairs)
    assert chair.category == chairs
