"""API shapes of the reports. Money is a decimal string in CNY; percentages have one
decimal; hours one decimal."""

import datetime
from decimal import Decimal
from typing import Literal

from ninja import Field, Schema

from kehu.reports.periods import Period, Preset
from kehu.reports.selectors import TOP_DEFAULT, TOP_MAX

By = Literal["period", "rep", "team", "product", "category", "region", "channel"]


class ReportQuery(Schema):
    preset: Preset | None = Field(None, description="时间范围预设；给了 since/until 则以日期为准")
    since: datetime.date | None = Field(None, description="开始日期（含）")
    until: datetime.date | None = Field(None, description="结束日期（含）")
    period: Period = Period.MONTH
    team: int | None = Field(None, description="团队编号：订单负责人所在团队")
    rep: int | None = Field(None, description="销售负责人（员工编号）")


class RevenueQuery(ReportQuery):
    by: By = "period"
    province: str = Field("", max_length=20, description="by=region 时：只看该省，按城市分组")


class EffortQuery(ReportQuery):
    top: int = Field(TOP_DEFAULT, ge=1, le=TOP_MAX)


class FiguresOut(Schema):
    orders: int
    revenue: Decimal
    cost: Decimal
    profit: Decimal
    margin: Decimal | None = Field(description="毛利率 %")


class RevenueRowOut(FiguresOut):
    key: str | None = Field(description="期间开始日、员工/团队/产品/分类编号，或地区、渠道名")
    label: str


class CurrencyOut(FiguresOut):
    currency: str


class RangeOut(Schema):
    since: datetime.date
    until: datetime.date
    currency: str = "CNY"


class RevenueReportOut(RangeOut):
    by: By
    rows: list[RevenueRowOut]
    total: FiguresOut
    other_currencies: list[CurrencyOut] = Field(description="其他币种的合计，未换算、不计入上面")


class CustomerEffortOut(Schema):
    party_id: int
    name: str
    hours: Decimal
    revenue: Decimal
    profit: Decimal
    profit_per_hour: Decimal | None = Field(description="每小时毛利（人效）")


class CustomerEffortReportOut(RangeOut):
    rows: list[CustomerEffortOut]


class SplitOut(Schema):
    start: datetime.date
    label: str
    new_revenue: Decimal
    existing_revenue: Decimal
    new_revenue_share: Decimal | None
    new_profit: Decimal
    existing_profit: Decimal
    new_profit_share: Decimal | None
    new_hours: Decimal
    existing_hours: Decimal
    prospect_hours: Decimal = Field(description="尚未成交的潜在客户上的工时")
    new_hours_share: Decimal | None
    existing_hours_share: Decimal | None


class NewVsExistingReportOut(RangeOut):
    period: Period
    rows: list[SplitOut]
