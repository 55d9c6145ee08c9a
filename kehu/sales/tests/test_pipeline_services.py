"""Pipelines, stages and opportunities: the rules of moving, winning and losing, the
forecast's arithmetic and the stale flag."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from kehu.activities import services as activities
from kehu.core.models import AuditEntry
from kehu.parties import services as parties
from kehu.parties.models import RelationshipState
from kehu.sales import pipeline_selectors as selectors
from kehu.sales import pipeline_services as deals
from kehu.sales import services
from kehu.sales.models import (
    Opportunity,
    Order,
    OrderStatus,
    PipelineSettings,
    StageKind,
    StageMove,
)
from kehu.sales.tests.helpers import party_in, product
from kehu.sales.tests.pipeline_helpers import deal, new_sales, stage
from kehu.tenancy import services as tenancy
from kehu.tenancy.models import User

pytestmark = pytest.mark.usefixtures("in_acme")
D = Decimal
CLOSE = datetime.date(2030, 6, 15)


def test_the_first_pipeline_is_the_default_and_needs_won_and_lost(alice: User) -> None:
    first = new_sales(alice)
    second = new_sales(alice, "续约/增购")
    assert first.is_default and not second.is_default
    with pytest.raises(ValidationError) as caught:
        deals.pipeline_create(actor=alice, name="无终点", stages=[deals.StageIn("接洽", 10)])
    assert "stages" in caught.value.message_dict
    deals.pipeline_update(actor=alice, pipeline=second, is_default=True)
    first.refresh_from_db()
    assert not first.is_default


def test_a_bad_stage_is_named_by_its_row(alice: User) -> None:
    with pytest.raises(ValidationError) as caught:
        deals.pipeline_create(
            actor=alice,
            name="坏",
            stages=[deals.StageIn("接洽", 150), deals.StageIn("赢", 100, StageKind.WON)],
        )
    assert list(caught.value.message_dict) == ["stages[0].probability"]


def test_a_new_deal_starts_in_the_first_stage_with_history(alice: User) -> None:
    pipeline = new_sales(alice)
    party = party_in(alice)
    opportunity = deal(alice, party)
    assert opportunity.stage.name == "初步接洽"
    assert opportunity.owner == party.owner
    move = StageMove.objects.get(opportunity=opportunity)
    assert (move.from_stage, move.to_stage.name, move.moved_by) == (None, "初步接洽", alice)
    assert opportunity.pipeline == pipeline
    # In the deal's history and in the party's.
    assert AuditEntry.objects.filter(object_id=opportunity.pk, root_type="parties.party").exists()


def test_a_move_that_skips_required_fields_is_refused(alice: User) -> None:
    pipeline = new_sales(alice)
    opportunity = deal(alice, party_in(alice))
    # 谈判 requires nothing itself, but 提案 before it does.
    with pytest.raises(ValidationError) as caught:
        deals.opportunity_move(actor=alice, opportunity=opportunity, stage=stage(pipeline, "谈判"))
    message = caught.value.message_dict["stage"][0]
    assert "金额" in message and "预计成交日期" in message
    opportunity.refresh_from_db()
    assert opportunity.stage.name == "初步接洽"
    assert StageMove.objects.filter(opportunity=opportunity).count() == 1

    deals.opportunity_update(
        actor=alice, opportunity=opportunity, amount=D("5000"), expected_close_date=CLOSE
    )
    deals.opportunity_move(actor=alice, opportunity=opportunity, stage=stage(pipeline, "谈判"))
    assert opportunity.stage.name == "谈判"
    assert StageMove.objects.filter(opportunity=opportunity).count() == 2


def test_a_deal_may_not_be_created_past_its_requirements(alice: User) -> None:
    pipeline = new_sales(alice)
    with pytest.raises(ValidationError) as caught:
        deal(alice, party_in(alice), stage=stage(pipeline, "提案"))
    assert "stage" in caught.value.message_dict
    assert not Opportunity.objects.exists()


def test_clearing_a_required_field_of_the_current_stage_is_refused(alice: User) -> None:
    pipeline = new_sales(alice)
    opportunity = deal(
        alice,
        party_in(alice),
        stage=stage(pipeline, "提案"),
        amount=D("100"),
        expected_close_date=CLOSE,
    )
    with pytest.raises(ValidationError):
        deals.opportunity_update(actor=alice, opportunity=opportunity, amount=None)


def test_winning_books_a_confirmed_order_and_makes_the_party_current(alice: User) -> None:
    new_sales(alice)
    party = party_in(alice)
    chair = product(alice, "CH-1", "100.00", "60.00")
    opportunity = deal(
        alice,
        party,
        lines=[services.LineIn(chair, D(3), D("90.00"))],
        expected_close_date=CLOSE,
    )
    assert opportunity.amount == D("270.00")  # from the lines
    deals.opportunity_win(actor=alice, opportunity=opportunity, closed_on=CLOSE)
    order = Order.objects.get()
    assert (order.status, order.party, order.revenue, order.order_date) == (
        OrderStatus.CONFIRMED,
        party,
        D("270.00"),
        CLOSE,
    )
    assert opportunity.order == order and opportunity.stage.kind == StageKind.WON
    party.refresh_from_db()
    assert party.relationship_state == RelationshipState.CURRENT
    with pytest.raises(ValidationError):
        deals.opportunity_move(actor=alice, opportunity=opportunity, stage=opportunity.stage)


def test_winning_without_products_books_nothing(alice: User) -> None:
    new_sales(alice)
    opportunity = deal(alice, party_in(alice), amount=D("10"), expected_close_date=CLOSE)
    deals.opportunity_win(actor=alice, opportunity=opportunity)
    assert opportunity.order is None and not Order.objects.exists()


def test_winning_needs_the_fields_of_every_stage(alice: User) -> None:
    new_sales(alice)
    opportunity = deal(alice, party_in(alice))
    with pytest.raises(ValidationError):
        deals.opportunity_win(actor=alice, opportunity=opportunity)
    opportunity.refresh_from_db()
    assert opportunity.stage.is_open


def test_dragging_to_the_won_column_wins_and_to_lost_is_refused(alice: User) -> None:
    pipeline = new_sales(alice)
    opportunity = deal(alice, party_in(alice), amount=D("10"), expected_close_date=CLOSE)
    with pytest.raises(ValidationError) as caught:
        deals.opportunity_move(actor=alice, opportunity=opportunity, stage=stage(pipeline, "输单"))
    assert "原因" in caught.value.message_dict["stage"][0]
    deals.opportunity_move(actor=alice, opportunity=opportunity, stage=stage(pipeline, "赢单"))
    assert opportunity.stage.kind == StageKind.WON and opportunity.closed_on is not None


def test_closing_stores_the_days_from_creation_to_close(alice: User) -> None:
    """The sales cycle is kept on the deal as it closes: days from its creation day (the
    firm's time zone) to the close date given, never below 0 (a close dated earlier)."""
    new_sales(alice)
    won = deal(alice, party_in(alice), amount=D("10"), expected_close_date=CLOSE)
    lost = deal(alice, party_in(alice, "乙公司"))
    early = deal(alice, party_in(alice, "丙公司"))
    created = timezone.localdate(won.created_at)
    deals.opportunity_win(
        actor=alice, opportunity=won, closed_on=created + datetime.timedelta(days=45)
    )
    reason = deals.lost_reason_create(actor=alice, name="价格太高")
    deals.opportunity_lose(
        actor=alice, opportunity=lost, reason=reason, closed_on=created + datetime.timedelta(1)
    )
    deals.opportunity_lose(
        actor=alice, opportunity=early, reason=reason, closed_on=created - datetime.timedelta(9)
    )
    stored = {o.pk: o.cycle_days for o in Opportunity.objects.all()}
    assert (stored[won.pk], stored[lost.pk], stored[early.pk]) == (45, 1, 0)
    assert deal(alice, party_in(alice, "丁公司")).cycle_days is None  # open: none yet


def test_losing_needs_a_reason(alice: User) -> None:
    new_sales(alice)
    opportunity = deal(alice, party_in(alice))
    price = deals.lost_reason_create(actor=alice, name="价格太高")
    with pytest.raises(ValidationError) as caught:
        deals.opportunity_lose(actor=alice, opportunity=opportunity, reason=None, note="贵")
    assert "lost_reason" in caught.value.message_dict
    deals.opportunity_lose(actor=alice, opportunity=opportunity, reason=price, note="贵了两成")
    opportunity.refresh_from_db()
    assert (opportunity.stage.kind, opportunity.lost_reason, opportunity.close_note) == (
        StageKind.LOST,
        price,
        "贵了两成",
    )


def test_competitors_must_have_the_competitor_role(alice: User) -> None:
    new_sales(alice)
    rival = parties.party_create(
        actor=alice, kind="organisation", name="对手公司", roles=["competitor"]
    )
    customer = party_in(alice, "乙公司")
    with pytest.raises(ValidationError) as caught:
        deal(alice, party_in(alice), competitors=[customer])
    assert "competitors" in caught.value.message_dict
    opportunity = deal(alice, party_in(alice, "丙公司"), competitors=[rival])
    assert list(opportunity.competitors.all()) == [rival]


def test_the_contact_must_be_a_person(alice: User) -> None:
    new_sales(alice)
    company = party_in(alice)
    with pytest.raises(ValidationError) as caught:
        deal(alice, party_in(alice, "乙公司"), contact=company)  # not a person
    assert "contact" in caught.value.message_dict


def _forecast_world(alice: User, bob: User) -> None:
    pipeline = new_sales(alice)
    north = tenancy.team_create(actor=alice, name="华北")
    tenancy.team_member_add(actor=alice, team=north, user=bob)
    mine = party_in(alice)
    bobs = parties.party_create(actor=bob, kind="organisation", name="鲍的客户")
    for party, amount, close, stage_name in [
        (mine, "1000", datetime.date(2030, 6, 3), "提案"),  # 60% → 600
        (mine, "2000", datetime.date(2030, 6, 28), "谈判"),  # 80% → 1600
        (bobs, "333.33", datetime.date(2030, 7, 1), "提案"),  # 60% → 200.00 (199.998)
        (bobs, "500", datetime.date(2030, 7, 9), "需求确认"),  # 30% → 150
    ]:
        deal(
            alice,
            party,
            stage=stage(pipeline, stage_name),
            amount=D(amount),
            expected_close_date=close,
        )
    lost = deal(alice, mine, amount=D("9999"), expected_close_date=datetime.date(2030, 6, 1))
    deals.opportunity_lose(actor=alice, opportunity=lost, reason=None, note="预算取消")


def test_forecast_by_month_owner_and_team(alice: User, bob: User) -> None:
    _forecast_world(alice, bob)
    june, july = datetime.date(2030, 6, 1), datetime.date(2030, 7, 1)
    by_month = {
        (r.month, r.key): (r.amount, r.weighted, r.deals)
        for r in selectors.forecast(alice, "month")
    }
    assert by_month == {
        (june, ""): (D("3000"), D("2200.00"), 2),
        (july, ""): (D("833.33"), D("350.00"), 2),
    }
    by_owner = {(r.month, r.key): r.weighted for r in selectors.forecast(alice, "owner")}
    assert by_owner == {(june, "Alice"): D("2200.00"), (july, "Bob"): D("350.00")}
    by_team = {(r.month, r.key): r.weighted for r in selectors.forecast(alice, "team")}
    assert by_team == {(june, ""): D("2200.00"), (july, "华北"): D("350.00")}
    # Bob sees only the deals of his own parties.
    assert {r.weighted for r in selectors.forecast(bob, "month")} == {D("350.00")}


def test_a_deal_goes_stale_without_activity_on_it_or_its_party(alice: User) -> None:
    new_sales(alice)
    party = party_in(alice)
    opportunity = deal(alice, party)
    Opportunity.objects.filter(pk=opportunity.pk).update(
        stage_changed_at=timezone.now() - datetime.timedelta(days=20)
    )
    stale = selectors.OpportunityFilters(stale=True)
    assert list(selectors.opportunity_list(alice, stale)) == [opportunity]
    activities.interaction_log(actor=alice, parties=[party], kind="call", subject="回访")
    assert list(selectors.opportunity_list(alice, stale)) == []


def test_the_stale_threshold_is_the_firms(alice: User, acme: object) -> None:
    new_sales(alice)
    opportunity = deal(alice, party_in(alice))
    Opportunity.objects.filter(pk=opportunity.pk).update(
        stage_changed_at=timezone.now() - datetime.timedelta(days=5)
    )
    stale = selectors.OpportunityFilters(stale=True)
    assert list(selectors.opportunity_list(alice, stale)) == []
    PipelineSettings.objects.create(stale_days=3)
    assert list(selectors.opportunity_list(alice, stale)) == [opportunity]


def test_the_migration_fills_the_cycle_of_deals_closed_before_it(alice: User) -> None:
    """Migration sales 0008 gives the deals closed before it their cycle, as closing them
    stores it now; open deals get none."""
    import importlib

    from django.apps import apps

    fill = importlib.import_module("kehu.sales.migrations.0008_opportunity_cycle_days").fill
    new_sales(alice)
    closed = deal(alice, party_in(alice), amount=D("10"), expected_close_date=CLOSE)
    still_open = deal(alice, party_in(alice, "乙公司"))
    created = timezone.localdate(closed.created_at)
    deals.opportunity_win(
        actor=alice, opportunity=closed, closed_on=created + datetime.timedelta(days=12)
    )
    Opportunity.objects.update(cycle_days=None)  # as before the migration
    fill(apps, None)
    stored = {o.pk: o.cycle_days for o in Opportunity.objects.all()}
    assert (stored[closed.pk], stored[still_open.pk]) == (12, None)


def test_a_move_keeps_how_long_the_deal_stayed_in_the_stage_it_left(alice: User) -> None:
    pipeline = new_sales(alice)
    opportunity = deal(alice, party_in(alice), amount=D("10"), expected_close_date=CLOSE)
    deals.opportunity_move(actor=alice, opportunity=opportunity, stage=stage(pipeline, "需求确认"))
    deals.opportunity_win(actor=alice, opportunity=opportunity)
    first, second, third = StageMove.objects.filter(opportunity=opportunity).order_by("pk")
    assert first.from_stage is None and first.stayed_seconds is None
    for before, move in ((first, second), (second, third)):
        assert move.from_stage_id == before.to_stage_id
        assert move.stayed_seconds == (move.moved_at - before.moved_at).total_seconds()
