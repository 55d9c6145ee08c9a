"""Customer value and lifecycle (DOMAIN.md §2–3): the firm's scoring settings, each
scoring run, every customer's score per run (the history trends are drawn from), and a
manager's override of a lifecycle stage. The method: docs/customer-value.md."""

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kehu.core.models import TenantOwned
from kehu.sales.models import money_field

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class ValueTier(models.TextChoices):
    """Huawei's tiers (客户分级): S and A are strategic and partner customers."""

    S = "S", _("S 类（战略客户）")
    A = "A", _("A 类（伙伴客户）")
    B = "B", _("B 类")
    C = "C", _("C 类")


# The tiers from the top down; "one tier up" is the one before.
TIER_ORDER = (ValueTier.S, ValueTier.A, ValueTier.B, ValueTier.C)


class LifecycleStage(models.TextChoices):
    EXPLORATION = "exploration", _("考察期")
    FORMATION = "formation", _("形成期")
    STABILITY = "stability", _("稳定期")
    DECLINE = "decline", _("退化期")


class ScoringMethod(models.TextChoices):
    BGNBD = "bgnbd", _("BG/NBD + Gamma-Gamma 模型")
    RFM = "rfm", _("RFM 规则（数据不足以拟合模型）")


def _percent(
    label: "StrOrPromise", default: int, help_text: "StrOrPromise" = ""
) -> "models.PositiveSmallIntegerField[int, int]":
    return models.PositiveSmallIntegerField(
        label,
        default=default,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=help_text,
    )


class InsightSettings(TenantOwned):
    """How the firm values its customers; one row per firm, the defaults until changed."""

    horizon_months = models.PositiveSmallIntegerField(
        _("预测期（月）"),
        default=36,
        validators=[MinValueValidator(1), MaxValueValidator(120)],
        help_text=_("客户当前价值与增值潜力计算未来多少个月的利润。"),
    )
    annual_discount_rate = models.DecimalField(
        _("年贴现率（%）"),
        max_digits=5,
        decimal_places=2,
        default=10,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=_("把未来利润折算为现值所用的年利率。"),
    )
    default_margin = models.DecimalField(
        _("默认毛利率（%）"),
        max_digits=5,
        decimal_places=2,
        default=30,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=_("订单没有成本数据时，按此毛利率估算利润。"),
    )
    weight_longevity = _percent(_("权重：长久性"), 35, help_text=_("存活概率与合作时长。"))
    weight_scale = _percent(_("权重：规模"), 40, help_text=_("现在与预期的收入。"))
    weight_efficiency = _percent(_("权重：人效"), 25, help_text=_("每个服务工时带来的利润。"))
    share_s = _percent(_("S 类占比（%）"), 5)
    share_a = _percent(_("A 类占比（%）"), 15)
    share_b = _percent(_("B 类占比（%）"), 30)
    churn_alive_threshold = _percent(
        _("流失预警：存活概率低于（%）"),
        50,
        help_text=_("存活概率低于此值的客户进入挽回名单。"),
    )
    churn_trend_threshold = _percent(
        _("流失预警：购买频率或价值下降超过（%）"),
        40,
        help_text=_("近半年比前半年下降超过此比例的客户也进入挽回名单。"),
    )
    winback_due_days = models.PositiveSmallIntegerField(
        _("挽回任务期限（天）"), default=7, validators=[MinValueValidator(1), MaxValueValidator(90)]
    )
    nightly = models.BooleanField(_("每晚自动评分"), default=True)
    # What an open service commitment (an open task with a customer) is worth on the
    # balance sheet: hours per task × the cost of a staff hour.
    task_hours = models.DecimalField(
        _("每个待办任务的预计工时（小时）"),
        max_digits=5,
        decimal_places=1,
        default=2,
        validators=[MinValueValidator(0), MaxValueValidator(1000)],
        help_text=_("客户资产负债表按此估算未完成服务承诺的工时。"),
    )
    staff_hour_cost = money_field(
        _("每工时人工成本（元）"),
        default=200,
        validators=[MinValueValidator(0)],
        help_text=_("客户资产负债表按此把服务承诺的工时折算为金额。"),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("客户价值设置")
        verbose_name_plural = _("客户价值设置")
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="insight_settings_one_per_tenant"),
            models.CheckConstraint(
                condition=Q(share_s__gt=0) & Q(share_a__gt=0) & Q(share_b__gt=0),
                name="insight_settings_shares_gt_0",
            ),
        ]

    def __str__(self) -> str:
        return str(self._meta.verbose_name)

    @property
    def share_c(self) -> int:
        return int(100 - self.share_s - self.share_a - self.share_b)


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("计算中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")


