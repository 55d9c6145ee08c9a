"""API shapes of customer value (docs/customer-value.md)."""

import datetime
from decimal import Decimal
from typing import Any

from ninja import Field, Schema

from kehu.insights.models import LifecycleStage, ValueTier
from kehu.sales.schemas import Money
from kehu.tenancy.schemas import InSchema, UserRef


class InsightSettingsOut(Schema):
    horizon_months: int = Field(description="预测期（月）")
    annual_discount_rate: Decimal = Field(description="年贴现率（%）")
    default_margin: Decimal = Field(description="无成本数据时的毛利率（%）")
    weight_longevity: int
    weight_scale: int
    weight_efficiency: int
    share_s: int = Field(description="S 类占客户的百分比")
    share_a: int
    share_b: int
    share_c: int = Field(description="其余为 C 类")
    churn_alive_threshold: int = Field(description="存活概率低于此百分比进入挽回名单")
    churn_trend_threshold: int = Field(description="频率或价值下降超过此百分比进入挽回名单")
    winback_due_days: int
    nightly: bool
    task_hours: Decimal = Field(description="每个待办任务的预计工时（资产负债表的服务承诺）")
    staff_hour_cost: Decimal = Field(description="每工时人工成本（元）")


class InsightSettingsIn(InSchema):
    """Every setting (PUT): the defaults are those of GET on a firm that never saved."""

    horizon_months: int = Field(ge=1, le=120)
    annual_discount_rate: Decimal = Field(ge=0, le=100)
    default_margin: Decimal = Field(ge=0, le=100)
    weight_longevity: int = Field(ge=0, le=100)
    weight_scale: int = Field(ge=0, le=100)
    weight_efficiency: int = Field(ge=0, le=100)
    share_s: int = Field(ge=1, le=98)
    share_a: int = Field(ge=1, le=98)
    share_b: int = Field(ge=1, le=98)
    churn_alive_threshold: int = Field(ge=0, le=100)
    churn_trend_threshold: int = Field(ge=0, le=100)
    winback_due_days: int = Field(ge=1, le=90)
    nightly: bool = True
    task_hours: Decimal = Field(default=Decimal(2), ge=0, le=1000)
    staff_hour_cost: Money = Decimal(200)


class RunOut(Schema):
    id: int
    status: str
    progress: int
    as_of: datetime.date
    created_at: datetime.datetime
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    customers_scored: int
    method: str = Field(description="bgnbd，或 rfm（数据太少时的简单规则）")
    parameters: dict[str, Any]
    message: str
    triggered_by: UserRef | None


class ScoreOut(Schema):
    party_id: int
    party_name: str = Field(alias="party.name")
    as_of: datetime.date
    frequency: int
    orders_count: int
    recency_days: int
    tenure_days: int
    revenue_total: Decimal
    profit_total: Decimal = Field(description="既成价值（累计利润）")
    staff_hours: float
    rfm_recency: int
    rfm_frequency: int
    rfm_monetary: int
    p_alive: float
    expected_purchases: float
    expected_profit_per_purchase: Decimal
    current_value: Decimal = Field(description="客户当前价值")
    growth_potential: Decimal = Field(description="客户增值潜力")
    clp: Decimal = Field(description="客户全生命周期利润 = 当前价值 + 增值潜力")
    longevity_score: float
    scale_score: float
    efficiency_score: float
    tier: ValueTier
    lifecycle_stage: LifecycleStage
    inferred_stage: LifecycleStage
    stage_reasons: dict[str, Any]
    frequency_trend: float
    value_trend: float
    churn_risk: float
    is_latest: bool


class TierOut(Schema):
    tier: str
    label: str
    customers: int
    clp: Decimal
    current_value: Decimal
    growth_potential: Decimal


class StageOverrideIn(InSchema):
    stage: LifecycleStage | None = Field(None, description="为空则恢复按模型推断")
    reason: str = Field(min_length=1, max_length=500)


class StageOverrideOut(Schema):
    id: int
    party_id: int
    stage: str
    reason: str
    created_by: UserRef | None
    created_at: datetime.datetime


class WinBackIn(InSchema):
    parties: list[int] = Field(min_length=1, max_length=200)


class WinBackSkipped(Schema):
    party_id: int
    reason: str


class WinBackOut(Schema):
    created_task_ids: list[int]
    skipped: list[WinBackSkipped]
