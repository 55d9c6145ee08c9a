"""API shapes of the pipeline reports. Money is a decimal string in CNY, percentages and
days have one decimal."""

from decimal import Decimal
from typing import Literal

from ninja import Field, Schema

from kehu.reports.schemas import RangeOut, ReportQuery

GroupBy = Literal["period", "rep", "team", "pipeline"]


class PipelineQuery(ReportQuery):
    pipeline: int | None = Field(None, description="销售流程编号；按阶段的报表默认为默认流程")


class GroupedQuery(PipelineQuery):
    by: GroupBy = "period"


class CycleQuery(PipelineQuery):
    by: Literal["period", "rep", "pipeline"] = "period"


class StageRowOut(Schema):
    stage_id: int | None
    stage: str
    kind: str = Field(description="open、won 或 lost")
    probability: int | None = Field(description="赢单概率 %")
    deals: int = Field(description="进行中阶段：今天的商机数；赢单/输单：期间内关闭的")
    amount: Decimal
    weighted: Decimal = Field(description="金额 × 阶段赢单概率")
    other_currency: int = Field(description="其他币种的商机：计数，不计金额")


class PipelineByStageOut(RangeOut):
    pipeline_id: int | None
    pipeline: str
    rows: list[StageRowOut]
    total: StageRowOut = Field(description="进行中阶段的合计")


class WinRateRowOut(Schema):
    key: str | None = Field(description="期间开始日，或员工、团队、流程编号")
    label: str
    won: int
    lost: int
    win_rate: Decimal | None = Field(description="赢单 ÷（赢单 + 输单），%")
    won_amount: Decimal
    lost_amount: Decimal


class WinRateReportOut(RangeOut):
    by: GroupBy
    rows: list[WinRateRowOut]
    total: WinRateRowOut


class LostReasonOut(Schema):
    reason_id: int | None = Field(description="输单原因编号；只写了说明的为空")
    label: str
    deals: int
    share: Decimal | None = Field(description="占输单数 %")
    amount: Decimal


class LostReasonReportOut(RangeOut):
    rows: list[LostReasonOut]
    total: LostReasonOut


class CycleRowOut(Schema):
    key: str | None
    label: str
    deals: int = Field(description="已关闭（赢单或输单）的商机数")
    won: int
    median_days: Decimal | None = Field(description="从创建到关闭的天数：中位数")
    mean_days: Decimal | None
    won_median_days: Decimal | None
    lost_median_days: Decimal | None


class CycleReportOut(RangeOut):
    by: Literal["period", "rep", "pipeline"]
    rows: list[CycleRowOut]
    total: CycleRowOut


class BucketOut(Schema):
    label: str
    min_days: int
    max_days: int | None = Field(description="含；为空表示以上")
    won: int
    lost: int


class CycleDistributionOut(RangeOut):
    rows: list[BucketOut]


class StageTimeOut(Schema):
    stage_id: int
    stage: str
    stays: int = Field(description="离开该阶段（且离开日期在期间内）的次数")
    median_days: Decimal | None
    mean_days: Decimal | None
    current: int = Field(description="现在仍在该阶段的进行中商机数")
    current_mean_days: Decimal | None = Field(description="它们已停留天数的平均")


class TimeInStageOut(RangeOut):
    pipeline_id: int | None
    pipeline: str
    rows: list[StageTimeOut]
