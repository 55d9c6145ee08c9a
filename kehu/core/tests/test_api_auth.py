"""API authentication (token and session) and the tenant scope around each operation."""

import re
from pathlib import Path

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory

from conftest import login
from kehu.core.context import active_tenant_id, tenant_scope
from kehu.core.tests.test_api_problems import (
    api_client,
    assert_problem,
)
from kehu.parties.models import Party
from kehu.tenancy.api_auth import enter_tenant, tenant_scoped
from kehu.tenancy.models import ApiToken, Tenant, User
from kehu.tenancy.services import api_token_create, api_token_revoke

ROOT = Path(__file__).resolve().parents[3]


def _token(user: User, tenant: Tenant) -> tuple[ApiToken, str]:
    with tenant_scope(tenant.pk):
        return api_token_create(actor=user, name="脚本")


def test_a_token_authenticates_and_scopes_to_its_tenant(alice: User, acme: Tenant) -> None:
    _token_row, raw = _token(alice, acme)
    response = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    body = response.json()
    assert (body["username"], body["tenant"]["slug"]) == ("alice", "acme")
    assert active_tenant_id() is None


@pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/parties/999999", "/api/v1/parties"])
def test_the_tenant_scope_is_reset_after_every_token_request(
    alice: User, acme: Tenant, path: str
) -> None:
    client = api_client(alice)
    client.get(path)
    client.post(path, {"kind": "bad"}, content_type="application/json")
    assert active_tenant_id() is None


def test_tenant_scoped_resets_the_scope_even_when_the_operation_raises(
    alice: User, acme: Tenant
) -> None:
    seen: list[int | None] = []

    def run(request: HttpRequest) -> HttpResponse:
        enter_tenant(request, alice)
        seen.append(active_tenant_id())
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        tenant_scoped(run)(RequestFactory().get("/"))
    assert seen == [acme.pk]
    assert active_tenant_id() is None


def test_enter_tenant_outside_an_operation_is_a_programming_error(alice: User) -> None:
    with pytest.raises(RuntimeError):
        enter_tenant(RequestFactory().get("/"), alice)


def test_no_credentials_is_a_401_problem_with_a_bearer_challenge(db: None) -> None:
    response = Client().get("/api/v1/parties")
    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header", ["Bearer kehu_not-a-real-token", "Bearer nope", "Bearer ", "Basic YWxpY2U6eA=="]
)
def test_a_bad_authorization_header_is_401(alice: User, header: str) -> None:
    assert_problem(Client().get("/api/v1/me", HTTP_AUTHORIZATION=header), 401)


def test_a_bad_token_does_not_fall_back_to_the_session(alice: User) -> None:
    client = login(alice)
    assert client.get("/api/v1/me").status_code == 200
    assert_problem(client.get("/api/v1/me", HTTP_AUTHORIZATION="Bearer kehu_wrong"), 401)


def test_a_revoked_token_is_401(alice: User, acme: Tenant) -> None:
    token, raw = _token(alice, acme)
    with tenant_scope(acme.pk):
        api_token_revoke(actor=alice, token=token)
    assert_problem(Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}"), 401)


def test_a_deactivated_users_token_is_401(alice: User, bob: User, acme: Tenant) -> None:
    _token_row, raw = _token(bob, acme)
    bob.is_active = False
    bob.save()
    assert_problem(Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}"), 401)


def test_a_token_records_when_it_was_last_used(alice: User, acme: Tenant) -> None:
    token, raw = _token(alice, acme)
    assert token.last_used_at is None
    Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}")
    with tenant_scope(acme.pk):
        token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_user_without_a_tenant_is_403(acme: Tenant) -> None:
    operator = User.all_tenants.create_user(username="root", password="x" * 12, is_superuser=True)
    with tenant_scope(acme.pk):
        _token_row, raw = api_token_create(actor=operator, name="ops")
    assert_problem(Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}"), 403)
    assert_problem(login(operator).get("/api/v1/me"), 403)


def test_the_session_authenticates_the_browser(alice: User) -> None:
    response = login(alice).get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["username"] == "alice"
    assert active_tenant_id() is None


def _csrf_client(user: User) -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/api/v1/docs")  # renders {{ csrf_token }}, which sets the cookie
    return client, client.cookies["csrftoken"].value


def test_session_posts_need_the_csrf_token(alice: User, acme: Tenant) -> None:
    client, csrf = _csrf_client(alice)
    party = {"kind": "person", "name": "张三"}
    body = assert_problem(
        client.post("/api/v1/parties", party, content_type="application/json"), 403
    )
    assert "CSRF" in body["detail"]
    with tenant_scope(acme.pk):
        assert not Party.objects.exists()
    response = client.post(
        "/api/v1/parties", party, content_type="application/json", HTTP_X_CSRFTOKEN=csrf
    )
    assert response.status_code == 201
    assert client.get("/api/v1/parties").status_code == 200  # safe methods need no token


def test_an_anonymous_post_is_401_not_a_csrf_failure(db: None) -> None:
    response = Client(enforce_csrf_checks=True).post(
        "/api/v1/parties", {}, content_type="application/json"
    )
    assert_problem(response, 401)


def test_the_docs_page_works_offline(db: None) -> None:
    response = Client().get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert re.findall(r"https?://", html) == []
    assert "/static/vendor/swagger-ui-bundle.js" in html
    assert "/static/vendor/swagger-ui.css" in html
    assert '"url": "/api/v1/openapi.json"' in html
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert (ROOT / "kehu" / "static" / "vendor" / asset).stat().st_size > 10_000


def test_the_openapi_schema_describes_both_ways_in(db: None) -> None:
    schema = Client().get("/api/v1/openapi.json").json()
    assert schema["components"]["securitySchemes"]["TokenAuth"] == {
        "type": "http",
        "scheme": "bearer",
    }
    assert schema["components"]["securitySchemes"]["SessionAuth"]["in"] == "cookie"
    party = schema["components"]["schemas"]["PartyIn"]["properties"]
    assert party["name"]["maxLength"] == 100
    assert schema["components"]["schemas"]["RelationshipState"]["enum"] == [
        "potential",
        "target",
        "current",
        "lost",
        "won_back",
    ]


def test_the_openapi_schema_documents_problem_answers(db: None) -> None:
    schema = Client().get("/api/v1/openapi.json").json()
    assert schema["components"]["schemas"]["Problem"]["required"] == [
        "type",
        "title",
        "status",
        "detail",
        "instance",
    ]
    delete = schema["paths"]["/api/v1/parties/{party_id}"]["delete"]["responses"]
    assert set(delete) == {"204", "401", "403", "404", "409", "422"}
    assert delete["404"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }
