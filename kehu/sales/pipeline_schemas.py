"""API shapes of pipelines, opportunities, leads, and the forecast."""

import datetime
from decimal import Decimal
from typing import Literal

from ninja import Field, Schema

from kehu.core.pagination import PageParams
from kehu.parties.schemas import PartyRef
from kehu.sales.models import (
    Currency,
    LeadStatus,
    LeadVia,
    SourceChannel,
    StageField,
    StageKind,
)
from kehu.sales.schemas import LineIn, Money, ProductRef
from kehu.tenancy.schemas import InSchema, PatchSchema, UserRef


class StageIn(InSchema):
    name: str = Field(min_length=1, max_length=50)
    probability: int = Field(ge=0, le=100, description="赢单概率（%）")
    kind: StageKind = StageKind.OPEN
    required_fields: list[StageField] = Field(default_factory=list, description="进入时必填")


class StagePatch(PatchSchema):
    name: str | None = Field(None, min_length=1, max_length=50)
    probability: int | None = Field(None, ge=0, le=100)
    required_fields: list[StageField] | None = None


class StageOut(Schema):
    id: int
    name: str
    position: int
    probability: int
    kind: StageKind
    required_fields: list[str]


class PipelineIn(InSchema):
    name: str = Field(min_length=1, max_length=50)
    is_default: bool = False
    stages: list[StageIn] = Field(
        min_length=3, max_length=30, description="进行中的阶段，然后一个赢单和一个输单阶段"
    )


class PipelinePatch(PatchSchema):
    name: str | None = Field(None, min_length=1, max_length=50)
    is_default: bool | None = None


class PipelineOut(Schema):
    id: int
    name: str
    is_default: bool
    stages: list[StageOut]


class LostReasonIn(InSchema):
    name: str = Field(min_length=1, max_length=50)


class LostReasonOut(Schema):
    id: int
    name: str


class OpportunityLineOut(Schema):
    position: int
    product: ProductRef
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal
    amount: Decimal


class StageRef(Schema):
    id: int
    name: str
    kind: StageKind
    probability: int


class OpportunityIn(InSchema):
    party: int = Field(description="客户编号")
    name: str = Field(min_length=1, max_length=100)
    pipeline: int | None = Field(None, description="默认为默认流程")
    stage: int | None = Field(None, description="默认为流程的第一个阶段")
    contact: int | None = Field(None, description="联系人（个人客户档案）编号")
    owner: int | None = Field(None, description="默认为客户负责人")
    amount: Money | None = Field(None, description="留空且有产品时按产品合计")
    currency: Currency = Currency.CNY
    expected_close_date: datetime.date | None = None
    next_step: str = Field("", max_length=200)
    lines: list[LineIn] = Field(default_factory=list, max_length=200)
    competitors: list[int] = Field(default_factory=list, description="竞争对手客户档案编号")
    competitor_note: str = Field("", max_length=200)
    source_channel: SourceChannel | Literal[""] = ""
    campaign: str = Field("", max_length=100)


class OpportunityPatch(PatchSchema):
    name: str | None = Field(None, min_length=1, max_length=100)
    contact: int | None = None
    owner: int | None = None
    amount: Money | None = None
    currency: Currency | None = None
    expected_close_date: datetime.date | None = None
    next_step: str | None = Field(None, max_length=200)
    lines: list[LineIn] | None = Field(None, max_length=200)
    competitors: list[int] | None = None
    competitor_note: str | None = Field(None, max_length=200)
    source_channel: SourceChannel | None = None
    campaign: str | None = Field(None, max_length=100)


class OpportunityOut(Schema):
    id: int
    name: str
    party: PartyRef
    contact_id: int | None
    pipeline_id: int
    stage: StageRef
    owner: UserRef
    amount: Decimal | None
    currency: Currency
    expected_close_date: datetime.date | None
    next_step: str
    source_channel: str
    campaign: str
    competitor_note: str
    lost_reason_id: int | None
    close_note: str
    closed_on: datetime.date | None
    order_id: int | None = Field(description="赢单生成的订单")
    stage_changed_at: datetime.datetime
    created_at: datetime.datetime
    updated_at: datetime.datetime


