"""The board's kept deals and amounts per stage and owner (`sales.StageTotal`): after
every kind of write they equal a live count, for every visibility and the owner and
team filters; the rebuild command and the migration's fill put wrong rows right; the
stale filter said without subqueries picks the same deals as `last_activity`."""

import datetime
import importlib
import io
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from conftest import login
from kehu.activities import services as activities
from kehu.dataio import merge
from kehu.parties import services as parties
from kehu.parties.models import Party
from kehu.pool import services as pool
from kehu.sales import lead_services as leads
from kehu.sales import pipeline_selectors as selectors
from kehu.sales import pipeline_services as deals
from kehu.sales.models import Opportunity, Pipeline, StageKind, StageTotal
from kehu.sales.stage_totals import stage_totals_drift, stage_totals_rebuild
from kehu.sales.tests.pipeline_helpers import deal, new_sales, stage
from kehu.tenancy import services as tenancy
from kehu.tenancy.models import Team, Tenant, User, Visibility
from kehu.tenancy.tests.test_handover import colleague

pytestmark = pytest.mark.usefixtures("in_acme")
D = Decimal
CLOSE = datetime.date(2030, 6, 15)
Filters = selectors.OpportunityFilters
World = dict[str, Any]


def _board_figures(user: User, pipeline: Pipeline, filters: Filters) -> list[tuple[int, Decimal]]:
    return [(c.count, c.amount) for c in selectors.board(user, pipeline, filters)]


def assert_right(pipeline: Pipeline, viewers: list[User]) -> None:
    """Kept rows equal a recount, and the board's figures from them equal the live ones
    for each viewer with no filter, by owner and by team."""
    assert stage_totals_drift() == {}
    stage_ids = list(
        selectors.stages_of(pipeline).filter(kind=StageKind.OPEN).values_list("pk", flat=True)
    )
    team_ids = [None, *Team.objects.values_list("pk", flat=True)]
    owners = [None, *User.objects.values_list("pk", flat=True)]
    for user in viewers:
        for team_id in team_ids:
            for owner_id in owners:
                filters = Filters(owner_id=owner_id, team_id=team_id)
                kept = selectors.kept_board_totals(user, pipeline, filters, stage_ids)
                live = selectors.live_board_totals(user, pipeline, filters)
                assert kept == live, (user.username, team_id, owner_id)


@pytest.fixture
def world(alice: User, bob: User) -> World:
    """Alice (all), Bob (own) and Carol (team, with Bob in 华北); parties of each, one
    served by Bob, one in the pool; deals by several owners across them."""
    pipeline = new_sales(alice)
    carol = colleague(alice, "carol")
    carol.visibility = Visibility.TEAM
    carol.save()
    north = tenancy.team_create(actor=alice, name="华北")
    for member in (bob, carol):
        tenancy.team_member_add(actor=alice, team=north, user=member)
    make = parties.party_create
    alices = make(actor=alice, kind="organisation", name="甲公司", owner=alice)
    bobs = make(actor=alice, kind="organisation", name="鲍的客户", owner=bob)
    served = make(actor=alice, kind="organisation", name="乙公司", owner=alice)
    parties.account_team_add(actor=alice, party=served, user=bob, role="service")
    pooled = make(actor=alice, kind="organisation", name="公海客户", owner=alice)
    pool.pool_release(actor=alice, party=pooled, reason="测试")
    made = {}
    for name, party, owner, amount, stage_name in [
        ("甲一", alices, alice, "1000.10", "初步接洽"),
        ("甲二", alices, bob, "2000.20", "提案"),
        ("鲍一", bobs, bob, "333.33", "需求确认"),
        ("鲍二", bobs, carol, None, "初步接洽"),
        ("乙一", served, alice, "50.05", "谈判"),
        ("海一", pooled, carol, "70.00", "提案"),
        ("海二", pooled, alice, "0.01", "初步接洽"),
    ]:
        made[name] = deal(
            alice,
            party,
            name,
            stage=stage(pipeline, stage_name),
            owner=owner,
            amount=None if amount is None else D(amount),
            expected_close_date=CLOSE,
        )
    return {
        "pipeline": pipeline,
        "carol": carol,
        "parties": {"alices": alices, "bobs": bobs, "served": served, "pooled": pooled},
        "deals": made,
        "viewers": [alice, bob, carol],
    }


def _check(world: World) -> None:
    assert_right(world["pipeline"], world["viewers"])


def _deal(world: World, name: str) -> Opportunity:
    pk = world["deals"][name].pk
    return Opportunity.objects.select_related("stage", "party", "owner").get(pk=pk)


def _party(world: World, key: str) -> Party:
    return Party.with_deleted.get(pk=world["parties"][key].pk)


def test_the_board_reads_kept_figures_equal_to_a_count(alice: User, world: World) -> None:
    _check(world)
    figures = _board_figures(alice, world["pipeline"], Filters())
    # 初步接洽: 甲一, 鲍二 (no amount), 海二; 需求确认: 鲍一; 提案: 甲二, 海一; 谈判: 乙一
    assert figures == [(3, D("1000.11")), (1, D("333.33")), (2, D("2070.20")), (1, D("50.05"))]
    first = stage(world["pipeline"], "初步接洽")
    StageTotal.objects.filter(stage=first, owner=alice).update(deals=99)  # was 2
    assert _board_figures(alice, world["pipeline"], Filters())[0][0] == 100  # read, not counted
    page = login(alice).get(reverse("sales:board"), {"pipeline": world["pipeline"].pk})
    assert "100 个商机" in page.content.decode()  # the page reads them too


