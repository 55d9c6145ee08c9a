"""Sign-in, language, staff, teams, invitations and personal API tokens."""

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from kehu.core.web import add_service_errors, render_page
from kehu.tenancy import selectors, services
from kehu.tenancy.forms import (
    AcceptInvitationForm,
    HandoverForm,
    InvitationForm,
    LanguageForm,
    SignInForm,
    StaffForm,
    TeamMemberForm,
    TeamNameForm,
    TokenForm,
)
from kehu.tenancy.handover import HandoverGroup, holdings_of
from kehu.tenancy.models import User

NO_TENANT_TEMPLATE = "tenancy/no_tenant.html"
INVALID = 422
_T = TypeVar("_T")
View = Callable[..., HttpResponse]


class MemberRequest(HttpRequest):
    """A request by a signed-in member of a tenant (what `member_required` guarantees)."""

    user: User


# Access helpers shared by the page views of every app.


def member_required(view: View) -> View:
    """Signed in (else to the login page) and staff of a tenant (operators get a page
    saying so: with no tenant in scope, tenant data cannot be read at all)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(request.user, "tenant_id", None) is None:
            return render(request, NO_TENANT_TEMPLATE, {}, status=403)
        return view(request, *args, **kwargs)

    return login_required(wrapped)


def require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


def safe_next(request: HttpRequest, url: str | None) -> str | None:
    """`url` if it stays on this site, else None (never redirect to a foreign host)."""
    allowed = url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return url if url and allowed else None


def submit(form: forms.Form, action: Callable[[dict[str, Any]], _T]) -> _T | None:
    """Run `action` on a valid form's data; None (with errors on the form) if it fails."""
    if not form.is_valid():
        return None
    try:
        return action(form.cleaned_data)
    except ValidationError as exc:
        add_service_errors(form, exc)
        return None


def remember_language(response: HttpResponse, language: str) -> HttpResponse:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response


def form_status(form: forms.BaseForm) -> int:
    """422 for a form sent back with errors (base.html has htmx swap it in), else 200."""
    return INVALID if form.is_bound and form.errors else 200


# Sign-in and language.


class SignInView(LoginView):
    template_name = "tenancy/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        return remember_language(response, getattr(form.get_user(), "language", ""))

    def get_default_redirect_url(self) -> str:
        if getattr(self.request.user, "tenant_id", None) is None:
            return reverse("tenancy:no_tenant")
        return super().get_default_redirect_url()


@login_required
def no_tenant(request: HttpRequest) -> HttpResponse:
    if getattr(request.user, "tenant_id", None) is not None:
        return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, NO_TENANT_TEMPLATE, {})


@require_POST
def language(request: HttpRequest) -> HttpResponse:
    form = LanguageForm(request.POST)
    if not form.is_valid():
        return HttpResponse(_("不支持的语言。"), status=400)
    code = form.cleaned_data["language"]
    if isinstance(request.user, User):
        services.user_set_language(user=request.user, language=code)
    back = safe_next(request, form.cleaned_data["next"]) or safe_next(
        request, request.headers.get("Referer")
    )
    return remember_language(HttpResponseRedirect(back or resolve_url("login")), code)


# Invitations and staff.


