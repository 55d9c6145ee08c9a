"""Writes of tenants, staff, teams and API tokens."""

import datetime
import secrets
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from kehu.core.audit import audit_write, diff, snapshot
from kehu.core.context import tenant_scope
from kehu.core.models import AuditEntry
from kehu.tenancy.handover import Holding, participants
from kehu.tenancy.models import (
    ApiToken,
    Invitation,
    Role,
    Team,
    TeamMembership,
    Tenant,
    User,
    Visibility,
)
from kehu.tenancy.tasks import send_invitation_email

Action = AuditEntry.Action
INVITATION_DAYS = 7
STAFF_FIELDS = ("display_name", "role", "visibility", "is_active", "mobile")


@transaction.atomic
def tenant_create(
    *, name: str, slug: str, admin_username: str, admin_password: str, admin_email: str = ""
) -> tuple[Tenant, User]:
    """A new firm and its first administrator."""
    if Tenant.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": _("标识已被使用：%(slug)s") % {"slug": slug}})
    tenant = Tenant.objects.create(name=name, slug=slug)
    admin = User(
        tenant=tenant,
        username=admin_username,
        email=admin_email,
        display_name=admin_username,
        role=Role.ADMIN,
        visibility=Visibility.ALL,
    )
    admin.set_password(admin_password)
    admin.full_clean(exclude=["password"])
    admin.save()
    return tenant, admin


def _staff_save(actor: User | None, user: User, before: dict[str, object]) -> None:
    user.full_clean(exclude=["password", "tenant"])
    user.save()
    changed = diff(before, snapshot(user, STAFF_FIELDS))
    if changed:
        action = Action.UPDATE if before else Action.CREATE
        audit_write(actor_id=actor.pk if actor else None, action=action, obj=user, changes=changed)


@transaction.atomic
def staff_create(
    *,
    actor: User,
    username: str,
    password: str,
    display_name: str = "",
    email: str = "",
    role: str = Role.SALES,
    visibility: str = Visibility.OWN,
) -> User:
    if User.all_tenants.filter(username=username).exists():
        raise ValidationError({"username": _("用户名已被使用：%(name)s") % {"name": username}})
    user = User(
        tenant_id=actor.tenant_id,
        username=username,
        email=email,
        display_name=display_name or username,
        role=role,
        visibility=visibility,
    )
    validate_password(password, user)
    user.set_password(password)
    _staff_save(actor, user, {})
    return user


