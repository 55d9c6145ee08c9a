import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from kehu.core.audit import audit_for
from kehu.core.context import tenant_scope
from kehu.tenancy import services
from kehu.tenancy.models import ApiToken, Invitation, Role, Team, Tenant, User, Visibility


def test_tenant_create_makes_an_admin_who_sees_all(db: None) -> None:
    tenant, admin = services.tenant_create(
        name="新公司", slug="new", admin_username="boss", admin_password="a-long-pass-phrase"
    )
    assert admin.tenant == tenant
    assert (admin.role, admin.effective_visibility) == (Role.ADMIN, Visibility.ALL)
    assert admin.check_password("a-long-pass-phrase")
    with pytest.raises(ValidationError):
        services.tenant_create(name="x", slug="new", admin_username="b2", admin_password="p")


@pytest.mark.usefixtures("in_acme")
def test_admin_cannot_demote_or_deactivate_self(alice: User) -> None:
    with pytest.raises(ValidationError):
        services.staff_update(actor=alice, user=alice, role=Role.SALES)
    with pytest.raises(ValidationError):
        services.staff_update(actor=alice, user=alice, is_active=False)
    alice.refresh_from_db()
    assert alice.role == Role.ADMIN and alice.is_active


@pytest.mark.usefixtures("in_acme")
def test_staff_update_is_audited(alice: User, bob: User) -> None:
    services.staff_update(actor=alice, user=bob, visibility=Visibility.TEAM)
    entry = audit_for(bob).get()
    assert entry.changes == {"visibility": ["own", "team"]}
    assert entry.actor == alice


@pytest.mark.usefixtures("in_acme")
def test_staff_create_refuses_a_taken_username_and_weak_password(
    alice: User, charlie: User
) -> None:
    with pytest.raises(ValidationError):
        services.staff_create(actor=alice, username="charlie", password="a-long-pass-phrase")
    with pytest.raises(ValidationError):
        services.staff_create(actor=alice, username="eve", password="123")
    assert not User.all_tenants.filter(username="eve").exists()


def test_invitation_mails_a_link_and_accepting_creates_the_member(
    acme: Tenant, alice: User, django_capture_on_commit_callbacks: object
) -> None:
    with tenant_scope(acme.pk), django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        invitation, link = services.invitation_create(
            actor=alice, email="New@Example.com", role=Role.SERVICE, visibility=Visibility.TEAM
        )
    assert invitation.email == "new@example.com"
    assert len(mail.outbox) == 1 and link in mail.outbox[0].body
    raw = link.rstrip("/").rsplit("/", 1)[-1]
    found = services.invitation_for_token(raw)
    assert found is not None and found.pk == invitation.pk
    user = services.invitation_accept(
        invitation=found, username="newbie", password="a-long-pass-phrase"
    )
    assert (user.tenant_id, user.role, user.visibility) == (acme.pk, Role.SERVICE, Visibility.TEAM)
    assert services.invitation_for_token(raw) is None
    with pytest.raises(ValidationError):
        services.invitation_accept(invitation=found, username="newbie", password="x")


def test_unknown_invitation_token_finds_nothing(acme: Tenant) -> None:
    assert services.invitation_for_token("no-such-token") is None
    assert not Invitation.all_tenants.exists()


def test_token_is_stored_as_digest_and_revocation_locks_out(acme: Tenant, bob: User) -> None:
    with tenant_scope(acme.pk):
        token, raw = services.api_token_create(actor=bob, name="脚本")
    assert raw.startswith("kehu_") and raw not in token.digest
    assert ApiToken.all_tenants.get().digest == ApiToken.digest_of(raw)
    assert services.api_token_user(raw) == bob
    assert services.api_token_user(raw + "x") is None
    with tenant_scope(acme.pk):
        services.api_token_revoke(actor=bob, token=token)
    assert services.api_token_user(raw) is None


def test_token_of_inactive_user_is_refused(acme: Tenant, bob: User) -> None:
    with tenant_scope(acme.pk):
        _token, raw = services.api_token_create(actor=bob, name="t")
    bob.is_active = False
    bob.save()
    assert services.api_token_user(raw) is None


def test_teams_and_members(acme: Tenant, alice: User, bob: User, charlie: User) -> None:
    with tenant_scope(acme.pk):
        team = services.team_create(actor=alice, name="销售一部")
        with pytest.raises(ValidationError):
            services.team_create(actor=alice, name="销售一部")
        services.team_member_add(actor=alice, team=team, user=bob, is_lead=True)
        with pytest.raises(ValidationError):
            services.team_member_add(actor=alice, team=team, user=charlie)
        assert list(team.members.all()) == [bob]
        services.team_rename(actor=alice, team=team, name="华南销售")
        services.team_member_remove(actor=alice, team=team, user=bob)
        assert not team.members.exists()
        services.team_delete(actor=alice, team=team)
        assert not Team.objects.exists()