@sensitive_post_parameters("password", "password_again")
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The page an invitation link opens: choose a username and password, then sign in."""
    invitation = services.invitation_for_token(token)
    if invitation is None:
        return render(request, "tenancy/invitation_invalid.html", {}, status=404)
    form = AcceptInvitationForm(request.POST if request.method == "POST" else None)
    user = submit(
        form,
        lambda data: services.invitation_accept(
            invitation=invitation, username=data["username"], password=data["password"]
        ),
    )
    if user is None:
        context = {"form": form, "invitation": invitation}
        return render(request, "tenancy/invitation_accept.html", context, status=form_status(form))
    auth_login(request, user)
    messages.success(request, _("欢迎加入 %(tenant)s！") % {"tenant": invitation.tenant})
    return remember_language(redirect(settings.LOGIN_REDIRECT_URL), user.language)


def _staff_page(
    request: MemberRequest, invite_form: InvitationForm, *, link: str = "", status: int = 200
) -> HttpResponse:
    is_admin = request.user.is_tenant_admin
    context = {
        "nav": "settings",
        "staff": selectors.staff_list().prefetch_related("teams"),
        "invitations": selectors.open_invitations().select_related("invited_by")
        if is_admin
        else [],
        "invite_form": invite_form,
        "invitation_link": link,
        "is_admin": is_admin,
        "now": timezone.now(),
    }
    return render_page(request, "tenancy/staff_list.html", context, status=status)


@member_required
@never_cache
def staff(request: MemberRequest) -> HttpResponse:
    """The staff list (managers may look); admins invite from it, and see the new
    invitation's link here, since e-mail may not be set up."""
    require(request.user.can_manage)
    if request.method != "POST":
        return _staff_page(request, InvitationForm())
    require(request.user.is_tenant_admin)
    form = InvitationForm(request.POST)
    created = submit(form, lambda data: services.invitation_create(actor=request.user, **data))
    if created is None:
        return _staff_page(request, form, status=INVALID)
    return _staff_page(request, InvitationForm(), link=created[1])


@member_required
@require_POST
def invitation_revoke(request: MemberRequest, pk: int) -> HttpResponse:
    require(request.user.is_tenant_admin)
    invitation = selectors.get_open_invitation(pk)
    services.invitation_revoke(actor=request.user, invitation=invitation)
    messages.success(request, _("已撤销给 %(email)s 的邀请。") % {"email": invitation.email})
    return redirect("tenancy:staff")


@member_required
def staff_edit(request: MemberRequest, pk: int) -> HttpResponse:
    require(request.user.is_tenant_admin)
    colleague = selectors.get_staff(pk)
    if request.method != "POST":
        form = StaffForm.for_user(colleague)
    else:
        form = StaffForm(request.POST)
        saved = submit(
            form,
            lambda data: services.staff_update(actor=request.user, user=colleague, **data),
        )
        if saved is not None:
            messages.success(request, _("已保存 %(name)s 的设置。") % {"name": saved})
            return redirect("tenancy:staff")
    context = {"nav": "settings", "colleague": colleague, "form": form}
    return render(request, "tenancy/staff_edit.html", context, status=form_status(form))


# Handover.


def _picked(values: list[str]) -> dict[str, set[int]]:
    """{kind: ids} from the form's "kind:id" checkboxes; a malformed one is left out."""
    only: dict[str, set[int]] = {}
    for value in values:
        kind, _sep, pk = value.partition(":")
        if pk.isdigit():
            only.setdefault(kind, set()).add(int(pk))
    return only


@member_required
def handover(request: MemberRequest, pk: int) -> HttpResponse:
    """A manager moves a leaving (or moving) colleague's records to others in one step."""
    require(request.user.can_manage)
    giver = selectors.get_staff(pk)
    form = HandoverForm(request.POST if request.method == "POST" else None, giver=giver)
    if request.method == "POST":
        only = _picked(request.POST.getlist("pick"))
        moved = submit(
            form,
            lambda d: services.staff_handover(
                actor=request.user,
                giver=giver,
                receivers=list(d["receivers"]),
                note=d["note"],
                only=only,
            ),
        )
        if moved is not None:
            context = {
                "nav": "settings",
                "giver": giver,
                "note": form.cleaned_data["note"],
                "moved": [HandoverGroup.row(m.holding, m.receiver) for m in moved],
            }
            return render(request, "tenancy/handover_done.html", context)
    context = {"nav": "settings", "giver": giver, "form": form, "groups": holdings_of(giver)}
    return render(request, "tenancy/handover.html", context, status=form_status(form))


# Teams.


def _teams_page(request: MemberRequest, form: TeamNameForm) -> HttpResponse:
    context = {
        "nav": "settings",
        "teams": selectors.team_list(),
        "form": form,
        "is_admin": request.user.is_tenant_admin,
    }
    return render(request, "tenancy/teams.html", context, status=form_status(form))


@member_required
def teams(request: MemberRequest) -> HttpResponse:
    require(request.user.can_manage)
    if request.method != "POST":
        return _teams_page(request, TeamNameForm())
    require(request.user.is_tenant_admin)
    form = TeamNameForm(request.POST)
    team = submit(form, lambda data: services.team_create(actor=request.user, name=data["name"]))
    if team is None:
        return _teams_page(request, form)
    messages.success(request, _("已创建团队 %(name)s。") % {"name": team})
    return redirect("tenancy:team", pk=team.pk)


