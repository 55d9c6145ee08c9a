"""The lists a member may export, and how their rows are read.

One registry (`EXPORTS`) for every list page: each entry names the list page's own
filter form and selector, so an export holds exactly the rows the page would list, under
the same visibility rules (a salesperson with own visibility exports their own
customers). Columns take their headers from the models' translated field names.

Rows are read as plain values (`values_list`'s SQL on the cursor, converted column by
column: `read_columns`), in keyset pages by id, newest first: no model instance per row,
no OFFSET that slows down with depth, one query per page plus one per joined column (a
party's roles and tags) — so a million rows stream at a steady rate and in flat memory.
"""

import dataclasses
import datetime
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import models
from django.db.models import F, QuerySet, Value
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce, NullIf
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from kehu.activities.forms import InteractionFilterForm
from kehu.activities.models import Interaction, InteractionParty, Task
from kehu.activities.selectors import interactions_visible_to, tasks_visible_to
from kehu.dataio.export_writers import Cell
from kehu.dataio.models import Import
from kehu.dataio.selectors import import_list
from kehu.parties.forms import PartyFilterForm
from kehu.parties.models import Party, PartyRole, PartyRoleKind, PartyTag
from kehu.parties.selectors import party_list
from kehu.pool.forms import PoolFilterForm
from kehu.pool.selectors import pool_parties
from kehu.sales.forms import OrderFilterForm, ProductFilterForm
from kehu.sales.models import Lead, Opportunity, Order, Product
from kehu.sales.pipeline_forms import LeadFilterForm, OpportunityFilterForm
from kehu.sales.pipeline_selectors import lead_list, opportunity_list
from kehu.sales.selectors import order_list, product_list
from kehu.tenancy.models import User

# Rows read per query.
PAGE_ROWS = 5000
JOIN = "、"

# Given a queryset of one page's ids (a subquery, not a list of 5,000 parameters) and
# the lowest and highest of them. The bounds say nothing the subquery does not, but they
# let the database read the joined rows on their index: PostgreSQL otherwise joined the
# subquery to every row of the table, a page at a time (a million parties' roles read
# 200 times over).
Joined = Callable[[QuerySet[Any, int], int, int], Mapping[int, list[str]]]


@dataclass(frozen=True)
class Column:
    """One column: a header, and either a value path (or expression) read with the row,
    or `joined`, values of other rows fetched per page of ids and joined with 、."""

    header: str | Promise
    source: str | Combinable | None = None
    choices: Mapping[Any, Any] | None = None
    joined: Joined | None = None


def field(model: type[models.Model], path: str, header: str | Promise | None = None) -> Column:
    """A column of a model field (through foreign keys: "category__name"), headed by the
    field's translated name, with its choices' labels instead of the stored values."""
    target: Any = None
    current = model
    for part in path.split("__"):
        target = current._meta.get_field(part)
        current = target.related_model or current
    choices = dict(target.flatchoices) if getattr(target, "choices", None) else None
    return Column(header or target.verbose_name, path, choices)


def person(path: str, header: str | Promise) -> Column:
    """A member of staff by name: the display name, else the user name."""
    name = Coalesce(NullIf(F(f"{path}__display_name"), Value("")), F(f"{path}__username"))
    return Column(header, name)


@dataclass(frozen=True)
class ExportList:
    """An exportable list: the page's filter form, its selector and the columns."""

    slug: str
    title: str | Promise
    page: str  # the list page's URL name
    form: type[forms.Form] | None
    select: Callable[[User, Any], QuerySet[Any]]
    columns: tuple[Column, ...]

    def bind(self, data: Mapping[str, Any]) -> forms.Form | None:
        return self.form(data) if self.form is not None else None

    def queryset(self, user: User, form: forms.Form | None) -> QuerySet[Any]:
        return self.select(user, form)

    def headers(self) -> list[str]:
        return [str(c.header) for c in self.columns]

    def rows(
        self, queryset: QuerySet[Any], *, limit: int | None = None
    ) -> Iterator[Sequence[Cell]]:
        """Every row of `queryset`, newest first, as plain cells, read in keyset pages."""
        plain = [c for c in self.columns if c.joined is None]
        sources = [c.source for c in plain if c.source is not None]
        ordered = queryset.order_by("-pk")
        rows = ordered.values_list("pk", *sources)
        labels = [{k: str(v) for k, v in c.choices.items()} if c.choices else None for c in plain]
        joined = [(i, c.joined) for i, c in enumerate(self.columns) if c.joined is not None]
        left = limit
        after: int | None = None
        while left is None or left > 0:
            size = PAGE_ROWS if left is None else min(PAGE_ROWS, left)
            below = ordered if after is None else ordered.filter(pk__lt=after)
            columns = read_columns((rows if after is None else rows.filter(pk__lt=after))[:size])
            if not columns or not columns[0]:
                return
            pks, cells = columns[0], columns[1:]
            for j, label in enumerate(labels):
                if label is not None:
                    cells[j] = list(map(label.get, cells[j], cells[j]))
            ids = below.values_list("pk", flat=True)[:size]
            for i, fetch in joined:
                values = fetch(ids, pks[-1], pks[0])
                cells.insert(i, [JOIN.join(values.get(pk, ())) for pk in pks])
            yield from zip(*cells, strict=True)
            after = pks[-1]
            left = None if left is None else left - len(pks)


