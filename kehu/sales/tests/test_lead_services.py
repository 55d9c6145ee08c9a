"""Leads: capture, assignment by rules and round robin (the turn safe under
concurrency), qualify and disqualify, and conversion with its duplicate check."""

import threading
from collections import Counter
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from kehu.core.context import tenant_scope
from kehu.parties import services as parties
from kehu.parties.models import ContactPoint, LinkKind, Party, PartyLink
from kehu.sales import lead_services as leads
from kehu.sales.models import (
    AssignmentRule,
    Lead,
    LeadStatus,
    OpportunityLine,
    PipelineSettings,
    StageKind,
)
from kehu.sales.tests.helpers import product
from kehu.sales.tests.pipeline_helpers import new_sales
from kehu.tenancy import services as tenancy
from kehu.tenancy.models import Role, Team, Tenant, User, Visibility

MOBILE = "13912345678"


def _staff(tenant: Tenant, name: str, role: str = Role.SALES) -> User:
    return User.objects.create(
        tenant=tenant, username=name, display_name=name, role=role, visibility=Visibility.OWN
    )


def _team(alice: User, name: str, members: list[User]) -> Team:
    team = tenancy.team_create(actor=alice, name=name)
    for member in members:
        tenancy.team_member_add(actor=alice, team=team, user=member)
    return team


def _lead(actor: User | None, name: str = "王小明", **fields: Any) -> Lead:
    return leads.lead_create(actor=actor, name=name, **({"mobile": MOBILE} | fields))


@pytest.fixture
def reps(acme: Tenant, in_acme: None) -> list[User]:
    return [_staff(acme, f"rep{i}") for i in range(3)]


def test_contact_values_are_normalised_like_the_archive(alice: User, in_acme: None) -> None:
    lead = _lead(alice, mobile="139-1234-5678", email="Wang@Example.CN ", company="  甲 公司")
    assert (lead.mobile, lead.email, lead.company) == (
        "+8613912345678",
        "wang@example.cn",
        "甲 公司",
    )


def test_bad_input_names_the_field(alice: User, in_acme: None) -> None:
    with pytest.raises(ValidationError) as caught:
        _lead(alice, mobile="12345", wechat="1x")
    assert set(caught.value.message_dict) == {"mobile", "wechat"}
    with pytest.raises(ValidationError) as caught:
        leads.lead_create(actor=alice, name="无联系方式")
    assert "mobile" in caught.value.message_dict
    assert not Lead.objects.exists()


def test_round_robin_within_the_default_team(alice: User, reps: list[User]) -> None:
    team = _team(alice, "电销", reps)
    PipelineSettings.objects.create(default_team=team)
    owners = [_lead(None, mobile=f"1391234560{i}").owner for i in range(6)]
    assert owners == reps + reps
    assert {lead.team for lead in Lead.objects.all()} == {team}


def test_a_read_only_or_inactive_member_gets_no_leads(alice: User, reps: list[User]) -> None:
    reps[1].role = Role.READ_ONLY
    reps[1].save()
    team = _team(alice, "电销", reps)
    PipelineSettings.objects.create(default_team=team)
    assert [_lead(None, mobile=f"1391234560{i}").owner for i in range(3)] == [
        reps[0],
        reps[2],
        reps[0],
    ]


def test_rules_by_region_and_product_come_first(alice: User, reps: list[User]) -> None:
    south = _team(alice, "华南", reps[:2])
    desk = product(alice, "DK-1")
    AssignmentRule.objects.create(position=1, region="广东", product=desk, user=reps[2])
    AssignmentRule.objects.create(position=2, region="广东", team=south)
    assert _lead(None, region="广东省", product_interest=desk).owner == reps[2]
    assert _lead(None, region="广东省深圳市", mobile="13912345670").owner == reps[0]
    assert _lead(None, region="广东省", mobile="13912345671").owner == reps[1]
    unmatched = _lead(None, region="北京市", mobile="13912345672")
    assert (unmatched.owner, unmatched.team) == (None, None)


def test_assign_by_hand_or_to_a_team(alice: User, reps: list[User]) -> None:
    lead = _lead(alice)
    leads.lead_assign(actor=alice, lead=lead, owner=reps[1])
    assert lead.owner == reps[1]
    team = _team(alice, "电销", reps[:1])
    leads.lead_assign(actor=alice, lead=lead, team=team)
    assert (lead.owner, lead.team) == (reps[0], team)
    empty = _team(alice, "空", [])
    with pytest.raises(ValidationError):
        leads.lead_assign(actor=alice, lead=lead, team=empty)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite serialises writers")
