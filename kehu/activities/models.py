"""Interactions with parties (calls, visits, meetings…) and staff tasks."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kehu.core.models import TenantOwned
from kehu.parties.models import Party


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
        ]

    def __str__(self) -> str:
        return self.title
