"""The product catalogue and orders: what each customer bought and what it earned.

An order's totals (revenue, cost, gross profit) are stored on it, computed from its lines
by the services, so that value reports read one table. A return (退货) is an order of
kind "return" pointing at its original; its totals are negative, so that summing a
customer's orders gives what the firm kept.
"""

import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.models import TenantOwned, Timestamped

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from kehu.parties.models import Party

ZERO = Decimal("0.00")


def money_field(label: "StrOrPromise", **options: Any) -> "models.DecimalField[Any, Decimal]":
    """An amount of money: up to 999,999,999,999.99, to the cent."""
    return models.DecimalField(label, max_digits=14, decimal_places=2, **options)


class Currency(models.TextChoices):
    """ISO 4217 codes a Chinese SME invoices in; CNY first and the default."""

    CNY = "CNY", _("人民币")
    USD = "USD", _("美元")
    EUR = "EUR", _("欧元")
    HKD = "HKD", _("港币")
    MOP = "MOP", _("澳门元")
    TWD = "TWD", _("新台币")
    JPY = "JPY", _("日元")
    KRW = "KRW", _("韩元")
    GBP = "GBP", _("英镑")
    SGD = "SGD", _("新加坡元")
    AUD = "AUD", _("澳元")


class ProductCategory(TenantOwned):
    """A group of products; a category may sit under another (办公家具 › 办公椅)."""

    name = models.CharField(_("名称"), max_length=50)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("上级分类"),
    )

    class Meta:
        verbose_name = _("产品分类")
        verbose_name_plural = _("产品分类")
        base_manager_name = "all_tenants"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="category_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Product(TenantOwned, Timestamped):
    code = models.CharField(_("产品编码"), max_length=40)
    name = models.CharField(_("产品名称"), max_length=100)
    category = models.ForeignKey(
        ProductCategory,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="products",
        verbose_name=_("分类"),
    )
    unit = models.CharField(_("单位"), max_length=10, default="件")
    unit_price = money_field(_("单价"), validators=[MinValueValidator(0)])
    unit_cost = money_field(_("单位成本"), default=ZERO, validators=[MinValueValidator(0)])
    currency = models.CharField(
        _("币种"), max_length=3, choices=Currency.choices, default=Currency.CNY
    )
    is_active = models.BooleanField(_("在售"), default=True)
    description = models.TextField(_("说明"), max_length=2000, blank=True)

    class Meta:
        verbose_name = _("产品")
        verbose_name_plural = _("产品")
        base_manager_name = "all_tenants"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "code"], name="product_code_unique"),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0) & Q(unit_cost__gte=0), name="product_money_gte_0"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "is_active", "code"], name="product_active_idx"),
            models.Index(fields=["tenant", "category", "code"], name="product_category_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def margin(self) -> Decimal | None:
        """Gross margin of one unit at list price: (price − cost) / price."""
        if not self.unit_price:
            return None
        return (self.unit_price - self.unit_cost) / self.unit_price


class OrderKind(models.TextChoices):
    ORDER = "order", _("订单")
    RETURN = "return", _("退货")


class OrderStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    CONFIRMED = "confirmed", _("已确认")
    FULFILLED = "fulfilled", _("已完成")
    CANCELLED = "cancelled", _("已取消")


# Orders in these states are sales: they count in totals and make a party a customer.
BOOKED = frozenset({OrderStatus.CONFIRMED, OrderStatus.FULFILLED})
STATUS_MOVES: dict[str, frozenset[str]] = {
    OrderStatus.DRAFT: frozenset({OrderStatus.CONFIRMED, OrderStatus.CANCELLED}),
    OrderStatus.CONFIRMED: frozenset({OrderStatus.FULFILLED, OrderStatus.CANCELLED}),
    OrderStatus.FULFILLED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}


class Order(TenantOwned, Timestamped):
    party = models.ForeignKey(
        "parties.Party", on_delete=models.PROTECT, related_name="orders", verbose_name=_("客户")
    )
    number = models.CharField(_("订单号"), max_length=40, blank=True)
    kind = models.CharField(
        _("类型"), max_length=8, choices=OrderKind.choices, default=OrderKind.ORDER
    )
    original = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="returns",
        verbose_name=_("原订单"),
    )
    status = models.CharField(
        _("状态"), max_length=10, choices=OrderStatus.choices, default=OrderStatus.DRAFT
    )
    order_date = models.DateField(_("下单日期"))
    currency = models.CharField(
        _("币种"), max_length=3, choices=Currency.choices, default=Currency.CNY
    )
    discount = money_field(_("整单折扣"), default=ZERO)
    # Computed from the lines by the services; negative for returns.
    subtotal = money_field(_("小计"), default=ZERO)
    revenue = money_field(_("收入"), default=ZERO)
    cost = money_field(_("成本"), default=ZERO)
    profit = money_field(_("毛利"), default=ZERO)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="sales_orders",
        verbose_name=_("销售负责人"),
    )
    external_id = models.CharField(_("外部编号"), max_length=64, blank=True)
    note = models.TextField(_("备注"), max_length=2000, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("订单")
        verbose_name_plural = _("订单")
        base_manager_name = "all_tenants"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "number"], condition=~Q(number=""), name="order_number_unique"
            ),
            models.UniqueConstraint(
                fields=["tenant", "external_id"],
                condition=~Q(external_id=""),
                name="order_external_id_unique",
            ),
            models.CheckConstraint(condition=Q(discount__gte=0), name="order_discount_gte_0"),
            models.CheckConstraint(
                condition=Q(kind=OrderKind.ORDER, original__isnull=True)
                | Q(kind=OrderKind.RETURN, original__isnull=False),
                name="order_return_has_original",
            ),
        ]
        indexes = [
            # A customer's history, and the value work reading every order of a tenant.
            models.Index(fields=["tenant", "party", "order_date"], name="order_party_date_idx"),
            models.Index(fields=["tenant", "order_date", "id"], name="order_date_idx"),
            models.Index(fields=["tenant", "status", "order_date"], name="order_status_idx"),
            models.Index(fields=["tenant", "owner", "order_date"], name="order_owner_idx"),
            # Export and "updated since" page through this.
            models.Index(fields=["tenant", "updated_at", "id"], name="order_updated_idx"),
        ]

    def __str__(self) -> str:
        return self.number or f"#{self.pk}"

    @property
    def is_return(self) -> bool:
        return self.kind == OrderKind.RETURN

    @property
    def is_booked(self) -> bool:
        return self.status in BOOKED

    @property
    def margin(self) -> Decimal | None:
        """Gross profit as a share of revenue; None when there is no revenue."""
        if not self.revenue:
            return None
        return self.profit / self.revenue


