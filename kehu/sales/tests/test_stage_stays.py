"""The kept stays per stage and day (`sales.StageStays`): the deal services keep them as
they move, win and lose deals; the time-in-stage report read from them (and the deleted
parties' stays taken off) equals the report counted from the moves; the rebuild command
and the migration's fill put wrong rows right."""

import datetime
import importlib
import io
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone

from kehu.parties import services as parties
from kehu.parties.models import Party
from kehu.reports import pipeline_selectors as reports
from kehu.reports.selectors import ReportFilters
from kehu.sales import pipeline_services as deals
from kehu.sales.models import Opportunity, Pipeline, StageMove, StageStays
from kehu.sales.stage_stays import stage_stays_drift, stage_stays_rebuild
from kehu.sales.tests.pipeline_helpers import deal, new_sales, stage
from kehu.tenancy.models import Tenant, User

pytestmark = pytest.mark.usefixtures("in_acme")
CLOSE = datetime.date(2030, 6, 15)
LAST_30_DAYS = ReportFilters(
    since=timezone.localdate() - datetime.timedelta(days=30), until=timezone.localdate()
)


def _moved_back(deal_pk: int, days: int) -> None:
    """The deal entered its stage `days` days ago (so its next move ends a stay that long)."""
    entered = timezone.now() - datetime.timedelta(days=days, hours=1)
    Opportunity.objects.filter(pk=deal_pk).update(stage_changed_at=entered)


def _fresh(pk: int) -> Opportunity:
    return Opportunity.objects.select_related("stage", "party").get(pk=pk)


@pytest.fixture
def pipeline(alice: User) -> Pipeline:
    return new_sales(alice)


@pytest.fixture
def moved(alice: User, pipeline: Pipeline) -> dict[str, Any]:
    """Three deals on two parties moved through the stages, won and lost, with stays of
    several days."""
    make = parties.party_create
    jia = make(actor=alice, kind="organisation", name="甲公司", owner=alice)
    yi = make(actor=alice, kind="organisation", name="乙公司", owner=alice)
    made = {
        name: deal(alice, party, name, amount=Decimal("10"), expected_close_date=CLOSE)
        for name, party in [("甲一", jia), ("甲二", jia), ("乙一", yi)]
    }
    for name, path in [
        ("甲一", [(3, "需求确认"), (5, "谈判"), (2, "won")]),
        ("甲二", [(1, "需求确认"), (4, "lost")]),
        ("乙一", [(6, "需求确认"), (2, "提案")]),
    ]:
        for days, to in path:
            _moved_back(made[name].pk, days)
            current = _fresh(made[name].pk)
            if to == "won":
                deals.opportunity_win(actor=alice, opportunity=current)
            elif to == "lost":
                deals.opportunity_lose(actor=alice, opportunity=current, reason=None, note="预算")
            else:
                deals.opportunity_move(actor=alice, opportunity=current, stage=stage(pipeline, to))
    return {"deals": made, "parties": {"jia": jia, "yi": yi}}


def _report(user: User, filters: ReportFilters) -> list[tuple[str, int, Any, Any]]:
    rows = reports.time_in_stage(user, filters).rows
    return [(r.stage.name, r.stays, r.median_days, r.mean_days) for r in rows]


def test_moves_wins_and_losses_keep_them(alice: User, moved: dict[str, Any]) -> None:
    assert stage_stays_drift() == {}
    kept = {
        row.stage.name: (row.stays, row.micros)
        for row in StageStays.objects.select_related("stage")
    }
    # 初步接洽: 3, 1 and 6 days; 需求确认: 5, 4 and 2; 谈判: 2 (won)
    assert {name: n for name, (n, _us) in kept.items()} == {"初步接洽": 3, "需求确认": 3, "谈判": 1}
    hour = 3_600_000_000
    assert kept["初步接洽"][1] == pytest.approx((10 * 24 + 3) * hour, abs=10_000_000)


def test_the_report_reads_them_as_the_moves_count(alice: User, moved: dict[str, Any]) -> None:
    firm = _report(alice, LAST_30_DAYS)
    # With a rep filter the report counts the moves themselves: Alice owns every deal.
    counted = _report(alice, ReportFilters(**{**LAST_30_DAYS.__dict__, "owner_id": alice.pk}))
    assert firm == counted
    assert firm[0][:2] == ("初步接洽", 3) and firm[0][2] == Decimal("3.0")
    # What is read is the kept rows (a change to them shows), not a count of the moves.
    StageStays.objects.filter(stage__name="谈判").update(stays=2, micros=10 * 86_400_000_000)
    assert _report(alice, LAST_30_DAYS)[3][1:4:2] == (2, Decimal("5.0"))


def test_a_deleted_partys_stays_are_taken_off(alice: User, moved: dict[str, Any]) -> None:
    parties.party_delete(actor=alice, party=Party.objects.get(pk=moved["parties"]["jia"].pk))
    firm = _report(alice, LAST_30_DAYS)
    assert firm == _report(alice, ReportFilters(**{**LAST_30_DAYS.__dict__, "owner_id": alice.pk}))
    # Left: 乙一's 6 days in 初步接洽 and 2 in 需求确认; 谈判's only stay was 甲一's.
    assert [(name, n) for name, n, _m, _a in firm] == [
        ("初步接洽", 1),
        ("需求确认", 1),
        ("提案", 0),
        ("谈判", 0),
    ]
    assert stage_stays_drift() == {}  # the kept rows still hold them


def test_a_range_counts_the_days_it_holds(alice: User, moved: dict[str, Any]) -> None:
    before = ReportFilters(
        since=timezone.localdate() - datetime.timedelta(days=400),
        until=timezone.localdate() - datetime.timedelta(days=100),
    )
    assert [n for _name, n, _m, _a in _report(alice, before)] == [0, 0, 0, 0]


def test_the_rebuild_command_puts_wrong_rows_right(acme: Tenant, moved: dict[str, Any]) -> None:
    StageStays.objects.filter(stage__name="谈判").delete()
    StageStays.objects.filter(stage__name="初步接洽").update(micros=5)
    assert stage_stays_drift() != {}
    said = io.StringIO()
    call_command("sales_stage_stays_rebuild", "acme", stdout=said)
    assert "were wrong)" in said.getvalue() and "(0 were wrong)" not in said.getvalue()
    assert stage_stays_drift() == {}


def test_the_migration_fills_them_from_existing_moves(moved: dict[str, Any]) -> None:
    expected = sorted(StageStays.objects.values_list("stage_id", "day", "stays", "micros"))
    StageStays.objects.all().delete()
    migration = importlib.import_module("kehu.sales.migrations.0012_stage_stays")
    migration.fill(apps, None)
    assert sorted(StageStays.objects.values_list("stage_id", "day", "stays", "micros")) == expected
    assert StageMove.objects.filter(stayed_seconds__isnull=False).count() == 7
    assert stage_stays_rebuild() == len(expected)
