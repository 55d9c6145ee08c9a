"""Logging interactions, creating and closing tasks, and the "my tasks today" page."""

from collections.abc import Iterable

from django.contrib import messages
from django.db.models import Prefetch
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.activities import selectors, services
from kehu.activities.forms import (
    InteractionFilterForm,
    InteractionForm,
    ServiceTimeForm,
    TaskForm,
    TaskStatusForm,
)
from kehu.activities.models import Interaction, InteractionParty
from kehu.core.web import is_htmx, render_page
from kehu.parties.models import Party
from kehu.parties.search import matching_party_ids
from kehu.parties.selectors import COUNT_CAP, capped_count, get_party_for_user, parties_visible_to
from kehu.parties.views import page_number, paginate
from kehu.tenancy.models import User
from kehu.tenancy.views import (
    MemberRequest,
    form_status,
    member_required,
    require,
    safe_next,
    submit,
)

SEARCH_RESULTS = 20


def _ids(values: Iterable[str]) -> list[int]:
    """Party ids from the query string or form; a malformed id is a missing page."""
    try:
        return list(dict.fromkeys(int(v) for v in values))
    except ValueError as exc:
        raise Http404 from exc


def _visible_parties(user: User, ids: list[int]) -> list[Party]:
    """The parties, in the order given; 404 unless the user may see every one of them."""
    found = parties_visible_to(user).in_bulk(ids)
    if len(found) != len(ids):
        raise Http404
    return [found[pk] for pk in ids]


def _search(user: User, query: str, exclude: list[int]) -> list[Party]:
    """Visible parties matching the query, closest match first."""
    if not query.strip():
        return []
    ids = [pk for pk in dict.fromkeys(matching_party_ids(query)) if pk not in exclude]
    found = parties_visible_to(user).in_bulk(ids)
    return [found[pk] for pk in ids if pk in found][:SEARCH_RESULTS]


# Interactions.


@member_required
def interaction_new(request: MemberRequest) -> HttpResponse:
    user = request.user
    require(user.can_write)
    posted = request.method == "POST"
    raw_ids = request.POST.getlist("parties") if posted else request.GET.getlist("party")
    chosen = _visible_parties(user, _ids(raw_ids))
    if posted:
        form = InteractionForm(request.POST)
    else:
        form = InteractionForm(initial={"next": request.GET.get("next", "")})
    interaction = submit(
        form,
        lambda data: services.interaction_log(
            actor=user, parties=chosen, **form.interaction_fields()
        ),
    )
    if interaction is None:
        context = {"nav": "parties", "form": form, "chosen": chosen}
        return render(
            request, "activities/interaction_form.html", context, status=form_status(form)
        )
    messages.success(request, _("已记录互动：%(subject)s") % {"subject": interaction.subject})
    back = safe_next(request, form.cleaned_data["next"])
    return redirect(back or reverse("parties:detail", args=[chosen[0].pk]))


def _interaction_parties(interaction: Interaction) -> list[Party]:
    links = InteractionParty.objects.filter(interaction=interaction).select_related("party")
    return [link.party for link in links.order_by("id")]


@member_required
def interaction_edit(request: MemberRequest, pk: int) -> HttpResponse:
    """Correct a logged interaction (its parties stay); then back where the user came from."""
    interaction = selectors.get_interaction_for_user(request.user, pk, write=True)
    parties = _interaction_parties(interaction)
    if request.method == "POST":
        form = InteractionForm(request.POST, editing=True)
    else:
        initial = {name: getattr(interaction, name) for name in services.INTERACTION_FIELDS}
        initial["occurred_at"] = timezone.localtime(interaction.occurred_at)
        form = InteractionForm(
            initial={**initial, "next": request.GET.get("next", "")}, editing=True
        )
    saved = submit(
        form,
        lambda d: services.interaction_update(
            actor=request.user, interaction=interaction, **form.interaction_fields()
        ),
    )
    if saved is None:
        context = {
            "nav": "interactions",
            "form": form,
            "chosen": parties,
            "interaction": interaction,
        }
        return render(
            request, "activities/interaction_form.html", context, status=form_status(form)
        )
    messages.success(request, _("已保存互动：%(subject)s") % {"subject": saved.subject})
    back = safe_next(request, form.cleaned_data["next"])
    return redirect(back or reverse("parties:detail", args=[parties[0].pk]))


@member_required
@require_POST
def interaction_delete(request: MemberRequest, pk: int) -> HttpResponse:
    interaction = selectors.get_interaction_for_user(request.user, pk, write=True)
    services.interaction_delete(actor=request.user, interaction=interaction)
    messages.success(request, _("已删除互动：%(subject)s") % {"subject": interaction.subject})
    return redirect(safe_next(request, request.POST.get("next")) or "activities:interaction_list")


@member_required
def interaction_list(request: MemberRequest) -> HttpResponse:
    """The interactions the user may see, newest first; by kind if asked."""
    user = request.user
    form = InteractionFilterForm(request.GET)
    interactions = selectors.interactions_visible_to(user)
    if kind := form.kind_filter():
        interactions = interactions.filter(kind=kind)
    links = InteractionParty.objects.select_related("party").order_by("id")
    ordered = (
        interactions.select_related("created_by")
        .prefetch_related(Prefetch("links", queryset=links))
        .order_by("-occurred_at", "-id")
    )
    page = paginate(ordered, page_number(request), capped_count(interactions, COUNT_CAP))
    context = {
        "nav": "interactions",
        "form": form,
        "page": page,
        "editable": selectors.editable_interaction_ids(user, page.rows),
    }
    return render(request, "activities/interaction_list.html", context)


