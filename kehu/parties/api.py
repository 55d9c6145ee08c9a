"""API of the customer archive (客户档案): parties, their parts, state and history.

Every party is fetched through `get_party_for_user`: a party the caller may not see is
a 404 (whether it exists or not), a change by a read-only role a 403. A party named in
a request body (a link's other end) is looked up the same way.
"""

from typing import Any

from django.db import transaction
from django.db.models import Prefetch, QuerySet, prefetch_related_objects
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from kehu.core.audit import audit_for
from kehu.core.models import AuditEntry
from kehu.core.pagination import Page, PageParams, page_of
from kehu.core.problems import Conflict, errors_under
from kehu.dataio import duplicates
from kehu.dataio.dedup_api import CheckOut, check_out
from kehu.parties import services
from kehu.parties.models import (
    AccountTeamMember,
    Address,
    ContactKind,
    ContactPoint,
    ImportantDate,
    Party,
    PartyLink,
    PartyTag,
    Preference,
    StateChange,
)
from kehu.parties.schemas import (
    AccountTeamIn,
    AccountTeamOut,
    AddressIn,
    AddressOut,
    AuditEntryOut,
    ContactIn,
    ContactOut,
    ImportantDateIn,
    ImportantDateOut,
    LinkIn,
    LinkOut,
    PartyDetailOut,
    PartyIn,
    PartyOut,
    PartyPatch,
    PartyQuery,
    PreferenceIn,
    PreferenceOut,
    RolesIn,
    RolesOut,
    StateChangeIn,
    StateChangeOut,
    TagIn,
    TagOut,
)
from kehu.parties.selectors import PartyFilters, capped_count, get_party_for_user, party_list
from kehu.tenancy.api import staff_ref
from kehu.tenancy.api_auth import api_user, require_manage, require_write
from kehu.tenancy.models import User

router = Router(tags=["parties"])

PARTY_PARTS = ("contacts", "addresses", "tags")


def _list_prefetch(parties: QuerySet[Party]) -> QuerySet[Party]:
    tags = PartyTag.objects.select_related("tag").order_by("tag__name")
    return parties.prefetch_related("roles", Prefetch("party_tags", queryset=tags))


def _detail(party: Party) -> Party:
    """The party with every part its detail shape shows, in one query per part."""
    links = PartyLink.objects.select_related("from_party", "to_party").order_by("id")
    prefetch_related_objects(
        [party],
        "roles",
        Prefetch("party_tags", queryset=PartyTag.objects.select_related("tag")),
        "contact_points",
        "addresses",
        "preferences",
        "important_dates",
        Prefetch("account_team", queryset=AccountTeamMember.objects.select_related("user")),
        Prefetch("links_out", queryset=links),
        Prefetch("links_in", queryset=links),
    )
    return party


def _party(request: HttpRequest, party_id: int) -> Party:
    """A party the caller may read (writes use get_party_for_user(write=True))."""
    return get_party_for_user(api_user(request), party_id)


@router.get("/parties", response=Page[PartyOut])
def list_parties(request: HttpRequest, filters: Query[PartyQuery]) -> dict[str, Any]:
    """Parties the caller may see, newest first, filtered and searched."""
    user = api_user(request)
    parties = party_list(
        user,
        PartyFilters(
            q=filters.q,
            kind=filters.kind or "",
            role=filters.role or "",
            state=filters.state or "",
            owner_id=filters.owner,
            team_id=filters.team,
            tag_id=filters.tag,
            province=filters.province,
            city=filters.city,
            is_direct=filters.is_direct,
            in_pool=filters.in_pool,
        ),
    )
    return page_of(_list_prefetch(parties), filters, capped_count(parties))


@router.post("/parties", response={201: PartyDetailOut, 409: CheckOut})
def create_party(
    request: HttpRequest, payload: PartyIn, allow_duplicate: bool = False
) -> Status[Any]:
    """A new party with its roles, contact points, addresses and tags, all or nothing.
    An error in a part names it: `contacts[1].value`. A likely duplicate of an existing
    party answers 409 with the duplicates; `?allow_duplicate=true` creates it anyway
    (and puts the pairs in the duplicate queue)."""
    user = api_user(request)
    require_write(user)
    new = duplicates.NewParty(
        kind=payload.kind,
        name=payload.name,
        phones=[c.value for c in payload.contacts if c.kind in duplicates.PHONES],
        emails=[c.value for c in payload.contacts if c.kind == ContactKind.EMAIL],
        uscc=payload.uscc,
    )
    if not allow_duplicate:
        warning = duplicates.duplicate_warning(user, new)
        if warning is not None:
            return Status(409, check_out(warning))
    party = _create_with_parts(user, payload)
    if allow_duplicate:
        duplicates.candidates_after_create(party, new)
    return Status(201, _detail(party))