def test_the_turn_is_safe_when_leads_arrive_together(acme: Tenant, alice: User) -> None:
    with tenant_scope(acme.pk):
        reps = [_staff(acme, f"rep{i}") for i in range(4)]
        team = _team(alice, "电销", reps)
        PipelineSettings.objects.create(default_team=team)
    start = threading.Barrier(8)

    def arrive(i: int) -> None:
        try:
            with tenant_scope(acme.pk):
                start.wait()
                _lead(None, mobile=f"1391234561{i}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=arrive, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with tenant_scope(acme.pk):
        counts = Counter(Lead.objects.values_list("owner_id", flat=True))
    assert sorted(counts.values()) == [2, 2, 2, 2]


def test_qualify_and_disqualify_with_a_reason(alice: User, in_acme: None) -> None:
    lead = _lead(alice)
    with pytest.raises(ValidationError) as caught:
        leads.lead_disqualify(actor=alice, lead=lead, reason="  ")
    assert "reason" in caught.value.message_dict
    leads.lead_disqualify(actor=alice, lead=lead, reason="空号")
    assert (lead.status, lead.disqualify_reason) == (LeadStatus.DISQUALIFIED, "空号")
    with pytest.raises(ValidationError):
        leads.lead_qualify(actor=alice, lead=lead)
    leads.lead_work(actor=alice, lead=lead)
    leads.lead_qualify(actor=alice, lead=lead)
    assert lead.status == LeadStatus.QUALIFIED


def test_convert_makes_an_organisation_a_person_and_a_deal(alice: User, in_acme: None) -> None:
    pipeline = new_sales(alice)
    desk = product(alice, "DK-1", "800.00")
    lead = _lead(alice, company="星河科技有限公司", title="采购经理", product_interest=desk)
    deal = leads.lead_convert(actor=alice, lead=lead)
    company, person = lead.converted_party, lead.converted_contact
    assert company is not None and person is not None
    assert (company.kind, company.name, person.name) == (
        "organisation",
        "星河科技有限公司",
        "王小明",
    )
    link = PartyLink.objects.get(from_party=company, to_party=person)
    assert (link.kind, link.title) == (LinkKind.EMPLOYS, "采购经理")
    assert ContactPoint.objects.get(party=person).value == "+8613912345678"
    assert (deal.party, deal.contact, deal.pipeline, deal.stage.name) == (
        company,
        person,
        pipeline,
        "初步接洽",
    )
    assert OpportunityLine.objects.get(opportunity=deal).product == desk
    assert deal.amount == 800
    assert lead.status == LeadStatus.CONVERTED and lead.converted_opportunity == deal
    with pytest.raises(ValidationError):
        leads.lead_convert(actor=alice, lead=lead)


def test_convert_refuses_a_likely_duplicate_and_links_instead(alice: User, in_acme: None) -> None:
    new_sales(alice)
    known = parties.party_create(actor=alice, kind="organisation", name="星河科技有限公司")
    worker = parties.party_create(
        actor=alice, kind="person", name="王明", contacts=[("mobile", MOBILE)]
    )
    parties.party_link_add(actor=alice, from_party=known, to_party=worker, kind="employs")
    lead = _lead(alice, company="其他名字")  # found by the mobile number
    assert set(leads.lead_duplicates(lead)) == {known, worker}
    with pytest.raises(ValidationError) as caught:
        leads.lead_convert(actor=alice, lead=lead)
    assert "星河科技有限公司" in caught.value.message_dict["existing"][0]
    assert Party.objects.count() == 2
    deal = leads.lead_convert(actor=alice, lead=lead, existing=known)
    # The person it already employs with that mobile is the contact: nobody new.
    assert (deal.party, deal.contact) == (known, worker)
    assert Party.objects.count() == 2


def test_convert_anyway_creates_new_parties(alice: User, in_acme: None) -> None:
    new_sales(alice)
    parties.party_create(actor=alice, kind="organisation", name="星河科技有限公司")
    lead = _lead(alice, company="星河科技有限公司")
    deal = leads.lead_convert(actor=alice, lead=lead, create_anyway=True)
    assert deal.stage.kind == StageKind.OPEN
    assert Party.objects.filter(name="星河科技有限公司").count() == 2


def test_a_lead_without_a_company_becomes_a_person(alice: User, in_acme: None) -> None:
    new_sales(alice)
    deal = leads.lead_convert(actor=alice, lead=_lead(alice, email="w@example.cn"))
    assert (deal.party.kind, deal.contact) == ("person", None)
