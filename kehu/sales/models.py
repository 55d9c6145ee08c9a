"""The product catalogue and orders: what each customer bought and what it earned.

An order's totals (revenue, cost, gross profit) are stored on it, computed from its lines
by the services, so that value reports read one table. A return (退货) is an order of
kind "return" pointing at its original; its totals are negative, so that summing a
customer's orders gives what the firm kept.
"""

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kehu.core.models import TenantOwned, Timestamped

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

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
