"""The customer pool's rule (公海规则), one per firm. See docs/decisions/0006-customer-pool.md."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from kehu.core.models import TenantOwned


class PoolSettings(TenantOwned):
    """When an owner's idle parties return to the pool, and how many a rep may claim."""

    enabled = models.BooleanField(_("启用公海"), default=False)
    # One number for every party until value tiers (S/A/B/C) exist; then one per tier.
    idle_days = models.PositiveSmallIntegerField(
        _("未跟进天数"),
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=_("负责人连续这么多天没有跟进的客户，自动退回公海。"),
    )
    claim_limit = models.PositiveSmallIntegerField(
        _("领取上限"),
        default=20,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text=_("每人在统计周期内最多从公海领取的客户数。"),
    )
    claim_window_days = models.PositiveSmallIntegerField(
        _("统计周期（天）"),
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
    )
    # Parties in the pool still have an owner: this colleague holds them for the firm.
    custodian = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("公海管理员"),
        help_text=_("公海中的客户由此人代管；不填则由最早的管理员代管。"),
    )
    last_swept_at = models.DateTimeField(_("上次检查"), null=True, blank=True)
    last_swept_moved = models.PositiveIntegerField(_("上次退回数"), default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("公海规则")
        verbose_name_plural = _("公海规则")
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="pool_settings_one_per_tenant")
        ]

    def __str__(self) -> str:
        return str(self._meta.verbose_name)
