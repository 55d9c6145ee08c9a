"""API of the catalogue and of orders: CRUD, returns, bulk import and export.

An order is fetched with `get_order_for_user`, so one whose party the caller may not
see is a 404; a party or product named in a body is looked up the same way. Products
are the firm's catalogue: every member reads them, admins and managers change them.
"""

import base64
import binascii
import datetime
import hashlib
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch, Q, QuerySet, prefetch_related_objects
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Query, Router

from kehu.core.bulk import checkpoint_after, collector_paused
from kehu.core.pagination import Page, page_of
from kehu.parties.selectors import capped_count, get_party_for_user
from kehu.sales import imports, selectors, services
from kehu.sales.models import Order, OrderLine, Product, ProductCategory
from kehu.sales.schemas import (
    CategoryIn,
    CategoryOut,
    ExportPage,
    ExportQuery,
    ImportIn,
    ImportOut,
    LineIn,
    OrderDetailOut,
    OrderIn,
    OrderOut,
    OrderPatch,
    OrderQuery,
    ProductIn,
    ProductOut,
    ProductPatch,
    ProductQuery,
    ReturnIn,
)
from kehu.tenancy.api import staff_ref
from kehu.tenancy.api_auth import api_user, require_manage, require_write
from kehu.tenancy.models import User

router = Router(tags=["sales"])
IDEMPOTENCY_HEADER = "Idempotency-Key"


# --- the catalogue ---------------------------------------------------------------------


@router.get("/product-categories", response=list[CategoryOut])
def list_categories(request: HttpRequest) -> QuerySet[ProductCategory]:
    """Every product category of the firm, by name (a firm has tens, not thousands)."""
    api_user(request)
    return selectors.category_list()


@router.post("/product-categories", response={201: CategoryOut})
def create_category(request: HttpRequest, payload: CategoryIn) -> ProductCategory:
    user = api_user(request)
    require_manage(user)
    parent = _category(payload.parent, "parent") if payload.parent is not None else None
    return services.category_create(actor=user, name=payload.name, parent=parent)


def _category(pk: int, field: str) -> ProductCategory:
    category = ProductCategory.objects.filter(pk=pk).first()
    if category is None:
        raise ValidationError({field: _("没有找到这个分类。")})
    return category


@router.get("/products", response=Page[ProductOut])
def list_products(request: HttpRequest, filters: Query[ProductQuery]) -> dict[str, Any]:
    """The catalogue by code, filtered by code or name, category and whether on sale."""
    api_user(request)
    products = selectors.product_list(
        selectors.ProductFilters(q=filters.q, category_id=filters.category, active=filters.active)
    )
    return page_of(products, filters, capped_count(products))


def _product_fields(changes: dict[str, Any]) -> dict[str, Any]:
    if changes.get("category") is not None:
        changes["category"] = _category(changes["category"], "category")
    return changes


@router.post("/products", response={201: ProductOut})
def create_product(request: HttpRequest, payload: ProductIn) -> Product:
    user = api_user(request)
    require_manage(user)
    return services.product_create(actor=user, **_product_fields(payload.dict()))


@router.get("/products/{int:product_id}", response=ProductOut)
def get_product(request: HttpRequest, product_id: int) -> Product:
    api_user(request)
    return selectors.get_product(product_id)


@router.patch("/products/{int:product_id}", response=ProductOut)
def update_product(request: HttpRequest, product_id: int, payload: ProductPatch) -> Product:
    user = api_user(request)
    product = selectors.get_product(product_id)
    require_manage(user)
    changes = _product_fields(payload.dict(exclude_unset=True))
    return services.product_update(actor=user, product=product, **changes)


@router.delete("/products/{int:product_id}", response={204: None})
def deactivate_product(request: HttpRequest, product_id: int) -> None:
    """Take the product off sale. It stays on past orders; PATCH is_active=true restores."""
    user = api_user(request)
    product = selectors.get_product(product_id)
    require_manage(user)
    services.product_deactivate(actor=user, product=product)


# --- orders ----------------------------------------------------------------------------


def _detail(order: Order) -> Order:
    lines = OrderLine.objects.select_related("product").order_by("position")
    prefetch_related_objects([order], Prefetch("lines", queryset=lines))
    return order