@transaction.atomic
def _create_with_parts(user: User, payload: PartyIn) -> Party:
    fields = payload.dict(exclude={"owner", *PARTY_PARTS})
    owner = staff_ref(payload.owner, "owner") if payload.owner is not None else None
    party = services.party_create(actor=user, owner=owner, **fields)
    for i, contact in enumerate(payload.contacts):
        with errors_under(f"contacts[{i}]"):
            services.contact_point_add(actor=user, party=party, **contact.dict())
    for i, address in enumerate(payload.addresses):
        with errors_under(f"addresses[{i}]"):
            services.address_add(actor=user, party=party, **address.dict())
    for i, name in enumerate(payload.tags):
        with errors_under(f"tags[{i}]", item_field="name"):
            services.tag_add(actor=user, party=party, name=name)
    return party


@router.get("/parties/{int:party_id}", response=PartyDetailOut)
def get_party(request: HttpRequest, party_id: int) -> Party:
    return _detail(_party(request, party_id))


@router.patch("/parties/{int:party_id}", response=PartyDetailOut)
def update_party(request: HttpRequest, party_id: int, payload: PartyPatch) -> Party:
    """Change some fields; leave out the ones to keep."""
    user = api_user(request)
    party = get_party_for_user(user, party_id, write=True)
    changes = payload.dict(exclude_unset=True)
    if "owner" in changes:
        changes["owner"] = staff_ref(changes["owner"], "owner")
    services.party_update(actor=user, party=party, **changes)
    return _detail(party)


@router.delete("/parties/{int:party_id}", response={204: None})
def delete_party(request: HttpRequest, party_id: int) -> None:
    """Soft delete (managers): the party leaves lists and search and can be restored."""
    user = api_user(request)
    party = get_party_for_user(user, party_id, write=True)
    require_manage(user)
    services.party_delete(actor=user, party=party)


@router.post("/parties/{int:party_id}/restore", response=PartyDetailOut)
def restore_party(request: HttpRequest, party_id: int) -> Party:
    """Bring back a deleted party (managers)."""
    user = api_user(request)
    party = get_party_for_user(user, party_id, write=True, include_deleted=True)
    require_manage(user)
    if party.deleted_at is None:
        raise Conflict(_("这个客户没有被删除。"))
    services.party_restore(actor=user, party=party)
    return _detail(party)


@router.post("/parties/{int:party_id}/state", response={201: StateChangeOut})
def change_state(request: HttpRequest, party_id: int, payload: StateChangeIn) -> StateChange:
    """Move the relationship: potential → target → current → lost → won back."""
    user = api_user(request)
    party = get_party_for_user(user, party_id, write=True)
    return services.party_change_state(
        actor=user, party=party, to_state=payload.to_state, reason=payload.reason
    )


@router.get("/parties/{int:party_id}/state-changes", response=Page[StateChangeOut])
def list_state_changes(
    request: HttpRequest, party_id: int, page: Query[PageParams]
) -> dict[str, Any]:
    """Every change of the relationship state: when, from, to, why and by whom."""
    changes = _party(request, party_id).state_changes.order_by("-changed_at", "-id")
    return page_of(changes.select_related("changed_by"), page, capped_count(changes))


@router.get("/parties/{int:party_id}/audit", response=Page[AuditEntryOut])
def audit(request: HttpRequest, party_id: int, page: Query[PageParams]) -> dict[str, Any]:
    """Every write to the party and its parts, newest first, with values before and after."""
    entries: QuerySet[AuditEntry] = audit_for(_party(request, party_id))
    return page_of(entries, page, capped_count(entries))


@router.post("/parties/{int:party_id}/contact-points", response={201: ContactOut})
def add_contact_point(request: HttpRequest, party_id: int, payload: ContactIn) -> ContactPoint:
    user = api_user(request)
    party = get_party_for_user(user, party_id, write=True)
    return services.contact_point_add(actor=user, party=party, **payload.dict())


@router.delete("/parties/{int:party_id}/contact-points/{int:contact_id}", response={204: None})
def remove_contact_point(request: HttpRequest, party_id: int, contact_id: int) -> None:
    user = api_user(request)
    party = get_party_for_user(user, party_id, write=True)
    contact = _part(party.contact_points, contact_id)
    services.contact_point_remove(actor=user, party=party, contact=contact)


@router.post("/parties/{int:party_id}/addresses", response={201: AddressOut})
def add_address(request: HttpRequest, party_id: int, payload: AddressIn) -> Address:
    user = api_user(request)
    party = get_party_for_user(user, party_id, write=True)
    return services.address_add(actor=user, party=party, **payload.dict())


@router.delete("/parties/{int:party_id}/addresses/{int:address_id}", response={204: None})
def remove_address(request: HttpRequest, party_id: int, address_id: int) -> None:
    user = api_user(request)
    party = get_party_for_user(user, party_id, write=True)
    services.address_remove(actor=user, party=party, address=_part(party.addresses, address_id))


