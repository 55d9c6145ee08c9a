"""Reads of staff, teams and tokens within the active tenant."""

from django.db.models import QuerySet
from django.http import Http404

from kehu.tenancy.models import ApiToken, Invitation, Team, User


def staff_list() -> QuerySet[User]:
    return User.objects.order_by("-is_active", "username")


def active_staff() -> QuerySet[User]:
    return User.objects.filter(is_active=True).order_by("display_name", "username")


def get_staff(pk: int) -> User:
    user = User.objects.filter(pk=pk).first()
    if user is None:
        raise Http404
    return user


def team_list() -> QuerySet[Team]:
    return Team.objects.prefetch_related("members").order_by("name")


def get_team(pk: int) -> Team:
    team = Team.objects.filter(pk=pk).first()
    if team is None:
        raise Http404
    return team


def open_invitations() -> QuerySet[Invitation]:
    return Invitation.objects.filter(accepted_at__isnull=True).order_by("-created_at")


def get_open_invitation(pk: int) -> Invitation:
    """A pending invitation of the firm; an accepted one, or another firm's, is 404."""
    invitation = open_invitations().filter(pk=pk).first()
    if invitation is None:
        raise Http404
    return invitation


def tokens_of(user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at")
