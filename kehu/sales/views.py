"""The catalogue and order pages: lists, an order's page, create and edit with lines,
status buttons and returns.

Orders are fetched with `get_order_for_user` (404 when the party is not the user's to
see, 403 when the user may not write); a party is fetched with `get_party_for_user`.
Products are read by all staff and changed by admins and managers. Validation errors
answer 422, which base.html tells htmx to swap in like a success.
"""

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.audit import audit_for
from kehu.core.web import add_service_errors, render_page
from kehu.parties.selectors import (
    COUNT_CAP,
    PartyFilters,
    capped_count,
    get_party_for_user,
    party_list,
)
from kehu.parties.views import history_rows, page_number, paginate
from kehu.sales import selectors, services
from kehu.sales.forms import (
    ADDED_ROWS,
    CategoryForm,
    LineFormSet,
    OrderFilterForm,
    OrderForm,
    ProductFilterForm,
    ProductForm,
    ReturnForm,
    line_initial,
    put_line_errors,
)
from kehu.sales.models import STATUS_MOVES, Order, OrderStatus, Product
from kehu.tenancy.views import MemberRequest, form_status, member_required, require, submit

INVALID = 422
# The status a button may move an order to, and what the page then says.
STATUS_BUTTONS = {
    OrderStatus.CONFIRMED: services.order_confirm,
    OrderStatus.FULFILLED: services.order_fulfil,
    OrderStatus.CANCELLED: services.order_cancel,
}


def list_response(
    request: MemberRequest, template: str, fragment: str, context: dict[str, Any]
) -> HttpResponse:
    # htmx asks for the whole page when it restores history it did not cache.
    restoring = request.headers.get("HX-History-Restore-Request") == "true"
    response = render_page(request, template, context, fragment=None if restoring else fragment)
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- the catalogue ---------------------------------------------------------------------


@member_required
def product_list(request: MemberRequest) -> HttpResponse:
    form = ProductFilterForm(request.GET)
    products = selectors.product_list(form.filters())
    page = paginate(products, page_number(request), capped_count(products, COUNT_CAP))
    context = {
        "nav": "products",
        "form": form,
        "page": page,
        "category_form": CategoryForm(auto_id="id_category_%s"),
    }
    return list_response(request, "sales/product_list.html", "sales/_product_results.html", context)


def _product_initial(product: Product) -> dict[str, Any]:
    return {
        name: getattr(product, name) for name in ProductForm.base_fields if name != "category"
    } | {"category": product.category_id}


def _product_form_page(
    request: MemberRequest, form: ProductForm, product: Product | None
) -> HttpResponse:
    context = {"nav": "products", "form": form, "product": product}
    return render(request, "sales/product_form.html", context, status=form_status(form))


@member_required
def product_new(request: MemberRequest) -> HttpResponse:
    require(request.user.can_manage)
    form = ProductForm(
        request.POST if request.method == "POST" else None, initial={"is_active": True}
    )
    if request.method == "POST":
        product = submit(form, lambda data: services.product_create(actor=request.user, **data))
        if product is not None:
            messages.success(request, _("已添加产品「%(name)s」。") % {"name": product.name})
            return redirect("sales:product_list")
    return _product_form_page(request, form, None)


@member_required
def product_edit(request: MemberRequest, pk: int) -> HttpResponse:
    product = selectors.get_product(pk)
    require(request.user.can_manage)
    form = ProductForm(
        request.POST if request.method == "POST" else None, initial=_product_initial(product)
    )
    if request.method == "POST":
        saved = submit(
            form, lambda data: services.product_update(actor=request.user, product=product, **data)
        )
        if saved is not None:
            messages.success(request, _("已保存产品「%(name)s」。") % {"name": saved.name})
            return redirect("sales:product_list")
        product.refresh_from_db()
    return _product_form_page(request, form, product)


@member_required
@require_POST
def category_new(request: MemberRequest) -> HttpResponse:
    require(request.user.can_manage)
    form = CategoryForm(request.POST, auto_id="id_category_%s")
    category = submit(form, lambda data: services.category_create(actor=request.user, **data))
    if category is None:
        messages.error(
            request, "；".join(str(m) for errors in form.errors.values() for m in errors)
        )
    else:
        messages.success(request, _("已添加分类「%(name)s」。") % {"name": category.name})
    return redirect("sales:product_list")


# --- orders ----------------------------------------------------------------------------


@member_required
def order_list(request: MemberRequest) -> HttpResponse:
    form = OrderFilterForm(request.GET)
    filters = form.filters()
    party = get_party_for_user(request.user, filters.party_id) if filters.party_id else None
    orders = selectors.order_list(request.user, filters)
    page = paginate(orders, page_number(request), capped_count(orders, COUNT_CAP))
    context = {"nav": "orders", "form": form, "page": page, "party": party}
    return list_response(request, "sales/order_list.html", "sales/_order_results.html", context)


@member_required
def order_detail(request: MemberRequest, pk: int) -> HttpResponse:
    order = selectors.get_order_for_user(request.user, pk)
    entries = list(audit_for(order)[:50])
    context = {
        "nav": "orders",
        "order": order,
        "lines": order.lines.select_related("product").order_by("position"),
        "returns": order.returns.order_by("order_date", "id"),
        "history": history_rows(entries),
        "moves": sorted(STATUS_MOVES[order.status]),
        "can_write": request.user.can_write,
    }
    return render(request, "sales/order_detail.html", context)