@router.post("/parties/{int:party_id}/tags", response={201: TagOut})
def add_tag(request: HttpRequest, party_id: int, payload: TagIn) -> dict[str, Any]:
    """Tag the party; a tag of that name is created for the firm on first use."""
    user = api_user(request)
    party = get_party_for_user(user, party_id, write=True)
    party_tag = services.tag_add(actor=user, party=party, name=payload.name)
    return {"id": party_tag.tag_id, "name": party_tag.tag.name}


@router.delete("/parties/{int:party_id}/tags/{int:tag_id}", response={204: None})
def remove_tag(request: HttpRequest, party_id: int, tag_id: int) -> None:
    """Take the tag (by tag id) off this party; the tag itself stays."""
    user = api_user(request)
    party = get_party_for_user(user, party_id, write=True)
    party_tag = party.party_tags.filter(tag_id=tag_id).first()
    if party_tag is None:
        raise Http404
    services.tag_remove(actor=user, party=party, party_tag=party_tag)


@router.post("/parties/{int:party_id}/preferences", response={201: PreferenceOut})
def add_preference(request: HttpRequest, party_id: int, payload: PreferenceIn) -> Preference:
    user = api_user(request)
    party = get_party_for_user(user, party_id, write=True)
    return services.preference_add(actor=user, party=party, **payload.dict())


@router.delete("/parties/{int:party_id}/preferences/{int:preference_id}", response={204: None})
def remove_preference(request: HttpRequest, party_id: int, preference_id: int) -> None:
    user = api_user(request)
    party = get_party_for_user(user, party_id, write=True)
    preference = _part(party.preferences, preference_id)
    services.preference_remove(actor=user, party=party, preference=preference)


@router.post("/parties/{int:party_id}/important-dates", response={201: ImportantDateOut})
def add_important_date(
    request: HttpRequest, party_id: int, payload: ImportantDateIn
) -> ImportantDate:
    user = api_user(request)
    party = get_party_for_user(user, party_id, write=True)
    return services.important_date_add(actor=user, party=party, **payload.dict())


@router.delete("/parties/{int:party_id}/important-dates/{int:date_id}", response={204: None})
def remove_important_date(request: HttpRequest, party_id: int, date_id: int) -> None:
    user = api_user(request)
    party = get_party_for_user(user, party_id, write=True)
    important_date = _part(party.important_dates, date_id)
    services.important_date_remove(actor=user, party=party, important_date=important_date)


@router.post("/parties/{int:party_id}/links", response={201: LinkOut})
def add_link(request: HttpRequest, party_id: int, payload: LinkIn) -> PartyLink:
    """Link this party to another: employs, buys through, refers, influences, competes with."""
    user = api_user(request)
    party = get_party_for_user(user, party_id, write=True)
    other = get_party_for_user(user, payload.to_party)
    return services.party_link_add(
        actor=user,
        from_party=party,
        to_party=other,
        kind=payload.kind,
        title=payload.title,
        note=payload.note,
    )


@router.delete("/parties/{int:party_id}/links/{int:link_id}", response={204: None})
def remove_link(request: HttpRequest, party_id: int, link_id: int) -> None:
    """Remove a link this party is either end of."""
    user = api_user(request)
    party = get_party_for_user(user, party_id, write=True)
    link = (party.links_out.filter(pk=link_id) | party.links_in.filter(pk=link_id)).first()
    if link is None:
        raise Http404
    services.party_link_remove(actor=user, link=link)


@router.post("/parties/{int:party_id}/account-team", response={201: AccountTeamOut})
def add_account_team_member(
    request: HttpRequest, party_id: int, payload: AccountTeamIn
) -> AccountTeamMember:
    """Add a colleague who serves this party beside its owner."""
    user = api_user(request)
    party = get_party_for_user(user, party_id, write=True)
    member = staff_ref(payload.user, "user")
    return services.account_team_add(actor=user, party=party, user=member, role=payload.role)


@router.delete("/parties/{int:party_id}/account-team/{int:member_id}", response={204: None})
def remove_account_team_member(request: HttpRequest, party_id: int, member_id: int) -> None:
    user = api_user(request)
    party = get_party_for_user(user, party_id, write=True)
    member = _part(party.account_team, member_id)
    services.account_team_remove(actor=user, party=party, member=member)


@router.put("/parties/{int:party_id}/roles", response=RolesOut)
def set_roles(request: HttpRequest, party_id: int, payload: RolesIn) -> dict[str, Any]:
    """Replace the party's roles (customer, prospect, distributor, …) with this list."""
    user = api_user(request)
    party = get_party_for_user(user, party_id, write=True)
    services.party_roles_set(actor=user, party=party, roles=payload.roles)
    return {"roles": sorted(party.roles.values_list("role", flat=True))}


def _part(parts: Any, pk: int) -> Any:
    """One part of a party (a phone, an address …) by id, or 404."""
    part = parts.filter(pk=pk).first()
    if part is None:
        raise Http404
    return part