class ScoringRun(TenantOwned):
    """One scoring of every current customer of the firm, as of a day."""

    status = models.CharField(
        _("状态"), max_length=8, choices=RunStatus.choices, default=RunStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(_("进度（%）"), default=0)
    as_of = models.DateField(_("评分日期"))
    created_at = models.DateTimeField(_("提交时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    customers_scored = models.PositiveIntegerField(_("评分客户数"), default=0)
    method = models.CharField(_("方法"), max_length=8, choices=ScoringMethod.choices, blank=True)
    # The fitted parameters (BG/NBD r, α, a, b; Gamma-Gamma p, q, v) and the settings used.
    parameters = models.JSONField(_("模型参数"), default=dict, blank=True)
    message = models.TextField(_("说明"), blank=True)
    # None: the nightly run.
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("发起人"),
    )

    class Meta:
        verbose_name = _("评分任务")
        verbose_name_plural = _("评分任务")
        indexes = [models.Index(fields=["tenant", "-created_at"], name="scoring_run_recent_idx")]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} {self.as_of}"

    @property
    def is_active(self) -> bool:
        return self.status in (RunStatus.QUEUED, RunStatus.RUNNING)


class CustomerScore(TenantOwned):
    """A customer's value, tier and stage as one run found them. Everyone reads the rows
    of the firm's last finished run (`selectors.published_run`); older runs' rows stay so
    that trends show. Publishing a run is setting its status to done: no score row is
    touched, so a million customers' new scores replace the old ones at once."""

    run = models.ForeignKey(ScoringRun, on_delete=models.CASCADE, related_name="scores")
    party = models.ForeignKey(
        "parties.Party", on_delete=models.CASCADE, related_name="scores", verbose_name=_("客户")
    )
    as_of = models.DateField(_("评分日期"))
    # RFM and the history (既成价值).
    frequency = models.PositiveIntegerField(_("重复购买次数"), default=0)
    orders_count = models.PositiveIntegerField(_("订单数"), default=0)
    recency_days = models.PositiveIntegerField(_("距上次购买（天）"), default=0)
    tenure_days = models.PositiveIntegerField(_("合作时长（天）"), default=0)
    revenue_total = money_field(_("累计收入"), default=0)
    profit_total = money_field(_("既成价值（累计利润）"), default=0)
    revenue_last_year = money_field(_("近一年收入"), default=0)
    category_count = models.PositiveSmallIntegerField(_("购买品类数"), default=0)
    staff_hours = models.FloatField(_("服务工时（小时）"), default=0)
    rfm_recency = models.PositiveSmallIntegerField(_("R 分"), default=1)
    rfm_frequency = models.PositiveSmallIntegerField(_("F 分"), default=1)
    rfm_monetary = models.PositiveSmallIntegerField(_("M 分"), default=1)
    # The models' view of the future.
    p_alive = models.FloatField(_("存活概率"), default=0)
    expected_purchases = models.FloatField(_("预期购买次数"), default=0)
    expected_profit_per_purchase = money_field(_("预期每次购买利润"), default=0)
    current_value = money_field(_("客户当前价值"), default=0)
    growth_potential = money_field(_("客户增值潜力"), default=0)
    clp = money_field(_("客户全生命周期利润"), default=0)
    # Selection criteria (0–1 percentile ranks) and their weighted sum.
    longevity_score = models.FloatField(_("长久性"), default=0)
    scale_score = models.FloatField(_("规模"), default=0)
    efficiency_score = models.FloatField(_("人效"), default=0)
    value_score = models.FloatField(_("综合得分"), default=0)
    tier = models.CharField(_("价值等级"), max_length=1, choices=ValueTier.choices)
    # Change of the last half year against the half year before (−1 … +∞; 0 flat).
    frequency_trend = models.FloatField(_("频率趋势"), default=0)
    value_trend = models.FloatField(_("价值趋势"), default=0)
    inferred_stage = models.CharField(
        _("推断的生命周期阶段"), max_length=12, choices=LifecycleStage.choices
    )
    # What everyone reads: a manager's override when there is one, else inferred_stage.
    lifecycle_stage = models.CharField(
        _("生命周期阶段"), max_length=12, choices=LifecycleStage.choices
    )
    stage_reasons = models.JSONField(_("阶段依据"), default=list)
    churn_risk = models.FloatField(_("流失风险"), default=0)
    # Not a column: `selectors.party_scores` sets whether a row is the published one.
    is_latest: bool

    class Meta:
        verbose_name = _("客户评分")
        verbose_name_plural = _("客户评分")
        indexes = [
            models.Index(fields=["tenant", "party", "as_of"], name="score_party_asof_idx"),
            # A run's rows by tier and CLP (the pyramid, a tier's list), and by CLP alone;
            # their (tenant, run) prefix serves every other read of one run.
            models.Index(
                fields=["tenant", "run", "tier", "-clp", "id"], name="score_run_tier_clp_idx"
            ),
            models.Index(fields=["tenant", "run", "-clp", "id"], name="score_run_clp_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.party_id} {self.as_of} {self.tier}"


class StageOverride(TenantOwned):
    """A manager's call on a customer's lifecycle stage; the latest one per party holds.
    An empty stage clears the override (back to the inferred stage)."""

    party = models.ForeignKey(
        "parties.Party", on_delete=models.CASCADE, related_name="+", verbose_name=_("客户")
    )
    stage = models.CharField(
        _("生命周期阶段"), max_length=12, choices=LifecycleStage.choices, blank=True
    )
    reason = models.CharField(_("原因"), max_length=500)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("操作人"),
    )
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("生命周期阶段调整")
        verbose_name_plural = _("生命周期阶段调整")
        indexes = [
            models.Index(fields=["tenant", "party", "-created_at"], name="stage_override_party_idx")
        ]

    def __str__(self) -> str:
        return f"{self.party_id} {self.stage or '-'}"


class WinBackAction(TenantOwned):
    """A win-back task made from the list: which party, which task, from which score."""

    party = models.ForeignKey("parties.Party", on_delete=models.CASCADE, related_name="+")
    task = models.OneToOneField(
        "activities.Task", on_delete=models.CASCADE, related_name="win_back"
    )
    score = models.ForeignKey(CustomerScore, null=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("挽回任务")
        verbose_name_plural = _("挽回任务")
        indexes = [models.Index(fields=["tenant", "party"], name="win_back_party_idx")]


# --- the customer asset balance sheet (DOMAIN.md §3; docs/customer-value.md) ----------


class SpendKind(models.TextChoices):
    ACQUISITION = "acquisition", _("获客投入")
    WIN_BACK = "win_back", _("挽回投入")
    RETENTION = "retention", _("维系投入")
    OTHER = "other", _("其他投入")


class PlannedSpend(TenantOwned):
    """Money the firm plans to spend on its customers in a period (a month, a quarter):
    a liability on the balance sheet while the period runs. Firm-level, in CNY."""

    period_start = models.DateField(_("开始日期"))
    period_end = models.DateField(_("结束日期"))
    kind = models.CharField(_("类别"), max_length=12, choices=SpendKind.choices)
    amount = money_field(_("金额（元）"), validators=[MinValueValidator(0)])
    note = models.CharField(_("说明"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("录入人"),
    )
    created_at = models.DateTimeField(_("录入时间"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("计划投入")
        verbose_name_plural = _("计划投入")
        indexes = [
            models.Index(fields=["tenant", "period_start", "period_end"], name="spend_period_idx")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")), name="spend_period_order"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="spend_amount_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.period_start}–{self.period_end}"
