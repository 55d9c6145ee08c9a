"""API shapes of the catalogue and of orders. Money is a decimal string ("1299.00")."""

import datetime
from decimal import Decimal
from typing import Annotated

from ninja import Field, Schema
from pydantic import BaseModel, ConfigDict, StringConstraints

from kehu.core.pagination import PageParams
from kehu.parties.schemas import PartyRef
from kehu.sales.imports import MAX_BATCH
from kehu.sales.models import Currency, OrderKind, OrderStatus
from kehu.tenancy.schemas import InSchema, PatchSchema, UserRef

Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Quantity = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=3)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
EXPORT_MAX = 5000


class CategoryIn(InSchema):
    name: str = Field(min_length=1, max_length=50)
    parent: int | None = Field(None, description="上级分类编号")


class CategoryOut(Schema):
    id: int
    name: str
    parent_id: int | None


class ProductIn(InSchema):
    code: Code = Field(description="产品编码（SKU），本公司内唯一")
    name: str = Field(min_length=1, max_length=100)
    category: int | None = Field(None, description="分类编号")
    unit: str = Field("件", min_length=1, max_length=10)
    unit_price: Money
    unit_cost: Money = Decimal("0.00")
    currency: Currency = Currency.CNY
    is_active: bool = True
    description: str = Field("", max_length=2000)


class ProductPatch(PatchSchema):
    code: Code | None = None
    name: str | None = Field(None, min_length=1, max_length=100)
    category: int | None = None
    unit: str | None = Field(None, min_length=1, max_length=10)
    unit_price: Money | None = None
    unit_cost: Money | None = None
    currency: Currency | None = None
    is_active: bool | None = None
    description: str | None = Field(None, max_length=2000)


class ProductOut(Schema):
    id: int
    code: str
    name: str
    category: CategoryOut | None
    unit: str
    unit_price: Decimal
    unit_cost: Decimal
    currency: Currency
    is_active: bool
    description: str
    created_at: datetime.datetime
    updated_at: datetime.datetime


class ProductQuery(PageParams):
    q: str = Field("", max_length=100, description="编码开头或名称的任意部分")
    category: int | None = None
    active: bool | None = Field(None, description="true 只看在售，false 只看停售")


class ProductRef(Schema):
    id: int
    code: str
    name: str
    unit: str


class LineIn(InSchema):
    product: int = Field(description="产品编号")
    quantity: Quantity
    unit_price: Money | None = Field(None, description="默认为产品单价")
    unit_cost: Money | None = Field(None, description="默认为产品当前单位成本")
    discount: Money = Field(Decimal("0.00"), description="本行折扣金额")


class LineOut(Schema):
    position: int
    product: ProductRef
    quantity: Decimal
    unit_price: Decimal
    unit_cost: Decimal
    discount: Decimal
    amount: Decimal = Field(description="数量 × 单价 − 行折扣")
    cost_amount: Decimal = Field(description="数量 × 单位成本")


class OrderIn(InSchema):
    party: int = Field(description="客户编号")
    lines: list[LineIn] = Field(min_length=1, max_length=500)
    order_date: datetime.date | None = Field(None, description="默认为今天")
    status: OrderStatus = Field(OrderStatus.DRAFT, description="draft、confirmed 或 fulfilled")
    currency: Currency = Currency.CNY
    discount: Money = Field(Decimal("0.00"), description="整单折扣金额")
    owner: int | None = Field(None, description="销售负责人员工编号；默认为客户负责人")
    number: str = Field("", max_length=40, description="订单号；留空则自动编号")
    external_id: str = Field("", max_length=64, description="外部系统中的编号")
    note: str = Field("", max_length=2000)


class OrderPatch(PatchSchema):
    lines: list[LineIn] | None = Field(None, min_length=1, max_length=500)
    order_date: datetime.date | None = None
    currency: Currency | None = None
    discount: Money | None = None
    owner: int | None = None
    number: str | None = Field(None, min_length=1, max_length=40)
    external_id: str | None = Field(None, max_length=64)
    note: str | None = Field(None, max_length=2000)


