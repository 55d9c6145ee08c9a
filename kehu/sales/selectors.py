"""Reads of the catalogue and of orders. An order is visible with its party: a user who
may not see the party may not see its orders (404)."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Q, QuerySet, Sum
from django.http import Http404

from kehu.parties.models import Party
from kehu.parties.search import matching_party_ids
from kehu.parties.selectors import parties_visible_to
from kehu.sales.models import (
    BOOKED,
    IdempotencyRecord,
    Order,
    OrderKind,
    Product,
    ProductCategory,
)
from kehu.tenancy.models import User, Visibility


def orders_visible_to(user: User) -> QuerySet[Order]:
    """Orders of the parties `user` may see (never those of deleted parties)."""
    if user.effective_visibility == Visibility.ALL:
        return Order.objects.filter(party__deleted_at__isnull=True)
    return Order.objects.filter(party_id__in=parties_visible_to(user).values("pk"))


def get_order_for_user(user: User, pk: int, *, write: bool = False) -> Order:
    """The order if `user` may see its party (else 404) and, for `write`, change it (else 403)."""
    order = (
        orders_visible_to(user).filter(pk=pk).select_related("party", "owner", "original").first()
    )
    if order is None:
        raise Http404
    if write and not user.can_write:
        raise PermissionDenied
    return order


@dataclass(frozen=True)
class OrderFilters:
    q: str = ""  # the party: any part of its name, pinyin, initials, phone
    party_id: int | None = None
    status: str = ""
    kind: str = ""
    owner_id: int | None = None
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    updated_since: datetime.datetime | None = None
    number: str = ""


def order_list(user: User, filters: OrderFilters) -> QuerySet[Order]:
    """The orders a list page or endpoint shows, newest order date first."""
    orders = orders_visible_to(user)
    if filters.q.strip():
        orders = orders.filter(party_id__in=list(matching_party_ids(filters.q)))
    if filters.party_id:
        orders = orders.filter(party_id=filters.party_id)
    if filters.status:
        orders = orders.filter(status=filters.status)
    if filters.kind:
        orders = orders.filter(kind=filters.kind)
    if filters.owner_id:
        orders = orders.filter(owner_id=filters.owner_id)
    if filters.date_from:
        orders = orders.filter(order_date__gte=filters.date_from)
    if filters.date_to:
        orders = orders.filter(order_date__lte=filters.date_to)
    if filters.updated_since:
        orders = orders.filter(updated_at__gte=filters.updated_since)
    if filters.number.strip():
        orders = orders.filter(number=filters.number.strip())
    return orders.select_related("party", "owner").order_by("-order_date", "-id")


@dataclass(frozen=True)
class PartySales:
    """What a party bought: booked orders and returns, in one currency."""

    orders: int
    returns: int
    revenue: Decimal
    profit: Decimal
    last_order: datetime.date | None


def party_sales(party_id: int, currency: str = "CNY") -> PartySales:
    booked = Order.objects.filter(party_id=party_id, status__in=BOOKED, currency=currency)
    row = booked.aggregate(
        orders=Count("pk", filter=Q(kind=OrderKind.ORDER)),
        returns=Count("pk", filter=Q(kind=OrderKind.RETURN)),
        revenue=Sum("revenue"),
        profit=Sum("profit"),
        last=Max("order_date", filter=Q(kind=OrderKind.ORDER)),
    )
    cents = Decimal("0.01")  # SQLite sums decimals as floats
    return PartySales(
        row["orders"],
        row["returns"],
        (row["revenue"] or Decimal(0)).quantize(cents),
        (row["profit"] or Decimal(0)).quantize(cents),
        row["last"],
    )


def products_for_sale() -> QuerySet[Product]:
    return Product.objects.filter(is_active=True).order_by("code")


@dataclass(frozen=True)
class ProductFilters:
    q: str = ""  # code prefix or part of the name
    category_id: int | None = None
    active: bool | None = None


def product_list(filters: ProductFilters) -> QuerySet[Product]:
    """Products are the firm's catalogue: every member of staff may read it."""
    products = Product.objects.all()
    if filters.q.strip():
        q = filters.q.strip()
        products = products.filter(Q(code__istartswith=q) | Q(name__icontains=q))
    if filters.category_id:
        products = products.filter(category_id=filters.category_id)
    if filters.active is not None:
        products = products.filter(is_active=filters.active)
    return products.select_related("category").order_by("code")


def get_product(pk: int) -> Product:
    product = Product.objects.filter(pk=pk).select_related("category").first()
    if product is None:
        raise Http404
    return product


def category_list() -> QuerySet[ProductCategory]:
    return ProductCategory.objects.select_related("parent").order_by("name")


def idempotency_record_for(key: str) -> IdempotencyRecord | None:
    """The kept answer to an earlier request with this `Idempotency-Key` (per firm)."""
    return IdempotencyRecord.objects.filter(key=key).first()


def recent_orders(party: Party, limit: int = 10) -> QuerySet[Order]:
    """A party's latest orders and returns, for its page (the party is already visible)."""
    return Order.objects.filter(party=party).order_by("-order_date", "-id")[:limit]