def _sqlite_moment(connection: Any) -> Callable[[Any], Any]:
    """SQLite's stored date-time text to an aware datetime, as Django's converter makes
    it but at C speed (`fromisoformat`): two such columns a row are most of a page's
    conversion time otherwise."""
    zone = connection.timezone if settings.USE_TZ else None
    parse = datetime.datetime.fromisoformat

    def convert(value: Any) -> Any:
        if value is None or isinstance(value, datetime.datetime):
            return value
        moment = parse(value)
        return moment.replace(tzinfo=zone) if zone and moment.tzinfo is None else moment

    return convert


def read_columns(page: QuerySet[Any]) -> list[list[Any]]:
    """A `values_list` page's rows as columns, read with the database cursor and each
    column converted as a whole (Django's converters, looked up once per page; SQLite's
    date-times by `_sqlite_moment`), instead of a converter call chain per row."""
    compiler = page.query.get_compiler(using=page.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        return []
    connection = compiler.connection
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    if not fetched:
        return []
    columns = [list(c) for c in zip(*fetched, strict=True)]
    expressions = [s[0] for s in compiler.select]
    for i, (converters, expression) in compiler.get_converters(expressions).items():
        kind = expression.output_field.get_internal_type()
        if connection.vendor == "sqlite" and kind == "DateTimeField":
            columns[i] = list(map(_sqlite_moment(connection), columns[i]))
            continue
        for convert in converters:
            columns[i] = [convert(v, expression, connection) for v in columns[i]]
    return columns


def filters_of(form: forms.Form | None) -> dict[str, Any]:
    """The filters a form applied, as plain JSON values (for the audit record)."""
    if form is None:
        return {}
    chosen = getattr(form, "filters", None)
    if chosen is not None:
        values = dataclasses.asdict(chosen())
    else:
        values = form.cleaned_data if form.is_valid() else {}
    return {k: _plain(v) for k, v in values.items() if v not in (None, "", [])}


def _plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    return value if isinstance(value, int | float | bool | str) else str(value)


# Joined columns: values of other tables, one query per page of rows.


def _party_roles(ids: QuerySet[Any, int], low: int, high: int) -> Mapping[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    labels = {k: str(v) for k, v in PartyRoleKind.choices}
    roles = PartyRole.objects.filter(party_id__gte=low, party_id__lte=high, party_id__in=ids)
    for party_id, role in roles.values_list("party_id", "role"):
        out[party_id].append(labels.get(role, role))
    return out


def _party_tags(ids: QuerySet[Any, int], low: int, high: int) -> Mapping[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    tags = PartyTag.objects.filter(party_id__gte=low, party_id__lte=high, party_id__in=ids)
    named = tags.order_by("tag__name")
    for party_id, name in named.values_list("party_id", "tag__name"):
        out[party_id].append(name)
    return out


def _interaction_parties(ids: QuerySet[Any, int], low: int, high: int) -> Mapping[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    links = InteractionParty.objects.filter(
        interaction_id__gte=low, interaction_id__lte=high, interaction_id__in=ids
    ).order_by("id")
    for interaction_id, name in links.values_list("interaction_id", "party__name"):
        out[interaction_id].append(name)
    return out


# The lists.

_PARTY_COLUMNS = (
    Column(_("编号"), "pk"),
    field(Party, "kind"),
    field(Party, "name"),
    field(Party, "uscc"),
    Column(_("角色"), joined=_party_roles),
    field(Party, "relationship_state"),
    field(Party, "is_direct"),
    field(Party, "industry"),
    field(Party, "source"),
    field(Party, "province"),
    field(Party, "city"),
    person("owner", _("负责人")),
    Column(_("标签"), joined=_party_tags),
    field(Party, "created_at"),
    field(Party, "updated_at"),
)


def _parties(user: User, form: PartyFilterForm) -> QuerySet[Party]:
    return party_list(user, form.filters())


def _pool(user: User, form: PoolFilterForm) -> QuerySet[Party]:
    return pool_parties(user, form.filters())


def _interactions(user: User, form: InteractionFilterForm) -> QuerySet[Interaction]:
    found = interactions_visible_to(user)
    kind = form.kind_filter()
    return found.filter(kind=kind) if kind else found


def _tasks(user: User, form: None) -> QuerySet[Task]:
    return tasks_visible_to(user)


def _orders(user: User, form: OrderFilterForm) -> QuerySet[Order]:
    return order_list(user, form.filters())


def _products(user: User, form: ProductFilterForm) -> QuerySet[Product]:
    return product_list(form.filters())


def _leads(user: User, form: LeadFilterForm) -> QuerySet[Lead]:
    return lead_list(user, form.filters())


def _opportunities(user: User, form: OpportunityFilterForm) -> QuerySet[Opportunity]:
    return opportunity_list(user, form.filters())


def _imports(user: User, form: None) -> QuerySet[Import]:
    return import_list(user)


EXPORT_LIST = [
    ExportList("parties", _("客户档案"), "parties:list", PartyFilterForm, _parties, _PARTY_COLUMNS),
    ExportList("pool", _("公海"), "pool:list", PoolFilterForm, _pool, _PARTY_COLUMNS),
    ExportList(
        "interactions",
        _("互动记录"),
        "activities:interaction_list",
        InteractionFilterForm,
        _interactions,
        (
            Column(_("编号"), "pk"),
            field(Interaction, "occurred_at"),
            field(Interaction, "kind"),
            field(Interaction, "subject"),
            Column(_("客户"), joined=_interaction_parties),
            field(Interaction, "duration_minutes"),
            field(Interaction, "body"),
            person("created_by", _("记录人")),
        ),
    ),
    ExportList(
        "tasks",
        _("任务"),
        "activities:my_tasks",
        None,
        _tasks,
        (
            Column(_("编号"), "pk"),
            field(Task, "title"),
            field(Task, "due_date"),
            field(Task, "status"),
            field(Task, "party__name", _("客户")),
            person("assignee", _("执行人")),
            field(Task, "time_spent_minutes"),
            field(Task, "completed_at"),
            field(Task, "note"),
        ),
    ),
    ExportList(
        "orders",
        _("订单"),
        "sales:order_list",
        OrderFilterForm,
        _orders,
        (
            Column(_("编号"), "pk"),
            field(Order, "number"),
            field(Order, "kind"),
            field(Order, "status"),
            field(Order, "order_date"),
            field(Order, "party__name", _("客户")),
            field(Order, "currency"),
            field(Order, "subtotal"),
            field(Order, "discount"),
            field(Order, "revenue"),
            field(Order, "cost"),
            field(Order, "profit"),
            person("owner", _("销售负责人")),
            field(Order, "external_id"),
            field(Order, "note"),
        ),
    ),
    ExportList(
        "products",
        _("产品"),
        "sales:product_list",
        ProductFilterForm,
        _products,
        (
            field(Product, "code"),
            field(Product, "name"),
            field(Product, "category__name", _("分类")),
            field(Product, "unit"),
            field(Product, "unit_price"),
            field(Product, "unit_cost"),
            field(Product, "currency"),
            field(Product, "is_active"),
            field(Product, "description"),
        ),
    ),
    ExportList(
        "leads",
        _("线索"),
        "sales:lead_list",
        LeadFilterForm,
        _leads,
        (
            Column(_("编号"), "pk"),
            field(Lead, "name"),
            field(Lead, "company"),
            field(Lead, "title"),
            field(Lead, "mobile"),
            field(Lead, "email"),
            field(Lead, "wechat"),
            field(Lead, "region"),
            field(Lead, "source_channel"),
            field(Lead, "campaign"),
            field(Lead, "status"),
            person("owner", _("负责人")),
            field(Lead, "created_at"),
        ),
    ),
    ExportList(
        "opportunities",
        _("商机"),
        "sales:opportunity_list",
        OpportunityFilterForm,
        _opportunities,
        (
            Column(_("编号"), "pk"),
            field(Opportunity, "name"),
            field(Opportunity, "party__name", _("客户")),
            field(Opportunity, "pipeline__name", _("销售流程")),
            field(Opportunity, "stage__name", _("阶段")),
            field(Opportunity, "amount"),
            field(Opportunity, "currency"),
            field(Opportunity, "expected_close_date"),
            field(Opportunity, "source_channel"),
            field(Opportunity, "next_step"),
            field(Opportunity, "closed_on"),
            person("owner", _("负责人")),
        ),
    ),
    ExportList(
        "imports",
        _("导入"),
        "dataio:list",
        None,
        _imports,
        (
            Column(_("编号"), "pk"),
            field(Import, "file_name"),
            field(Import, "target"),
            field(Import, "status"),
            field(Import, "total_rows"),
            person("created_by", _("上传人")),
            field(Import, "created_at"),
            field(Import, "finished_at"),
        ),
    ),
]
EXPORTS = {e.slug: e for e in EXPORT_LIST}
