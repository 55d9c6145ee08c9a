"""The customer archive's pages: the list, a party's page with its sections, edit, history.

Each view parses (a form), authorises (`get_party_for_user`: 404 when the party is not
the user's to see, 403 when not theirs to change), calls a service and renders. One
view serves the full page or, for htmx, the fragment it changed. Validation errors
answer 422, which base.html tells htmx to swap in like a success.
"""

import datetime
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from django.apps import apps
from django.contrib import messages
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Q, QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.activities.models import Interaction
from kehu.activities.selectors import (
    EFFORT_MONTHS,
    editable_interaction_ids,
    last_months,
    party_effort,
    party_timeline,
    total_hours,
)
from kehu.core.audit import audit_for
from kehu.core.models import AuditEntry
from kehu.core.web import is_htmx, render_page
from kehu.dataio import duplicates
from kehu.parties import selectors, services
from kehu.parties.forms import (
    AccountTeamForm,
    AddressForm,
    ContactForm,
    ImportantDateForm,
    PartForm,
    PartyCreateForm,
    PartyFilterForm,
    PartyForm,
    PartyLinkForm,
    PreferenceForm,
    RoleForm,
    StateForm,
    TagForm,
)
from kehu.parties.models import Party, PartyKind, PartyLink, Tag
from kehu.parties.selectors import COUNT_CAP, PartyFilters, capped_count, get_party_for_user
from kehu.pool.forms import AssignForm, ReleaseForm
from kehu.sales.pipeline_selectors import party_opportunities
from kehu.sales.selectors import party_sales, recent_orders
from kehu.tenancy.models import User
from kehu.tenancy.views import MemberRequest, member_required, require, submit

PER_PAGE = 50
INVALID = 422
EMPTY = "—"
T = TypeVar("T")


