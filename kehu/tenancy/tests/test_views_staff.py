"""Staff administration, invitations and accepting an invitation."""

import datetime
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from conftest import PASSWORD, _user, login
from kehu.core.context import tenant_scope
from kehu.core.models import AuditEntry
from kehu.tenancy import services
from kehu.tenancy.models import Invitation, Role, Tenant, User, Visibility

NEW_PASSWORD = "a-long-pass-phrase-2024"


@pytest.fixture
def mike(acme: Tenant) -> User:
    """A manager: may look at the staff list, may not change it."""
    return _user(acme, "mike", Role.MANAGER, Visibility.TEAM)


def counts(tenant: Tenant) -> tuple[int, int, int]:
    with tenant_scope(tenant.pk):
        return User.objects.count(), Invitation.objects.count(), AuditEntry.objects.count()


def staff_state(user: User) -> tuple[str, str, str, bool]:
    user.refresh_from_db()
    return user.display_name, user.role, user.visibility, user.is_active


def edit(client: Client, user: User, **data: str) -> int:
    return client.post(reverse("tenancy:staff_edit", args=[user.pk]), data).status_code


def invite_link(client: Client, email: str = "new@example.com", role: str = Role.SERVICE) -> str:
    response = client.post(
        reverse("tenancy:staff"),
        {"email": email, "display_name": "小新", "role": role, "visibility": Visibility.TEAM},
    )
    assert response.status_code == 200
    link: str = response.context["invitation_link"]
    assert link in response.content.decode()
    return urlsplit(link).path


# The staff list.


def test_admin_sees_every_colleague_with_role_visibility_and_teams(
    alice: User, bob: User, dora: User
) -> None:
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        team = services.team_create(actor=alice, name="华东销售")
        services.team_member_add(actor=alice, team=team, user=bob)
    page = login(alice).get(reverse("tenancy:staff")).content.decode()
    for text in ("Alice", "bob", "Dora", "销售", "只读", "本人", "华东销售", "邀请员工"):
        assert text in page
    assert reverse("tenancy:staff_edit", args=[bob.pk]) in page


def test_staff_list_query_count_does_not_grow_with_staff(
    alice: User, django_assert_num_queries: object
) -> None:
    client = login(alice)
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        team = services.team_create(actor=alice, name="华东销售")
        for n in range(10):
            user = _user(alice.tenant, f"user{n}", Role.SALES, Visibility.OWN)  # type: ignore[arg-type]
            services.team_member_add(actor=alice, team=team, user=user)
            services.invitation_create(actor=alice, email=f"user{n}@example.com")
    # session, user, tenant, staff, their teams, open invitations: whatever the numbers.
    with django_assert_num_queries(6):  # type: ignore[operator]
        assert client.get(reverse("tenancy:staff")).status_code == 200


def test_manager_may_view_but_not_change_staff(alice: User, bob: User, mike: User) -> None:
    client = login(mike)
    page = client.get(reverse("tenancy:staff")).content.decode()
    assert "bob" in page
    assert reverse("tenancy:staff_edit", args=[bob.pk]) not in page
    before = counts(alice.tenant)  # type: ignore[arg-type]
    assert client.get(reverse("tenancy:staff_edit", args=[bob.pk])).status_code == 403
    assert edit(client, bob, role=Role.ADMIN, visibility=Visibility.ALL, is_active="on") == 403
    assert client.post(reverse("tenancy:staff"), {"email": "x@example.com"}).status_code == 403
    assert staff_state(bob) == ("Bob", Role.SALES, Visibility.OWN, True)
    assert counts(alice.tenant) == before  # type: ignore[arg-type]