def test_edits_hand_overs_and_moves_keep_them(alice: User, bob: User, world: World) -> None:
    pipeline, carol = world["pipeline"], world["carol"]
    deals.opportunity_update(actor=alice, opportunity=_deal(world, "甲一"), amount=D("12.34"))
    _check(world)
    deals.opportunity_update(actor=alice, opportunity=_deal(world, "鲍二"), owner=alice)
    _check(world)
    deals.opportunity_hand_over(
        actor=alice, opportunity=_deal(world, "甲二"), receiver=carol, note="调岗"
    )
    _check(world)
    deals.opportunity_move(
        actor=alice, opportunity=_deal(world, "鲍一"), stage=stage(pipeline, "谈判")
    )
    _check(world)
    # A stale instance (its amount changed since it was read) still counts right.
    stale = _deal(world, "乙一")
    deals.opportunity_update(actor=alice, opportunity=_deal(world, "乙一"), amount=D("9.99"))
    deals.opportunity_move(actor=alice, opportunity=stale, stage=stage(pipeline, "提案"))
    _check(world)
    deals.opportunity_win(actor=alice, opportunity=_deal(world, "甲一"))
    deals.opportunity_lose(actor=alice, opportunity=_deal(world, "海一"), reason=None, note="预算")
    _check(world)
    assert _board_figures(bob, pipeline, Filters())[0] == (2, D("0.01"))  # 鲍二 is Alice's now


def test_creating_and_converting_keep_them(alice: User, bob: User, world: World) -> None:
    deal(alice, _party(world, "bobs"), "新的", owner=bob, amount=D("1.50"))
    _check(world)
    lead = leads.lead_create(actor=alice, name="李雷", mobile="13800001111", owner=bob)
    leads.lead_convert(actor=alice, lead=lead, create_anyway=True)
    _check(world)


def test_party_deletes_restores_merges_and_pool_keep_them(
    alice: User, bob: User, world: World
) -> None:
    parties.party_delete(actor=alice, party=_party(world, "bobs"))
    _check(world)
    assert _board_figures(bob, world["pipeline"], Filters())[1] == (0, D("0.00"))
    parties.party_restore(actor=alice, party=_party(world, "bobs"))
    _check(world)
    record = merge.party_merge(
        actor=alice, survivor=_party(world, "served"), loser=_party(world, "bobs"), choices={}
    )
    _check(world)
    merge.party_merge_undo(actor=alice, record=record)
    _check(world)
    pool.pool_claim(actor=bob, party=_party(world, "pooled"))
    _check(world)
    parties.party_hand_over(actor=alice, party=_party(world, "alices"), receiver=bob, note="交接")
    _check(world)


def test_a_staff_handover_keeps_them(alice: User, bob: User, world: World) -> None:
    tenancy.staff_handover(actor=alice, giver=bob, receivers=[world["carol"]], note="调岗")
    assert not Opportunity.objects.filter(owner=bob, stage__kind=StageKind.OPEN).exists()
    _check(world)


def test_the_rebuild_command_puts_wrong_rows_right(acme: Tenant, world: World) -> None:
    StageTotal.objects.filter(deals=1).delete()
    StageTotal.objects.filter(deals=2).update(amount_cents=5)
    assert stage_totals_drift() != {}
    said = io.StringIO()
    call_command("sales_stage_totals_rebuild", "acme", stdout=said)
    assert "(6 were wrong)" in said.getvalue()
    _check(world)
    with pytest.raises(Exception, match="no such firm"):
        call_command("sales_stage_totals_rebuild", "nobody")


def test_the_migration_fills_them_from_existing_deals(world: World) -> None:
    StageTotal.objects.all().delete()
    migration = importlib.import_module("kehu.sales.migrations.0005_stage_totals")
    migration.fill(apps, None)
    _check(world)
    assert stage_totals_rebuild() == StageTotal.objects.count()


def test_stale_without_subqueries_picks_the_same_deals(alice: User, world: World) -> None:
    cutoff = selectors.stale_cutoff()
    long_ago = cutoff - datetime.timedelta(days=3)
    Opportunity.objects.update(stage_changed_at=long_ago)
    talked, tasked, recent = _party(world, "alices"), _party(world, "bobs"), _party(world, "served")
    activities.interaction_log(
        actor=alice, parties=[talked], kind="call", subject="回访", occurred_at=timezone.now()
    )
    activities.interaction_log(
        actor=alice, parties=[recent], kind="call", subject="早前", occurred_at=long_ago
    )
    activities.task_create(actor=alice, title="跟进", due_date=CLOSE, party=tasked)
    activities.task_create(actor=alice, title="无客户", due_date=CLOSE)  # no party: no NULL trap
    moved = _deal(world, "海一")
    Opportunity.objects.filter(pk=moved.pk).update(stage_changed_at=timezone.now())
    every = selectors.opportunities_visible_to(alice)
    by_annotation = {
        d.pk
        for d in selectors.with_last_activity(every).select_related("stage")
        if selectors.is_stale(d, cutoff)
    }
    quick = set(selectors.stale_only(every, cutoff).values_list("pk", flat=True))
    assert quick == by_annotation
    # 乙一 (talked to before the cutoff) and 海二 are stale; 海一 moved, 甲 talked, 鲍 tasked.
    assert {Opportunity.objects.get(pk=pk).name for pk in quick} == {"乙一", "海二"}
    board = selectors.board(alice, world["pipeline"], Filters(stale=True))
    assert sum(c.count for c in board) == 2
