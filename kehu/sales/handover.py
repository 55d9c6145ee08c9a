"""A colleague's open opportunities and open leads, for handover (registered in
apps.py). A deal goes with its party (the same receiver); won and lost deals, like done
tasks, stay with whoever closed them."""

from django.utils.translation import gettext_lazy as _

from kehu.sales import lead_services
from kehu.sales import pipeline_services as deals
from kehu.sales.lead_services import OPEN_LEADS
from kehu.sales.models import Lead, Opportunity, StageKind
from kehu.tenancy.handover import Holding
from kehu.tenancy.models import User


class OpenOpportunities:
    key = "opportunity"
    label = _("进行中的商机")

    def _open(self, user: User) -> "list[Opportunity]":
        found = Opportunity.objects.filter(owner=user, stage__kind=StageKind.OPEN)
        return list(found.order_by("id"))

    def holdings(self, user: User) -> list[Holding]:
        return [Holding(self.key, d.pk, d.name, d.party_id) for d in self._open(user)]

    def count(self, user: User) -> int:
        return Opportunity.objects.filter(owner=user, stage__kind=StageKind.OPEN).count()

    def transfer(self, *, actor: User, holding: Holding, receiver: User, note: str) -> None:
        deal = Opportunity.objects.select_related("party", "stage", "owner").get(pk=holding.pk)
        deals.opportunity_hand_over(actor=actor, opportunity=deal, receiver=receiver, note=note)


class OpenLeads:
    key = "lead"
    label = _("未处理完的线索")

    def holdings(self, user: User) -> list[Holding]:
        found = Lead.objects.filter(owner=user, status__in=OPEN_LEADS).order_by("id")
        return [Holding(self.key, lead.pk, str(lead), None) for lead in found]

    def count(self, user: User) -> int:
        return Lead.objects.filter(owner=user, status__in=OPEN_LEADS).count()

    def transfer(self, *, actor: User, holding: Holding, receiver: User, note: str) -> None:
        lead = Lead.objects.get(pk=holding.pk)
        lead_services.lead_hand_over(actor=actor, lead=lead, receiver=receiver, note=note)
