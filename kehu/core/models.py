"""Shared base models and the audit log. No domain logic here."""

import functools
from typing import Any, TypeVar

from django.conf import settings
from django.db import models
from django.utils.encoding import force_str
from django.utils.translation import gettext_lazy as _

from kehu.core.context import current_tenant_id

_M = TypeVar("_M", bound=models.Model)


class TenantManager(models.Manager[_M]):
    """Default manager of every tenant-owned model: rows of the active tenant only."""

    def get_queryset(self) -> models.QuerySet[_M]:
        return super().get_queryset().filter(tenant_id=current_tenant_id())


@functools.cache
def _choice_labels(field: models.Field[Any, Any]) -> dict[Any, Any]:
    """{value: label} of a field's choices; the labels stay lazy (translated when shown)."""
    return dict(field.flatchoices)


class TenantOwned(models.Model):
    """A row that belongs to one tenant. `objects` is scoped; `all_tenants` is not."""

    objects = TenantManager()
    all_tenants = models.Manager()

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")

    class Meta:
        abstract = True
        # Forward foreign keys load through the base manager: a row may follow its own
        # links without a tenant scope (they never leave the tenant).
        base_manager_name = "all_tenants"

    def _get_FIELD_display(self, field: models.Field[Any, Any]) -> Any:
        # Django's get_<field>_display rebuilds and hashes the whole choice list on every
        # call, translating each lazy label to hash it: a list page of 50 rows spent a
        # third of its rendering time there. Same result, from a dict built once.
        value = getattr(self, field.attname)
        try:
            label = _choice_labels(field).get(value, value)
        except TypeError:  # an unhashable value: Django's own way
            return super()._get_FIELD_display(field)  # type: ignore[misc]
        return force_str(label, strings_only=True)

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.tenant_id is None:
            self.tenant_id = current_tenant_id()
        super().save(*args, **kwargs)


class Timestamped(models.Model):
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True, db_index=False)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        abstract = True


class AuditEntry(TenantOwned):
    """One write: who, when, what, and the fields' values before and after."""

    class Action(models.TextChoices):
        CREATE = "create", _("创建")
        UPDATE = "update", _("修改")
        DELETE = "delete", _("删除")
        RESTORE = "restore", _("恢复")
        STATE = "state", _("状态变更")

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(_("操作"), max_length=16, choices=Action.choices)
    object_type = models.CharField(_("对象类型"), max_length=64)
    object_id = models.BigIntegerField(_("对象编号"))
    object_repr = models.CharField(_("对象"), max_length=200)
    # The record whose history this change belongs to (a party for its phone numbers).
    root_type = models.CharField(max_length=64)
    root_id = models.BigIntegerField()
    changes = models.JSONField(_("变更"), default=dict)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("审计记录")
        verbose_name_plural = _("审计记录")
        indexes = [models.Index(fields=["tenant", "root_type", "root_id", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}#{self.object_id}"
