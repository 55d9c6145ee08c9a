"""The caller, staff, invitations, teams and tokens through the API. Access per endpoint
is pinned in kehu/core/tests/test_api_access.py."""

from typing import Any

import pytest
from django.core import mail
from django.test import Client
from pytest_django.fixtures import Settings

from conftest import _user
from kehu.core.context import tenant_scope
from kehu.core.tests.test_api_problems import (
    api_client,
    assert_problem,
    field_errors,
)
from kehu.tenancy import services
from kehu.tenancy.models import ApiToken, Invitation, Role, Team, TeamMembership, Tenant, User

JSON = "application/json"


def test_me_describes_the_caller_and_their_rights(dora: User) -> None:
    body = api_client(dora).get("/api/v1/me").json()
    assert body["username"] == "dora"
    assert body["tenant"] == {"id": dora.tenant_id, "name": "演示公司", "slug": "acme"}
    assert (body["role"], body["can_write"], body["can_manage"]) == ("read_only", False, False)


def test_users_lists_this_firms_staff_only(
    alice: User, bob: User, dora: User, charlie: User
) -> None:
    page = api_client(bob).get("/api/v1/users").json()
    assert [u["username"] for u in page["items"]] == ["alice", "bob", "dora"]
    assert (page["count"], page["count_exact"]) == (3, True)
    assert "password" not in page["items"][0]


def test_the_user_list_costs_the_same_queries_for_few_or_many(
    alice: User, acme: Tenant, django_assert_num_queries: Any
) -> None:
    client = api_client(alice)
    client.get("/api/v1/me")
    # token, count, page
    with django_assert_num_queries(3):
        assert client.get("/api/v1/users").json()["count"] == 1
    for i in range(15):
        _user(acme, f"staff{i}", Role.SALES, "own")
    with django_assert_num_queries(3):
        assert client.get("/api/v1/users").json()["count"] == 16


def test_an_admin_changes_a_colleagues_role_and_visibility(
    alice: User, bob: User, acme: Tenant
) -> None:
    response = api_client(alice).patch(
        f"/api/v1/users/{bob.pk}",
        {"role": "manager", "visibility": "team", "display_name": "鲍经理"},
        content_type=JSON,
    )
    assert response.status_code == 200
    bob.refresh_from_db()
    assert (bob.role, bob.visibility, bob.display_name) == ("manager", "team", "鲍经理")


def test_deactivating_a_colleague_stops_their_token(alice: User, bob: User) -> None:
    bob_client = api_client(bob)
    assert bob_client.get("/api/v1/me").status_code == 200
    response = api_client(alice).patch(
        f"/api/v1/users/{bob.pk}", {"is_active": False}, content_type=JSON
    )
    assert response.json()["is_active"] is False
    assert_problem(bob_client.get("/api/v1/me"), 401)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "emperor"}, "role"),
        ({"visibility": "everything"}, "visibility"),
        ({"display_name": None}, "display_name"),
        ({"display_name": "长" * 51}, "display_name"),
        ({"username": "x"}, "username"),
    ],
)
def test_bad_staff_changes_are_422(
    alice: User, bob: User, body: dict[str, Any], field: str
) -> None:
    response = api_client(alice).patch(f"/api/v1/users/{bob.pk}", body, content_type=JSON)
    assert field in field_errors(response)
    bob.refresh_from_db()
    assert (bob.role, bob.display_name) == ("sales", "Bob")


def test_an_admin_cannot_demote_themself(alice: User) -> None:
    response = api_client(alice).patch(
        f"/api/v1/users/{alice.pk}", {"role": "sales"}, content_type=JSON
    )
    assert "role" in field_errors(response)
    alice.refresh_from_db()
    assert alice.role == "admin"


def test_an_invitation_returns_its_link_once_and_mails_it(
    alice: User, acme: Tenant, django_capture_on_commit_callbacks: Any, settings: Settings
) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    client = api_client(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/invitations",
            {"email": "New@Example.CN", "role": "service", "visibility": "team"},
            content_type=JSON,
        )
    assert response.status_code == 201, response.content.decode()
    body = response.json()
    assert (body["email"], body["role"], body["visibility"]) == (
        "new@example.cn",
        "service",
        "team",
    )
    assert "/invite/" in body["link"]
    assert [m.to for m in mail.outbox] == [["new@example.cn"]]
    assert body["link"] in mail.outbox[0].body
    with tenant_scope(acme.pk):
        invitation = Invitation.objects.get()
    raw = body["link"].rstrip("/").rsplit("/", 1)[-1]
    assert invitation.digest == Invitation.digest_of(raw) != raw  # only the hash is stored


