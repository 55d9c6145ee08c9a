"""Teams: list, create, rename, delete, add and remove members."""

import pytest
from django.test import Client
from django.urls import reverse

from conftest import _user, login
from kehu.core.context import tenant_scope
from kehu.core.models import AuditEntry
from kehu.tenancy import services
from kehu.tenancy.models import Role, Team, TeamMembership, Tenant, User, Visibility


@pytest.fixture
def team(alice: User, bob: User) -> Team:
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        created = services.team_create(actor=alice, name="华东销售")
        services.team_member_add(actor=alice, team=created, user=bob)
        return created


def state(tenant: Tenant) -> tuple[list[str], list[tuple[str, bool]], int]:
    """Team names, (member, lead) pairs and audit rows of a tenant."""
    with tenant_scope(tenant.pk):
        names = sorted(Team.objects.values_list("name", flat=True))
        members = sorted(TeamMembership.objects.values_list("user__username", "is_lead"))
        return names, members, AuditEntry.objects.count()


def post(client: Client, name: str, args: list[int], data: dict[str, object] | None = None) -> int:
    return client.post(reverse(name, args=args), data or {}).status_code


def every_change(client: Client, team: Team, colleague: User) -> list[int]:
    return [
        post(client, "tenancy:teams", [], {"name": "新团队"}),
        post(client, "tenancy:team_rename", [team.pk], {"name": "改名"}),
        post(client, "tenancy:team_member_add", [team.pk], {"user": colleague.pk}),
        post(client, "tenancy:team_member_remove", [team.pk, colleague.pk]),
        post(client, "tenancy:team_delete", [team.pk]),
    ]


def test_admin_lists_teams_with_members(alice: User, team: Team) -> None:
    page = login(alice).get(reverse("tenancy:teams")).content.decode()
    assert "华东销售" in page and "Bob" in page
    detail = login(alice).get(reverse("tenancy:team", args=[team.pk])).content.decode()
    assert "Bob" in detail and reverse("tenancy:team_delete", args=[team.pk]) in detail


def test_admin_creates_renames_and_deletes_a_team(alice: User) -> None:
    client = login(alice)
    response = client.post(reverse("tenancy:teams"), {"name": " 华南销售 "})
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        created = Team.objects.get()
    assert created.name == "华南销售"
    assert response["Location"] == reverse("tenancy:team", args=[created.pk])
    assert post(client, "tenancy:team_rename", [created.pk], {"name": "华南大区"}) == 302
    assert state(alice.tenant)[0] == ["华南大区"]  # type: ignore[arg-type]
    assert post(client, "tenancy:team_delete", [created.pk]) == 302
    assert state(alice.tenant)[0] == []  # type: ignore[arg-type]


def test_admin_adds_a_lead_and_removes_a_member(alice: User, dora: User, team: Team) -> None:
    client = login(alice)
    assert (
        post(client, "tenancy:team_member_add", [team.pk], {"user": dora.pk, "is_lead": "on"})
        == 302
    )
    assert state(alice.tenant)[1] == [("bob", False), ("dora", True)]  # type: ignore[arg-type]
    page = client.get(reverse("tenancy:team", args=[team.pk])).content.decode()
    assert "负责人" in page
    assert post(client, "tenancy:team_member_remove", [team.pk, dora.pk]) == 302
    assert state(alice.tenant)[1] == [("bob", False)]  # type: ignore[arg-type]


def test_duplicate_or_empty_team_name_is_a_field_error(alice: User, team: Team) -> None:
    client = login(alice)
    before = state(alice.tenant)  # type: ignore[arg-type]
    for name in ("华东销售", "", "长" * 51):
        response = client.post(reverse("tenancy:teams"), {"name": name})
        assert response.status_code == 422
        assert response.context["form"].errors["name"]
    response = client.post(reverse("tenancy:team_rename", args=[team.pk]), {"name": ""})
    assert response.status_code == 422
    assert state(alice.tenant) == before  # type: ignore[arg-type]


def test_a_member_of_another_tenant_cannot_be_added(alice: User, charlie: User, team: Team) -> None:
    before = state(alice.tenant)  # type: ignore[arg-type]
    response = login(alice).post(
        reverse("tenancy:team_member_add", args=[team.pk]), {"user": charlie.pk}
    )
    assert response.status_code == 422
    assert response.context["member_form"].errors["user"]
    assert state(alice.tenant) == before  # type: ignore[arg-type]


def test_manager_may_view_teams_but_not_change_them(alice: User, dora: User, team: Team) -> None:
    manager = _user(alice.tenant, "mike", Role.MANAGER, Visibility.TEAM)  # type: ignore[arg-type]
    client = login(manager)
    assert client.get(reverse("tenancy:teams")).status_code == 200
    page = client.get(reverse("tenancy:team", args=[team.pk])).content.decode()
    assert reverse("tenancy:team_delete", args=[team.pk]) not in page
    before = state(alice.tenant)  # type: ignore[arg-type]
    assert every_change(client, team, dora) == [403] * 5
    assert state(alice.tenant) == before  # type: ignore[arg-type]


@pytest.mark.parametrize("persona", ["bob", "dora"])
def test_colleagues_without_rights_get_403(
    request: pytest.FixtureRequest, persona: str, alice: User, dora: User, team: Team
) -> None:
    client = login(request.getfixturevalue(persona))
    assert client.get(reverse("tenancy:teams")).status_code == 403
    assert client.get(reverse("tenancy:team", args=[team.pk])).status_code == 403
    before = state(alice.tenant)  # type: ignore[arg-type]
    assert every_change(client, team, dora) == [403] * 5
    assert state(alice.tenant) == before  # type: ignore[arg-type]


def test_outsider_gets_404_for_acme_teams_and_changes_nothing(
    alice: User, bob: User, charlie: User, team: Team
) -> None:
    client = login(charlie)
    assert "华东销售" not in client.get(reverse("tenancy:teams")).content.decode()
    assert client.get(reverse("tenancy:team", args=[team.pk])).status_code == 404
    before = state(alice.tenant)  # type: ignore[arg-type]
    assert every_change(client, team, bob)[1:] == [404] * 4
    assert state(alice.tenant) == before  # type: ignore[arg-type]
    with tenant_scope(charlie.tenant_id):  # type: ignore[arg-type]
        assert list(Team.objects.values_list("name", flat=True)) == ["新团队"]
