"""Interactions with parties (calls, visits, meetings…), staff tasks, and service time."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kehu.core.models import TenantOwned
from kehu.parties.models import Party
from kehu.sales.models import summary_party_join


class InteractionKind(models.TextChoices):
    CALL = "call", _("电话")
    VISIT = "visit", _("拜访")
    MEETING = "meeting", _("会议")
    EMAIL = "email", _("邮件")
    WECHAT = "wechat", _("微信")
    NOTE = "note", _("备注")


class Interaction(TenantOwned):
    kind = models.CharField(_("类型"), max_length=10, choices=InteractionKind.choices)
    subject = models.CharField(_("主题"), max_length=200)
    body = models.TextField(_("内容"), max_length=10000, blank=True)
    occurred_at = models.DateTimeField(_("发生时间"))
    duration_minutes = models.PositiveIntegerField(_("时长（分钟）"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    parties: "models.ManyToManyField[Party, InteractionParty]" = models.ManyToManyField(
        "parties.Party", through="InteractionParty", related_name="interactions"
    )

    class Meta:
        verbose_name = _("互动")
        verbose_name_plural = _("互动")
        # A colleague's own effort per month (selectors.staff_effort).
        indexes = [
            models.Index(
                fields=["tenant", "created_by", "occurred_at"], name="interaction_author_idx"
            )
        ]

    def __str__(self) -> str:
        return self.subject


class InteractionParty(TenantOwned):
    """One party in an interaction; occurred_at is copied so a timeline is one index scan."""

    interaction = models.ForeignKey(Interaction, on_delete=models.CASCADE, related_name="links")
    party = models.ForeignKey("parties.Party", on_delete=models.CASCADE, related_name="+")
    occurred_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["interaction", "party"], name="interaction_party_unique"
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "party", "-occurred_at"], name="interaction_party_idx")
        ]


# Upper bounds that catch a typo (hours typed as minutes twice over) without refusing
# real work: a task may take a week of someone's time, one day's log at most a day.
MAX_TASK_MINUTES = 7 * 24 * 60
MAX_SERVICE_MINUTES = 24 * 60


class TaskStatus(models.TextChoices):
    OPEN = "open", _("待办")
    DONE = "done", _("已完成")
    CANCELLED = "cancelled", _("已取消")


class Task(TenantOwned):
    title = models.CharField(_("任务"), max_length=200)
    note = models.TextField(_("说明"), max_length=5000, blank=True)
    due_date = models.DateField(_("截止日期"))
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="tasks",
        verbose_name=_("执行人"),
    )
    party = models.ForeignKey(
        "parties.Party",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tasks",
        verbose_name=_("客户"),
    )
    status = models.CharField(
        _("状态"), max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN
    )
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    # Counted as effort in the month the task was done (see selectors.party_effort).
    time_spent_minutes = models.PositiveIntegerField(
        _("用时（分钟）"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(MAX_TASK_MINUTES)],
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("任务")
        verbose_name_plural = _("任务")
        indexes = [
            models.Index(
                fields=["tenant", "assignee", "status", "due_date"], name="task_assignee_idx"
            ),
            models.Index(fields=["tenant", "party", "due_date"], name="task_party_idx"),
            models.Index(fields=["tenant", "party", "completed_at"], name="task_party_done_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(time_spent_minutes__lte=MAX_TASK_MINUTES),
                name="task_time_spent_sane",
            )
        ]

    def __str__(self) -> str:
        return self.title


class ServiceKind(models.TextChoices):
    SERVICE = "service", _("客户服务")
    SALES = "sales", _("销售跟进")
    SUPPORT = "support", _("技术支持")
    IMPLEMENTATION = "implementation", _("实施交付")
    TRAINING = "training", _("培训")
    OTHER = "other", _("其他")


class ServiceTime(TenantOwned):
    """Minutes a member of staff worked for a party on one day (the staff side of 人效)."""

    party = models.ForeignKey(
        "parties.Party", on_delete=models.CASCADE, related_name="service_times"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="service_times",
        verbose_name=_("员工"),
    )
    worked_on = models.DateField(_("日期"))
    minutes = models.PositiveIntegerField(
        _("时长（分钟）"),
        validators=[MinValueValidator(1), MaxValueValidator(MAX_SERVICE_MINUTES)],
    )
    kind = models.CharField(
        _("工作类型"), max_length=16, choices=ServiceKind.choices, default=ServiceKind.SERVICE
    )
    note = models.CharField(_("说明"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("服务工时")
        verbose_name_plural = _("服务工时")
        indexes = [
            models.Index(fields=["tenant", "party", "worked_on"], name="service_time_party_idx"),
            models.Index(fields=["tenant", "user", "worked_on"], name="service_time_user_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(minutes__gt=0, minutes__lte=MAX_SERVICE_MINUTES),
                name="service_time_minutes_sane",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.minutes}"


class DailyEffort(TenantOwned):
    """Staff minutes spent on one party on one day (its firm's day), or in one whole month
    (`month`, day = the month's first: the sums of its days), by where they were
    recorded, as `selectors.party_effort` counts them. Kept by the activity services in
    the write's transaction (`kehu.activities.summary`, decision 0015); the party's
    owner, team, visibility and deletion are joined when a report reads it."""

    party = models.ForeignKey("parties.Party", on_delete=models.CASCADE, related_name="+")
    # The party's first booked sale, for new vs existing: one join instead of a subquery
    # per row (PostgreSQL planned that as costly enough to compile).
    sales_summary = summary_party_join("party")
    day = models.DateField()
    month = models.BooleanField(default=False)
    interaction_minutes = models.PositiveIntegerField(default=0)
    task_minutes = models.PositiveIntegerField(default=0)
    service_minutes = models.PositiveIntegerField(default=0)

    class Meta:
        base_manager_name = "all_tenants"
        # Reports read a range of days (and months), off this index alone (it holds the
        # party and the minutes); a refresh deletes a party's rows.
        indexes = [
            models.Index(
                fields=[
                    "tenant",
                    "month",
                    "day",
                    "party",
                    "interaction_minutes",
                    "task_minutes",
                    "service_minutes",
                ],
                name="daily_effort_day_idx",
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "party", "month", "day"], name="daily_effort_key"
            )
        ]
