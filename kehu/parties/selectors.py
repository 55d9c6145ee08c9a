"""Reads of the customer archive, always scoped to the tenant and to what a user may see."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from kehu.dataio import quality
from kehu.parties.models import AccountTeamMember, Party, PartyRole, PartyRoleKind, PartyTag
from kehu.parties.search import matching_party_ids
from kehu.tenancy.models import TeamMembership, User, Visibility

# Lists count at most this many rows and then say "10,000+": an exact count of a
# million rows costs more than the page itself.
COUNT_CAP = 10_000


def _teammate_ids(user: User) -> QuerySet[TeamMembership, int]:
    my_teams = TeamMembership.objects.filter(user=user).values("team_id")
    return TeamMembership.objects.filter(team_id__in=my_teams).values_list("user_id", flat=True)


def parties_visible_to(
    user: User, *, include_deleted: bool = False, include_pool: bool = True
) -> QuerySet[Party]:
    """Parties `user` may see: own, team or all, by the user's visibility; and, whatever
    it is, the parties waiting in the customer pool (公海), for anyone to claim.
    `include_pool=False` leaves the pool out (the customer list), and with it the `OR`
    that would keep the planner off the owner index."""
    parties = Party.with_deleted.all() if include_deleted else Party.objects.all()
    if not include_pool:
        parties = parties.filter(in_pool_since__isnull=True)
    visibility = user.effective_visibility
    if visibility == Visibility.ALL:
        return parties
    if visibility == Visibility.TEAM:
        people = list(_teammate_ids(user)) or [user.pk]
        served = AccountTeamMember.objects.filter(user_id__in=people).values("party_id")
        scope = Q(owner_id__in=people) | Q(pk__in_set=served)
    else:
        served = AccountTeamMember.objects.filter(user=user).values("party_id")
        scope = Q(owner=user) | Q(pk__in_set=served)
    return parties.filter(scope | Q(in_pool_since__isnull=False) if include_pool else scope)


def get_party_for_user(
    user: User, pk: int, *, write: bool = False, include_deleted: bool = False
) -> Party:
    """The party if `user` may see it (else 404) and, for `write`, change it (else 403).
    `include_deleted` also finds soft-deleted parties (to restore them)."""
    visible = parties_visible_to(user, include_deleted=include_deleted)
    party = visible.filter(pk=pk).select_related("owner", "pool_previous_owner").first()
    if party is None:
        raise Http404
    if write and not user.can_write:
        raise PermissionDenied
    if write and party.in_pool and not user.can_manage:
        # A party in the pool is followed up by whoever claims it, not before.
        raise PermissionDenied(_("这个客户在公海中，请先领取。"))
    return party


@dataclass(frozen=True)
class PartyFilters:
    q: str = ""
    kind: str = ""
    role: str = ""
    state: str = ""
    owner_id: int | None = None
    team_id: int | None = None
    tag_id: int | None = None
    province: str = ""
    city: str = ""
    is_direct: bool | None = None
    # True: the pool only; False: parties with an owner only; None: both.
    in_pool: bool | None = None
    # The data-quality page's links (kehu/dataio/quality.py): a field missing or filled,
    # a value failing its validator, in an open duplicate pair, a customer not
    # contacted for this many days.
    missing: str = ""
    filled: str = ""
    invalid: str = ""
    duplicate: bool = False
    stale_days: int | None = None


def party_list(user: User, filters: PartyFilters) -> QuerySet[Party]:
    """The parties a list page or endpoint shows, newest first."""
    parties = parties_visible_to(user, include_pool=filters.in_pool is not False)
    if filters.q.strip():
        parties = parties.filter(pk__any_of=list(matching_party_ids(filters.q)))
    if filters.kind:
        parties = parties.filter(kind=filters.kind)
    if filters.state:
        parties = parties.filter(relationship_state=filters.state)
    if filters.owner_id:
        parties = parties.filter(owner_id=filters.owner_id)
    if filters.team_id:
        members = TeamMembership.objects.filter(team_id=filters.team_id).values("user_id")
        parties = parties.filter(owner_id__in=members)
    if filters.role:
        parties = parties.filter(
            pk__in=PartyRole.objects.filter(role=filters.role).values("party_id")
        )
    if filters.tag_id:
        parties = parties.filter(
            pk__in=PartyTag.objects.filter(tag_id=filters.tag_id).values("party_id")
        )
    if filters.province:
        parties = parties.filter(province=filters.province)
    if filters.city:
        parties = parties.filter(city=filters.city)
    if filters.is_direct is not None:
        parties = parties.filter(is_direct=filters.is_direct)
    if filters.in_pool is not None:
        parties = parties.filter(in_pool_since__isnull=not filters.in_pool)
    return (
        _quality_filters(parties, filters)
        .select_related("owner", "pool_previous_owner")
        .order_by("-id")
    )


def _quality_filters(parties: QuerySet[Party], filters: PartyFilters) -> QuerySet[Party]:
    if filters.missing:
        parties = parties.filter(quality.missing_q(filters.missing))
    if filters.filled:
        parties = parties.filter(quality.filled_q(filters.filled))
    if filters.duplicate:
        parties = parties.filter(quality.duplicate_q())
    if filters.stale_days is not None:
        parties = parties.filter(quality.stale_q(filters.stale_days))
    if filters.invalid:
        # Validation is Python's (libphonenumber): the ids of the parties filtered so far.
        ids = quality.invalid_party_ids(parties, filters.invalid)
        parties = parties.filter(pk__any_of=list(ids)) if ids else parties.none()
    return parties


def capped_count(queryset: QuerySet[Any], cap: int = COUNT_CAP) -> tuple[int, bool]:
    """(count, exact): counts up to `cap` rows; past it returns (cap, False)."""
    n = queryset.order_by().values("pk")[: cap + 1].count()
    return (n, True) if n <= cap else (cap, False)


@dataclass(frozen=True)
class PartyRow:
    """A party as a list row shows it: its role labels and tag names beside it."""

    party: Party
    roles: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


def party_rows(parties: Sequence[Party]) -> list[PartyRow]:
    """The rows of one page, with roles and tags in two queries. Plain lists rather than
    prefetch_related, which builds a filtered queryset per party and relation: half the
    CPU of a 50-row list page went there."""
    ids = [party.pk for party in parties]
    roles: dict[int, list[str]] = defaultdict(list)
    for party_id, role in PartyRole.objects.filter(party_id__in=ids).values_list(
        "party_id", "role"
    ):
        roles[party_id].append(str(PartyRoleKind(role).label))
    tags: dict[int, list[str]] = defaultdict(list)
    named = PartyTag.objects.filter(party_id__in=ids).order_by("tag__name")
    for party_id, name in named.values_list("party_id", "tag__name"):
        tags[party_id].append(name)
    return [PartyRow(party, roles[party.pk], tags[party.pk]) for party in parties]
