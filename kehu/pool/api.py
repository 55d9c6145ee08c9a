"""API of the customer pool (公海): its rule, claiming, assigning and releasing parties.

The pool's parties are listed by `GET /parties?in_pool=true`. A party is fetched with
`get_party_for_user`, so one the caller may not see is a 404; pool parties are visible
to every member, which is what makes them claimable.
"""

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router

from kehu.core.pagination import Page, PageParams, page_of
from kehu.core.problems import Conflict
from kehu.parties.models import OwnershipChange, Party
from kehu.parties.schemas import PartyOut
from kehu.parties.selectors import get_party_for_user
from kehu.pool import selectors, services
from kehu.pool.models import PoolSettings
from kehu.pool.schemas import (
    AssignIn,
    OwnershipChangeOut,
    PoolSettingsOut,
    PoolSettingsPatch,
    ReleaseIn,
    SweepOut,
)
from kehu.tenancy.api import staff_ref
from kehu.tenancy.api_auth import api_user, require_manage, require_tenant_admin, require_write

router = Router(tags=["pool"])


@router.get("/pool/settings", response=PoolSettingsOut)
def get_pool_settings(request: HttpRequest) -> PoolSettings:
    """The firm's pool rule (any member may read it: it says how many they may claim)."""
    api_user(request)
    return selectors.pool_settings()


@router.patch("/pool/settings", response=PoolSettingsOut)
def update_pool_settings(request: HttpRequest, payload: PoolSettingsPatch) -> PoolSettings:
    """Change the rule (admins only); leave out the fields to keep."""
    user = api_user(request)
    require_tenant_admin(user)
    changes = payload.dict(exclude_unset=True)
    if "custodian" in changes:
        changes["custodian"] = staff_ref(changes["custodian"], "custodian")
    return services.pool_settings_update(actor=user, **changes)


@router.post("/pool/sweep", response=SweepOut)
def sweep_pool(request: HttpRequest) -> dict[str, int]:
    """Return the firm's idle parties to the pool now (admins only), as the night does."""
    require_tenant_admin(api_user(request))
    return {"moved": services.pool_sweep()}


def _conflict_as_409(action: Callable[[], Party]) -> Party:
    try:
        return action()
    except services.PoolConflict as exc:
        raise Conflict(" ".join(exc.messages)) from exc


@router.post("/parties/{int:party_id}/claim", response=PartyOut)
def claim_party(request: HttpRequest, party_id: int) -> Party:
    """Take a party from the pool (409 when someone was faster; 422 past the limit)."""
    user = api_user(request)
    try:
        party = selectors.get_party_to_claim(user, party_id)
    except selectors.ClaimedAlready as exc:
        raise Conflict(str(exc)) from exc
    require_write(user)
    return _conflict_as_409(lambda: services.pool_claim(actor=user, party=party))


@router.post("/parties/{int:party_id}/assign", response=PartyOut)
def assign_party(request: HttpRequest, party_id: int, payload: AssignIn) -> Party:
    """Give a pool party to a colleague (managers only)."""
    user = api_user(request)
    party = get_party_for_user(user, party_id)
    require_manage(user)
    owner = staff_ref(payload.owner, "owner")
    return _conflict_as_409(
        lambda: services.pool_assign(actor=user, party=party, owner=owner, note=payload.note)
    )


@router.post("/parties/{int:party_id}/release", response=PartyOut)
def release_party(request: HttpRequest, party_id: int, payload: ReleaseIn) -> Party:
    """Return a party to the pool, saying why (managers only)."""
    user = api_user(request)
    party = get_party_for_user(user, party_id, write=True)
    require_manage(user)
    return _conflict_as_409(
        lambda: services.pool_release(actor=user, party=party, reason=payload.reason)
    )


@router.get("/parties/{int:party_id}/ownership-changes", response=Page[OwnershipChangeOut])
def ownership_changes(
    request: HttpRequest, party_id: int, page: Query[PageParams]
) -> dict[str, Any]:
    """Who owned the party, and how it passed on (pool, handover, edits), newest first."""
    party = get_party_for_user(api_user(request), party_id)
    changes = (
        OwnershipChange.objects.filter(party=party)
        .select_related("from_owner", "to_owner", "changed_by")
        .order_by("-changed_at", "-id")
    )
    return page_of(changes, page, (changes.count(), True))
