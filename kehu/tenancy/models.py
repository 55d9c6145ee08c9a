"""Tenants (firms), their staff, teams, invitations and API tokens."""

import hashlib
import secrets
from typing import ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from kehu.core.context import current_tenant_id
from kehu.core.models import TenantOwned


class Tenant(models.Model):
    name = models.CharField(_("公司名称"), max_length=100)
    slug = models.SlugField(_("标识"), max_length=50, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("租户")
        verbose_name_plural = _("租户")

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", _("管理员")
    MANAGER = "manager", _("经理")
    SALES = "sales", _("销售")
    SERVICE = "service", _("客服")
    MARKETING = "marketing", _("市场")
    ANALYST = "analyst", _("分析师")
    READ_ONLY = "read_only", _("只读")


class Visibility(models.TextChoices):
    OWN = "own", _("本人")
    TEAM = "team", _("本团队")
    ALL = "all", _("全部")


# What each role may do; visibility (which records) is set per user on top of this.
WRITE_ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.SALES, Role.SERVICE, Role.MARKETING})
MANAGE_ROLES = frozenset({Role.ADMIN, Role.MANAGER})


class ScopedUserManager(UserManager["User"]):
    def get_queryset(self) -> models.QuerySet["User"]:
        return super().get_queryset().filter(tenant_id=current_tenant_id())


class User(AbstractUser):
    """A member of staff of one tenant. Operators (superusers) may have no tenant."""

    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="users"
    )
    display_name = models.CharField(_("姓名"), max_length=50, blank=True)
    role = models.CharField(_("角色"), max_length=16, choices=Role.choices, default=Role.SALES)
    visibility = models.CharField(
        _("可见范围"), max_length=8, choices=Visibility.choices, default=Visibility.OWN
    )
    language = models.CharField(_("语言"), max_length=10, default="zh-hans")
    mobile = models.CharField(_("手机"), max_length=20, blank=True)

    # Authentication looks users up across tenants (a login names no tenant), so the
    # unscoped manager is the default; tenant code uses `objects`, which is scoped.
    all_tenants = UserManager["User"]()
    objects: ClassVar[ScopedUserManager] = ScopedUserManager()

    class Meta:
        verbose_name = _("员工")
        verbose_name_plural = _("员工")
        default_manager_name = "all_tenants"
        base_manager_name = "all_tenants"

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def can_write(self) -> bool:
        return self.is_active and self.role in WRITE_ROLES

    @property
    def can_manage(self) -> bool:
        return self.is_active and self.role in MANAGE_ROLES

    @property
    def is_tenant_admin(self) -> bool:
        return self.is_active and self.role == Role.ADMIN

    @property
    def effective_visibility(self) -> str:
        return Visibility.ALL if self.role == Role.ADMIN else self.visibility


class Team(TenantOwned):
    name = models.CharField(_("团队名称"), max_length=50)
    members: "models.ManyToManyField[User, TeamMembership]" = models.ManyToManyField(
        User, through="TeamMembership", related_name="teams", verbose_name=_("成员")
    )

    class Meta:
        verbose_name = _("团队")
        verbose_name_plural = _("团队")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="team_name_unique_per_tenant")
        ]

    def __str__(self) -> str:
        return self.name


class TeamMembership(TenantOwned):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="team_memberships")
    is_lead = models.BooleanField(_("负责人"), default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="team_member_unique")]


def _token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(TenantOwned):
    """A personal API token. Only its SHA-256 is stored; the raw value is shown once."""

    PREFIX = "kehu_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("名称"), max_length=50)
    digest = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=12)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @classmethod
    def new_raw(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)

    @staticmethod
    def digest_of(raw: str) -> str:
        return _token_digest(raw)


class Invitation(TenantOwned):
    email = models.EmailField(_("邮箱"))
    display_name = models.CharField(_("姓名"), max_length=50, blank=True)
    role = models.CharField(_("角色"), max_length=16, choices=Role.choices, default=Role.SALES)
    visibility = models.CharField(
        _("可见范围"), max_length=8, choices=Visibility.choices, default=Visibility.OWN
    )
    digest = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("邀请")
        verbose_name_plural = _("邀请")

    def __str__(self) -> str:
        return self.email

    @staticmethod
    def digest_of(raw: str) -> str:
        return _token_digest(raw)