@member_required
def party_search(request: MemberRequest) -> HttpResponse:
    """The party choices of the interaction form: those chosen so far, then matches."""
    chosen = _visible_parties(request.user, _ids(request.GET.getlist("parties")))
    matches = _search(request.user, request.GET.get("q", ""), [p.pk for p in chosen])
    context = {"chosen": chosen, "matches": matches, "query": request.GET.get("q", "")}
    return render(request, "activities/_party_choices.html", context)


# Tasks.


@member_required
def task_new(request: MemberRequest) -> HttpResponse:
    user = request.user
    require(user.can_write)
    data = request.POST if request.method == "POST" else request.GET
    raw_party = data.get("party") or ""
    party = get_party_for_user(user, _ids([raw_party])[0], write=True) if raw_party else None
    if request.method == "POST":
        form = TaskForm(request.POST)
    else:
        form = TaskForm(initial={"assignee": user.pk, "next": request.GET.get("next", "")})
    task = submit(
        form,
        lambda d: services.task_create(
            actor=user,
            title=d["title"],
            note=d["note"],
            due_date=d["due_date"],
            assignee=d["assignee"],
            party=party,
        ),
    )
    if task is None:
        context = {"nav": "tasks", "form": form, "party": party}
        return render(request, "activities/task_form.html", context, status=form_status(form))
    messages.success(request, _("已创建任务：%(title)s") % {"title": task.title})
    back = safe_next(request, form.cleaned_data["next"])
    if back:
        return redirect(back)
    return redirect(reverse("parties:detail", args=[party.pk]) if party else "activities:my_tasks")


@member_required
@require_POST
def task_status(request: MemberRequest, pk: int) -> HttpResponse:
    """Mark a task done, cancelled or open again; htmx gets the task's updated row."""
    task = selectors.get_task_for_user(request.user, pk)
    require(request.user.can_write)
    form = TaskStatusForm(request.POST)
    updated = submit(
        form,
        lambda d: services.task_set_status(
            actor=request.user,
            task=task,
            status=d["status"],
            time_spent_minutes=d["time_spent_minutes"],
        ),
    )
    if updated is None:
        return HttpResponseBadRequest(_("未知的任务状态。"))
    if is_htmx(request):
        context = {"task": updated, "today": timezone.localdate()}
        return render(request, "activities/_task_row.html", context)
    return redirect(safe_next(request, form.cleaned_data["next"]) or "activities:my_tasks")


@member_required
def my_tasks(request: MemberRequest) -> HttpResponse:
    today = timezone.localdate()
    context = {
        "nav": "tasks",
        "today": today,
        "due": selectors.tasks_due(request.user, on=today),
        "upcoming": selectors.tasks_upcoming(request.user, on=today),
    }
    return render_page(
        request, "activities/my_tasks.html", context, fragment="activities/_tasks.html"
    )


# Service time.


@member_required
def service_time_new(request: MemberRequest) -> HttpResponse:
    """Log minutes of work for a party (from its page)."""
    user = request.user
    require(user.can_write)
    data = request.POST if request.method == "POST" else request.GET
    party = get_party_for_user(user, _ids([data.get("party") or ""])[0], write=True)
    if request.method == "POST":
        form = ServiceTimeForm(request.POST)
    else:
        form = ServiceTimeForm(initial={"next": request.GET.get("next", "")})
    entry = submit(
        form,
        lambda d: services.service_time_log(actor=user, party=party, **form.entry_fields()),
    )
    if entry is None:
        context = {"nav": "time", "form": form, "party": party, "entry": None}
        return render(
            request, "activities/service_time_form.html", context, status=form_status(form)
        )
    messages.success(
        request,
        _("已记录 %(n)s 分钟：%(party)s") % {"n": entry.minutes, "party": party.name},
    )
    back = safe_next(request, form.cleaned_data["next"])
    return redirect(back or reverse("parties:detail", args=[party.pk]) + "#effort")


@member_required
def service_time_edit(request: MemberRequest, pk: int) -> HttpResponse:
    entry = selectors.get_service_time_for_user(request.user, pk, write=True)
    if request.method == "POST":
        form = ServiceTimeForm(request.POST)
    else:
        initial = {name: getattr(entry, name) for name in ("worked_on", "minutes", "kind", "note")}
        form = ServiceTimeForm(initial=initial)
    saved = submit(
        form,
        lambda d: services.service_time_update(
            actor=request.user, entry=entry, **form.entry_fields()
        ),
    )
    if saved is None:
        context = {"nav": "time", "form": form, "party": entry.party, "entry": entry}
        return render(
            request, "activities/service_time_form.html", context, status=form_status(form)
        )
    messages.success(request, _("已保存工时记录。"))
    return redirect(safe_next(request, form.cleaned_data["next"]) or "activities:my_time")


@member_required
@require_POST
def service_time_delete(request: MemberRequest, pk: int) -> HttpResponse:
    entry = selectors.get_service_time_for_user(request.user, pk, write=True)
    services.service_time_delete(actor=request.user, entry=entry)
    messages.success(request, _("已删除工时记录。"))
    return redirect(safe_next(request, request.POST.get("next")) or "activities:my_time")


@member_required
def my_time(request: MemberRequest) -> HttpResponse:
    """My hours per month (interactions, tasks, service time) and my service-time log."""
    user = request.user
    since, until = selectors.last_months(selectors.EFFORT_MONTHS)
    months = selectors.staff_effort(user, since=since, until=until)
    entries = (
        selectors.service_times_visible_to(user)
        .filter(user=user)
        .select_related("party")
        .order_by("-worked_on", "-id")
    )
    page = paginate(entries, page_number(request), capped_count(entries, COUNT_CAP))
    context = {
        "nav": "time",
        "months": months,
        "total_hours": selectors.total_hours(months),
        "page": page,
    }
    return render(request, "activities/my_time.html", context)