def _order_page(
    request: MemberRequest, form: OrderForm, lines: Any, *, party: Any, order: Order | None
) -> HttpResponse:
    status = INVALID if form.is_bound and (form.errors or not lines.is_valid()) else 200
    context = {"nav": "orders", "form": form, "lines": lines, "party": party, "order": order}
    return render(request, "sales/order_form.html", context, status=status)


def _save_order(form: OrderForm, lines: Any, action: Any) -> Order | None:
    """Run `action(order fields, line inputs)` on valid forms, errors back on their rows."""
    if not (form.is_valid() & lines.is_valid()):
        return None
    try:
        order: Order = action(form.service_kwargs(), [row.line() for row in lines.filled()])
    except ValidationError as exc:
        rest = put_line_errors(lines, exc)
        if rest is not None:
            add_service_errors(form, rest)
        return None
    return order


def party_picker(
    request: MemberRequest, nav: str, pick: str, heading: str, prompt: str
) -> HttpResponse:
    """The page that asks which party a new record is for (a search and its matches)."""
    query = request.GET.get("q", "")
    found = party_list(request.user, PartyFilters(q=query))[:20] if query.strip() else []
    context = {"nav": nav, "query": query, "matches": found, "heading": heading}
    context |= {"prompt": prompt, "pick_url": reverse(pick)}
    return render(request, "sales/order_party.html", context)


def party_choice(request: MemberRequest) -> Any:
    raw = (request.POST if request.method == "POST" else request.GET).get("party", "")
    if not raw.isdigit():
        return None
    return get_party_for_user(request.user, int(raw), write=True)


@member_required
def order_new(request: MemberRequest) -> HttpResponse:
    user = request.user
    require(user.can_write)
    party = party_choice(request)
    if party is None:
        return party_picker(
            request, "orders", "sales:order_new", _("新建订单"), _("先选择下单的客户。")
        )
    posted = request.POST if request.method == "POST" else None
    form = OrderForm(posted, initial={"order_date": timezone.localdate(), "owner": party.owner_id})
    lines = LineFormSet(posted, prefix="lines")
    lines.extra = ADDED_ROWS  # blank rows (not "initial" ones: a blank row is skipped)
    order = None
    if posted is not None:
        order = _save_order(
            form,
            lines,
            lambda data, rows: services.order_create(actor=user, party=party, lines=rows, **data),
        )
    if order is None:
        return _order_page(request, form, lines, party=party, order=None)
    messages.success(request, _("已创建订单 %(number)s。") % {"number": order.number})
    return redirect("sales:order_detail", pk=order.pk)


@member_required
def order_edit(request: MemberRequest, pk: int) -> HttpResponse:
    user = request.user
    order = selectors.get_order_for_user(user, pk, write=True)
    posted = request.POST if request.method == "POST" else None
    initial = {name: getattr(order, name) for name in OrderForm.base_fields if name != "owner"}
    form = OrderForm(posted, initial={**initial, "owner": order.owner_id}, editing=True)
    lines = LineFormSet(
        posted, prefix="lines", initial=line_initial(order.lines.order_by("position"))
    )
    saved = None
    if posted is not None:
        saved = _save_order(
            form,
            lines,
            lambda data, rows: services.order_update(actor=user, order=order, lines=rows, **data),
        )
    if saved is None:
        if posted is not None:
            order.refresh_from_db()
        return _order_page(request, form, lines, party=order.party, order=order)
    messages.success(request, _("已保存订单 %(number)s。") % {"number": saved.number})
    return redirect("sales:order_detail", pk=order.pk)


@member_required
def order_line_row(request: MemberRequest) -> HttpResponse:
    """One more blank line for the order form (htmx), with the form count raised."""
    require(request.user.can_write)
    raw = request.GET.get("lines-TOTAL_FORMS", "")
    if not raw.isdigit() or int(raw) >= 200:
        raise Http404
    index = int(raw)
    form = LineFormSet(prefix="lines").empty_form
    form.prefix = f"lines-{index}"
    return render(request, "sales/_line_row.html", {"row": form, "total": index + 1})


@member_required
@require_POST
def order_status(request: MemberRequest, pk: int) -> HttpResponse:
    order = selectors.get_order_for_user(request.user, pk, write=True)
    move = STATUS_BUTTONS.get(request.POST.get("status", ""))  # type: ignore[call-overload]
    if move is None:
        raise Http404
    try:
        move(actor=request.user, order=order)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        messages.success(
            request, _("订单已改为「%(status)s」。") % {"status": order.get_status_display()}
        )
    return redirect("sales:order_detail", pk=order.pk)


@member_required
def return_new(request: MemberRequest, pk: int) -> HttpResponse:
    user = request.user
    original = selectors.get_order_for_user(user, pk, write=True)
    if original.is_return or not original.is_booked:
        raise Http404
    left = services.returnable(original)
    posted = request.POST if request.method == "POST" else None
    form = ReturnForm(
        posted, original=original, left=left, initial={"order_date": timezone.localdate()}
    )
    returned = submit(
        form,
        lambda data: services.return_create(
            actor=user,
            original=original,
            lines=form.items(),
            order_date=data["order_date"],
            note=data["note"],
        ),
    )
    if returned is None:
        context = {"nav": "orders", "form": form, "original": original}
        return render(request, "sales/return_form.html", context, status=form_status(form))
    messages.success(request, _("已登记退货 %(number)s。") % {"number": returned.number})
    return redirect("sales:order_detail", pk=returned.pk)