def _team_page(
    request: MemberRequest,
    pk: int,
    *,
    name_form: TeamNameForm | None = None,
    member_form: TeamMemberForm | None = None,
) -> HttpResponse:
    team = selectors.get_team(pk)
    bound = name_form or member_form
    context = {
        "nav": "settings",
        "team": team,
        "memberships": team.memberships.select_related("user").order_by(
            "-is_lead", "user__username"
        ),
        "name_form": name_form or TeamNameForm(initial={"name": team.name}),
        "member_form": member_form or TeamMemberForm(),
        "is_admin": request.user.is_tenant_admin,
    }
    status = form_status(bound) if bound else 200
    return render(request, "tenancy/team_detail.html", context, status=status)


@member_required
def team(request: MemberRequest, pk: int) -> HttpResponse:
    require(request.user.can_manage)
    return _team_page(request, pk)


@member_required
@require_POST
def team_rename(request: MemberRequest, pk: int) -> HttpResponse:
    require(request.user.is_tenant_admin)
    target = selectors.get_team(pk)
    form = TeamNameForm(request.POST)
    renamed = submit(
        form, lambda data: services.team_rename(actor=request.user, team=target, name=data["name"])
    )
    if renamed is None:
        return _team_page(request, pk, name_form=form)
    messages.success(request, _("团队已改名为 %(name)s。") % {"name": renamed})
    return redirect("tenancy:team", pk=pk)


@member_required
@require_POST
def team_delete(request: MemberRequest, pk: int) -> HttpResponse:
    require(request.user.is_tenant_admin)
    target = selectors.get_team(pk)
    services.team_delete(actor=request.user, team=target)
    messages.success(request, _("已删除团队 %(name)s。") % {"name": target})
    return redirect("tenancy:teams")


@member_required
@require_POST
def team_member_add(request: MemberRequest, pk: int) -> HttpResponse:
    require(request.user.is_tenant_admin)
    target = selectors.get_team(pk)
    form = TeamMemberForm(request.POST)
    added = submit(
        form,
        lambda data: services.team_member_add(
            actor=request.user, team=target, user=data["user"], is_lead=data["is_lead"]
        ),
    )
    if added is None:
        return _team_page(request, pk, member_form=form)
    return redirect("tenancy:team", pk=pk)


@member_required
@require_POST
def team_member_remove(request: MemberRequest, pk: int, user_pk: int) -> HttpResponse:
    require(request.user.is_tenant_admin)
    target = selectors.get_team(pk)
    member = selectors.get_staff(user_pk)
    services.team_member_remove(actor=request.user, team=target, user=member)
    return redirect("tenancy:team", pk=pk)


# Personal API tokens.


def _tokens_page(
    request: MemberRequest, form: TokenForm, *, raw_token: str = "", status: int = 200
) -> HttpResponse:
    context = {
        "nav": "tokens",
        "tokens": selectors.tokens_of(request.user),
        "form": form,
        "raw_token": raw_token,
    }
    return render(request, "tenancy/tokens.html", context, status=status)


@member_required
@never_cache
def tokens(request: MemberRequest) -> HttpResponse:
    if request.method != "POST":
        return _tokens_page(request, TokenForm())
    form = TokenForm(request.POST)
    created = submit(
        form, lambda data: services.api_token_create(actor=request.user, name=data["name"])
    )
    if created is None:
        return _tokens_page(request, form, status=INVALID)
    # The raw token exists only in this response: it is never stored, so show it now.
    return _tokens_page(request, TokenForm(), raw_token=created[1])


@member_required
@require_POST
def token_revoke(request: MemberRequest, pk: int) -> HttpResponse:
    token = selectors.tokens_of(request.user).filter(pk=pk).first()
    if token is None:
        raise Http404
    services.api_token_revoke(actor=request.user, token=token)
    messages.success(request, _("已撤销令牌 %(name)s。") % {"name": token.name})
    return redirect("tenancy:tokens")
