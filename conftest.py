"""Test personas, shared by every app's tests.

Two firms: 演示公司 (acme) and 另一家公司 (other). In acme, Alice is the admin, Bob a
salesperson who sees only his own customers, Dora a read-only colleague who sees all.
Charlie is the outsider: admin of the other firm.
"""

import os
from collections.abc import Iterator

os.environ.setdefault("SECRET_KEY", "kehu-test-only-secret")
os.environ.setdefault("KEHU_FAST_PASSWORDS", "1")

import pytest
from django.test import Client

from kehu.core.context import tenant_scope
from kehu.tenancy.models import Role, Tenant, User, Visibility

PASSWORD = "correct-horse-battery-staple"


def _user(tenant: Tenant, username: str, role: str, visibility: str) -> User:
    user = User(
        tenant=tenant,
        username=username,
        display_name=username.title(),
        role=role,
        visibility=visibility,
    )
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def acme(db: None) -> Tenant:
    return Tenant.objects.create(name="演示公司", slug="acme")


@pytest.fixture
def other(db: None) -> Tenant:
    return Tenant.objects.create(name="另一家公司", slug="other")


@pytest.fixture
def alice(acme: Tenant) -> User:
    return _user(acme, "alice", Role.ADMIN, Visibility.ALL)


@pytest.fixture
def bob(acme: Tenant) -> User:
    return _user(acme, "bob", Role.SALES, Visibility.OWN)


@pytest.fixture
def dora(acme: Tenant) -> User:
    return _user(acme, "dora", Role.READ_ONLY, Visibility.ALL)


@pytest.fixture
def charlie(other: Tenant) -> User:
    return _user(other, "charlie", Role.ADMIN, Visibility.ALL)


@pytest.fixture
def in_acme(acme: Tenant) -> Iterator[None]:
    """Run the test body as code inside acme's tenant scope (as a request would)."""
    with tenant_scope(acme.pk):
        yield


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client
