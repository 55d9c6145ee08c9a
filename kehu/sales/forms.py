"""Parsing what the catalogue and order pages send. Forms parse; services decide."""

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms import formset_factory
from django.utils.translation import gettext_lazy as _

from kehu.core.forms import set_queryset
from kehu.parties.forms import model_field
from kehu.sales import services
from kehu.sales.models import (
    Currency,
    OpportunityLine,
    Order,
    OrderKind,
    OrderLine,
    OrderStatus,
    Product,
    ProductCategory,
)
from kehu.sales.selectors import OrderFilters, ProductFilters, category_list, products_for_sale
from kehu.tenancy.models import User
from kehu.tenancy.selectors import active_staff


def day_input() -> forms.DateInput:
    """A browser date picker; it takes and gives ISO dates whatever the page's language."""
    return forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})


class ProductFilterForm(forms.Form):
    q = forms.CharField(label=_("搜索"), required=False, max_length=100)
    category: forms.ModelChoiceField[ProductCategory] = forms.ModelChoiceField(
        label=_("分类"), required=False, queryset=None, empty_label=_("全部分类")
    )
    active = forms.ChoiceField(
        label=_("状态"),
        required=False,
        choices=[("", _("全部")), ("1", _("在售")), ("0", _("停售"))],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "category", category_list())

    def filters(self) -> ProductFilters:
        if not self.is_valid():
            return ProductFilters()
        data = self.cleaned_data
        category = data["category"]
        active = {"1": True, "0": False}.get(data["active"])
        return ProductFilters(
            q=data["q"], category_id=category.pk if category else None, active=active
        )


class ProductForm(forms.Form):
    code = model_field(Product, "code")
    name = model_field(Product, "name")
    category: forms.ModelChoiceField[ProductCategory] = forms.ModelChoiceField(
        label=_("分类"), required=False, queryset=None
    )
    unit = model_field(Product, "unit")
    unit_price = model_field(Product, "unit_price")
    unit_cost = model_field(Product, "unit_cost")
    currency = model_field(Product, "currency")
    is_active = model_field(Product, "is_active", required=False)
    description = model_field(Product, "description", required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "category", category_list())


class CategoryForm(forms.Form):
    name = forms.CharField(label=_("分类名称"), max_length=50)
    parent: forms.ModelChoiceField[ProductCategory] = forms.ModelChoiceField(
        label=_("上级分类"), required=False, queryset=None, empty_label=_("（无）")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "parent", category_list())


class OrderFilterForm(forms.Form):
    """The order list's filters; also the query string of a shareable URL."""

    q = forms.CharField(label=_("客户"), required=False, max_length=100)
    status = forms.ChoiceField(
        label=_("状态"), required=False, choices=[("", _("全部状态")), *OrderStatus.choices]
    )
    kind = forms.ChoiceField(
        label=_("类型"), required=False, choices=[("", _("订单和退货")), *OrderKind.choices]
    )
    owner: forms.ModelChoiceField[User] = forms.ModelChoiceField(
        label=_("销售负责人"), required=False, queryset=None, empty_label=_("全部负责人")
    )
    date_from = forms.DateField(label=_("下单日期从"), required=False, widget=day_input())
    date_to = forms.DateField(label=_("至"), required=False, widget=day_input())
    party = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "owner", active_staff())

    def filters(self) -> OrderFilters:
        if not self.is_valid():
            return OrderFilters(party_id=-1)  # a malformed filter shows nothing, not everything
        data = self.cleaned_data
        return OrderFilters(
            q=data["q"],
            party_id=data["party"],
            status=data["status"],
            kind=data["kind"],
            owner_id=data["owner"].pk if data["owner"] else None,
            date_from=data["date_from"],
            date_to=data["date_to"],
        )


class OrderForm(forms.Form):
    """An order's own fields; its lines are a LineFormSet beside it."""

    order_date = model_field(Order, "order_date", widget=day_input())
    status = forms.ChoiceField(
        label=_("状态"),
        choices=[
            (s, OrderStatus(s).label)
            for s in (OrderStatus.DRAFT, OrderStatus.CONFIRMED, OrderStatus.FULFILLED)
        ],
        initial=OrderStatus.CONFIRMED,
    )
    currency = forms.ChoiceField(label=_("币种"), choices=Currency.choices, initial=Currency.CNY)
    discount = model_field(Order, "discount", required=False, min_value=Decimal(0))
    owner: forms.ModelChoiceField[User] = forms.ModelChoiceField(
        label=_("销售负责人"), queryset=None
    )
    number = model_field(Order, "number", required=False, help_text=_("留空则自动编号"))
    note = model_field(Order, "note", required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "owner", active_staff())
        if editing:
            del self.fields["status"]  # an order's status moves by its own buttons

    def service_kwargs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["discount"] = data["discount"] or Decimal(0)
        return data