def order_lines_in(payload_lines: list[LineIn]) -> list[services.LineIn]:
    """The body's lines with their products (an id of another firm's product is an error)."""
    found = Product.objects.in_bulk([line.product for line in payload_lines])
    out = []
    for i, line in enumerate(payload_lines):
        product = found.get(line.product)
        if product is None:
            raise ValidationError({f"lines[{i}].product": _("没有找到这个产品。")})
        out.append(
            services.LineIn(product, line.quantity, line.unit_price, line.unit_cost, line.discount)
        )
    return out


@router.get("/orders", response=Page[OrderOut])
def list_orders(request: HttpRequest, filters: Query[OrderQuery]) -> dict[str, Any]:
    """Orders and returns of the parties the caller may see, newest order date first."""
    user = api_user(request)
    if filters.party is not None:
        get_party_for_user(user, filters.party)
    orders = selectors.order_list(
        user,
        selectors.OrderFilters(
            q=filters.q,
            party_id=filters.party,
            status=filters.status or "",
            kind=filters.kind or "",
            owner_id=filters.owner,
            date_from=filters.date_from,
            date_to=filters.date_to,
            updated_since=filters.updated_since,
        ),
    )
    return page_of(orders, filters, capped_count(orders))


@router.post("/orders", response={201: OrderDetailOut})
def create_order(request: HttpRequest, payload: OrderIn) -> Order:
    """A new order with its lines, all or nothing. Prices left out come from the product;
    an error in a line names it: `lines[1].quantity`."""
    user = api_user(request)
    require_write(user)
    party = get_party_for_user(user, payload.party, write=True)
    owner = staff_ref(payload.owner, "owner") if payload.owner is not None else None
    fields = payload.dict(exclude={"party", "lines", "owner"})
    order = services.order_create(
        actor=user, party=party, lines=order_lines_in(payload.lines), owner=owner, **fields
    )
    return _detail(order)


@router.get("/orders/{int:order_id}", response=OrderDetailOut)
def get_order(request: HttpRequest, order_id: int) -> Order:
    return _detail(selectors.get_order_for_user(api_user(request), order_id))


@router.patch("/orders/{int:order_id}", response=OrderDetailOut)
def update_order(request: HttpRequest, order_id: int, payload: OrderPatch) -> Order:
    """Change some fields; `lines`, when sent, replaces every line (drafts and confirmed
    orders without returns only)."""
    user = api_user(request)
    order = selectors.get_order_for_user(user, order_id, write=True)
    changes = payload.dict(exclude_unset=True, exclude={"lines"})
    if "owner" in changes:
        changes["owner"] = staff_ref(changes["owner"], "owner")
    lines = order_lines_in(payload.lines) if payload.lines is not None else None
    return _detail(services.order_update(actor=user, order=order, lines=lines, **changes))


@router.post("/orders/{int:order_id}/confirm", response=OrderDetailOut)
def confirm_order(request: HttpRequest, order_id: int) -> Order:
    """Confirm a draft: it becomes a sale, and a first sale makes the party a customer."""
    user = api_user(request)
    order = selectors.get_order_for_user(user, order_id, write=True)
    return _detail(services.order_confirm(actor=user, order=order))


@router.post("/orders/{int:order_id}/fulfil", response=OrderDetailOut)
def fulfil_order(request: HttpRequest, order_id: int) -> Order:
    user = api_user(request)
    order = selectors.get_order_for_user(user, order_id, write=True)
    return _detail(services.order_fulfil(actor=user, order=order))


@router.post("/orders/{int:order_id}/cancel", response=OrderDetailOut)
def cancel_order(request: HttpRequest, order_id: int) -> Order:
    user = api_user(request)
    order = selectors.get_order_for_user(user, order_id, write=True)
    return _detail(services.order_cancel(actor=user, order=order))


