"""The pool (公海) pages: the list to claim from, claim / assign / release, the rule."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms import Form
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.web import render_page
from kehu.parties.models import Party
from kehu.parties.selectors import COUNT_CAP, capped_count, get_party_for_user
from kehu.parties.views import page_number, paginate
from kehu.pool import selectors, services
from kehu.pool.forms import AssignForm, PoolFilterForm, PoolSettingsForm, ReleaseForm
from kehu.pool.tasks import pool_sweep_tenant
from kehu.tenancy.views import MemberRequest, form_status, member_required, require, submit


@member_required
def pool_list(request: MemberRequest) -> HttpResponse:
    user = request.user
    form = PoolFilterForm(request.GET)
    parties = selectors.pool_parties(user, form.filters())
    page = paginate(parties, page_number(request), capped_count(parties, COUNT_CAP))
    rule = selectors.pool_settings()
    context = {
        "nav": "pool",
        "form": form,
        "page": page,
        "rule": rule,
        "claimed": selectors.claims_in_window(user, rule),
    }
    return render_page(request, "pool/list.html", context, fragment="pool/_results.html")


def _errors(form: Form) -> str:
    """A small form's errors as one message (its page is the party's, not its own)."""
    return " ".join(str(message) for errors in form.errors.values() for message in errors)


def _pool_party(request: MemberRequest, pk: int) -> Party:
    """A party the user may see; 403 for a role that may not write."""
    party = get_party_for_user(request.user, pk)
    require(request.user.can_write)
    return party


@member_required
@require_POST
def claim(request: MemberRequest, pk: int) -> HttpResponse:
    try:
        party = selectors.get_party_to_claim(request.user, pk)
        require(request.user.can_write)
        services.pool_claim(actor=request.user, party=party)
    except selectors.ClaimedAlready as exc:
        messages.error(request, str(exc))
        return redirect("pool:list")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("pool:list")
    messages.success(request, _("已领取「%(name)s」，现在由您负责。") % {"name": party.name})
    return redirect("parties:detail", pk=party.pk)


@member_required
@require_POST
def assign(request: MemberRequest, pk: int) -> HttpResponse:
    party = _pool_party(request, pk)
    require(request.user.can_manage)
    form = AssignForm(request.POST)
    done = submit(
        form,
        lambda d: services.pool_assign(
            actor=request.user, party=party, owner=d["owner"], note=d["note"]
        ),
    )
    if done is None:
        messages.error(request, _errors(form))
    else:
        messages.success(
            request,
            _("已把「%(name)s」分配给 %(owner)s。") % {"name": party.name, "owner": party.owner},
        )
    return redirect("parties:detail", pk=party.pk)


@member_required
@require_POST
def release(request: MemberRequest, pk: int) -> HttpResponse:
    party = get_party_for_user(request.user, pk, write=True)
    require(request.user.can_manage)
    form = ReleaseForm(request.POST)
    done = submit(
        form, lambda d: services.pool_release(actor=request.user, party=party, reason=d["reason"])
    )
    if done is None:
        messages.error(request, _errors(form))
    else:
        messages.success(request, _("已把「%(name)s」退回公海。") % {"name": party.name})
    return redirect("parties:detail", pk=party.pk)


@member_required
def pool_rule(request: MemberRequest) -> HttpResponse:
    """The pool's rule: managers read it, admins change it and may sweep now."""
    require(request.user.can_manage)
    rule = selectors.pool_settings()
    if request.method == "POST":
        require(request.user.is_tenant_admin)
        form = PoolSettingsForm(request.POST)
        saved = submit(form, lambda d: services.pool_settings_update(actor=request.user, **d))
        if saved is not None:
            messages.success(request, _("已保存公海规则。"))
            return redirect("pool:rule")
    else:
        form = PoolSettingsForm.for_rule(rule)
    context = {
        "nav": "settings",
        "tab": "pool",
        "form": form,
        "rule": rule,
        "custodian": selectors.pool_custodian(rule),
        "is_admin": request.user.is_tenant_admin,
    }
    return render(request, "pool/rule.html", context, status=form_status(form))


@member_required
@require_POST
def sweep_now(request: MemberRequest) -> HttpResponse:
    require(request.user.is_tenant_admin)
    tenant_id = request.user.tenant_id
    assert tenant_id is not None
    transaction.on_commit(lambda: pool_sweep_tenant.enqueue(tenant_id))
    messages.success(request, _("已开始检查：超期未跟进的客户将退回公海。"))
    return redirect("pool:rule")
