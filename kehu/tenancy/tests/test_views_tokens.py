"""Personal API tokens: create (raw value shown once), list, revoke; only one's own."""

import hashlib

import pytest
from django.urls import reverse

from conftest import login
from kehu.core.context import tenant_scope
from kehu.tenancy import services
from kehu.tenancy.models import ApiToken, User


def make_token(user: User, name: str) -> ApiToken:
    with tenant_scope(user.tenant_id):  # type: ignore[arg-type]
        return services.api_token_create(actor=user, name=name)[0]


def live_tokens(user: User) -> list[str]:
    with tenant_scope(user.tenant_id):  # type: ignore[arg-type]
        return sorted(
            ApiToken.objects.filter(user=user, revoked_at__isnull=True).values_list(
                "name", flat=True
            )
        )


def all_tokens(user: User) -> int:
    with tenant_scope(user.tenant_id):  # type: ignore[arg-type]
        return ApiToken.objects.count()


@pytest.mark.parametrize("persona", ["alice", "bob", "dora"])
def test_every_member_creates_a_token_shown_once_and_stored_as_digest(
    request: pytest.FixtureRequest, persona: str
) -> None:
    user: User = request.getfixturevalue(persona)
    client = login(user)
    response = client.post(reverse("tenancy:tokens"), {"name": "数据同步"})
    assert response.status_code == 200
    raw = response.context["raw_token"]
    assert raw.startswith("kehu_") and raw in response.content.decode()
    with tenant_scope(user.tenant_id):  # type: ignore[arg-type]
        token = ApiToken.objects.get()
    assert token.digest == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in (token.digest, token.hint, token.name)
    assert services.api_token_user(raw) == user
    again = client.get(reverse("tenancy:tokens")).content.decode()
    assert raw not in again
    assert "数据同步" in again and token.hint in again


def test_empty_or_over_long_name_saves_nothing(bob: User) -> None:
    client = login(bob)
    for name in ("", "   ", "长" * 51):
        response = client.post(reverse("tenancy:tokens"), {"name": name})
        assert response.status_code == 422
        assert response.context["form"].errors["name"]
        assert "kehu_" not in response.content.decode()
    assert all_tokens(bob) == 0


def test_token_name_is_escaped(bob: User) -> None:
    make_token(bob, "<img src=x onerror=alert(1)>")
    page = login(bob).get(reverse("tenancy:tokens")).content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<img src=x" not in page


def test_revoke_own_token(bob: User) -> None:
    token = make_token(bob, "旧脚本")
    response = login(bob).post(reverse("tenancy:token_revoke", args=[token.pk]))
    assert (response.status_code, response["Location"]) == (302, reverse("tenancy:tokens"))
    assert live_tokens(bob) == []
    page = login(bob).get(reverse("tenancy:tokens")).content.decode()
    assert "旧脚本" not in page


def test_a_colleague_never_sees_or_revokes_my_token(alice: User, bob: User) -> None:
    token = make_token(alice, "管理员的令牌")
    client = login(bob)
    assert "管理员的令牌" not in client.get(reverse("tenancy:tokens")).content.decode()
    assert client.post(reverse("tenancy:token_revoke", args=[token.pk])).status_code == 404
    assert live_tokens(alice) == ["管理员的令牌"]


def test_outsider_gets_404_and_revokes_nothing(alice: User, charlie: User) -> None:
    token = make_token(alice, "管理员的令牌")
    client = login(charlie)
    assert "管理员的令牌" not in client.get(reverse("tenancy:tokens")).content.decode()
    assert client.post(reverse("tenancy:token_revoke", args=[token.pk])).status_code == 404
    assert live_tokens(alice) == ["管理员的令牌"]
    assert all_tokens(charlie) == 0


def test_revoke_is_post_only(bob: User) -> None:
    token = make_token(bob, "脚本")
    assert login(bob).get(reverse("tenancy:token_revoke", args=[token.pk])).status_code == 405
    assert live_tokens(bob) == ["脚本"]
