"""Tenant isolation guards: unscoped queries fail, and crossing tenants is allow-listed."""

import re
from pathlib import Path

import pytest
from django.apps import apps

from kehu.core.context import TenantNotSetError, tenant_scope
from kehu.core.models import TenantOwned
from kehu.parties.models import Party
from kehu.tenancy.models import Tenant, User

ROOT = Path(__file__).resolve().parents[3]

# Every place that may read across tenants, and why. Add a line only with a reason.
ALLOWED_CROSS_TENANT = {
    "kehu/core/models.py",  # defines the unscoped manager
    "kehu/parties/models.py",  # Party declares its managers
    "kehu/tenancy/models.py",  # User: authentication finds a user before any tenant is known
    "kehu/tenancy/services.py",  # usernames are unique across tenants; token and invite lookup
    "kehu/tenancy/api_auth.py",  # an API token names its tenant
    "kehu/demo/generator.py",  # bulk loading writes rows for a tenant it creates
    "kehu/dataio/backup.py",  # reads one named tenant whole; unique values are server-wide
}
# Tests may count rows across tenants: that is how they prove an outsider changed nothing.


def test_every_tenant_owned_model_is_scoped_by_default() -> None:
    owned = [m for m in apps.get_models() if issubclass(m, TenantOwned)]
    assert len(owned) >= 10
    for model in owned:
        with pytest.raises(TenantNotSetError):
            list(model.objects.all()[:1])


def test_user_lookup_in_tenant_code_is_scoped() -> None:
    with pytest.raises(TenantNotSetError):
        list(User.objects.all()[:1])


def test_scoped_queries_see_only_their_tenant(alice: User, charlie: User) -> None:
    from kehu.parties.services import party_create

    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        party_create(actor=alice, kind="person", name="张三")
    with tenant_scope(charlie.tenant_id):  # type: ignore[arg-type]
        assert Party.objects.count() == 0
        assert list(User.objects.values_list("username", flat=True)) == ["charlie"]
    assert isinstance(alice.tenant, Tenant)


def test_cross_tenant_access_appears_only_where_allowed() -> None:
    pattern = re.compile(r"\.all_tenants\b|all_tenants\s*[:=]")
    offenders = []
    for path in sorted((ROOT / "kehu").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if "/migrations/" in rel or "/tests/" in rel:
            continue
        if pattern.search(path.read_text(encoding="utf-8")) and rel not in ALLOWED_CROSS_TENANT:
            offenders.append(rel)
    assert offenders == [], f"cross-tenant access outside the allow-list: {offenders}"
