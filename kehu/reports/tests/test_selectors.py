"""Each report's figures on the hand-checked book (helpers.py), for the whole firm and
for a salesperson who sees only his own customers."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from kehu.reports import selectors
from kehu.reports.periods import Period, Preset, period_starts, preset_range
from kehu.reports.selectors import Dimension, Figures, ReportFilters
from kehu.reports.tests.helpers import Book, book_of_business
from kehu.tenancy.models import Team, User

D = Decimal
YEAR = ReportFilters(since=datetime.date(2025, 1, 1), until=datetime.date(2025, 12, 31))
pytestmark = pytest.mark.usefixtures("in_acme")


@pytest.fixture
def book(alice: User, bob: User) -> Book:
    return book_of_business(alice, bob)


def figures(orders: int, revenue: str, cost: str, profit: str) -> Figures:
    return Figures(orders, D(revenue), D(cost), D(profit))


def rows(user: User, by: str, filters: ReportFilters = YEAR) -> dict[str, Figures]:
    return {r.label: r.figures for r in selectors.revenue_report(user, filters, by).rows}


def test_by_month_counts_booked_cny_orders_with_returns_negative(book: Book, alice: User) -> None:
    report = selectors.revenue_report(alice, YEAR, Dimension.PERIOD)
    by_month = {r.label: r.figures for r in report.rows}
    assert len(by_month) == 12  # empty months too
    assert by_month["2025-01"] == figures(1, "200.00", "120.00", "80.00")
    # The return (−100) and Bob's sale (300); the cancelled desk order is not there.
    assert by_month["2025-02"] == figures(1, "200.00", "120.00", "80.00")
    assert by_month["2025-03"] == figures(1, "540.00", "360.00", "180.00")
    assert by_month["2025-04"] == Figures()
    assert report.total == figures(3, "940.00", "600.00", "340.00")
    assert report.total.margin == D("36.2")
    assert by_month["2025-03"].margin == D("33.3")
    [usd] = report.other_currencies
    assert (usd.currency, usd.figures) == ("USD", figures(1, "10.00", "6.00", "4.00"))


def test_by_quarter_and_year(book: Book, alice: User) -> None:
    quarters = rows(
        alice, Dimension.PERIOD, ReportFilters(**{**YEAR.__dict__, "period": Period.QUARTER})
    )
    assert list(quarters) == ["2025 Q1", "2025 Q2", "2025 Q3", "2025 Q4"]
    assert quarters["2025 Q1"] == figures(3, "940.00", "600.00", "340.00")
    years = rows(alice, Dimension.PERIOD, ReportFilters(**{**YEAR.__dict__, "period": Period.YEAR}))
    assert years == {"2025": figures(3, "940.00", "600.00", "340.00")}


def test_by_rep_and_filters(book: Book, alice: User, bob: User) -> None:
    assert rows(alice, Dimension.REP) == {
        "Alice": figures(2, "640.00", "420.00", "220.00"),
        "Bob": figures(1, "300.00", "180.00", "120.00"),
    }
    only_bob = ReportFilters(**{**YEAR.__dict__, "owner_id": bob.pk})
    assert selectors.revenue_report(alice, only_bob, Dimension.PERIOD).total.revenue == D("300.00")


def test_by_team_counts_a_rep_in_two_teams_in_both(book: Book, alice: User) -> None:
    report = selectors.revenue_report(alice, YEAR, Dimension.TEAM)
    assert {r.label: r.figures.revenue for r in report.rows} == {
        "华南": D("940.00"),
        "华北": D("300.00"),
    }
    assert report.total.revenue == D("940.00")  # each order once
    north = Team.objects.get(name="华北")
    filtered = ReportFilters(**{**YEAR.__dict__, "team_id": north.pk})
    assert selectors.revenue_report(alice, filtered, Dimension.REP).total.revenue == D("300.00")


def test_by_product_and_category_spread_the_discount_over_lines(book: Book, alice: User) -> None:
    assert rows(alice, Dimension.PRODUCT) == {
        # 200 − 100 (the return) + 90 (its share of the discounted order) + 300
        "CH-1 产品CH-1": figures(3, "490.00", "300.00", "190.00"),
        "DK-1 产品DK-1": figures(1, "450.00", "300.00", "150.00"),
    }
    assert rows(alice, Dimension.CATEGORY) == {
        "椅子": figures(3, "490.00", "300.00", "190.00"),
        "未分类": figures(1, "450.00", "300.00", "150.00"),
    }


def test_by_region_with_city_drill_down_and_by_channel(book: Book, alice: User) -> None:
    assert {k: f.revenue for k, f in rows(alice, Dimension.REGION).items()} == {
        "广东省": D("640.00"),
        "北京市": D("300.00"),
    }
    guangdong = ReportFilters(**{**YEAR.__dict__, "province": "广东省"})
    report = selectors.revenue_report(alice, guangdong, Dimension.REGION)
    assert {r.label: r.figures.revenue for r in report.rows} == {"深圳市": D("640.00")}
    assert report.total.revenue == D("640.00")
    assert {k: f.revenue for k, f in rows(alice, Dimension.CHANNEL).items()} == {
        "展会": D("640.00"),
        "未填写": D("300.00"),
    }


def test_a_salesperson_sees_only_his_own_book(book: Book, bob: User) -> None:
    assert selectors.revenue_report(bob, YEAR, Dimension.PERIOD).total == figures(
        1, "300.00", "180.00", "120.00"
    )
    assert list(rows(bob, Dimension.REGION)) == ["北京市"]
    assert [c.name for c in selectors.customer_effort(bob, YEAR)] == ["乙公司"]


def test_customer_effort_ranks_by_hours_with_profit_per_hour(book: Book, alice: User) -> None:
    found = selectors.customer_effort(alice, YEAR)
    assert [(c.name, c.hours) for c in found] == [
        ("甲公司", D("3.0")),
        ("丁公司", D("1.5")),
        ("乙公司", D("1.0")),
        ("丙公司", D("0.5")),
    ]
    jia, ding, yi, _bing = found
    assert (jia.figures.revenue, jia.figures.profit, jia.profit_per_hour) == (
        D("640.00"),
        D("220.00"),
        D("73.33"),
    )
    assert yi.profit_per_hour == D("120.00")
    assert ding.figures == Figures() and ding.profit_per_hour == D("0.00")
    top_two = ReportFilters(**{**YEAR.__dict__, "top": 2})
    assert [c.name for c in selectors.customer_effort(alice, top_two)] == ["甲公司", "丁公司"]


def test_new_vs_existing_splits_revenue_and_hours(book: Book, alice: User) -> None:
    splits = {s.label: s for s in selectors.new_vs_existing(alice, YEAR)}
    jan, feb, mar = splits["2025-01"], splits["2025-02"], splits["2025-03"]
    assert (jan.new.revenue, jan.existing.revenue, jan.new_revenue_share) == (
        D("200.00"),
        D("0.00"),
        D("100.0"),
    )
    # 乙 is new in February; 甲, new in January, is existing by its return.
    assert (feb.new.revenue, feb.existing.revenue, feb.existing.profit) == (
        D("300.00"),
        D("-100.00"),
        D("-40.00"),
    )
    assert (jan.new_minutes, feb.new_minutes, feb.existing_minutes) == (120, 60, 0)
    # March: 甲 existing (60 min), 丙 new by its USD order (30), 丁 a prospect (90).
    assert (mar.new.revenue, mar.existing.revenue) == (D("0.00"), D("540.00"))
    assert (mar.new_minutes, mar.existing_minutes, mar.prospect_minutes) == (30, 60, 90)
    assert (mar.new_hours_share, mar.existing_hours_share) == (D("16.7"), D("33.3"))
    assert splits["2025-04"].new_hours_share is None


def test_until_before_since_names_the_field() -> None:
    with pytest.raises(ValidationError) as raised:
        selectors.report_filters(
            today=datetime.date(2025, 6, 1),
            since=datetime.date(2025, 5, 1),
            until=datetime.date(2025, 4, 1),
        )
    assert "until" in raised.value.message_dict


def test_presets_and_periods() -> None:
    today = datetime.date(2025, 6, 15)
    assert preset_range(Preset.THIS_YEAR, today) == (datetime.date(2025, 1, 1), today)
    assert preset_range(Preset.LAST_YEAR, today) == (
        datetime.date(2024, 1, 1),
        datetime.date(2024, 12, 31),
    )
    assert preset_range(Preset.LAST_12_MONTHS, today) == (datetime.date(2024, 7, 1), today)
    assert period_starts(datetime.date(2024, 11, 5), datetime.date(2025, 2, 1), Period.QUARTER) == [
        datetime.date(2024, 10, 1),
        datetime.date(2025, 1, 1),
    ]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's query plan")
def test_party_and_effort_rows_are_read_off_the_day_indexes(book: Book, bob: User) -> None:
    # A salesperson's rows are a few of the range's: read off the index alone, without a
    # lookup of each of the range's rows in the table (migrations sales 0011, activities
    # 0006). PostgreSQL plans these tables by their size (a bitmap scan at 1M orders).
    party_rows = selectors.PartyBook(bob, YEAR, Dimension.PERIOD).rows(Dimension.PERIOD)
    sales = party_rows.values_list("day", "owner_id", "orders", "revenue", "cost", "profit")
    effort = selectors._effort_rows(bob, YEAR).values_list(
        "day", "party_id", "interaction_minutes", "task_minutes", "service_minutes"
    )
    assert "USING COVERING INDEX daily_sales_day_idx" in sales.explain()
    assert "USING COVERING INDEX daily_effort_day_idx" in effort.explain()
