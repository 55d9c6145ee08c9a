"""The demo firm's pipelines, deals and leads: deterministic, spread over every stage and
status, and obeying the rules the services enforce."""

import datetime
from collections import Counter

import pytest

from kehu.core.context import tenant_scope
from kehu.demo.generator import generate
from kehu.parties import normalize
from kehu.sales import pipeline_selectors
from kehu.sales.models import (
    Lead,
    LeadStatus,
    Opportunity,
    Pipeline,
    StageKind,
    StageMove,
)
from kehu.sales.pipeline_services import missing_fields
from kehu.tenancy.models import Tenant, User

NOW = datetime.datetime(2025, 6, 2, 3, 0, tzinfo=datetime.UTC)


def _firm(slug: str, seed: int = 7) -> Tenant:
    tenant = Tenant.objects.create(name=f"公司 {slug}", slug=slug)
    generate(
        tenant, parties=300, interactions=0, orders=600, opportunities=120, leads=90,
        seed=seed, now=NOW, username_prefix=f"{slug}_",
    )  # fmt: skip
    return tenant


@pytest.fixture
def firm(db: None) -> Tenant:
    return _firm("deal")


def _fingerprint(tenant: Tenant) -> list[object]:
    with tenant_scope(tenant.pk):
        deals = Opportunity.objects.order_by("id").values_list(
            "party__name", "stage__name", "amount"
        )
        leads = Lead.objects.order_by("id").values_list("name", "status", "mobile")
        return [list(deals), list(leads)]


def test_same_seed_same_deals_and_leads(db: None) -> None:
    first, second, other = _firm("a"), _firm("b"), _firm("c", seed=8)
    assert _fingerprint(first) == _fingerprint(second) != _fingerprint(other)


def test_two_pipelines_with_deals_in_every_stage(firm: Tenant) -> None:
    with tenant_scope(firm.pk):
        assert list(Pipeline.objects.order_by("-is_default").values_list("name", flat=True)) == [
            "新客户销售",
            "续约/增购",
        ]
        by_kind = Counter(Opportunity.objects.values_list("stage__kind", flat=True))
        stages = set(Opportunity.objects.values_list("stage__name", flat=True))
    assert sum(by_kind.values()) == 120
    assert all(by_kind[kind] > 10 for kind in StageKind.values)
    assert {"初步接洽", "方案报价", "商务谈判", "续约沟通", "赢单", "输单"} <= stages


def test_deals_obey_the_stage_rules_and_have_their_history(firm: Tenant) -> None:
    with tenant_scope(firm.pk):
        deals = list(Opportunity.objects.select_related("stage").order_by("id"))
        moves = Counter(StageMove.objects.values_list("opportunity_id", flat=True))
        last = {
            m.opportunity_id: m.to_stage_id for m in StageMove.objects.order_by("moved_at", "id")
        }
        for deal in deals:
            if deal.stage.kind != StageKind.LOST:  # losing asks for a reason, not the fields
                has_lines = deal.lines.exists()
                assert missing_fields(deal, deal.stage, has_lines=has_lines) == [], deal.pk
            assert last[deal.pk] == deal.stage_id and moves[deal.pk] >= 1
            assert deal.created_at <= deal.stage_changed_at <= NOW
            if deal.stage.kind == StageKind.LOST:
                assert deal.lost_reason_id is not None and deal.closed_on is not None
            if deal.stage.kind == StageKind.WON:
                assert deal.closed_on is not None
        won_with_orders = [d for d in deals if d.stage.kind == StageKind.WON and d.order_id]
    assert won_with_orders


def test_leads_in_every_status_with_valid_contacts(firm: Tenant) -> None:
    with tenant_scope(firm.pk):
        leads = list(Lead.objects.all())
        statuses = Counter(lead.status for lead in leads)
        for lead in leads:
            assert normalize.phone(lead.mobile, mobile=True) == lead.mobile
            if lead.status == LeadStatus.CONVERTED:
                assert lead.converted_opportunity_id is not None
                deal = Opportunity.objects.get(pk=lead.converted_opportunity_id)
                assert deal.party_id == lead.converted_party_id
            if lead.status == LeadStatus.DISQUALIFIED:
                assert lead.disqualify_reason
    assert set(statuses) == set(LeadStatus.values) and len(leads) == 90


def test_a_salesperson_sees_their_own_deals_on_the_board(firm: Tenant) -> None:
    with tenant_scope(firm.pk):
        seller = User.objects.get(username="deal_sales1")
        pipeline = Pipeline.objects.get(is_default=True)
        columns = pipeline_selectors.board(
            seller, pipeline, pipeline_selectors.OpportunityFilters()
        )
        cards = [card for column in columns for card in column.cards]
        visible = pipeline_selectors.opportunities_visible_to(seller)
    assert cards and all(visible.filter(pk=c.pk).exists() for c in cards)
