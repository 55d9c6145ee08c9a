"""Test personas, shared by every app's tests.

Two firms: 演示公司 (acme) and 另一家公司 (other). In acme, Alice is the admin, Bob a
salesperson who sees only his own customers, Dora a read-only colleague who sees all.
Charlie is the outsider: admin of the other firm.
"""

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests
# make around it are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

import pytest
from django.test import Client

from kehu.core.context import tenant_scope
from kehu.tenancy.models import Role, Tenant, User, Visibility

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

PASSWORD = "correct-horse-battery-staple"


def pytest_configure(config: pytest.Config) -> None:
    """Test-only settings. pytest-django has loaded kehu.settings by now, so they are
    set on the live settings object rather than through the environment."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    # Uploaded files (imports) go to a temporary folder, never into var/.
    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="kehu-test-media-")
    # The hashed-manifest storage needs collectstatic; tests serve files as they are.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def default_language() -> Iterator[None]:
    """Every test starts in the default language (zh-Hans). A request in English leaves
    English active in its thread (LocaleMiddleware activates it, nothing deactivates it),
    and a later test that calls a service directly would read English messages."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


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


_CSRF_TOKEN = re.compile(r'(csrfmiddlewaretoken" value="|"X-CSRFToken": ")[A-Za-z0-9]+')


def page_text(response: Any) -> str:
    """A page's HTML without its CSRF tokens.

    The tokens are random letters and digits, so a short figure or name that a test
    says is absent ("940", "bob") turns up inside one now and then.
    """
    return _CSRF_TOKEN.sub(r"\1…", response.content.decode())


CHROMIUM = Path(os.environ.get("KEHU_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator["Browser"]:
    """Debian's Chromium driven by Playwright. CI installs it; without it the browser
    tests are skipped locally but fail in CI (CI=true), so they cannot silently vanish."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}; .ci/run must install it")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: "Browser", live_server: Any) -> Iterator["Page"]:
    context = chromium.new_context(base_url=live_server.url, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def sign_in(page: "Page", username: str) -> None:
    """Sign in through the login form, as a person would."""
    from django.urls import reverse

    page.goto(reverse("login"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{reverse('parties:list')}")