@pytest.mark.parametrize("persona", ["bob", "dora"])
def test_colleagues_without_rights_get_403(
    request: pytest.FixtureRequest, persona: str, alice: User
) -> None:
    client = login(request.getfixturevalue(persona))
    before = counts(alice.tenant)  # type: ignore[arg-type]
    assert client.get(reverse("tenancy:staff")).status_code == 403
    assert edit(client, alice, role=Role.SALES, visibility=Visibility.OWN) == 403
    response = client.post(reverse("tenancy:staff"), {"email": "x@example.com"})
    assert response.status_code == 403
    assert staff_state(alice) == ("Alice", Role.ADMIN, Visibility.ALL, True)
    assert counts(alice.tenant) == before  # type: ignore[arg-type]


def test_outsider_never_sees_or_changes_acme_staff(alice: User, bob: User, charlie: User) -> None:
    client = login(charlie)
    page = client.get(reverse("tenancy:staff")).content.decode()
    assert "<td>charlie</td>" in page
    # As table cells: a bare "bob" can turn up inside the page's random CSRF token.
    assert "<td>bob</td>" not in page and "<td>alice</td>" not in page
    assert "<td>Bob</td>" not in page and "<td>Alice</td>" not in page
    before = counts(alice.tenant)  # type: ignore[arg-type]
    assert client.get(reverse("tenancy:staff_edit", args=[bob.pk])).status_code == 404
    assert edit(client, bob, role=Role.ADMIN, visibility=Visibility.ALL, is_active="on") == 404
    assert staff_state(bob) == ("Bob", Role.SALES, Visibility.OWN, True)
    assert counts(alice.tenant) == before  # type: ignore[arg-type]


# Editing a colleague.


def test_admin_edits_a_colleague_and_it_is_audited(alice: User, bob: User) -> None:
    client = login(alice)
    form = client.get(reverse("tenancy:staff_edit", args=[bob.pk]))
    assert form.status_code == 200
    assert form.context["form"].initial["role"] == Role.SALES
    status = edit(
        client,
        bob,
        display_name="鲍勃",
        role=Role.MANAGER,
        visibility=Visibility.TEAM,
        is_active="on",
    )
    assert status == 302
    assert staff_state(bob) == ("鲍勃", Role.MANAGER, Visibility.TEAM, True)
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        entry = AuditEntry.objects.get(object_type="tenancy.user", object_id=bob.pk)
    assert entry.actor_id == alice.pk
    assert entry.changes["role"] == [Role.SALES, Role.MANAGER]


def test_admin_deactivates_a_colleague_who_then_cannot_sign_in(alice: User, bob: User) -> None:
    assert edit(login(alice), bob, role=Role.SALES, visibility=Visibility.OWN) == 302
    assert staff_state(bob)[3] is False
    guest = Client()
    response = guest.post(reverse("login"), {"username": "bob", "password": PASSWORD})
    assert response.status_code == 200
    assert "_auth_user_id" not in guest.session


@pytest.mark.parametrize(
    "data",
    [
        {"role": Role.SALES, "visibility": Visibility.ALL, "is_active": "on"},
        {"role": Role.ADMIN, "visibility": Visibility.ALL},
    ],
    ids=["demote", "deactivate"],
)
def test_admin_cannot_demote_or_deactivate_self(alice: User, data: dict[str, str]) -> None:
    before = counts(alice.tenant)  # type: ignore[arg-type]
    response = login(alice).post(reverse("tenancy:staff_edit", args=[alice.pk]), data)
    assert response.status_code == 422
    assert "不能降低自己的权限或停用自己。" in response.content.decode()
    assert staff_state(alice) == ("Alice", Role.ADMIN, Visibility.ALL, True)
    assert counts(alice.tenant) == before  # type: ignore[arg-type]


def test_unknown_role_is_a_field_error(alice: User, bob: User) -> None:
    response = login(alice).post(
        reverse("tenancy:staff_edit", args=[bob.pk]),
        {"role": "emperor", "visibility": Visibility.OWN, "is_active": "on"},
    )
    assert response.status_code == 422
    assert response.context["form"].errors["role"]
    assert staff_state(bob)[1] == Role.SALES