def test_an_invitation_needs_a_valid_email(alice: User, acme: Tenant) -> None:
    response = api_client(alice).post(
        "/api/v1/invitations", {"email": "not an email"}, content_type=JSON
    )
    assert "email" in field_errors(response)
    with tenant_scope(acme.pk):
        assert not Invitation.objects.exists()


def test_teams_are_created_renamed_listed_and_deleted(alice: User, bob: User, acme: Tenant) -> None:
    client = api_client(alice)
    team = client.post("/api/v1/teams", {"name": "华南"}, content_type=JSON)
    assert team.status_code == 201
    team_id = team.json()["id"]
    member = client.post(
        f"/api/v1/teams/{team_id}/members", {"user": bob.pk, "is_lead": True}, content_type=JSON
    )
    assert member.status_code == 201
    assert member.json() == {
        "user": {"id": bob.pk, "username": "bob", "display_name": "Bob"},
        "is_lead": True,
    }
    renamed = client.patch(f"/api/v1/teams/{team_id}", {"name": "华南区"}, content_type=JSON)
    assert renamed.json()["name"] == "华南区"
    listed = client.get("/api/v1/teams").json()["items"]
    assert listed == [
        {
            "id": team_id,
            "name": "华南区",
            "members": [
                {"user": {"id": bob.pk, "username": "bob", "display_name": "Bob"}, "is_lead": True}
            ],
        }
    ]
    assert client.delete(f"/api/v1/teams/{team_id}/members/{bob.pk}").status_code == 204
    assert_problem(client.delete(f"/api/v1/teams/{team_id}/members/{bob.pk}"), 404)
    assert client.delete(f"/api/v1/teams/{team_id}").status_code == 204
    with tenant_scope(acme.pk):
        assert not Team.objects.exists()
        assert not TeamMembership.objects.exists()


def test_a_duplicate_team_name_is_refused(alice: User, acme: Tenant) -> None:
    client = api_client(alice)
    client.post("/api/v1/teams", {"name": "华南"}, content_type=JSON)
    assert "name" in field_errors(client.post("/api/v1/teams", {"name": "华南"}, content_type=JSON))
    with tenant_scope(acme.pk):
        assert Team.objects.count() == 1


def test_a_team_takes_only_this_firms_staff(alice: User, charlie: User, acme: Tenant) -> None:
    with tenant_scope(acme.pk):
        team = services.team_create(actor=alice, name="华南")
    response = api_client(alice).post(
        f"/api/v1/teams/{team.pk}/members", {"user": charlie.pk}, content_type=JSON
    )
    assert "user" in field_errors(response)
    with tenant_scope(acme.pk):
        assert not TeamMembership.objects.exists()


def test_a_token_is_shown_once_then_works_until_revoked(alice: User, acme: Tenant) -> None:
    session = Client()
    session.force_login(alice)
    created = session.post("/api/v1/tokens", {"name": "ERP 同步"}, content_type=JSON)
    assert created.status_code == 201
    body = created.json()
    raw = body["token"]
    assert raw.startswith("kehu_") and raw.startswith(body["hint"])
    token_client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert token_client.get("/api/v1/me").json()["username"] == "alice"
    listed = session.get("/api/v1/tokens").json()["items"]
    assert [t["name"] for t in listed] == ["ERP 同步"]
    assert "token" not in listed[0]
    with tenant_scope(acme.pk):
        assert ApiToken.objects.get().digest != raw
    assert session.delete(f"/api/v1/tokens/{body['id']}").status_code == 204
    assert_problem(token_client.get("/api/v1/me"), 401)
    assert session.get("/api/v1/tokens").json()["items"] == []


def test_a_token_can_revoke_itself(alice: User) -> None:
    client = api_client(alice)
    own = client.get("/api/v1/tokens").json()["items"][0]
    assert client.delete(f"/api/v1/tokens/{own['id']}").status_code == 204
    assert_problem(client.get("/api/v1/me"), 401)


def test_nobody_sees_or_revokes_a_colleagues_tokens(alice: User, bob: User, acme: Tenant) -> None:
    with tenant_scope(acme.pk):
        token, raw = services.api_token_create(actor=alice, name="alice")
    bob_client = api_client(bob)
    assert [t["name"] for t in bob_client.get("/api/v1/tokens").json()["items"]] == ["tests"]
    assert_problem(bob_client.delete(f"/api/v1/tokens/{token.pk}"), 404)
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/me").status_code == 200


def test_a_token_name_is_required(alice: User) -> None:
    response = api_client(alice).post("/api/v1/tokens", {"name": ""}, content_type=JSON)
    assert "name" in field_errors(response)