@router.post("/orders/{int:order_id}/returns", response={201: OrderDetailOut})
def create_return(request: HttpRequest, order_id: int, payload: ReturnIn) -> Order:
    """Return some of what a booked order sold: at its price, never more than was bought."""
    user = api_user(request)
    original = selectors.get_order_for_user(user, order_id, write=True)
    found = Product.objects.in_bulk([line.product for line in payload.lines])
    items = []
    for i, line in enumerate(payload.lines):
        product = found.get(line.product)
        if product is None:
            raise ValidationError({f"lines[{i}].product": _("原订单中没有这个产品。")})
        items.append((product, line.quantity))
    order = services.return_create(
        actor=user,
        original=original,
        lines=items,
        order_date=payload.order_date,
        number=payload.number,
        note=payload.note,
    )
    return _detail(order)


# --- bulk ------------------------------------------------------------------------------


def _import_answer(result: imports.ImportResult) -> dict[str, Any]:
    return {
        "created": result.count(imports.CREATED),
        "updated": result.count(imports.UPDATED),
        "unchanged": result.count(imports.UNCHANGED),
        "orders": [{"index": i, **row._asdict()} for i, row in enumerate(result.rows)],
    }


def _json(answer: Any, status: int = 200) -> HttpResponse:
    content = json.dumps(answer, ensure_ascii=False)
    return HttpResponse(content, status=status, content_type="application/json")


def _replay(user: User, key: str, body_hash: str) -> HttpResponse | None:
    record = selectors.idempotency_record_for(key)
    if record is None:
        return None
    if record.request_hash != body_hash or record.operation != "orders.bulk":
        raise ValidationError(_("这个 Idempotency-Key 已用于另一个请求；每个请求请使用新的键。"))
    response = _json(record.response, record.status_code)
    response["Idempotent-Replayed"] = "true"
    return response


@router.post("/orders/bulk", response={200: ImportOut})
def import_orders(request: HttpRequest, payload: ImportIn) -> HttpResponse:
    """Create or update (by `external_id`) up to 5,000 orders, all or none. Send an
    `Idempotency-Key` header to make a retry safe: the same key and body answer the first
    answer again and write nothing; the same key with another body is refused (422)."""
    user = api_user(request)
    require_write(user)
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if len(key) > 200:
        raise ValidationError(_("Idempotency-Key 最长 200 个字符。"))
    body_hash = hashlib.sha256(request.body).hexdigest()
    if key and (replayed := _replay(user, key, body_hash)) is not None:
        return replayed
    with collector_paused():
        checked = imports.orders_check(actor=user, rows=payload.orders)
        with checkpoint_after(), transaction.atomic():
            # Built from plain values (ints and strings), so it is kept and answered as it
            # is: validating thousands of rows against ImportOut again cost a tenth of a
            # batch.
            answer = _import_answer(imports.orders_write(checked))
            if key:
                services.idempotency_record(
                    actor=user,
                    key=key,
                    operation="orders.bulk",
                    request_hash=body_hash,
                    status_code=200,
                    response=answer,
                )
        return _json(answer)


def _cursor_after(cursor: str) -> tuple[datetime.datetime, int] | None:
    if not cursor:
        return None
    try:
        at, _sep, pk = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.datetime.fromisoformat(at), int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError({"cursor": _("游标无效：请使用上一页返回的 next_cursor。")}) from None


def _cursor_of(order: Order) -> str:
    return base64.urlsafe_b64encode(f"{order.updated_at.isoformat()}|{order.pk}".encode()).decode()


@router.get("/orders/export", response=ExportPage)
def export_orders(request: HttpRequest, query: Query[ExportQuery]) -> dict[str, Any]:
    """Every visible order with its lines, by time of last change: follow `next_cursor`
    until it is null. With `updated_since`, only what changed since (incremental sync)."""
    orders = selectors.orders_visible_to(api_user(request))
    if query.updated_since is not None:
        orders = orders.filter(updated_at__gte=query.updated_since)
    after = _cursor_after(query.cursor)
    if after is not None:
        at, pk = after
        orders = orders.filter(Q(updated_at__gt=at) | Q(updated_at=at, pk__gt=pk))
    lines = OrderLine.objects.select_related("product").order_by("position")
    page = list(
        orders.select_related("party", "owner")
        .prefetch_related(Prefetch("lines", queryset=lines))
        .order_by("updated_at", "id")[: query.limit]
    )
    full = len(page) == query.limit
    return {"items": page, "next_cursor": _cursor_of(page[-1]) if full else None}
