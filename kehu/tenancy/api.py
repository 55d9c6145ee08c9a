"""API of the firm's own people: the caller, staff, invitations, teams, API tokens."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router

from kehu.core.pagination import Page, PageParams, page_of
from kehu.tenancy import selectors, services
from kehu.tenancy.api_auth import api_user, require_manage, require_tenant_admin
from kehu.tenancy.handover import Holding, holdings_of
from kehu.tenancy.models import ApiToken, Team, TeamMembership, User
from kehu.tenancy.schemas import (
    HandoverIn,
    HandoverOut,
    HoldingOut,
    InvitationCreatedOut,
    InvitationIn,
    InvitationOut,
    MeOut,
    StaffOut,
    StaffPatch,
    TeamIn,
    TeamMemberIn,
    TeamMemberOut,
    TeamOut,
    TokenCreatedOut,
    TokenIn,
    TokenOut,
)

router = Router()


def staff_ref(pk: int, field: str) -> User:
    """A colleague named in a request body; an unknown id is that field's error."""
    try:
        return selectors.get_staff(pk)
    except Http404:
        raise ValidationError({field: _("没有编号为 %(id)s 的员工。") % {"id": pk}}) from None


def _exact_page(queryset: Any, params: PageParams) -> dict[str, Any]:
    # Staff, teams and tokens of one firm are few: an exact count is cheap.
    return page_of(queryset, params, (queryset.count(), True))


@router.get("/me", response=MeOut, tags=["staff"])
def me(request: HttpRequest) -> User:
    """The caller: who they are, their tenant, and what they may do."""
    return api_user(request)


@router.get("/users", response=Page[StaffOut], tags=["staff"])
def list_users(request: HttpRequest, page: Query[PageParams]) -> dict[str, Any]:
    """The firm's staff, active first (any member may list them)."""
    api_user(request)
    return _exact_page(selectors.staff_list(), page)


@router.get("/users/{int:user_id}", response=StaffOut, tags=["staff"])
def get_user(request: HttpRequest, user_id: int) -> User:
    api_user(request)
    return selectors.get_staff(user_id)


@router.patch("/users/{int:user_id}", response=StaffOut, tags=["staff"])
def update_user(request: HttpRequest, user_id: int, payload: StaffPatch) -> User:
    """Change a colleague's name, role, visibility or active flag (admins only)."""
    actor = api_user(request)
    require_tenant_admin(actor)
    user = selectors.get_staff(user_id)
    return services.staff_update(actor=actor, user=user, **payload.dict(exclude_unset=True))


@router.get("/users/{int:user_id}/holdings", response=list[HoldingOut], tags=["staff"])
def user_holdings(request: HttpRequest, user_id: int) -> list[Holding]:
    """What a colleague still holds: parties, account-team places, open tasks (managers)."""
    require_manage(api_user(request))
    return [h for group in holdings_of(selectors.get_staff(user_id)) for h in group.holdings]


@router.post("/users/{int:user_id}/handover", response=HandoverOut, tags=["staff"])
def hand_over(request: HttpRequest, user_id: int, payload: HandoverIn) -> dict[str, Any]:
    """Move a colleague's records to others in one transaction, each with the note
    (managers). Deactivating someone who still holds records is refused until then."""
    actor = api_user(request)
    require_manage(actor)
    giver = selectors.get_staff(user_id)
    receivers = [staff_ref(pk, "receivers") for pk in dict.fromkeys(payload.receivers)]
    only = None if payload.only is None else {k: set(v) for k, v in payload.only.items()}
    moved = services.staff_handover(
        actor=actor, giver=giver, receivers=receivers, note=payload.note, only=only
    )
    return {"moved": moved, "counts": services.handover_counts(moved)}


@router.post("/invitations", response={201: InvitationCreatedOut}, tags=["staff"])
def create_invitation(request: HttpRequest, payload: InvitationIn) -> dict[str, Any]:
    """Invite a colleague by email (admins only). The link is returned once, and mailed."""
    actor = api_user(request)
    require_tenant_admin(actor)
    invitation, link = services.invitation_create(actor=actor, **payload.dict())
    return {**InvitationOut.from_orm(invitation).dict(), "link": link}