# Pages of a long list.


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows. Past the count cap the last page is unknown ("10,000+")."""

    rows: list[T]
    number: int
    count: int
    exact: bool

    @property
    def count_display(self) -> str:
        """ "1,234" or, past the cap, "10,000+" (grouped the same in every language)."""
        return f"{self.count:,}" + ("" if self.exact else "+")

    @property
    def known_pages(self) -> int:
        return max(1, math.ceil(self.count / PER_PAGE))

    @property
    def has_next(self) -> bool:
        return self.number < self.known_pages or (not self.exact and len(self.rows) == PER_PAGE)

    def numbers(self) -> list[int | None]:
        """Links to the first, last and nearby pages; None where pages are skipped."""
        last = self.known_pages
        near = range(self.number - 2, self.number + 3)
        shown = sorted(n for n in {1, last, *near} if 1 <= n <= last)
        out: list[int | None] = []
        for before, n in zip([0, *shown], shown, strict=False):
            if n - before > 1:
                out.append(None)
            out.append(n)
        return out


def page_number(request: MemberRequest) -> int:
    value = request.GET.get("page", "")
    return max(1, int(value)) if value.isdigit() else 1


def paginate(queryset: QuerySet[Any], number: int, counted: tuple[int, bool]) -> Page[Any]:
    offset = (number - 1) * PER_PAGE
    return Page(list(queryset[offset : offset + PER_PAGE]), number, *counted)


# The list.


@member_required
def party_list(request: MemberRequest) -> HttpResponse:
    form = PartyFilterForm(request.GET)
    parties = selectors.party_list(request.user, form.filters())
    page = paginate(parties, page_number(request), capped_count(parties, COUNT_CAP))
    page = replace(page, rows=selectors.party_rows(page.rows))
    context = {"nav": "parties", "form": form, "page": page}
    # htmx asks for the whole page when it restores history it did not cache.
    restoring = request.headers.get("HX-History-Restore-Request") == "true"
    fragment = None if restoring else "parties/_results.html"
    response = render_page(request, "parties/list.html", context, fragment=fragment)
    patch_vary_headers(response, ["HX-Request"])
    return response


@member_required
def deleted_list(request: MemberRequest) -> HttpResponse:
    """The recycle bin: soft-deleted parties a manager may restore."""
    require(request.user.can_manage)
    parties = (
        selectors.parties_visible_to(request.user, include_deleted=True)
        .filter(deleted_at__isnull=False)
        .select_related("owner", "pool_previous_owner")
        .order_by("-deleted_at", "-id")
    )
    page = paginate(parties, page_number(request), capped_count(parties, COUNT_CAP))
    return render(request, "parties/deleted.html", {"nav": "parties", "page": page})


# Create, edit, delete, restore.


def _kind(request: MemberRequest) -> str:
    kind = request.GET.get("kind", "")
    return kind if kind in PartyKind.values else PartyKind.ORGANISATION


@member_required
def party_new(request: MemberRequest) -> HttpResponse:
    require(request.user.can_write)
    kind = _kind(request)
    form = PartyCreateForm(
        request.POST if request.method == "POST" else None,
        kind=kind,
        can_choose_owner=True,
        initial={"owner": request.user.pk},
    )
    warning = None
    if request.method == "POST":
        # Likely duplicates are shown first; "save anyway" sends allow_duplicate.
        new = duplicates.new_party(kind, form) if form.is_valid() else None
        if new is not None and not request.POST.get("allow_duplicate"):
            warning = duplicates.duplicate_warning(request.user, new)
        party = (
            None
            if warning
            else submit(
                form,
                lambda data: services.party_create(
                    actor=request.user,
                    kind=kind,
                    roles=data["roles"],
                    contacts=form.contacts(),
                    **form.party_fields(),
                ),
            )
        )
        if party is not None:
            if new is not None and request.POST.get("allow_duplicate"):
                duplicates.candidates_after_create(party, new)
            messages.success(request, _("已创建客户「%(name)s」。") % {"name": party.name})
            return redirect("parties:detail", pk=party.pk)
    context = {"nav": "parties", "form": form, "kind": kind, "party": None, "warning": warning}
    return render(request, "parties/form.html", context, status=_status(form))


def _status(form: PartForm | PartyForm | StateForm) -> int:
    return INVALID if form.is_bound and form.errors else 200


def _initial(party: Party) -> dict[str, Any]:
    names = [name for name in PartyForm.base_fields if name != "is_direct"]
    initial = {name: getattr(party, name) for name in names if name != "owner"}
    return {**initial, "owner": party.owner_id, "is_direct": "1" if party.is_direct else "0"}


@member_required
def party_edit(request: MemberRequest, pk: int) -> HttpResponse:
    party = get_party_for_user(request.user, pk, write=True)
    form = PartyForm(
        request.POST if request.method == "POST" else None,
        initial=_initial(party),
        kind=party.kind,
        can_choose_owner=request.user.can_manage,
    )
    if request.method == "POST":
        saved = submit(
            form,
            lambda data: services.party_update(
                actor=request.user, party=party, **form.party_fields()
            ),
        )
        if saved is not None:
            messages.success(request, _("已保存「%(name)s」。") % {"name": saved.name})
            return redirect("parties:detail", pk=party.pk)
        party.refresh_from_db()  # the service may have set the refused values on it
    context = {"nav": "parties", "form": form, "kind": party.kind, "party": party}
    return render(request, "parties/form.html", context, status=_status(form))


@member_required
@require_POST
def party_delete(request: MemberRequest, pk: int) -> HttpResponse:
    party = get_party_for_user(request.user, pk, write=True)
    require(request.user.can_manage)
    services.party_delete(actor=request.user, party=party)
    messages.success(request, _("已删除「%(name)s」，可在回收站恢复。") % {"name": party.name})
    return _go(request, reverse("parties:list"))


def _go(request: MemberRequest, url: str) -> HttpResponse:
    """Redirect; an htmx request is told to load the page rather than swap it in place."""
    if is_htmx(request):
        return HttpResponse(headers={"HX-Redirect": url})
    return redirect(url)


@member_required
@require_POST
def party_restore(request: MemberRequest, pk: int) -> HttpResponse:
    party = get_party_for_user(request.user, pk, write=True, include_deleted=True)
    require(request.user.can_manage)
    if party.deleted_at is None:  # restored already (a second click): nothing to log
        return redirect("parties:detail", pk=party.pk)
    services.party_restore(actor=request.user, party=party)
    messages.success(request, _("已恢复「%(name)s」。") % {"name": party.name})
    return redirect("parties:detail", pk=party.pk)


# A party's page and its sections.


@dataclass(frozen=True)
class Section:
    """A part of the archive that a party has many of, added and removed in place.

    `parts` is where a part is looked up by id: always through the party, so an id of
    another party's (or tenant's) part is a 404."""

    form: type[PartForm]
    parts: Callable[[Party], QuerySet[Any]]
    add: Callable[[User, Party, dict[str, Any]], object]
    remove: Callable[[User, Party, Any], None]


def _links(party: Party) -> QuerySet[PartyLink]:
    return (
        PartyLink.objects.filter(Q(from_party=party) | Q(to_party=party))
        .select_related("from_party", "to_party")
        .order_by("kind", "id")
    )


SECTIONS: dict[str, Section] = {
    "roles": Section(
        RoleForm,
        lambda p: p.roles.order_by("id"),
        lambda a, p, data: services.party_role_add(actor=a, party=p, **data),
        lambda a, p, part: services.party_role_remove(actor=a, party=p, role=part.role),
    ),
    "tags": Section(
        TagForm,
        lambda p: p.party_tags.select_related("tag").order_by("tag__name"),
        lambda a, p, data: services.tag_add(actor=a, party=p, **data),
        lambda a, p, part: services.tag_remove(actor=a, party=p, party_tag=part),
    ),
    "contacts": Section(
        ContactForm,
        lambda p: p.contact_points.order_by("-is_primary", "kind", "id"),
        lambda a, p, data: services.contact_point_add(actor=a, party=p, **data),
        lambda a, p, part: services.contact_point_remove(actor=a, party=p, contact=part),
    ),
    "addresses": Section(
        AddressForm,
        lambda p: p.addresses.order_by("-is_primary", "id"),
        lambda a, p, data: services.address_add(actor=a, party=p, **data),
        lambda a, p, part: services.address_remove(actor=a, party=p, address=part),
    ),
    "links": Section(
        PartyLinkForm,
        _links,
        lambda a, p, data: services.party_link_add(actor=a, **data),
        lambda a, p, part: services.party_link_remove(actor=a, link=part),
    ),
    "team": Section(
        AccountTeamForm,
        lambda p: p.account_team.select_related("user").order_by("id"),
        lambda a, p, data: services.account_team_add(actor=a, party=p, **data),
        lambda a, p, part: services.account_team_remove(actor=a, party=p, member=part),
    ),
    "preferences": Section(
        PreferenceForm,
        lambda p: p.preferences.order_by("category", "id"),
        lambda a, p, data: services.preference_add(actor=a, party=p, **data),
        lambda a, p, part: services.preference_remove(actor=a, party=p, preference=part),
    ),
    "dates": Section(
        ImportantDateForm,
        lambda p: p.important_dates.order_by("date", "id"),
        lambda a, p, data: services.important_date_add(actor=a, party=p, **data),
        lambda a, p, part: services.important_date_remove(actor=a, party=p, important_date=part),
    ),
}
# The sections in the page's body; roles and tags sit in its header.
BODY_SECTIONS = ("contacts", "addresses", "links", "team", "preferences", "dates")


@dataclass(frozen=True)
class SectionView:
    name: str
    rows: QuerySet[Any]
    form: PartForm

    @property
    def template(self) -> str:
        return f"parties/_section_{self.name}.html"


def _section(name: str) -> Section:
    section = SECTIONS.get(name)
    if section is None:
        raise Http404
    return section


def _section_view(
    request: MemberRequest, party: Party, name: str, form: PartForm | None = None
) -> SectionView:
    section = SECTIONS[name]
    form = form or section.form(user=request.user, party=party, section=name)
    return SectionView(name, section.parts(party), form)


def _picker_results(request: MemberRequest, party: Party, query: str) -> list[Party]:
    """Up to ten parties the user may see whose name, pinyin or phone match `query`."""
    if not query.strip():
        return []
    found = selectors.party_list(request.user, PartyFilters(q=query))
    return list(found.exclude(pk=party.pk)[:10])


def _detail_context(
    request: MemberRequest,
    party: Party,
    *,
    bound: PartForm | None = None,
    bound_section: str = "",
    state_form: StateForm | None = None,
) -> dict[str, Any]:
    sections = {
        name: _section_view(request, party, name, bound if name == bound_section else None)
        for name in SECTIONS
    }
    link_query = request.GET.get("link_q", "")
    since, until = last_months(EFFORT_MONTHS)
    effort = party_effort([party.pk], since=since, until=until).get(party.pk, [])
    timeline = party_timeline(party)
    interactions = [item.obj for item in timeline if isinstance(item.obj, Interaction)]
    return {
        "effort": effort,
        "effort_hours": total_hours(effort),
        "nav": "parties",
        "party": party,
        "sections": sections,
        "body_sections": [sections[name] for name in BODY_SECTIONS],
        "state_form": state_form or StateForm(party=party, auto_id="id_state_%s"),
        "timeline": timeline,
        "editable_interactions": editable_interaction_ids(request.user, interactions),
        "sales": party_sales(party.pk),
        "recent_orders": recent_orders(party),
        "deals": party_opportunities(request.user, party.pk),
        "can_create_deal": request.user.can_write,
        "link_query": link_query,
        "picked": _picker_results(request, party, link_query),
        "can_write": request.user.can_write,
        "can_manage": request.user.can_manage,
        # The pool's controls: claim it (anyone who writes) or assign it (managers) while
        # it is in the pool; return it to the pool (managers) while it is not.
        "assign_form": AssignForm(auto_id="id_assign_%s") if party.in_pool else None,
        "release_form": ReleaseForm(auto_id="id_release_%s"),
    }


@member_required
def party_detail(request: MemberRequest, pk: int) -> HttpResponse:
    party = get_party_for_user(request.user, pk)
    return render(request, "parties/detail.html", _detail_context(request, party))


def _section_response(
    request: MemberRequest, party: Party, name: str, form: PartForm | None
) -> HttpResponse:
    """After an add or remove: the section again (htmx) or the page (a plain form post)."""
    failed = form is not None and bool(form.errors)
    if not is_htmx(request):
        if not failed:
            return redirect(reverse("parties:detail", args=[party.pk]) + f"#section-{name}")
        context = _detail_context(request, party, bound=form, bound_section=name)
        return render(request, "parties/detail.html", context, status=INVALID)
    view = _section_view(request, party, name, form if failed else None)
    context = {"party": party, "s": view, "can_write": True, "oob": True}
    return render(request, view.template, context, status=INVALID if failed else 200)


@member_required
@require_POST
def part_add(request: MemberRequest, pk: int, section: str) -> HttpResponse:
    spec = _section(section)
    party = get_party_for_user(request.user, pk, write=True)
    form = spec.form(request.POST, user=request.user, party=party, section=section)
    submit(form, lambda data: spec.add(request.user, party, form.service_kwargs()))
    return _section_response(request, party, section, form)


@member_required
@require_POST
def part_remove(request: MemberRequest, pk: int, section: str, part_pk: int) -> HttpResponse:
    spec = _section(section)
    party = get_party_for_user(request.user, pk, write=True)
    part = get_object_or_404(spec.parts(party), pk=part_pk)
    spec.remove(request.user, party, part)
    return _section_response(request, party, section, None)


@member_required
def link_picker(request: MemberRequest, pk: int) -> HttpResponse:
    party = get_party_for_user(request.user, pk)
    query = request.GET.get("link_q", "")
    context = {
        "party": party,
        "picked": _picker_results(request, party, query),
        "link_query": query,
    }
    return render(request, "parties/_link_picker.html", context)


@member_required
@require_POST
def party_state(request: MemberRequest, pk: int) -> HttpResponse:
    party = get_party_for_user(request.user, pk, write=True)
    form = StateForm(request.POST, party=party, auto_id="id_state_%s")
    change = submit(
        form,
        lambda data: services.party_change_state(
            actor=request.user, party=party, to_state=data["to_state"], reason=data["reason"]
        ),
    )
    if change is None:
        context = _detail_context(request, party, state_form=form)
        return render(request, "parties/detail.html", context, status=INVALID)
    messages.success(
        request,
        _("关系状态已改为「%(state)s」。") % {"state": party.get_relationship_state_display()},
    )
    return redirect("parties:detail", pk=party.pk)


# History.


PART_LABELS = {
    "parties.party": gettext_lazy("客户"),
    "parties.partyrole": gettext_lazy("角色"),
    "parties.partytag": gettext_lazy("标签"),
    "parties.contactpoint": gettext_lazy("联系方式"),
    "parties.address": gettext_lazy("地址"),
    "parties.partylink": gettext_lazy("关系"),
    "parties.accountteammember": gettext_lazy("客户团队"),
    "parties.preference": gettext_lazy("偏好"),
    "parties.importantdate": gettext_lazy("重要日期"),
    "parties.ownershipchange": gettext_lazy("负责人变更"),
}
# Labels for logged values the models leave unnamed, or that are not model fields.
FIELD_LABELS = {
    "reason": gettext_lazy("原因"),
    "from_party": gettext_lazy("关系发起方"),
    "to_party": gettext_lazy("关系对象"),
    "user": gettext_lazy("员工"),
    "tag": gettext_lazy("标签"),
    "lines": gettext_lazy("订单行"),
    "handover_note": gettext_lazy("交接说明"),
}
# Parts whose own name says nothing a reader can use ("PartyTag object (3)").
UNNAMED_PARTS = frozenset({"parties.partytag", "parties.partylink", "parties.accountteammember"})


@dataclass(frozen=True)
class FieldChange:
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class HistoryRow:
    entry: AuditEntry
    what: str
    changes: list[FieldChange]

    @property
    def name(self) -> str:
        return "" if self.entry.object_type in UNNAMED_PARTS else self.entry.object_repr


def _model(label: str) -> type[models.Model] | None:
    try:
        return apps.get_model(label)
    except (LookupError, ValueError):
        return None


def _field(model: type[models.Model] | None, name: str) -> models.Field[Any, Any] | None:
    if model is None:
        return None
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return field if isinstance(field, models.Field) else None


def _names_of(model: type[models.Model], ids: set[int]) -> dict[int, str]:
    """Display names of the users, parties and tags a page of history refers to by id."""
    if issubclass(model, User):
        return {user.pk: str(user) for user in User.objects.filter(pk__in=ids)}
    if issubclass(model, Party):
        return dict(Party.with_deleted.filter(pk__in=ids).values_list("pk", "name"))
    if issubclass(model, Tag):
        return dict(Tag.objects.filter(pk__in=ids).values_list("pk", "name"))
    return {}


def _related(field: models.Field[Any, Any] | None) -> type[models.Model] | None:
    model = field.related_model if field is not None else None
    return model if isinstance(model, type) and issubclass(model, models.Model) else None


def _shown(field: models.Field[Any, Any] | None, value: Any, names: dict[int, str]) -> str:
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if _related(field) is not None:
        return names.get(value, f"#{value}")
    if field is not None and field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(field, models.DateTimeField) and isinstance(value, str):
        at = timezone.localtime(datetime.datetime.fromisoformat(value))
        return date_format(at, "Y-m-d H:i")
    return str(value)


def _names_referred_to(entries: list[AuditEntry]) -> dict[type[models.Model], dict[int, str]]:
    ids: dict[type[models.Model], set[int]] = defaultdict(set)
    for entry in entries:
        model = _model(entry.object_type)
        for name, values in entry.changes.items():
            related = _related(_field(model, name))
            if related is not None:
                ids[related].update(v for v in values if isinstance(v, int))
    return {model: _names_of(model, pks) for model, pks in ids.items()}


def _change(
    model: type[models.Model] | None,
    name: str,
    values: list[Any],
    names: dict[type[models.Model], dict[int, str]],
) -> FieldChange:
    field = _field(model, name)
    related = _related(field)
    known = names.get(related, {}) if related else {}
    label = FIELD_LABELS.get(name) or (field.verbose_name if field is not None else name)
    before, after = (_shown(field, value, known) for value in values)
    return FieldChange(str(label), before, after)


def history_rows(entries: Iterable[AuditEntry]) -> list[HistoryRow]:
    """Audit entries as a person reads them: field labels, choice labels, names not ids;
    fields that were empty before and after (a new record's blanks) are left out."""
    entries = list(entries)
    names = _names_referred_to(entries)
    rows = []
    for entry in entries:
        model = _model(entry.object_type)
        changes = [_change(model, name, values, names) for name, values in entry.changes.items()]
        what = PART_LABELS.get(entry.object_type) or (model._meta.verbose_name if model else "")
        shown = [c for c in changes if (c.before, c.after) != (EMPTY, EMPTY)]
        rows.append(HistoryRow(entry, str(what), shown))
    return rows


@member_required
def party_history(request: MemberRequest, pk: int) -> HttpResponse:
    party = get_party_for_user(request.user, pk)
    entries = audit_for(party)
    page = paginate(entries, page_number(request), capped_count(entries, COUNT_CAP))
    context = {"nav": "parties", "party": party, "page": page, "rows": history_rows(page.rows)}
    return render(request, "parties/history.html", context)
