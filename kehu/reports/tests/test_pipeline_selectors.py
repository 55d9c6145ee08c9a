"""The pipeline reports' figures on the hand-checked book of deals (deal_helpers)."""

import datetime
import statistics
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from kehu.core.context import tenant_scope
from kehu.parties import services as parties
from kehu.parties.models import Party
from kehu.reports import pipeline_selectors as pipeline
from kehu.reports.pipeline_selectors import By
from kehu.reports.selectors import ReportFilters
from kehu.reports.tests.deal_helpers import Deals, book_of_deals, created_on
from kehu.sales import pipeline_services as deals
from kehu.sales.models import Opportunity, StageMove
from kehu.sales.stage_stays import stage_stays_rebuild
from kehu.sales.tests.pipeline_helpers import new_sales, stage
from kehu.tenancy.models import Tenant, User

YEAR = ReportFilters(since=datetime.date(2025, 1, 1), until=datetime.date(2025, 12, 31))
Q1 = ReportFilters(
    since=datetime.date(2025, 1, 1), until=datetime.date(2025, 3, 31), period="month"
)


@pytest.fixture
def book(acme: Tenant, alice: User, bob: User) -> Any:
    with tenant_scope(acme.pk):
        yield book_of_deals(alice, bob)


def d(value: str) -> Decimal:
    return Decimal(value)


def rates(rows: list[pipeline.WinRate]) -> list[tuple[str, int, int, Decimal | None]]:
    return [(r.label, r.won, r.lost, r.win_rate) for r in rows]


def test_win_rate_by_month(book: Deals, alice: User) -> None:
    report = pipeline.win_rate(alice, Q1, By.PERIOD)
    assert rates(report.rows) == [
        ("2025-01", 1, 1, d("50.0")),
        ("2025-02", 0, 1, d("0.0")),
        ("2025-03", 2, 1, d("66.7")),
    ]
    total = report.total
    assert (total.won, total.lost, total.win_rate) == (3, 3, d("50.0"))
    # D6 is in USD: counted, not summed.
    assert (total.won_amount, total.lost_amount) == (d("3800.00"), d("800.00"))


def test_win_rate_by_rep_team_and_pipeline(book: Deals, alice: User) -> None:
    assert rates(pipeline.win_rate(alice, YEAR, By.REP).rows) == [
        ("Alice", 2, 3, d("40.0")),
        ("Bob", 1, 0, d("100.0")),
    ]
    # Bob is in both teams: D3 counts in each.
    assert rates(pipeline.win_rate(alice, YEAR, By.TEAM).rows) == [
        ("华北", 1, 0, d("100.0")),
        ("华南", 3, 3, d("50.0")),
    ]
    assert rates(pipeline.win_rate(alice, YEAR, By.PIPELINE).rows) == [
        ("新客户销售", 2, 3, d("40.0")),
        ("续约", 1, 0, d("100.0")),
    ]


def test_filters_by_rep_team_and_pipeline(book: Deals, alice: User, bob: User) -> None:
    by_bob = ReportFilters(since=YEAR.since, until=YEAR.until, owner_id=bob.pk)
    assert rates([pipeline.win_rate(alice, by_bob, By.REP).total]) == [("合计", 1, 0, d("100.0"))]
    renewals = ReportFilters(since=YEAR.since, until=YEAR.until, pipeline_id=book.renewals.pk)
    assert rates([pipeline.win_rate(alice, renewals, By.REP).total]) == [("合计", 1, 0, d("100.0"))]


def test_a_salesperson_reports_on_the_deals_he_sees(book: Deals, bob: User) -> None:
    # Bob owns D3 and O2; D4 is Alice's deal on his party 乙.
    assert rates([pipeline.win_rate(bob, YEAR, By.REP).total]) == [("合计", 1, 1, d("50.0"))]


def test_an_outsider_has_no_deals(book: Deals, charlie: User, other: Tenant) -> None:
    with tenant_scope(other.pk):
        assert pipeline.win_rate(charlie, YEAR, By.REP).total.closed == 0
        assert pipeline.pipeline_by_stage(charlie, YEAR).rows == []


def test_lost_reasons(book: Deals, alice: User) -> None:
    report = pipeline.lost_reasons(alice, YEAR)
    found = [(r.label, r.deals, r.share, r.amount) for r in report.rows]
    assert found == [("价格", 2, d("66.7"), d("500.00")), ("竞品", 1, d("33.3"), d("300.00"))]
    assert (report.total.deals, report.total.share, report.total.amount) == (
        3,
        d("100.0"),
        d("800.00"),
    )


