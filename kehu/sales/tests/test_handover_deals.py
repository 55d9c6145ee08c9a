"""Handover of a colleague's open opportunities and open leads: they move with the
other records, each with the note; closed deals and disqualified or converted leads stay; nobody is
deactivated while holding open ones."""

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from conftest import login
from kehu.core.models import AuditEntry
from kehu.parties import services as parties
from kehu.sales import lead_services as leads
from kehu.sales import pipeline_services as deals
from kehu.sales.models import Lead, LeadStatus, Opportunity
from kehu.sales.tests.pipeline_helpers import new_sales
from kehu.tenancy import services
from kehu.tenancy.models import Role, User
from kehu.tenancy.tests.test_handover import colleague

NOTE = "鲍调岗，商机转交"


@pytest.fixture
def bobs_deals(alice: User, bob: User, in_acme: None) -> dict[str, object]:
    """Bob owns 鲍的客户 with an open and a won deal, has an open deal on Alice's 甲公司,
    an open lead and a disqualified one."""
    new_sales(alice)
    mine = parties.party_create(actor=alice, kind="organisation", name="鲍的客户", owner=bob)
    alices = parties.party_create(actor=alice, kind="organisation", name="甲公司", owner=alice)
    close: dict[str, Any] = {
        "amount": Decimal("100"),
        "expected_close_date": datetime.date(2030, 1, 1),
    }
    open_deal = deals.opportunity_create(actor=alice, party=mine, name="开着的", **close)
    won = deals.opportunity_create(actor=alice, party=mine, name="赢了的", **close)
    deals.opportunity_win(actor=alice, opportunity=won)
    on_alices = deals.opportunity_create(
        actor=alice, party=alices, name="甲的单", owner=bob, **close
    )
    lead = leads.lead_create(actor=alice, name="李雷", mobile="13800001111", owner=bob)
    done = leads.lead_create(actor=alice, name="韩梅梅", mobile="13800002222", owner=bob)
    leads.lead_disqualify(actor=alice, lead=done, reason="空号")
    return {"open": open_deal, "won": won, "on_alices": on_alices, "lead": lead, "done": done}


def test_open_deals_and_leads_move_with_the_note(
    alice: User, bob: User, bobs_deals: dict[str, object]
) -> None:
    assert services.held_by(bob)["进行中的商机"] == 2
    assert services.held_by(bob)["未处理完的线索"] == 1
    with pytest.raises(ValidationError):
        services.staff_update(actor=alice, user=bob, is_active=False)
    carol = colleague(alice, "carol")
    moved = services.staff_handover(actor=alice, giver=bob, receivers=[carol], note=NOTE)
    counts = services.handover_counts(moved)
    assert (counts["opportunity"], counts["lead"]) == (2, 1)
    owners = dict(Opportunity.objects.values_list("name", "owner__username"))
    assert owners == {"开着的": "carol", "甲的单": "carol", "赢了的": "bob"}
    lead = Lead.objects.get(pk=bobs_deals["lead"].pk)  # type: ignore[attr-defined]
    assert lead.owner == carol
    dropped = Lead.objects.get(status=LeadStatus.DISQUALIFIED)
    assert dropped.owner == bob  # a disqualified lead is history
    noted = AuditEntry.objects.filter(changes__handover_note=[None, NOTE])
    types = [e.object_type for e in noted]
    # A deal's note is in its own history and in its party's.
    assert types.count("sales.opportunity") == 4 and types.count("sales.lead") == 1
    assert "进行中的商机" not in services.held_by(bob)


def test_a_deal_follows_its_partys_receiver(
    alice: User, bob: User, bobs_deals: dict[str, object]
) -> None:
    carol, dave = colleague(alice, "carol"), colleague(alice, "dave")
    services.staff_handover(actor=alice, giver=bob, receivers=[carol, dave], note=NOTE)
    deal = Opportunity.objects.select_related("party").get(name="开着的")
    assert deal.owner == deal.party.owner


def test_a_read_only_receiver_cannot_take_leads_and_nothing_moves(
    alice: User, bob: User, bobs_deals: dict[str, object]
) -> None:
    reader = colleague(alice, "reader", role=Role.READ_ONLY)
    with pytest.raises(ValidationError):
        services.staff_handover(actor=alice, giver=bob, receivers=[reader], note=NOTE)
    assert Opportunity.objects.filter(owner=bob).count() == 3


def test_a_partial_handover_of_one_deal(
    alice: User, bob: User, bobs_deals: dict[str, object]
) -> None:
    carol = colleague(alice, "carol")
    chosen = bobs_deals["on_alices"].pk  # type: ignore[attr-defined]
    services.staff_handover(
        actor=alice, giver=bob, receivers=[carol], note=NOTE, only={"opportunity": [chosen]}
    )
    assert Opportunity.objects.get(pk=chosen).owner == carol
    assert Opportunity.objects.get(name="开着的").owner == bob


def test_a_closed_deal_or_lead_is_not_handed_over(
    alice: User, bob: User, bobs_deals: dict[str, object]
) -> None:
    won = Opportunity.objects.get(name="赢了的")
    with pytest.raises(ValidationError):
        deals.opportunity_hand_over(actor=alice, opportunity=won, receiver=alice, note=NOTE)
    done = Lead.objects.get(status=LeadStatus.DISQUALIFIED)
    with pytest.raises(ValidationError):
        leads.lead_hand_over(actor=alice, lead=done, receiver=alice, note=NOTE)


def test_the_handover_page_lists_deals_and_leads(
    alice: User, bob: User, bobs_deals: dict[str, object]
) -> None:
    page = login(alice).get(reverse("tenancy:handover", args=[bob.pk])).content.decode()
    assert "进行中的商机" in page and "甲的单" in page and "李雷" in page
    assert "赢了的" not in page
    assert login(bob).get(reverse("tenancy:handover", args=[bob.pk])).status_code == 403
