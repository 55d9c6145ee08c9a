"""The public lead form a firm embeds on its website (no sign-in).

It is found by the firm's slug and the form's token, looked up inside that firm's
tenant scope: a token of one firm under another firm's slug is a 404, so a form can
only ever create leads in its own firm. There is no session, so no CSRF cookie; instead
the page carries a signed stamp (the form and the time it was shown) that a submission
must return: it proves the form was fetched from us, and one sent back faster than a
person can type is refused. A hidden honeypot field catches bots that fill everything
(they get the thank-you page; nothing is saved), and submissions are rate-limited per
client address and per form.
"""

import time
from typing import Any

from django import forms
from django.core import signing
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt

from kehu.core import ratelimit
from kehu.core.context import tenant_scope
from kehu.core.web import add_service_errors
from kehu.sales import lead_services as leads
from kehu.sales.models import LeadVia, WebForm
from kehu.sales.pipeline_forms import LeadForm
from kehu.tenancy.models import Tenant

SALT = "kehu.sales.webform"
MIN_SECONDS = 3  # a person needs longer than this to fill in a form
MAX_AGE = 2 * 60 * 60  # a page left open longer is fetched again
PER_ADDRESS = (5, 10 * 60)  # 5 submissions per client address per 10 minutes
PER_FORM = (200, 60 * 60)  # 200 per form per hour
HONEYPOT = "website"


class PublicLeadForm(forms.Form):
    """The fields the firm chose, plus the stamp and the honeypot."""

    stamp = forms.CharField(widget=forms.HiddenInput)
    website = forms.CharField(required=False, label=gettext_lazy("网站"))

    def __init__(self, *args: Any, web_form: WebForm, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        lead_fields = LeadForm().fields
        self.fields["name"] = lead_fields["name"]
        for name in web_form.fields:
            self.fields[name] = lead_fields[name]
        self.order_fields(["name", *web_form.fields])

    def lead_data(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k not in ("stamp", HONEYPOT)}


def _stamp(form: WebForm, now: float | None = None) -> str:
    return signing.dumps(
        {"f": form.pk, "t": int(now if now is not None else time.time())}, salt=SALT
    )


def stamp_error(raw: str, form: WebForm, now: float | None = None) -> str:
    """Why a submission's stamp is not acceptable, or "" when it is."""
    try:
        data = signing.loads(raw, salt=SALT)
    except signing.BadSignature:
        return _("表单无效，请刷新后重新填写。")
    if not isinstance(data, dict) or data.get("f") != form.pk:
        return _("表单无效，请刷新后重新填写。")
    elapsed = (now if now is not None else time.time()) - int(data.get("t", 0))
    if elapsed > MAX_AGE:
        return _("页面已过期，请刷新后重新填写。")
    if elapsed < MIN_SECONDS:
        return _("提交太快了，请稍候再试。")
    return ""


def _tenant(tenant_slug: str) -> Tenant:
    tenant = Tenant.objects.filter(slug=tenant_slug).first()
    if tenant is None:
        raise Http404
    return tenant


def _find(token: str) -> WebForm:
    """The active form with this token in the firm now in scope."""
    form = WebForm.objects.filter(token=token, is_active=True).first()
    if form is None:
        raise Http404
    return form


def _embeddable(response: HttpResponse, form: WebForm) -> HttpResponse:
    """Only this page may be framed, and only by the sites the firm named."""
    ancestors = form.allowed_origins or "*"
    response["Content-Security-Policy"] = f"frame-ancestors {ancestors}"
    return response


def _client(request: HttpRequest) -> str:
    # REMOTE_ADDR, not X-Forwarded-For: a client may send any header value and dodge the
    # limit. Behind a reverse proxy this is the proxy's address (docs/deploy.md).
    return str(request.META.get("REMOTE_ADDR", ""))


def _limited(request: HttpRequest, form: WebForm) -> bool:
    by_address = ratelimit.allow(
        f"webform:{form.pk}:{_client(request)}", limit=PER_ADDRESS[0], window=PER_ADDRESS[1]
    )
    by_form = ratelimit.allow(f"webform:{form.pk}", limit=PER_FORM[0], window=PER_FORM[1])
    return not (by_address and by_form)


def _page(
    request: HttpRequest, tenant: Tenant, web_form: WebForm, form: Any, status: int
) -> HttpResponse:
    context = {"tenant": tenant, "web_form": web_form, "form": form}
    return _embeddable(render(request, "sales/web_form.html", context, status=status), web_form)


@csrf_exempt
@xframe_options_exempt
def web_form(request: HttpRequest, tenant_slug: str, token: str) -> HttpResponse:
    tenant = _tenant(tenant_slug)
    with tenant_scope(tenant.pk):
        return _web_form(request, tenant, _find(token))


def _web_form(request: HttpRequest, tenant: Tenant, found: WebForm) -> HttpResponse:
    thanks = redirect("web_form_thanks", tenant_slug=tenant.slug, token=found.token)
    if request.method != "POST":
        blank = PublicLeadForm(web_form=found, initial={"stamp": _stamp(found)})
        return _page(request, tenant, found, blank, 200)
    form = PublicLeadForm(request.POST, web_form=found)
    if _limited(request, found):
        form.add_error(None, _("提交次数过多，请稍后再试。"))
        return _page(request, tenant, found, form, 429)
    if request.POST.get(HONEYPOT):
        return thanks  # a bot: it is told nothing, and nothing is saved
    problem = stamp_error(request.POST.get("stamp", ""), found)
    if problem:
        form.add_error(None, problem)
    elif form.is_valid() and _saved(form, found):
        return thanks
    fresh = request.POST.copy()
    fresh["stamp"] = _stamp(found)  # a fresh stamp to send the corrected form with
    form.data = fresh
    return _page(request, tenant, found, form, 422)


def _saved(form: PublicLeadForm, found: WebForm) -> bool:
    try:
        leads.lead_create(
            actor=None,
            via=LeadVia.FORM,
            web_form=found,
            source_channel=found.source_channel,
            campaign=found.campaign,
            **form.lead_data(),
        )
    except ValidationError as exc:
        add_service_errors(form, exc)
        return False
    return True


@xframe_options_exempt
def web_form_thanks(request: HttpRequest, tenant_slug: str, token: str) -> HttpResponse:
    tenant = _tenant(tenant_slug)
    with tenant_scope(tenant.pk):
        found = _find(token)
        context = {"tenant": tenant, "web_form": found}
        return _embeddable(render(request, "sales/web_form_thanks.html", context), found)