class OpportunityDetailOut(OpportunityOut):
    lines: list[OpportunityLineOut]
    competitor_ids: list[int]


class OpportunityQuery(PageParams):
    q: str = Field("", max_length=100, description="按客户搜索：名称、拼音、首字母、电话")
    pipeline: int | None = None
    stage: int | None = None
    status: StageKind | None = None
    owner: int | None = None
    team: int | None = None
    party: int | None = None
    stale: bool = Field(False, description="只看停滞的商机（N 天无跟进）")
    close_from: datetime.date | None = None
    close_to: datetime.date | None = None


class MoveIn(InSchema):
    stage: int


class WinIn(InSchema):
    closed_on: datetime.date | None = Field(None, description="默认为今天")
    note: str = Field("", max_length=500)


class LoseIn(InSchema):
    lost_reason: int | None = Field(None, description="输单原因编号")
    note: str = Field("", max_length=500)


class ForecastQuery(Schema):
    by: Literal["month", "owner", "team"] = "month"
    currency: Currency = Currency.CNY


class ForecastRowOut(Schema):
    month: datetime.date
    key: str = Field(description="负责人或团队名称；按月时为空")
    amount: Decimal
    weighted: Decimal = Field(description="金额 × 阶段赢单概率")
    deals: int


class LeadIn(InSchema):
    name: str = Field(min_length=1, max_length=50)
    company: str = Field("", max_length=100)
    uscc: str = Field("", max_length=18)
    title: str = Field("", max_length=50)
    mobile: str = Field("", max_length=20)
    email: str = Field("", max_length=120)
    wechat: str = Field("", max_length=20)
    region: str = Field("", max_length=20)
    source_channel: SourceChannel = SourceChannel.OTHER
    campaign: str = Field("", max_length=100)
    product_interest: int | None = None
    note: str = Field("", max_length=2000)
    owner: int | None = Field(None, description="留空则按分配规则")


class LeadPatch(PatchSchema):
    name: str | None = Field(None, min_length=1, max_length=50)
    company: str | None = Field(None, max_length=100)
    uscc: str | None = Field(None, max_length=18)
    title: str | None = Field(None, max_length=50)
    mobile: str | None = Field(None, max_length=20)
    email: str | None = Field(None, max_length=120)
    wechat: str | None = Field(None, max_length=20)
    region: str | None = Field(None, max_length=20)
    source_channel: SourceChannel | None = None
    campaign: str | None = Field(None, max_length=100)
    product_interest: int | None = None
    note: str | None = Field(None, max_length=2000)


class TeamRef(Schema):
    id: int
    name: str


class LeadOut(Schema):
    id: int
    name: str
    company: str
    uscc: str
    title: str
    mobile: str
    email: str
    wechat: str
    region: str
    source_channel: SourceChannel
    campaign: str
    product_interest_id: int | None
    note: str
    status: LeadStatus
    disqualify_reason: str
    owner: UserRef | None
    team: TeamRef | None
    created_via: LeadVia
    converted_party_id: int | None
    converted_contact_id: int | None
    converted_opportunity_id: int | None
    converted_at: datetime.datetime | None
    created_at: datetime.datetime
    updated_at: datetime.datetime


class LeadQuery(PageParams):
    q: str = Field("", max_length=100, description="姓名、公司、手机或邮箱")
    status: LeadStatus | None = None
    source_channel: SourceChannel | None = None
    owner: int | None = None
    team: int | None = None


class AssignIn(InSchema):
    owner: int | None = Field(None, description="指定负责人")
    team: int | None = Field(None, description="在团队内轮流分配")


class DisqualifyIn(InSchema):
    reason: str = Field(min_length=1, max_length=200)


class ConvertIn(InSchema):
    existing_party: int | None = Field(None, description="关联到已有客户（查重结果之一）")
    create_anyway: bool = Field(False, description="查到可能重复时仍新建客户")
    opportunity_name: str = Field("", max_length=100)