@transaction.atomic
def staff_update(*, actor: User, user: User, **changes: object) -> User:
    """Change a colleague's name, role, visibility or active flag (admins only)."""
    unknown = set(changes) - set(STAFF_FIELDS)
    if unknown:
        raise ValidationError(
            _("不能修改这些字段：%(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    if user.pk == actor.pk and (
        changes.get("role", Role.ADMIN) != Role.ADMIN or changes.get("is_active") is False
    ):
        raise ValidationError({"role": _("不能降低自己的权限或停用自己。")})
    if changes.get("is_active") is False and user.is_active:
        _check_nothing_held(user)
    before = snapshot(user, STAFF_FIELDS)
    for name, value in changes.items():
        setattr(user, name, value)
    _staff_save(actor, user, before)
    return user


def held_by(user: User) -> dict[str, int]:
    """{participant label: how many} of what `user` still holds (non-zero only)."""
    counts = {str(p.label): p.count(user) for p in participants()}
    return {label: n for label, n in counts.items() if n}


def _check_nothing_held(user: User) -> None:
    """Nobody leaves with customers or work still in their name: hand it over first."""
    held = held_by(user)
    if held:
        listed = pgettext("punctuation", "、").join(f"{label} {n}" for label, n in held.items())
        raise ValidationError(
            {
                "is_active": _(
                    "%(name)s 还负责：%(held)s。请先在「工作交接」中把这些交给同事，再停用。"
                )
                % {"name": user, "held": listed}
            }
        )


@dataclass(frozen=True)
class HandedOver:
    holding: Holding
    receiver: User


@transaction.atomic
def staff_handover(
    *,
    actor: User,
    giver: User,
    receivers: Sequence[User],
    note: str,
    only: Mapping[str, Collection[int]] | None = None,
) -> list[HandedOver]:
    """Move what `giver` holds to `receivers`, all in one transaction, each record with
    the note. With several receivers, parties are dealt round robin and every record
    about a party goes with it; `only` limits a kind to the given ids (a partial
    handover, e.g. on a change of role)."""
    note = note.strip()
    if not note:
        raise ValidationError({"note": _("请填写交接说明。")})
    _check_receivers(giver, receivers)
    dealer = _RoundRobin(receivers)
    moved = []
    for participant in participants():
        chosen = None if only is None else set(only.get(participant.key, ()))
        for holding in participant.holdings(giver):
            if chosen is not None and holding.pk not in chosen:
                continue
            receiver = dealer.receiver_for(holding)
            participant.transfer(actor=actor, holding=holding, receiver=receiver, note=note)
            moved.append(HandedOver(holding, receiver))
    if not moved:
        raise ValidationError(_("没有选中要交接的记录。"))
    audit_write(
        actor_id=actor.pk,
        action=Action.UPDATE,
        obj=giver,
        changes={"handover": [None, handover_counts(moved)], "handover_note": [None, note]},
    )
    return moved


def handover_counts(moved: Sequence[HandedOver]) -> dict[str, int]:
    """{kind: how many records moved}."""
    return dict(sorted(Counter(m.holding.kind for m in moved).items()))


def _check_receivers(giver: User, receivers: Sequence[User]) -> None:
    if not receivers:
        raise ValidationError({"receivers": _("请至少选择一位接收人。")})
    for receiver in receivers:
        if receiver.pk == giver.pk:
            raise ValidationError({"receivers": _("不能交接给本人。")})
        if not receiver.is_active or receiver.tenant_id != giver.tenant_id:
            raise ValidationError({"receivers": _("接收人必须是本公司在职员工。")})


class _RoundRobin:
    """Deals receivers in turn; the records of one party all go to that party's receiver."""

    def __init__(self, receivers: Sequence[User]) -> None:
        self.receivers = list(receivers)
        self.turn = 0
        self.by_party: dict[int, User] = {}

    def receiver_for(self, holding: Holding) -> User:
        if holding.party_id is not None and holding.party_id in self.by_party:
            return self.by_party[holding.party_id]
        receiver = self.receivers[self.turn % len(self.receivers)]
        self.turn += 1
        if holding.party_id is not None:
            self.by_party[holding.party_id] = receiver
        return receiver


@transaction.atomic
def invitation_create(
    *,
    actor: User,
    email: str,
    display_name: str = "",
    role: str = Role.SALES,
    visibility: str = Visibility.OWN,
) -> tuple[Invitation, str]:
    """An invitation valid for a week; returns it and the link to send (also emailed)."""
    raw = secrets.token_urlsafe(24)
    invitation = Invitation(
        email=email.strip().lower(),
        display_name=display_name,
        role=role,
        visibility=visibility,
        digest=Invitation.digest_of(raw),
        invited_by=actor,
        expires_at=timezone.now() + datetime.timedelta(days=INVITATION_DAYS),
    )
    invitation.full_clean(exclude=["tenant", "invited_by", "digest"])
    invitation.save()
    audit_write(
        actor_id=actor.pk,
        action=Action.CREATE,
        obj=invitation,
        changes=diff({}, snapshot(invitation, ("email", "role", "visibility"))),
    )
    link = settings.SITE_URL.rstrip("/") + reverse("invitation_accept", args=[raw])
    language = translation.get_language() or settings.LANGUAGE_CODE
    transaction.on_commit(lambda: send_invitation_email.enqueue(invitation.email, link, language))
    return invitation, link


@transaction.atomic
def invitation_revoke(*, actor: User, invitation: Invitation) -> None:
    """Withdraw a pending invitation: its link stops working (the row goes; its history,
    who invited whom and who withdrew it, stays in the audit log)."""
    if invitation.accepted_at is not None:
        raise ValidationError(_("这个邀请已被接受，不能撤销。"))
    audit_write(
        actor_id=actor.pk,
        action=Action.DELETE,
        obj=invitation,
        changes=diff(snapshot(invitation, ("email", "role", "visibility")), {}),
    )
    invitation.delete()


def invitation_for_token(raw: str) -> Invitation | None:
    """The open invitation this raw token belongs to (any tenant: the link names none)."""
    invitation = (
        Invitation.all_tenants.filter(
            digest=Invitation.digest_of(raw),
            accepted_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .select_related("tenant")
        .first()
    )
    return invitation


@transaction.atomic
def invitation_accept(*, invitation: Invitation, username: str, password: str) -> User:
    with tenant_scope(invitation.tenant_id):
        if User.all_tenants.filter(username=username).exists():
            raise ValidationError({"username": _("用户名已被使用：%(name)s") % {"name": username}})
        user = User(
            tenant_id=invitation.tenant_id,
            username=username,
            email=invitation.email,
            display_name=invitation.display_name or username,
            role=invitation.role,
            visibility=invitation.visibility,
        )
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from exc
        user.set_password(password)
        _staff_save(None, user, {})
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at"])
    return user


@transaction.atomic
def team_create(*, actor: User, name: str) -> Team:
    name = name.strip()
    if Team.objects.filter(name=name).exists():
        raise ValidationError({"name": _("团队名称已存在：%(name)s") % {"name": name}})
    team = Team(name=name)
    team.full_clean(exclude=["tenant"])
    team.save()
    audit_write(actor_id=actor.pk, action=Action.CREATE, obj=team, changes={"name": [None, name]})
    return team


@transaction.atomic
def team_rename(*, actor: User, team: Team, name: str) -> Team:
    before = team.name
    team.name = name.strip()
    if Team.objects.filter(name=team.name).exclude(pk=team.pk).exists():
        raise ValidationError({"name": _("团队名称已存在：%(name)s") % {"name": team.name}})
    team.full_clean(exclude=["tenant"])
    team.save()
    audit_write(
        actor_id=actor.pk, action=Action.UPDATE, obj=team, changes={"name": [before, team.name]}
    )
    return team


@transaction.atomic
def team_delete(*, actor: User, team: Team) -> None:
    audit_write(
        actor_id=actor.pk, action=Action.DELETE, obj=team, changes={"name": [team.name, None]}
    )
    team.delete()


@transaction.atomic
def team_member_add(
    *, actor: User, team: Team, user: User, is_lead: bool = False
) -> TeamMembership:
    if user.tenant_id != team.tenant_id:
        raise ValidationError({"user": _("只能添加本公司员工。")})
    membership, created = TeamMembership.objects.get_or_create(
        team=team, user=user, defaults={"is_lead": is_lead, "tenant_id": team.tenant_id}
    )
    if created:
        audit_write(
            actor_id=actor.pk,
            action=Action.CREATE,
            obj=membership,
            changes={"user": [None, user.pk], "is_lead": [None, is_lead]},
            root=team,
        )
    return membership


@transaction.atomic
def team_member_remove(*, actor: User, team: Team, user: User) -> None:
    for membership in TeamMembership.objects.filter(team=team, user=user):
        audit_write(
            actor_id=actor.pk,
            action=Action.DELETE,
            obj=membership,
            changes={"user": [user.pk, None]},
            root=team,
        )
        membership.delete()


@transaction.atomic
def api_token_create(*, actor: User, name: str) -> tuple[ApiToken, str]:
    """A token for the actor's own API use; the raw value is returned once, never stored."""
    raw = ApiToken.new_raw()
    token = ApiToken(user=actor, name=name.strip(), digest=ApiToken.digest_of(raw), hint=raw[:9])
    token.full_clean(exclude=["tenant", "user"])
    token.save()
    audit_write(
        actor_id=actor.pk, action=Action.CREATE, obj=token, changes={"name": [None, token.name]}
    )
    return token, raw


@transaction.atomic
def api_token_revoke(*, actor: User, token: ApiToken) -> None:
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit_write(
        actor_id=actor.pk, action=Action.DELETE, obj=token, changes={"name": [token.name, None]}
    )


def api_token_user(raw: str) -> User | None:
    """The active user a raw token belongs to, or None; records when it was last used."""
    token = (
        ApiToken.all_tenants.filter(digest=ApiToken.digest_of(raw), revoked_at__isnull=True)
        .select_related("user")
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > datetime.timedelta(minutes=5):
        ApiToken.all_tenants.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def user_set_language(*, user: User, language: str) -> User:
    """Save the language a user reads the product in (applied again at each sign-in)."""
    if language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": _("不支持的语言：%(code)s") % {"code": language}})
    user.language = language
    user.save(update_fields=["language"])
    return user
