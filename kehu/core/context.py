"""The tenant of the current unit of work (a request, a task, a command).

Set once by middleware, API auth or `tenant_scope`; read by the scoped managers. A
query of a tenant-owned model with no tenant set raises instead of leaking rows.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_tenant_id: ContextVar[int | None] = ContextVar("kehu_tenant_id", default=None)


class TenantNotSetError(RuntimeError):
    """A tenant-owned model was queried outside any tenant scope."""


def current_tenant_id() -> int:
    tenant_id = _tenant_id.get()
    if tenant_id is None:
        raise TenantNotSetError(
            "No tenant is active: wrap the work in tenant_scope(), or read across tenants "
            "through the unscoped manager (allow-listed in kehu/core/tests/test_tenant_guard.py)."
        )
    return tenant_id


def active_tenant_id() -> int | None:
    return _tenant_id.get()


@contextmanager
def tenant_scope(tenant_id: int) -> Iterator[None]:
    token = _tenant_id.set(tenant_id)
    try:
        yield
    finally:
        _tenant_id.reset(token)
