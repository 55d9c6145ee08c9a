"""Sign-in, sign-out, operators without a tenant, and the language switch."""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from conftest import PASSWORD, login
from kehu.tenancy.models import Tenant, User

LANG = settings.LANGUAGE_COOKIE_NAME


def sign_in(username: str, password: str = PASSWORD, **extra: str) -> tuple[Client, int, str]:
    client = Client()
    response = client.post(reverse("login"), {"username": username, "password": password, **extra})
    return client, response.status_code, response.get("Location", "")


def signed_in_user_id(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def test_login_page_renders_in_chinese_by_default(db: None) -> None:
    response = Client().get(reverse("login"))
    assert response.status_code == 200
    assert '<html lang="zh-hans">' in response.content.decode()
    assert "登录 kehu" in response.content.decode()


def test_sign_in_goes_to_customers_and_applies_the_saved_language(alice: User) -> None:
    alice.language = "en"
    alice.save(update_fields=["language"])
    client, status, location = sign_in("alice")
    assert (status, location) == (302, reverse("parties:list"))
    assert signed_in_user_id(client) == str(alice.pk)
    assert client.cookies[LANG].value == "en"
    page = client.get(reverse("tenancy:tokens")).content.decode()
    assert '<html lang="en">' in page


def test_sign_in_follows_a_safe_next_only(alice: User) -> None:
    _, _, location = sign_in("alice", next="/tasks/")
    assert location == "/tasks/"
    _, _, location = sign_in("alice", next="https://evil.example/steal")
    assert location == reverse("parties:list")


def test_wrong_password_does_not_sign_in(alice: User) -> None:
    client, status, _ = sign_in("alice", password="wrong-password")
    assert status == 200
    assert signed_in_user_id(client) is None


def test_inactive_user_cannot_sign_in(alice: User) -> None:
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    client, status, _ = sign_in("alice")
    assert status == 200
    assert signed_in_user_id(client) is None


def test_an_operator_without_tenant_gets_a_clear_page_not_tenant_data(acme: Tenant) -> None:
    operator = User(username="olga", is_superuser=True, is_staff=True)
    operator.set_password(PASSWORD)
    operator.save()
    client, status, location = sign_in("olga")
    assert (status, location) == (302, reverse("tenancy:no_tenant"))
    assert "不属于任何公司" in client.get(location).content.decode()
    for name in ("tenancy:tokens", "tenancy:staff", "activities:my_tasks"):
        response = client.get(reverse(name))
        assert response.status_code == 403
        assert "不属于任何公司" in response.content.decode()


def test_no_tenant_page_sends_staff_on_to_customers(alice: User) -> None:
    response = login(alice).get(reverse("tenancy:no_tenant"))
    assert response.status_code == 302
    assert response["Location"] == reverse("parties:list")


def test_sign_out_is_a_post_and_ends_the_session(alice: User) -> None:
    client = login(alice)
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert (response.status_code, response["Location"]) == (302, reverse("login"))
    assert signed_in_user_id(client) is None
    assert client.get(reverse("tenancy:tokens")).status_code == 302


def test_pages_need_a_signed_in_user(db: None) -> None:
    response = Client().get(reverse("tenancy:tokens"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_language_switch_saves_the_choice_and_renders_english(alice: User) -> None:
    client = login(alice)
    response = client.post(reverse("tenancy:language"), {"language": "en", "next": "/tasks/"})
    assert (response.status_code, response["Location"]) == (302, "/tasks/")
    assert client.cookies[LANG].value == "en"
    alice.refresh_from_db()
    assert alice.language == "en"
    assert '<html lang="en">' in client.get(reverse("tenancy:tokens")).content.decode()
    client.post(reverse("tenancy:language"), {"language": "zh-hans"})
    assert '<html lang="zh-hans">' in client.get(reverse("tenancy:tokens")).content.decode()


def test_language_switch_goes_back_to_the_referring_page(alice: User) -> None:
    response = login(alice).post(
        reverse("tenancy:language"), {"language": "en"}, headers={"referer": "/settings/tokens/"}
    )
    assert response["Location"] == "/settings/tokens/"


def test_language_switch_never_redirects_off_site(alice: User) -> None:
    response = login(alice).post(
        reverse("tenancy:language"),
        {"language": "en", "next": "https://evil.example/"},
        headers={"referer": "//evil.example/"},
    )
    assert response.status_code == 302
    assert "evil" not in response["Location"]


def test_language_switch_refuses_an_unknown_language(alice: User) -> None:
    client = login(alice)
    response = client.post(reverse("tenancy:language"), {"language": "fr"})
    assert response.status_code == 400
    alice.refresh_from_db()
    assert alice.language == "zh-hans"
    assert LANG not in client.cookies


def test_language_switch_works_before_sign_in(db: None) -> None:
    client = Client()
    client.post(reverse("tenancy:language"), {"language": "en", "next": "/login/"})
    assert '<html lang="en">' in client.get(reverse("login")).content.decode()


def test_language_switch_is_post_only(alice: User) -> None:
    assert login(alice).get(reverse("tenancy:language")).status_code == 405


@pytest.mark.parametrize("name", ["tenancy:staff", "tenancy:teams", "tenancy:tokens"])
def test_settings_pages_refuse_anonymous_visitors(db: None, name: str) -> None:
    assert Client().get(reverse(name)).status_code == 302