class ReturnLineIn(InSchema):
    product: int = Field(description="原订单中的产品编号")
    quantity: Quantity


class ReturnIn(InSchema):
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=500)
    order_date: datetime.date | None = None
    number: str = Field("", max_length=40)
    note: str = Field("", max_length=2000)


class OrderBrief(Schema):
    id: int
    number: str
    kind: OrderKind
    status: OrderStatus
    order_date: datetime.date
    currency: Currency
    revenue: Decimal


class OrderOut(Schema):
    id: int
    number: str
    kind: OrderKind
    original_id: int | None = Field(description="退货单的原订单编号")
    status: OrderStatus
    order_date: datetime.date
    currency: Currency
    party: PartyRef
    owner: UserRef
    discount: Decimal
    subtotal: Decimal = Field(description="行金额合计（退货为负）")
    revenue: Decimal = Field(description="小计 − 整单折扣（退货为负）")
    cost: Decimal
    profit: Decimal = Field(description="毛利 = 收入 − 成本")
    external_id: str
    note: str
    created_at: datetime.datetime
    updated_at: datetime.datetime


class OrderDetailOut(OrderOut):
    lines: list[LineOut]


class OrderQuery(PageParams):
    q: str = Field("", max_length=100, description="按客户搜索：名称、拼音、首字母、电话")
    party: int | None = Field(None, description="客户编号")
    status: OrderStatus | None = None
    kind: OrderKind | None = None
    owner: int | None = Field(None, description="销售负责人员工编号")
    date_from: datetime.date | None = Field(None, description="下单日期不早于")
    date_to: datetime.date | None = Field(None, description="下单日期不晚于")
    updated_since: datetime.datetime | None = Field(None, description="此时间之后修改过")


class ExportQuery(Schema):
    cursor: str = Field("", max_length=200, description="上一页返回的 next_cursor；首页留空")
    limit: int = Field(1000, ge=1, le=EXPORT_MAX)
    updated_since: datetime.datetime | None = Field(None, description="只导出此时间之后修改过的")


class ExportPage(Schema):
    items: list[OrderDetailOut]
    next_cursor: str | None = Field(description="下一页的游标；null 表示已到末尾")


class BulkIn(BaseModel):
    """A bulk request body: plain pydantic, without Ninja's per-object Django wrapper (a
    batch holds thousands of objects; the wrapper cost a fifth of the request)."""

    model_config = ConfigDict(extra="forbid")


class ImportLineIn(BulkIn):
    product_code: Code
    quantity: Quantity
    unit_price: Money | None = None
    unit_cost: Money | None = None
    discount: Money = Decimal("0.00")


class ImportOrderIn(BulkIn):
    party_id: int | None = Field(None, description="客户编号（与 party_uscc 二选一）")
    party_uscc: str = Field("", max_length=18, description="客户的统一社会信用代码")
    external_id: str = Field("", max_length=64, description="外部编号：再次导入时按它更新")
    number: str = Field("", max_length=40)
    status: OrderStatus = OrderStatus.CONFIRMED
    order_date: datetime.date
    currency: Currency = Currency.CNY
    discount: Money = Decimal("0.00")
    owner_id: int | None = None
    note: str = Field("", max_length=2000)
    lines: list[ImportLineIn] = Field(min_length=1, max_length=500)


class ImportIn(BulkIn):
    orders: list[ImportOrderIn] = Field(min_length=1, max_length=MAX_BATCH)


class ImportRowOut(Schema):
    index: int
    id: int
    number: str
    external_id: str
    result: str = Field(description="created、updated 或 unchanged")


class ImportOut(Schema):
    created: int
    updated: int
    unchanged: int
    orders: list[ImportRowOut]