def test_sales_cycle(book: Deals, alice: User) -> None:
    total = pipeline.sales_cycle(alice, YEAR, By.PERIOD).total
    # Days 4, 9, 10, 20, 30, 90: median 15, mean 163 / 6; won 10, 30, 90; lost 4, 9, 20.
    assert (total.deals, total.won, total.median_days, total.mean_days) == (
        6,
        3,
        d("15.0"),
        d("27.2"),
    )
    assert (total.won_median_days, total.lost_median_days) == (d("30.0"), d("9.0"))
    by_pipeline = {
        r.label: r.median_days for r in pipeline.sales_cycle(alice, YEAR, "pipeline").rows
    }
    assert by_pipeline == {"新客户销售": d("10.0"), "续约": d("90.0")}
    months = pipeline.sales_cycle(alice, Q1, By.PERIOD).rows
    assert [(r.label, r.deals, r.median_days) for r in months] == [
        ("2025-01", 2, d("15.0")),
        ("2025-02", 1, d("4.0")),
        ("2025-03", 3, d("30.0")),
    ]


def test_cycle_distribution(book: Deals, alice: User) -> None:
    buckets = pipeline.cycle_distribution(alice, YEAR)
    assert [(b.label, b.won, b.lost) for b in buckets] == [
        ("0–7 天", 0, 1),
        ("8–14 天", 1, 1),
        ("15–30 天", 1, 1),
        ("31–60 天", 0, 0),
        ("61–90 天", 1, 0),
        ("91–180 天", 0, 0),
        ("181–365 天", 0, 0),
        ("366 天以上", 0, 0),
    ]


def test_pipeline_by_stage(book: Deals, alice: User) -> None:
    report = pipeline.pipeline_by_stage(alice, YEAR)
    assert report.pipeline == book.new_sales  # the default one
    found = [(r.stage.name, r.deals, r.amount, r.weighted, r.other_currency) for r in report.rows]
    assert found == [
        ("初步接洽", 1, d("400.00"), d("40.00"), 0),
        ("需求确认", 0, d("0.00"), d("0.00"), 0),
        ("提案", 1, d("1000.00"), d("600.00"), 0),
        ("谈判", 0, d("0.00"), d("0.00"), 0),
        ("赢单", 2, d("3000.00"), d("3000.00"), 0),  # D7 closed in 2024
        ("输单", 3, d("800.00"), d("0.00"), 1),
    ]
    total = report.total()
    assert (total.deals, total.amount, total.weighted) == (2, d("1400.00"), d("640.00"))


def test_pipeline_by_stage_of_another_pipeline(book: Deals, alice: User) -> None:
    chosen = ReportFilters(since=YEAR.since, until=YEAR.until, pipeline_id=book.renewals.pk)
    report = pipeline.pipeline_by_stage(alice, chosen)
    assert [(r.stage.name, r.deals) for r in report.rows] == [
        ("续约洽谈", 0),
        ("续约成功", 1),
        ("未续约", 0),
    ]


def _moved(deal_pk: int, *times: datetime.datetime) -> None:
    """Set back the deal's stage moves, oldest first, to `times`: each with its stay in
    the stage it left, and the deal's last stage change, as the moves would have made
    them then."""
    moves = StageMove.objects.filter(opportunity_id=deal_pk).order_by("moved_at", "pk")
    for move, at, before in zip(moves, times, [None, *times[:-1]], strict=True):
        stayed = None if before is None else (at - before).total_seconds()
        StageMove.objects.filter(pk=move.pk).update(moved_at=at, stayed_seconds=stayed)
    Opportunity.objects.filter(pk=deal_pk).update(stage_changed_at=times[-1])
    stage_stays_rebuild()  # the moves were rewritten around the services


def at(month: int, day: int, hour: int = 12) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(2025, month, day, hour))


