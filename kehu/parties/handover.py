"""What a colleague holds in the customer archive, for handover: the parties they own
and their places on account teams (registered in apps.py)."""

from django.utils.translation import gettext_lazy as _

from kehu.parties import services
from kehu.parties.models import AccountTeamMember, Party
from kehu.tenancy.handover import Holding
from kehu.tenancy.models import User


class OwnedParties:
    key = "party"
    label = _("客户")

    # Deleted parties too: one restored later must not come back to a former colleague.
    def holdings(self, user: User) -> list[Holding]:
        rows = Party.with_deleted.filter(owner=user).order_by("id").values_list("pk", "name")
        return [Holding(self.key, pk, name, pk) for pk, name in rows]

    def count(self, user: User) -> int:
        return Party.with_deleted.filter(owner=user).count()

    def transfer(self, *, actor: User, holding: Holding, receiver: User, note: str) -> None:
        party = Party.with_deleted.get(pk=holding.pk)
        services.party_hand_over(actor=actor, party=party, receiver=receiver, note=note)


class AccountTeamPlaces:
    key = "account_team"
    label = _("客户团队成员身份")

    def _rows(self, user: User) -> "list[AccountTeamMember]":
        return list(
            AccountTeamMember.objects.filter(user=user).select_related("party").order_by("id")
        )

    def holdings(self, user: User) -> list[Holding]:
        return [Holding(self.key, m.pk, m.party.name, m.party_id) for m in self._rows(user)]

    def count(self, user: User) -> int:
        return AccountTeamMember.objects.filter(user=user).count()

    def transfer(self, *, actor: User, holding: Holding, receiver: User, note: str) -> None:
        member = AccountTeamMember.objects.select_related("party").get(pk=holding.pk)
        services.account_team_hand_over(actor=actor, member=member, receiver=receiver, note=note)