class OrderLine(TenantOwned):
    """One product on an order, with the price and cost as they were on the day."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(_("行号"))
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="order_lines", verbose_name=_("产品")
    )
    quantity = models.DecimalField(_("数量"), max_digits=12, decimal_places=3)
    unit_price = money_field(_("单价"))
    unit_cost = money_field(_("单位成本"))
    discount = money_field(_("行折扣"), default=ZERO)
    # quantity × unit_price − discount, and quantity × unit_cost (positive on returns too).
    amount = money_field(_("金额"))
    cost_amount = money_field(_("成本金额"))

    class Meta:
        verbose_name = _("订单行")
        verbose_name_plural = _("订单行")
        base_manager_name = "all_tenants"
        constraints = [
            models.UniqueConstraint(fields=["order", "position"], name="order_line_position"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_line_quantity_gt_0"),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0) & Q(unit_cost__gte=0) & Q(discount__gte=0),
                name="order_line_money_gte_0",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="order_line_amount_gte_0"),
        ]
        indexes = [models.Index(fields=["tenant", "product"], name="order_line_product_idx")]

    def __str__(self) -> str:
        return f"{self.product_id} × {self.quantity}"


class IdempotencyRecord(TenantOwned):
    """The first answer to a request sent with an `Idempotency-Key` header.

    A client that retries (a timeout, a lost answer) sends the same key and gets the same
    answer, and nothing is written twice. The request's hash tells a replay from a
    different request that reuses the key (an error)."""

    key = models.CharField(max_length=200)
    operation = models.CharField(max_length=100)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        base_manager_name = "all_tenants"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="idempotency_key_unique")
        ]


# --- the daily sales summary (docs/decisions/0013-daily-sales-summary.md) ---------------


class SummaryDimension(models.TextChoices):
    """What a row of the daily sales summary is split by, besides day, currency and rep."""

    OWNER = "owner", _("销售负责人")
    PRODUCT = "product", _("产品")
    CATEGORY = "category", _("产品分类")
    REGION = "region", _("地区")
    CHANNEL = "channel", _("来源渠道")
    NEW = "new", _("新老客户")
    PARTY = "party", _("客户")


def summary_money(label: "StrOrPromise") -> "models.DecimalField[Any, Decimal]":
    # Line shares of an order's revenue have more than two places: summed per day they
    # keep six, so that adding days gives what adding the lines gives, to the cent.
    return models.DecimalField(label, max_digits=20, decimal_places=6, default=ZERO)


def summary_party_join(party_field: str) -> "models.ForeignObject[Any, Any]":
    """The `SummaryParty` of the party in `party_field`, for reads that join it (the
    party's first booked sale): no column, no constraint, nothing to keep."""
    return models.ForeignObject(
        "sales.SummaryParty",
        on_delete=models.DO_NOTHING,
        from_fields=[party_field],
        to_fields=["party"],
        null=True,
        related_name="+",
    )


class DailySales(TenantOwned):
    """Booked orders and returns of one day, currency and rep (the order's owner), split
    by one dimension: nothing more (owner rows), a product, a product category (as the
    product is now: `product_update` computes them again), a region (province and city
    of the party), a channel (the party's source) or how new the party was (`new_within`:
    3 when its first sale was in the same month, 2 the same quarter, 1 the same year, 0
    otherwise). Kept by `kehu.sales.summary`; the reports read it instead of the orders."""

    day = models.DateField()
    # A whole month's rows (day: its first), the sums of its days' rows: a report reads
    # them for the whole months of its range and the days' rows for the rest.
    month = models.BooleanField(default=False)
    currency = models.CharField(max_length=3, choices=Currency.choices)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    dimension = models.CharField(max_length=8, choices=SummaryDimension.choices)
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    category = models.ForeignKey(
        ProductCategory, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    province = models.CharField(max_length=20, blank=True)
    city = models.CharField(max_length=20, blank=True)
    source = models.CharField(max_length=50, blank=True)
    new_within = models.PositiveSmallIntegerField(default=0)
    # Party rows (with the party's province, city and source): the reports of readers
    # who see only some parties (own or team visibility) read them for the parties they
    # see, the party's owner and account team joined when read (decision 0016).
    # The party's id, not a foreign key: its rows follow merges and deletes through the
    # summary's own refresh and heal, like every other row (no merge rule of their own).
    party_key = models.BigIntegerField(null=True, blank=True)
    # A party row's first booked sale, for new vs existing (joined, no column).
    party_summary = summary_party_join("party_key")
    orders = models.PositiveIntegerField(default=0)  # of kind "order", not returns
    quantity = models.DecimalField(max_digits=18, decimal_places=3, default=ZERO)  # products
    revenue = summary_money(_("收入"))
    cost = summary_money(_("成本"))
    profit = summary_money(_("毛利"))

    class Meta:
        base_manager_name = "all_tenants"
        # Reports read a dimension over a range of days, for everyone or one rep; a
        # refresh deletes days (of every dimension). The day index also holds what the
        # rows by period, rep, party and newness read, so those are read off it alone
        # (key columns, not INCLUDE: SQLite has no INCLUDE); the product, category,
        # region and channel rows still read their label columns from the table.
        indexes = [
            models.Index(
                fields=[
                    "tenant",
                    "dimension",
                    "month",
                    "day",
                    "currency",
                    "owner",
                    "party_key",
                    "new_within",
                    "orders",
                    "revenue",
                    "cost",
                    "profit",
                ],
                name="daily_sales_day_idx",
            ),
            models.Index(
                fields=["tenant", "dimension", "owner", "day"], name="daily_sales_owner_idx"
            ),
        ]
        # One row per key: `summary.summary_catch_up` adds pending orders to it (ON CONFLICT).
        constraints = [
            models.UniqueConstraint(
                F("tenant"),
                F("month"),
                F("day"),
                F("dimension"),
                F("currency"),
                F("owner"),
                Coalesce("product", Value(0)),
                Coalesce("category", Value(0)),
                F("province"),
                F("city"),
                F("source"),
                F("new_within"),
                Coalesce("party_key", Value(0)),
                name="daily_sales_key",
            ),
        ]


class SummaryParty(TenantOwned):
    """What the daily summary took from a party with booked orders: where it is, its
    source, whether it is deleted, and its first booked sale. A party that no longer
    matches (edited, deleted, merged …) has its days computed again before a report
    reads them (`kehu.sales.summary.summary_heal`)."""

    party = models.OneToOneField(
        "parties.Party", on_delete=models.CASCADE, related_name="sales_summary"
    )
    province = models.CharField(max_length=20, blank=True)
    city = models.CharField(max_length=20, blank=True)
    source = models.CharField(max_length=50, blank=True)
    deleted = models.BooleanField(default=False)
    first_day = models.DateField(null=True, blank=True)

    class Meta:
        base_manager_name = "all_tenants"


class SummaryPending(TenantOwned):
    """Booked orders that a bulk import created and the daily summary has not taken in
    yet, as a range of consecutive ids: `kehu.sales.summary.summary_catch_up` adds them
    (a task after the import, and every reader and writer of the summary before it reads
    or writes), then deletes the rows."""

    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        base_manager_name = "all_tenants"


# --- pipelines and opportunities (docs/decisions/0005-pipeline.md) ---------------------


class SourceChannel(models.TextChoices):
    """Where a lead or a deal came from: the channels a firm compares (DOMAIN.md §5)."""

    WEB_FORM = "web_form", _("官网表单")
    PHONE = "phone", _("电话咨询")
    EXHIBITION = "exhibition", _("展会")
    REFERRAL = "referral", _("客户推荐")
    ADVERTISING = "advertising", _("网络广告")
    WECHAT = "wechat", _("微信")
    EVENT = "event", _("会议活动")
    OTHER = "other", _("其他")


class Pipeline(TenantOwned, Timestamped):
    """A way of selling (新客户销售, 续约/增购) with its own ordered stages."""

    name = models.CharField(_("名称"), max_length=50)
    is_default = models.BooleanField(_("默认"), default=False)

    class Meta:
        verbose_name = _("销售流程")
        verbose_name_plural = _("销售流程")
        base_manager_name = "all_tenants"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="pipeline_name_unique"),
            models.UniqueConstraint(
                fields=["tenant"], condition=Q(is_default=True), name="pipeline_one_default"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class StageKind(models.TextChoices):
    OPEN = "open", _("进行中")
    WON = "won", _("赢单")
    LOST = "lost", _("输单")


class StageField(models.TextChoices):
    """Fields a stage may require before an opportunity enters it."""

    AMOUNT = "amount", _("金额")
    EXPECTED_CLOSE = "expected_close_date", _("预计成交日期")
    NEXT_STEP = "next_step", _("下一步")
    CONTACT = "contact", _("联系人")
    PRODUCTS = "products", _("产品")


class Stage(TenantOwned):
    pipeline = models.ForeignKey(
        Pipeline, on_delete=models.CASCADE, related_name="stages", verbose_name=_("销售流程")
    )
    name = models.CharField(_("阶段名称"), max_length=50)
    position = models.PositiveSmallIntegerField(_("顺序"))
    probability = models.PositiveSmallIntegerField(_("赢单概率（%）"))
    kind = models.CharField(
        _("类型"), max_length=8, choices=StageKind.choices, default=StageKind.OPEN
    )
    required_fields = models.JSONField(_("进入时必填"), default=list, blank=True)

    class Meta:
        verbose_name = _("销售阶段")
        verbose_name_plural = _("销售阶段")
        base_manager_name = "all_tenants"
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "name"], name="stage_name_unique"),
            models.CheckConstraint(condition=Q(probability__lte=100), name="stage_probability_le"),
        ]
        indexes = [models.Index(fields=["tenant", "pipeline", "position"], name="stage_pos_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.kind == StageKind.OPEN


class LostReason(TenantOwned):
    """One of the firm's reasons a deal is lost (价格, 竞品, 预算取消 …)."""

    name = models.CharField(_("输单原因"), max_length=50)
    position = models.PositiveSmallIntegerField(_("顺序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("输单原因")
        verbose_name_plural = _("输单原因")
        base_manager_name = "all_tenants"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="lost_reason_unique")
        ]

    def __str__(self) -> str:
        return self.name


class PipelineSettings(TenantOwned):
    """The firm's selling settings: when a deal is stale, who gets unmatched leads."""

    stale_days = models.PositiveSmallIntegerField(_("多少天无跟进视为停滞"), default=14)
    default_team = models.ForeignKey(
        "tenancy.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("默认分配团队"),
    )

    class Meta:
        base_manager_name = "all_tenants"
        constraints = [models.UniqueConstraint(fields=["tenant"], name="pipeline_settings_one")]


def cycle_days_of(created_at: datetime.datetime, closed_on: datetime.date) -> int:
    """A closed deal's sales cycle: days from the day it was created (in the firm's time
    zone) to the day it closed; 0 for one closed on a date before it was entered."""
    return max((closed_on - timezone.localdate(created_at)).days, 0)


class Opportunity(TenantOwned, Timestamped):
    """A deal (商机) being worked through a pipeline's stages towards won or lost."""

    name = models.CharField(_("商机名称"), max_length=100)
    party = models.ForeignKey(
        "parties.Party",
        on_delete=models.PROTECT,
        related_name="opportunities",
        verbose_name=_("客户"),
    )
    contact = models.ForeignKey(
        "parties.Party",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("联系人"),
    )
    pipeline = models.ForeignKey(
        Pipeline, on_delete=models.PROTECT, related_name="opportunities", verbose_name=_("销售流程")
    )
    stage = models.ForeignKey(
        Stage, on_delete=models.PROTECT, related_name="opportunities", verbose_name=_("阶段")
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="opportunities",
        verbose_name=_("负责人"),
    )
    amount = money_field(_("金额"), null=True, blank=True, validators=[MinValueValidator(0)])
    currency = models.CharField(
        _("币种"), max_length=3, choices=Currency.choices, default=Currency.CNY
    )
    expected_close_date = models.DateField(_("预计成交日期"), null=True, blank=True)
    next_step = models.CharField(_("下一步"), max_length=200, blank=True)
    competitors: "models.ManyToManyField[Party, OpportunityCompetitor]" = models.ManyToManyField(
        "parties.Party",
        through="OpportunityCompetitor",
        blank=True,
        related_name="+",
        verbose_name=_("竞争对手"),
    )
    competitor_note = models.CharField(_("其他竞争对手"), max_length=200, blank=True)
    source_channel = models.CharField(
        _("来源渠道"), max_length=16, choices=SourceChannel.choices, blank=True
    )
    campaign = models.CharField(_("市场活动"), max_length=100, blank=True)
    lost_reason = models.ForeignKey(
        LostReason,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("输单原因"),
    )
    close_note = models.CharField(_("赢单/输单说明"), max_length=500, blank=True)
    closed_on = models.DateField(_("成交/关闭日期"), null=True, blank=True)
    # Days from the day the deal was created to the day it closed, set as it closes
    # (`cycle_days_of`): what the sales cycle reports group, with no date function a row.
    cycle_days = models.PositiveIntegerField(_("销售周期（天）"), null=True, blank=True)
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The last stage change; the stale flag also reads the party's interactions and tasks.
    stage_changed_at = models.DateTimeField(_("阶段变更时间"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("商机")
        verbose_name_plural = _("商机")
        base_manager_name = "all_tenants"
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gte=0), name="opportunity_amount_gte_0"
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "stage", "id"], name="opportunity_stage_idx"),
            models.Index(fields=["tenant", "owner", "id"], name="opportunity_owner_idx"),
            models.Index(fields=["tenant", "party", "id"], name="opportunity_party_idx"),
            models.Index(
                fields=["tenant", "pipeline", "expected_close_date"], name="opportunity_close_idx"
            ),
            # The board's counts that the kept totals cannot answer (filters, stale, the
            # others' deals a rep sees): read from the index alone, not the wide rows.
            models.Index(
                fields=[
                    "tenant",
                    "pipeline",
                    "stage",
                    "owner",
                    "party",
                    "stage_changed_at",
                    "amount",
                    "currency",  # and the pipeline report's open stages
                ],
                name="opportunity_board_idx",
            ),
            # The closed-deal reports (win rate, lost reasons, sales cycle): a range of
            # close dates grouped from the index alone, not the wide rows.
            models.Index(
                fields=[
                    "tenant",
                    "closed_on",
                    "stage",
                    "owner",
                    "pipeline",
                    "currency",
                    "amount",
                    "cycle_days",
                    "lost_reason",
                    "party",
                ],
                name="opportunity_closed_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class StageTotal(TenantOwned):
    """How many deals a stage holds for one owner and their amount (in cents, exact on
    every database), kept by the deal services in their own transaction
    (`kehu.sales.stage_totals`, docs/decisions/0014-stage-totals.md) so that the board
    does not count and sum a pipeline's deals on every request. Deals of deleted
    parties are in it: the board takes them off when it reads."""

    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="+")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    deals = models.IntegerField(default=0)
    amount_cents = models.BigIntegerField(default=0)

    class Meta:
        base_manager_name = "all_tenants"
        # One row per key: `stage_totals.stage_totals_add` adds to it (ON CONFLICT).
        constraints = [
            models.UniqueConstraint(fields=["tenant", "stage", "owner"], name="stage_total_key")
        ]


class OpportunityLine(TenantOwned):
    """A product the deal would sell; winning the deal orders these lines."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(_("行号"))
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="+", verbose_name=_("产品")
    )
    quantity = models.DecimalField(_("数量"), max_digits=12, decimal_places=3)
    unit_price = money_field(_("单价"))
    discount = money_field(_("行折扣"), default=ZERO)
    amount = money_field(_("金额"))

    class Meta:
        base_manager_name = "all_tenants"
        constraints = [
            models.UniqueConstraint(
                fields=["opportunity", "position"], name="opportunity_line_position"
            )
        ]


class OpportunityCompetitor(TenantOwned):
    """A party with the competitor role that competes for this deal."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="+")
    party = models.ForeignKey("parties.Party", on_delete=models.CASCADE, related_name="+")

    class Meta:
        base_manager_name = "all_tenants"
        constraints = [
            models.UniqueConstraint(fields=["opportunity", "party"], name="competitor_unique")
        ]


class StageMove(TenantOwned):
    """One change of an opportunity's stage: who, when, from where to where."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="moves")
    from_stage = models.ForeignKey(
        Stage, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("原阶段")
    )
    to_stage = models.ForeignKey(
        Stage, on_delete=models.PROTECT, related_name="+", verbose_name=_("新阶段")
    )
    moved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    moved_at = models.DateTimeField(_("时间"))
    # How long the deal had been in `from_stage` when it left it (seconds; none for the
    # first move): what the time-in-stage report averages, with no pairing of moves.
    stayed_seconds = models.FloatField(_("停留时长（秒）"), null=True, blank=True)

    class Meta:
        base_manager_name = "all_tenants"
        indexes = [
            models.Index(fields=["tenant", "opportunity", "-moved_at"], name="stage_move_idx"),
            # The stays that ended in a range, a stage at a time, from the index alone;
            # in order of length, so that a stage's median is read, not sorted.
            models.Index(
                fields=["tenant", "from_stage", "stayed_seconds", "moved_at", "opportunity"],
                name="stage_move_stay_idx",
            ),
        ]


class StageStays(TenantOwned):
    """The stays in a stage that ended on one day (the firm's day, by the move that ended
    them): how many, and their lengths summed in microseconds (whole numbers, exact on
    every database). Kept with each stage move by `kehu.sales.stage_stays` so that the
    time-in-stage report does not count and average a year of moves on every request
    (docs/decisions/0019-stage-stays.md). Stays of deleted parties' deals are in it: the
    report takes them off when it reads."""

    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    stays = models.IntegerField(default=0)
    micros = models.BigIntegerField(default=0)

    class Meta:
        base_manager_name = "all_tenants"
        # One row per key: `stage_stays.stage_stays_add` adds to it (ON CONFLICT).
        constraints = [
            models.UniqueConstraint(fields=["tenant", "stage", "day"], name="stage_stays_key")
        ]


# --- leads -----------------------------------------------------------------------------


class LeadStatus(models.TextChoices):
    NEW = "new", _("新线索")
    WORKING = "working", _("跟进中")
    QUALIFIED = "qualified", _("已确认")
    DISQUALIFIED = "disqualified", _("已废弃")
    CONVERTED = "converted", _("已转化")


class LeadVia(models.TextChoices):
    MANUAL = "manual", _("手工录入")
    API = "api", _("API")
    FORM = "form", _("网页表单")


class Lead(TenantOwned, Timestamped):
    """Someone who may buy (线索), before they are a party in the archive."""

    name = models.CharField(_("姓名"), max_length=50)
    company = models.CharField(_("公司"), max_length=100, blank=True)
    uscc = models.CharField(_("统一社会信用代码"), max_length=18, blank=True)
    title = models.CharField(_("职务"), max_length=50, blank=True)
    mobile = models.CharField(_("手机"), max_length=20, blank=True)
    email = models.EmailField(_("邮箱"), max_length=120, blank=True)
    wechat = models.CharField(_("微信"), max_length=20, blank=True)
    region = models.CharField(_("地区"), max_length=20, blank=True)
    source_channel = models.CharField(
        _("来源渠道"), max_length=16, choices=SourceChannel.choices, default=SourceChannel.OTHER
    )
    campaign = models.CharField(_("市场活动"), max_length=100, blank=True)
    product_interest = models.ForeignKey(
        Product,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("意向产品"),
    )
    note = models.TextField(_("备注"), max_length=2000, blank=True)
    status = models.CharField(
        _("状态"), max_length=14, choices=LeadStatus.choices, default=LeadStatus.NEW
    )
    disqualify_reason = models.CharField(_("废弃原因"), max_length=200, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="leads",
        verbose_name=_("负责人"),
    )
    team = models.ForeignKey(
        "tenancy.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("分配团队"),
    )
    created_via = models.CharField(
        _("录入方式"), max_length=8, choices=LeadVia.choices, default=LeadVia.MANUAL
    )
    web_form = models.ForeignKey(
        "WebForm", null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    converted_party = models.ForeignKey(
        "parties.Party", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    converted_contact = models.ForeignKey(
        "parties.Party", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    converted_opportunity = models.ForeignKey(
        Opportunity, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    converted_at = models.DateTimeField(_("转化时间"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("线索")
        verbose_name_plural = _("线索")
        base_manager_name = "all_tenants"
        indexes = [
            models.Index(fields=["tenant", "status", "id"], name="lead_status_idx"),
            models.Index(fields=["tenant", "owner", "id"], name="lead_owner_idx"),
            models.Index(fields=["tenant", "team", "id"], name="lead_team_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.company}）" if self.company else self.name


class AssignmentRule(TenantOwned):
    """Who gets a new lead: the first active rule, by position, whose region and product
    match (blank matches any) sends it to a person or round robin within a team."""

    position = models.PositiveSmallIntegerField(_("顺序"))
    region = models.CharField(_("地区"), max_length=20, blank=True)
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    team = models.ForeignKey(
        "tenancy.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        base_manager_name = "all_tenants"
        constraints = [
            models.CheckConstraint(
                condition=Q(team__isnull=True, user__isnull=False)
                | Q(team__isnull=False, user__isnull=True),
                name="assignment_rule_one_target",
            )
        ]
        indexes = [models.Index(fields=["tenant", "position"], name="assignment_rule_idx")]


class RoundRobin(TenantOwned):
    """The last member of a team who got a lead; locked (select_for_update) while the
    next one is picked, so that two leads at once never go to the same person."""

    team = models.OneToOneField("tenancy.Team", on_delete=models.CASCADE, related_name="+")
    last_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        base_manager_name = "all_tenants"


class WebForm(TenantOwned, Timestamped):
    """A public lead form a firm embeds on its website (an iframe)."""

    title = models.CharField(_("表单标题"), max_length=100)
    token = models.CharField(max_length=32, unique=True)
    fields = models.JSONField(_("显示的字段"), default=list)
    source_channel = models.CharField(
        _("来源渠道"), max_length=16, choices=SourceChannel.choices, default=SourceChannel.WEB_FORM
    )
    campaign = models.CharField(_("市场活动"), max_length=100, blank=True)
    thank_you = models.CharField(_("提交后显示"), max_length=200, blank=True)
    # The sites that may show the form in an iframe (CSP frame-ancestors); blank: any.
    allowed_origins = models.CharField(_("允许嵌入的网站"), max_length=500, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("线索表单")
        verbose_name_plural = _("线索表单")
        base_manager_name = "all_tenants"

    def __str__(self) -> str:
        return self.title
