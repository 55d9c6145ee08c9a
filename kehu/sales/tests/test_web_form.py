"""The public lead form: the stamp (bad, expired, too fast), the honeypot, rate limits,
embedding headers, translated errors, and tenant isolation."""

import time
from typing import Any

import pytest
from django.core import signing
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from kehu.core import ratelimit
from kehu.core.context import tenant_scope
from kehu.sales import lead_services as leads
from kehu.sales import webform_views
from kehu.sales.models import Lead, LeadVia, WebForm
from kehu.tenancy.models import Tenant, User


@pytest.fixture(autouse=True)
def fresh_limits() -> None:
    cache.clear()


@pytest.fixture
def form(acme: Tenant, alice: User) -> WebForm:
    with tenant_scope(acme.pk):
        return leads.web_form_create(
            actor=alice,
            title="预约演示",
            fields=["company", "mobile", "email", "region"],
            campaign="2025 春季展会",
            allowed_origins="https://www.acme.cn",
        )


def page_url(tenant: Tenant, form: WebForm) -> str:
    return reverse("web_form", kwargs={"tenant_slug": tenant.slug, "token": form.token})


def stamp_of(form: WebForm, seconds_ago: float = 10) -> str:
    return webform_views._stamp(form, now=time.time() - seconds_ago)


def submit(client: Client, tenant: Tenant, form: WebForm, **fields: Any) -> Any:
    data = {"name": "王小明", "mobile": "13912345678", "stamp": stamp_of(form)} | fields
    return client.post(page_url(tenant, form), data)


def leads_in(tenant: Tenant) -> list[Any]:
    with tenant_scope(tenant.pk):
        return list(Lead.objects.values_list("name", "created_via", "campaign", "web_form_id"))


def test_the_page_is_embeddable_only_where_the_firm_says(acme: Tenant, form: WebForm) -> None:
    response = Client().get(page_url(acme, form))
    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    assert response["Content-Security-Policy"] == "frame-ancestors https://www.acme.cn"
    page = response.content.decode()
    assert "预约演示" in page and 'name="stamp"' in page and 'name="website"' in page


def test_a_submission_makes_a_lead_and_thanks(acme: Tenant, form: WebForm) -> None:
    response = submit(Client(enforce_csrf_checks=True), acme, form, company="星河科技")
    assert response.status_code == 302
    assert Client().get(response["Location"]).status_code == 200
    assert leads_in(acme) == [("王小明", LeadVia.FORM, "2025 春季展会", form.pk)]


def test_a_field_the_form_does_not_show_is_ignored(acme: Tenant, form: WebForm) -> None:
    submit(Client(), acme, form, note="<b>hi</b>", wechat="wxid_abcdef")
    with tenant_scope(acme.pk):
        lead = Lead.objects.get()
    assert (lead.note, lead.wechat) == ("", "")


def test_bad_input_is_named_and_translated(acme: Tenant, form: WebForm) -> None:
    response = submit(Client(), acme, form, mobile="123")
    assert response.status_code == 422
    assert "不是有效的手机号码" in response.content.decode()
    english = Client(headers={"Accept-Language": "en"}).post(
        page_url(acme, form), {"name": "Wang", "mobile": "123", "stamp": stamp_of(form)}
    )
    assert "Not a valid mobile number" in english.content.decode()
    assert leads_in(acme) == []


@pytest.mark.parametrize("kind", ["missing", "forged", "signed for something else", "not ours"])
def test_a_bad_stamp_is_refused(kind: str, acme: Tenant, form: WebForm) -> None:
    stamp = {
        "missing": "",
        "forged": "eyJmIjoxfQ:1abcde:forged",
        "signed for something else": signing.dumps({"f": form.pk, "t": 0}, salt="other"),
        "not ours": signing.dumps(["list"], salt=webform_views.SALT),
    }[kind]
    response = submit(Client(), acme, form, stamp=stamp)
    assert response.status_code == 422
    assert "表单无效" in response.content.decode()
    assert leads_in(acme) == []


def test_too_fast_and_expired_stamps_are_refused(acme: Tenant, form: WebForm) -> None:
    fast = submit(Client(), acme, form, stamp=stamp_of(form, seconds_ago=0))
    assert "提交太快" in fast.content.decode()
    old = submit(Client(), acme, form, stamp=stamp_of(form, seconds_ago=3 * 60 * 60))
    assert "页面已过期" in old.content.decode()
    assert leads_in(acme) == []


def test_the_honeypot_saves_nothing_but_looks_like_success(acme: Tenant, form: WebForm) -> None:
    response = submit(Client(), acme, form, website="http://spam.example")
    assert response.status_code == 302
    assert leads_in(acme) == []


def test_one_address_is_rate_limited(acme: Tenant, form: WebForm) -> None:
    client = Client(REMOTE_ADDR="203.0.113.7")
    for i in range(5):
        assert submit(client, acme, form, mobile=f"1391234560{i}").status_code == 302
    refused = submit(client, acme, form, mobile="13912345609")
    assert refused.status_code == 429
    assert "提交次数过多" in refused.content.decode()
    assert len(leads_in(acme)) == 5
    other = Client(REMOTE_ADDR="203.0.113.8")
    assert submit(other, acme, form, mobile="13912345609").status_code == 302


def test_the_limiter_opens_a_new_window() -> None:
    assert [ratelimit.allow("k", limit=2, window=60, now=0) for _ in range(3)] == [
        True,
        True,
        False,
    ]
    assert ratelimit.allow("k", limit=2, window=60, now=61)


def test_a_token_of_one_firm_never_makes_a_lead_in_another(
    acme: Tenant, other: Tenant, form: WebForm, charlie: User
) -> None:
    wrong = reverse("web_form", kwargs={"tenant_slug": other.slug, "token": form.token})
    assert Client().get(wrong).status_code == 404
    data = {"name": "王小明", "mobile": "13912345678", "stamp": stamp_of(form)}
    assert Client().post(wrong, data).status_code == 404
    assert leads_in(acme) == [] and leads_in(other) == []
    # Another firm's form with this firm's stamp: the stamp names a different form.
    with tenant_scope(other.pk):
        theirs = leads.web_form_create(actor=charlie, title="联系我们", fields=["mobile"])
    response = Client().post(page_url(other, theirs), data)
    assert response.status_code == 422
    assert leads_in(other) == []


def test_a_switched_off_form_is_gone(acme: Tenant, form: WebForm, alice: User) -> None:
    with tenant_scope(acme.pk):
        leads.web_form_update(actor=alice, form=form, is_active=False)
    assert Client().get(page_url(acme, form)).status_code == 404


def test_a_form_must_ask_for_a_way_to_reply(acme: Tenant, alice: User) -> None:
    with tenant_scope(acme.pk), pytest.raises(Exception, match="手机、邮箱或微信"):
        leads.web_form_create(actor=alice, title="x", fields=["company"])
