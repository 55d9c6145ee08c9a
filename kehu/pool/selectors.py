"""Reads of the customer pool: its rule, its custodian, its parties, a rep's claims."""

import datetime

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.context import current_tenant_id
from kehu.parties.models import OwnershipChange, OwnershipKind, Party
from kehu.parties.selectors import PartyFilters, get_party_for_user, party_list
from kehu.pool.models import PoolSettings
from kehu.tenancy.models import Role, User


def pool_settings() -> PoolSettings:
    """The firm's rule; the defaults (not saved) until an admin changes them."""
    found = PoolSettings.objects.select_related("custodian").first()
    return found or PoolSettings(tenant_id=current_tenant_id())


def pool_custodian(rule: PoolSettings) -> User | None:
    """Who holds pool parties for the firm: the chosen colleague while active, else the
    first active admin (a party is never without an owner)."""
    if rule.custodian is not None and rule.custodian.is_active:
        return rule.custodian
    return User.objects.filter(role=Role.ADMIN, is_active=True).order_by("id").first()


def pool_parties(user: User, filters: PartyFilters) -> QuerySet[Party]:
    """The pool's parties, searched and filtered like the customer list, newest first."""
    return party_list(user, PartyFilters(**{**filters.__dict__, "in_pool": True}))


def claims_in_window(
    user: User, rule: PoolSettings, *, now: datetime.datetime | None = None
) -> int:
    """How many parties `user` claimed from the pool in the rule's last days."""
    since = (now or timezone.now()) - datetime.timedelta(days=rule.claim_window_days)
    return OwnershipChange.objects.filter(
        to_owner=user, changed_by=user, kind=OwnershipKind.POOL_CLAIM, changed_at__gte=since
    ).count()


# How long a party that just left the pool is still named to those who tried to claim it.
RECENTLY_CLAIMED = datetime.timedelta(days=1)


class ClaimedAlready(Exception):
    """The party left the pool a moment ago; the message says to whom."""


def get_party_to_claim(user: User, pk: int) -> Party:
    """The party to claim, through the access helper. A party that someone else took from
    the pool in the last day is no longer the user's to see, but it was a moment ago:
    say who took it (ClaimedAlready) instead of a bare 404."""
    try:
        return get_party_for_user(user, pk)
    except Http404:
        since = timezone.now() - RECENTLY_CLAIMED
        taken = (
            OwnershipChange.objects.filter(
                party_id=pk,
                kind__in=[OwnershipKind.POOL_CLAIM, OwnershipKind.POOL_ASSIGN],
                changed_at__gte=since,
                party__deleted_at__isnull=True,
            )
            .select_related("party", "to_owner")
            .order_by("-changed_at")
            .first()
        )
        if taken is None:
            raise
        raise ClaimedAlready(
            _("「%(name)s」已被 %(owner)s 领取。") % {"name": taken.party, "owner": taken.to_owner}
        ) from None