@router.delete("/invitations/{int:invitation_id}", response={204: None}, tags=["staff"])
def revoke_invitation(request: HttpRequest, invitation_id: int) -> None:
    """Withdraw a pending invitation (admins only); its link stops working."""
    actor = api_user(request)
    require_tenant_admin(actor)
    services.invitation_revoke(actor=actor, invitation=selectors.get_open_invitation(invitation_id))


def _teams() -> Any:
    memberships = TeamMembership.objects.select_related("user").order_by("user__username")
    return selectors.team_list().prefetch_related(Prefetch("memberships", queryset=memberships))


@router.get("/teams", response=Page[TeamOut], tags=["teams"])
def list_teams(request: HttpRequest, page: Query[PageParams]) -> dict[str, Any]:
    api_user(request)
    return _exact_page(_teams(), page)


@router.post("/teams", response={201: TeamOut}, tags=["teams"])
def create_team(request: HttpRequest, payload: TeamIn) -> Team:
    actor = api_user(request)
    require_tenant_admin(actor)
    return services.team_create(actor=actor, name=payload.name)


@router.patch("/teams/{int:team_id}", response=TeamOut, tags=["teams"])
def rename_team(request: HttpRequest, team_id: int, payload: TeamIn) -> Team:
    actor = api_user(request)
    require_tenant_admin(actor)
    return services.team_rename(actor=actor, team=selectors.get_team(team_id), name=payload.name)


@router.delete("/teams/{int:team_id}", response={204: None}, tags=["teams"])
def delete_team(request: HttpRequest, team_id: int) -> None:
    actor = api_user(request)
    require_tenant_admin(actor)
    services.team_delete(actor=actor, team=selectors.get_team(team_id))


@router.post("/teams/{int:team_id}/members", response={201: TeamMemberOut}, tags=["teams"])
def add_team_member(request: HttpRequest, team_id: int, payload: TeamMemberIn) -> TeamMembership:
    actor = api_user(request)
    require_tenant_admin(actor)
    team = selectors.get_team(team_id)
    user = staff_ref(payload.user, "user")
    return services.team_member_add(actor=actor, team=team, user=user, is_lead=payload.is_lead)


@router.delete("/teams/{int:team_id}/members/{int:user_id}", response={204: None}, tags=["teams"])
def remove_team_member(request: HttpRequest, team_id: int, user_id: int) -> None:
    actor = api_user(request)
    require_tenant_admin(actor)
    team = selectors.get_team(team_id)
    if not team.memberships.filter(user_id=user_id).exists():
        raise Http404
    services.team_member_remove(actor=actor, team=team, user=selectors.get_staff(user_id))


@router.get("/tokens", response=Page[TokenOut], tags=["tokens"])
def list_tokens(request: HttpRequest, page: Query[PageParams]) -> dict[str, Any]:
    """The caller's own live API tokens (never their values)."""
    return _exact_page(selectors.tokens_of(api_user(request)), page)


@router.post("/tokens", response={201: TokenCreatedOut}, tags=["tokens"])
def create_token(request: HttpRequest, payload: TokenIn) -> dict[str, Any]:
    """A new token for the caller. Its value is in this answer only: store it now."""
    token, raw = services.api_token_create(actor=api_user(request), name=payload.name)
    return {**TokenOut.from_orm(token).dict(), "token": raw}


@router.delete("/tokens/{int:token_id}", response={204: None}, tags=["tokens"])
def revoke_token(request: HttpRequest, token_id: int) -> None:
    """Revoke one of the caller's own tokens; it stops working at once."""
    user = api_user(request)
    token: ApiToken | None = selectors.tokens_of(user).filter(pk=token_id).first()
    if token is None:
        raise Http404
    services.api_token_revoke(actor=user, token=token)