def test_time_in_stage_from_the_stage_history(in_acme: None, alice: User) -> None:
    pipeline_ = new_sales(alice)
    party = book_party(alice)
    fields: dict[str, Any] = {"amount": d("100"), "expected_close_date": datetime.date(2025, 6, 30)}
    t1 = deals.opportunity_create(actor=alice, party=party, name="T1", **fields)
    t2 = deals.opportunity_create(actor=alice, party=party, name="T2", **fields)
    deals.opportunity_move(actor=alice, opportunity=t1, stage=stage(pipeline_, "需求确认"))
    deals.opportunity_move(actor=alice, opportunity=t1, stage=stage(pipeline_, "谈判"))
    deals.opportunity_win(actor=alice, opportunity=t1)
    deals.opportunity_move(actor=alice, opportunity=t2, stage=stage(pipeline_, "需求确认"))
    _moved(t1.pk, at(1, 1, 0), at(1, 3), at(1, 10), at(1, 20))
    _moved(t2.pk, at(1, 1, 0), at(1, 4))
    report = pipeline.time_in_stage(alice, YEAR, now=at(2, 1))
    found = [
        (
            r.stage.name,
            r.stays,
            r.median_days,
            r.mean_days,
            r.current,
            r.current_mean_days,
        )
        for r in report.rows
    ]
    assert found == [
        ("初步接洽", 2, d("3.0"), d("3.0"), 0, None),  # 2.5 and 3.5 days
        ("需求确认", 1, d("7.0"), d("7.0"), 1, d("28.0")),
        ("提案", 0, None, None, 0, None),  # skipped
        ("谈判", 1, d("10.0"), d("10.0"), 0, None),
    ]
    # A stay counts in the range it ended in.
    february = ReportFilters(since=datetime.date(2025, 2, 1), until=datetime.date(2025, 2, 28))
    later = pipeline.time_in_stage(alice, february, now=at(2, 1))
    assert [r.stays for r in later.rows] == [0, 0, 0, 0]
    assert later.rows[1].current == 1


@pytest.mark.parametrize("count", [1, 2, 7, 40, 41])
def test_time_in_stage_median_and_mean_of_many_stays(
    in_acme: None, alice: User, count: int
) -> None:
    """Stays spread over days, with ties, both middle ones in one day or in two: the
    report's median and mean are those of the stays themselves."""
    pipeline_ = new_sales(alice)
    first, second = stage(pipeline_, "初步接洽"), stage(pipeline_, "需求确认")
    deal = book_deal(alice, "M", datetime.date(2025, 6, 30))
    day = 86400.0
    # 0 to 8.8 days: whole days holding 2 to 8 stays, ties (k and 23 − k alike mod 3).
    lengths = [(k * k % 23) * day / 2.3 + (k % 3) * 0.5 * day for k in range(count)]
    StageMove.objects.bulk_create(
        StageMove(
            tenant_id=deal.tenant_id,
            opportunity=deal,
            from_stage=first,
            to_stage=second,
            moved_at=at(3, 1) + datetime.timedelta(hours=k),
            stayed_seconds=seconds,
        )
        for k, seconds in enumerate(lengths)
    )
    # One stay outside the range: not counted.
    StageMove.objects.create(
        opportunity=deal,
        from_stage=first,
        to_stage=second,
        moved_at=timezone.make_aware(datetime.datetime(2024, 6, 1)),
        stayed_seconds=1.0,
    )
    stage_stays_rebuild()  # the moves were written around the services
    [row] = [r for r in pipeline.time_in_stage(alice, YEAR).rows if r.stage == first]
    assert row.stays == count
    assert row.median_days == pipeline.days(statistics.median(lengths) / day)
    assert row.mean_days == pipeline.days(statistics.fmean(lengths) / day)


def book_party(alice: User) -> Party:
    return parties.party_create(actor=alice, kind="organisation", name="甲公司", owner=alice)


def book_deal(alice: User, name: str, closes: datetime.date) -> Opportunity:
    """An open deal of 1 CNY on a new party, expected to close on `closes`."""
    return deals.opportunity_create(
        actor=alice, party=book_party(alice), name=name, amount=d("1"), expected_close_date=closes
    )


def test_cycle_counts_from_creation_day(in_acme: None, alice: User) -> None:
    new_sales(alice)
    deal = book_deal(alice, "X", datetime.date(2025, 6, 1))
    deals.opportunity_win(actor=alice, opportunity=deal, closed_on=datetime.date(2025, 6, 1))
    created_on(deal, datetime.date(2025, 5, 1))
    assert pipeline.sales_cycle(alice, YEAR, By.REP).total.median_days == d("31.0")