class LineForm(forms.Form):
    """One line: a product and a quantity; the price defaults to the catalogue's."""

    product: forms.ModelChoiceField[Product] = forms.ModelChoiceField(
        label=_("产品"), queryset=None
    )
    quantity = model_field(OrderLine, "quantity", min_value=Decimal("0.001"))
    unit_price = model_field(OrderLine, "unit_price", required=False, min_value=Decimal(0))
    # No initial value: a blank added row must stay "unchanged" to be skipped.
    discount = model_field(
        OrderLine, "discount", required=False, min_value=Decimal(0), initial=None
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_queryset(self, "product", products_for_sale())
        self.fields["unit_price"].widget.attrs["placeholder"] = _("按目录价")

    def line(self) -> services.LineIn:
        data = self.cleaned_data
        return services.LineIn(
            product=data["product"],
            quantity=data["quantity"],
            unit_price=data["unit_price"],
            discount=data["discount"] or Decimal(0),
        )


class BaseLineFormSet(forms.BaseFormSet):  # type: ignore[type-arg]
    def clean(self) -> None:
        super().clean()
        if not any(form.errors for form in self.forms) and not self.filled():
            raise ValidationError(_("订单至少要有一行。"))

    def filled(self) -> list[LineForm]:
        """The rows to save: the order's own lines and rows filled in, less those ticked
        for removal (blank added rows are skipped)."""
        kept = []
        for i, form in enumerate(self.forms):
            if not isinstance(form, LineForm) or getattr(form, "cleaned_data", {}).get("DELETE"):
                continue
            if i < self.initial_form_count() or form.has_changed():
                kept.append(form)
        return kept


LineFormSet = formset_factory(
    LineForm, formset=BaseLineFormSet, extra=0, max_num=200, can_delete=True
)
ADDED_ROWS = 3  # blank rows a new order starts with


def line_initial(lines: Iterable[OrderLine | OpportunityLine]) -> list[dict[str, Any]]:
    """An order's or an opportunity's lines as the line formset's initial rows."""
    return [
        {
            "product": line.product_id,
            "quantity": line.quantity.normalize(),
            "unit_price": line.unit_price,
            "discount": line.discount or None,
        }
        for line in lines
    ]


def put_line_errors(formset: BaseLineFormSet, exc: ValidationError) -> ValidationError | None:
    """Move a service's `lines[i].field` errors onto the row they belong to; return what
    is left for the order form (None when nothing is)."""
    if not hasattr(exc, "error_dict"):
        return exc
    rows = formset.filled()
    rest: dict[str, list[str]] = {}
    for key, messages in exc.message_dict.items():
        row, _dot, name = key.partition(".")
        if row.startswith("lines[") and row.endswith("]") and row[6:-1].isdigit():
            form = rows[int(row[6:-1])]
            form.add_error(name if name in form.fields else None, messages)
        else:
            rest[key] = messages
    return ValidationError(rest) if rest else None


class ReturnForm(forms.Form):
    """How many of each product of the original order come back."""

    order_date = model_field(Order, "order_date", widget=day_input())
    note = model_field(Order, "note", required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, original: Order, left: dict[int, Decimal], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.products: list[tuple[Product, Decimal, str]] = []
        for line in original.lines.select_related("product").order_by("position"):
            name = f"qty_{line.product_id}"
            if name in self.fields:
                continue
            most = left.get(line.product_id, Decimal(0))
            self.fields[name] = forms.DecimalField(
                label=str(line.product),
                required=False,
                min_value=Decimal(0),
                max_digits=12,
                decimal_places=3,
                help_text=_("可退 %(n)s") % {"n": f"{most.normalize():f}"},
            )
            self.products.append((line.product, most, name))

    def items(self) -> list[tuple[Product, Decimal]]:
        return [
            (product, self.cleaned_data[name])
            for product, _most, name in self.products
            if self.cleaned_data.get(name)
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors and not self.items():
            raise ValidationError(_("请至少填写一种产品的退货数量。"))
        return data
