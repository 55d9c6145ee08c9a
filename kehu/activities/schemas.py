"""API shapes of interactions, tasks and a party's timeline."""

import datetime
from decimal import Decimal
from typing import Any, Literal

from django.utils import timezone
from ninja import Field, Schema
from pydantic import field_validator

from kehu.activities.models import (
    MAX_SERVICE_MINUTES,
    MAX_TASK_MINUTES,
    Interaction,
    InteractionKind,
    ServiceKind,
    TaskStatus,
)
from kehu.core.pagination import MAX_LIMIT, PageParams
from kehu.parties.schemas import PartyRef, StateChangeOut
from kehu.pool.schemas import OwnershipChangeOut
from kehu.sales.pipeline_schemas import StageRef
from kehu.sales.schemas import OrderBrief
from kehu.tenancy.schemas import InSchema, PatchSchema, UserRef


def _local_when_naive(value: datetime.datetime | None) -> datetime.datetime | None:
    """A time written without an offset means the firm's time zone, as on the pages."""
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value)
    return value


class InteractionIn(InSchema):
    party_ids: list[int] = Field(min_length=1, max_length=50, description="涉及的客户编号")
    kind: InteractionKind
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field("", max_length=10000)
    occurred_at: datetime.datetime | None = Field(
        None, description="发生时间；默认为现在。不带时区的时间按公司时区（北京时间）理解"
    )
    duration_minutes: int | None = Field(None, ge=0, le=100_000)

    local_when_naive = field_validator("occurred_at")(staticmethod(_local_when_naive))


class InteractionPatch(PatchSchema):
    """A correction: leave out what stays. The parties stay (log a new one for others)."""

    kind: InteractionKind | None = None
    subject: str | None = Field(None, min_length=1, max_length=200)
    body: str | None = Field(None, max_length=10000)
    occurred_at: datetime.datetime | None = Field(
        None, description="发生时间；不带时区的时间按公司时区（北京时间）理解"
    )
    duration_minutes: int | None = Field(None, ge=0, le=100_000, description="0 表示不计时长")

    local_when_naive = field_validator("occurred_at")(staticmethod(_local_when_naive))


class InteractionBrief(Schema):
    id: int
    kind: InteractionKind
    subject: str
    body: str
    occurred_at: datetime.datetime
    duration_minutes: int | None
    created_by: UserRef | None
    created_at: datetime.datetime


class InteractionOut(InteractionBrief):
    parties: list[PartyRef]

    @staticmethod
    def resolve_parties(obj: Interaction) -> list[Any]:
        return [link.party for link in obj.links.all()]


class InteractionQuery(PageParams):
    party: int | None = Field(None, description="只看与这个客户有关的互动")


class TaskIn(InSchema):
    title: str = Field(min_length=1, max_length=200)
    note: str = Field("", max_length=5000)
    due_date: datetime.date
    assignee: int | None = Field(None, description="执行人员工编号；默认为自己")
    party: int | None = Field(None, description="相关客户编号")


class TaskPatch(PatchSchema):
    title: str | None = Field(None, min_length=1, max_length=200)
    note: str | None = Field(None, max_length=5000)
    due_date: datetime.date | None = None
    assignee: int | None = Field(None, description="执行人员工编号")
    time_spent_minutes: int | None = Field(
        None, ge=0, le=MAX_TASK_MINUTES, description="用时（分钟）；任务完成后计入工时"
    )


class TaskStatusIn(InSchema):
    status: TaskStatus
    time_spent_minutes: int | None = Field(
        None, ge=0, le=MAX_TASK_MINUTES, description="用时（分钟），可在完成时填写"
    )


class TaskBrief(Schema):
    id: int
    title: str
    note: str
    due_date: datetime.date
    status: TaskStatus
    completed_at: datetime.datetime | None
    time_spent_minutes: int | None
    assignee: UserRef
    created_at: datetime.datetime


class TaskOut(TaskBrief):
    party: PartyRef | None


class TaskQuery(PageParams):
    mine: bool = Field(False, description="只看分配给自己的任务")
    status: TaskStatus | None = None
    due_before: datetime.date | None = Field(None, description="截止日期不晚于这一天")
    party: int | None = Field(None, description="相关客户编号")


class ServiceTimeIn(InSchema):
    party: int = Field(description="客户编号")
    minutes: int = Field(ge=1, le=MAX_SERVICE_MINUTES, description="时长（分钟），1–1440")
    worked_on: datetime.date | None = Field(None, description="日期；默认为今天")
    kind: ServiceKind = ServiceKind.SERVICE
    note: str = Field("", max_length=500)
    user: int | None = Field(None, description="员工编号；默认为自己")


class ServiceTimePatch(PatchSchema):
    minutes: int | None = Field(None, ge=1, le=MAX_SERVICE_MINUTES)
    worked_on: datetime.date | None = None
    kind: ServiceKind | None = None
    note: str | None = Field(None, max_length=500)


class ServiceTimeBrief(Schema):
    id: int
    worked_on: datetime.date
    minutes: int
    kind: ServiceKind
    note: str
    user: UserRef
    created_at: datetime.datetime


class ServiceTimeOut(ServiceTimeBrief):
    party: PartyRef


class ServiceTimeQuery(PageParams):
    party: int | None = Field(None, description="客户编号")
    user: int | None = Field(None, description="员工编号")
    since: datetime.date | None = Field(None, description="不早于这一天")
    until: datetime.date | None = Field(None, description="不晚于这一天")


class EffortMonthOut(Schema):
    month: datetime.date = Field(description="月份的第一天")
    interaction_minutes: int
    task_minutes: int
    service_minutes: int
    total_minutes: int


class EffortOut(Schema):
    """Staff minutes spent on one party per month (the staff side of 人效)."""

    party: PartyRef
    since: datetime.date
    until: datetime.date = Field(description="不含这一天")
    total_minutes: int
    months: list[EffortMonthOut]


class EffortQuery(Schema):
    months: int = Field(12, ge=1, le=60, description="最近几个月（含本月）")


class TimelineQuery(Schema):
    limit: int = Field(50, ge=1, le=MAX_LIMIT)


class DealBrief(Schema):
    """A won or lost opportunity on its party's timeline."""

    id: int
    name: str
    stage: StageRef
    amount: Decimal | None
    currency: str
    closed_on: datetime.date | None
    lost_reason: str | None = Field(description="输单原因")
    close_note: str
    order_id: int | None = Field(description="赢单生成的订单")
    owner: UserRef

    @staticmethod
    def resolve_lost_reason(obj: Any) -> str | None:
        return obj.lost_reason.name if obj.lost_reason else None


class TimelineItemOut(Schema):
    """One event; exactly one of interaction / state_change / task / order / deal /
    service_time / ownership / created is set."""

    at: datetime.datetime
    kind: Literal[
        "interaction", "state", "task", "order", "deal", "service_time", "ownership", "created"
    ]
    interaction: InteractionBrief | None = None
    state_change: StateChangeOut | None = None
    task: TaskBrief | None = None
    order: OrderBrief | None = None
    deal: DealBrief | None = None
    service_time: ServiceTimeBrief | None = None
    ownership: OwnershipChangeOut | None = None
    created_by: UserRef | None = None