def test_staff_edit_escapes_names(alice: User, bob: User) -> None:
    edit(
        login(alice),
        bob,
        display_name="<script>x()</script>",
        role=Role.SALES,
        visibility=Visibility.OWN,
        is_active="on",
    )
    page = login(alice).get(reverse("tenancy:staff")).content.decode()
    assert "&lt;script&gt;x()&lt;/script&gt;" in page
    assert "<script>x()" not in page


# Invitations.


def test_admin_invites_and_sees_the_link_and_the_open_invitation(alice: User) -> None:
    client = login(alice)
    path = invite_link(client, email="New@Example.com")
    assert path.startswith("/invite/")
    page = client.get(reverse("tenancy:staff")).content.decode()
    assert "new@example.com" in page
    assert path not in page  # the link is shown once, when it is made
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        invitation = Invitation.objects.get()
    assert (invitation.role, invitation.invited_by_id) == (Role.SERVICE, alice.pk)


def test_invitation_with_a_bad_email_saves_nothing(alice: User) -> None:
    before = counts(alice.tenant)  # type: ignore[arg-type]
    response = login(alice).post(
        reverse("tenancy:staff"),
        {"email": "not-an-email", "role": Role.SALES, "visibility": Visibility.OWN},
    )
    assert response.status_code == 422
    assert response.context["invite_form"].errors["email"]
    assert counts(alice.tenant) == before  # type: ignore[arg-type]


def test_invitation_accept_end_to_end(alice: User) -> None:
    path = invite_link(login(alice), role=Role.SERVICE)
    guest = Client()
    page = guest.get(path)
    assert page.status_code == 200
    assert "演示公司" in page.content.decode()
    response = guest.post(
        path, {"username": "xiaoxin", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
    )
    assert (response.status_code, response["Location"]) == (302, reverse("parties:list"))
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        newcomer = User.objects.get(username="xiaoxin")
    assert guest.session["_auth_user_id"] == str(newcomer.pk)
    assert (newcomer.role, newcomer.visibility, newcomer.email) == (
        Role.SERVICE,
        Visibility.TEAM,
        "new@example.com",
    )
    assert newcomer.check_password(NEW_PASSWORD)
    assert guest.get(reverse("tenancy:tokens")).status_code == 200
    used = Client().get(path)
    assert used.status_code == 404
    assert "邀请链接无效" in used.content.decode()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (
            {"username": "xin", "password": NEW_PASSWORD, "password_again": "other"},
            "password_again",
        ),
        ({"username": "xin", "password": "12345", "password_again": "12345"}, "password"),
        ({"username": "bob", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD}, "username"),
        (
            {"username": "has space", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
            "username",
        ),
    ],
    ids=["mismatch", "weak", "taken", "bad-username"],
)
def test_invitation_accept_refuses_bad_input(
    alice: User, bob: User, data: dict[str, str], field: str
) -> None:
    path = invite_link(login(alice))
    before = counts(alice.tenant)  # type: ignore[arg-type]
    guest = Client()
    response = guest.post(path, data)
    assert response.status_code == 422
    assert response.context["form"].errors[field]
    assert counts(alice.tenant) == before  # type: ignore[arg-type]
    assert "_auth_user_id" not in guest.session
    assert guest.get(path).status_code == 200  # still open


def test_unknown_invitation_token_is_a_clear_404(db: None) -> None:
    response = Client().get(reverse("invitation_accept", args=["no-such-token"]))
    assert response.status_code == 404
    assert "邀请链接无效" in response.content.decode()


def test_expired_invitation_is_a_404_and_creates_nobody(alice: User) -> None:
    path = invite_link(login(alice))
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        Invitation.objects.update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    before = counts(alice.tenant)  # type: ignore[arg-type]
    response = Client().post(
        path, {"username": "late", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
    )
    assert response.status_code == 404
    assert counts(alice.tenant) == before  # type: ignore[arg-type]
