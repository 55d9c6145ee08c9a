"""API of interactions, tasks and a party's timeline.

A party named anywhere (path, query or body) is fetched with `get_party_for_user`, so
one the caller may not see is a 404, whichever way it is named.
"""

from typing import Any

from django.db.models import Prefetch, QuerySet, prefetch_related_objects
from django.http import HttpRequest
from ninja import Query, Router

from kehu.activities import services
from kehu.activities.models import Interaction, InteractionParty, ServiceTime, Task
from kehu.activities.schemas import (
    EffortOut,
    EffortQuery,
    InteractionIn,
    InteractionOut,
    InteractionPatch,
    InteractionQuery,
    ServiceTimeIn,
    ServiceTimeOut,
    ServiceTimePatch,
    ServiceTimeQuery,
    TaskIn,
    TaskOut,
    TaskPatch,
    TaskQuery,
    TaskStatusIn,
    TimelineItemOut,
    TimelineQuery,
)
from kehu.activities.selectors import (
    TimelineItem,
    get_interaction_for_user,
    get_service_time_for_user,
    get_task_for_user,
    interactions_visible_to,
    last_months,
    party_effort,
    party_timeline,
    service_times_visible_to,
    tasks_due,
    tasks_visible_to,
)
from kehu.core.pagination import Page, PageParams, page_of
from kehu.parties.selectors import capped_count, get_party_for_user
from kehu.tenancy.api import staff_ref
from kehu.tenancy.api_auth import api_user, require_manage, require_write

router = Router()

# Where each kind of timeline event goes in TimelineItemOut.
TIMELINE_SLOTS = {
    "interaction": "interaction",
    "state": "state_change",
    "task": "task",
    "order": "order",
    "deal": "deal",
    "service_time": "service_time",
    "ownership": "ownership",
}


def _with_parties(interactions: QuerySet[Interaction]) -> QuerySet[Interaction]:
    links = InteractionParty.objects.select_related("party").order_by("id")
    return interactions.select_related("created_by").prefetch_related(
        Prefetch("links", queryset=links)
    )


@router.get("/interactions", response=Page[InteractionOut], tags=["interactions"])
def list_interactions(request: HttpRequest, query: Query[InteractionQuery]) -> dict[str, Any]:
    """Calls, visits, meetings … with parties the caller may see, newest first."""
    user = api_user(request)
    interactions = interactions_visible_to(user)
    if query.party is not None:
        party = get_party_for_user(user, query.party)
        interactions = interactions.filter(links__party=party)
    ordered = _with_parties(interactions).order_by("-occurred_at", "-id")
    return page_of(ordered, query, capped_count(interactions))


@router.post("/interactions", response={201: InteractionOut}, tags=["interactions"])
def log_interaction(request: HttpRequest, payload: InteractionIn) -> Interaction:
    """Record an interaction; it lands on the timeline of every party named."""
    user = api_user(request)
    require_write(user)
    parties = [get_party_for_user(user, pk, write=True) for pk in dict.fromkeys(payload.party_ids)]
    interaction = services.interaction_log(
        actor=user, parties=parties, **payload.dict(exclude={"party_ids"})
    )
    return _interaction_out(interaction)


def _interaction_out(interaction: Interaction) -> Interaction:
    links = InteractionParty.objects.select_related("party").order_by("id")
    prefetch_related_objects([interaction], Prefetch("links", queryset=links))
    return interaction


@router.get("/interactions/{int:interaction_id}", response=InteractionOut, tags=["interactions"])
def get_interaction(request: HttpRequest, interaction_id: int) -> Interaction:
    return _interaction_out(get_interaction_for_user(api_user(request), interaction_id))


@router.patch("/interactions/{int:interaction_id}", response=InteractionOut, tags=["interactions"])
def update_interaction(
    request: HttpRequest, interaction_id: int, payload: InteractionPatch
) -> Interaction:
    """Correct an interaction: your own, or anyone's if you are a manager, when you see
    every party it involves."""
    user = api_user(request)
    interaction = get_interaction_for_user(user, interaction_id, write=True)
    changes = payload.dict(exclude_unset=True)
    return _interaction_out(
        services.interaction_update(actor=user, interaction=interaction, **changes)
    )


@router.delete("/interactions/{int:interaction_id}", response={204: None}, tags=["interactions"])
def delete_interaction(request: HttpRequest, interaction_id: int) -> None:
    """Remove it from the timeline of every party involved (their history keeps it)."""
    user = api_user(request)
    interaction = get_interaction_for_user(user, interaction_id, write=True)
    services.interaction_delete(actor=user, interaction=interaction)


@router.get("/tasks", response=Page[TaskOut], tags=["tasks"])
def list_tasks(request: HttpRequest, query: Query[TaskQuery]) -> dict[str, Any]:
    """Tasks assigned to the caller or about parties the caller may see, by due date."""
    user = api_user(request)
    tasks = tasks_visible_to(user)
    if query.mine:
        tasks = tasks.filter(assignee=user)
    if query.status is not None:
        tasks = tasks.filter(status=query.status)
    if query.due_before is not None:
        tasks = tasks.filter(due_date__lte=query.due_before)
    if query.party is not None:
        tasks = tasks.filter(party=get_party_for_user(user, query.party))
    ordered = tasks.select_related("assignee", "party").order_by("due_date", "id")
    return page_of(ordered, query, capped_count(tasks))


@router.get("/tasks/today", response=Page[TaskOut], tags=["tasks"])
def tasks_today(request: HttpRequest, page: Query[PageParams]) -> dict[str, Any]:
    """The caller's open tasks due today or overdue, earliest first."""
    tasks = tasks_due(api_user(request)).select_related("assignee")
    return page_of(tasks, page, capped_count(tasks))


@router.post("/tasks", response={201: TaskOut}, tags=["tasks"])
def create_task(request: HttpRequest, payload: TaskIn) -> Task:
    user = api_user(request)
    require_write(user)
    assignee = staff_ref(payload.assignee, "assignee") if payload.assignee is not None else None
    party = get_party_for_user(user, payload.party, write=True) if payload.party else None
    return services.task_create(
        actor=user,
        title=payload.title,
        note=payload.note,
        due_date=payload.due_date,
        assignee=assignee,
        party=party,
    )


@router.get("/tasks/{int:task_id}", response=TaskOut, tags=["tasks"])
def get_task(request: HttpRequest, task_id: int) -> Task:
    return get_task_for_user(api_user(request), task_id)


@router.patch("/tasks/{int:task_id}", response=TaskOut, tags=["tasks"])
def update_task(request: HttpRequest, task_id: int, payload: TaskPatch) -> Task:
    """Change the title, note, due date or assignee; leave out the ones to keep."""
    user = api_user(request)
    task = get_task_for_user(user, task_id)
    require_write(user)
    changes = payload.dict(exclude_unset=True)
    if "assignee" in changes:
        changes["assignee"] = staff_ref(changes["assignee"], "assignee")
    return services.task_update(actor=user, task=task, **changes)


@router.post("/tasks/{int:task_id}/status", response=TaskOut, tags=["tasks"])
def set_task_status(request: HttpRequest, task_id: int, payload: TaskStatusIn) -> Task:
    """Mark a task done, cancelled, or open again."""
    user = api_user(request)
    task = get_task_for_user(user, task_id)
    require_write(user)
    return services.task_set_status(actor=user, task=task, **payload.dict())


def _timeline_entry(item: TimelineItem) -> dict[str, Any]:
    entry: dict[str, Any] = {"at": item.at, "kind": item.kind}
    slot = TIMELINE_SLOTS.get(item.kind)
    if slot is not None:
        entry[slot] = item.obj
    else:  # "created": the audit entry of the party's creation
        entry["created_by"] = getattr(item.obj, "actor", None)
    return entry


@router.get("/parties/{int:party_id}/timeline", response=list[TimelineItemOut], tags=["parties"])
def party_timeline_view(
    request: HttpRequest, party_id: int, query: Query[TimelineQuery]
) -> list[dict[str, Any]]:
    """Interactions, state changes, tasks, orders, won and lost opportunities, service
    time, owner changes and the record's creation, newest first."""
    party = get_party_for_user(api_user(request), party_id)
    return [_timeline_entry(item) for item in party_timeline(party, limit=query.limit)]


# Service time and effort.


@router.get("/service-times", response=Page[ServiceTimeOut], tags=["effort"])
def list_service_times(request: HttpRequest, query: Query[ServiceTimeQuery]) -> dict[str, Any]:
    """Service time on parties the caller may see (and the caller's own), newest day first."""
    user = api_user(request)
    entries = service_times_visible_to(user)
    if query.party is not None:
        entries = entries.filter(party=get_party_for_user(user, query.party))
    if query.user is not None:
        entries = entries.filter(user_id=query.user)
    if query.since is not None:
        entries = entries.filter(worked_on__gte=query.since)
    if query.until is not None:
        entries = entries.filter(worked_on__lte=query.until)
    ordered = entries.select_related("party", "user").order_by("-worked_on", "-id")
    return page_of(ordered, query, capped_count(entries))


@router.post("/service-times", response={201: ServiceTimeOut}, tags=["effort"])
def log_service_time(request: HttpRequest, payload: ServiceTimeIn) -> ServiceTime:
    """Log minutes of work for a party; by the caller unless `user` names a colleague."""
    user = api_user(request)
    require_write(user)
    party = get_party_for_user(user, payload.party, write=True)
    worker = None
    if payload.user is not None and payload.user != user.pk:
        require_manage(user)  # only a manager logs a colleague's time
        worker = staff_ref(payload.user, "user")
    fields = payload.dict(exclude={"party", "user"}, exclude_none=True)
    return services.service_time_log(actor=user, party=party, user=worker, **fields)


@router.get("/service-times/{int:entry_id}", response=ServiceTimeOut, tags=["effort"])
def get_service_time(request: HttpRequest, entry_id: int) -> ServiceTime:
    return get_service_time_for_user(api_user(request), entry_id)


@router.patch("/service-times/{int:entry_id}", response=ServiceTimeOut, tags=["effort"])
def update_service_time(
    request: HttpRequest, entry_id: int, payload: ServiceTimePatch
) -> ServiceTime:
    """Correct an entry: your own, or anyone's if you are a manager."""
    user = api_user(request)
    entry = get_service_time_for_user(user, entry_id, write=True)
    return services.service_time_update(actor=user, entry=entry, **payload.dict(exclude_unset=True))


@router.delete("/service-times/{int:entry_id}", response={204: None}, tags=["effort"])
def delete_service_time(request: HttpRequest, entry_id: int) -> None:
    user = api_user(request)
    entry = get_service_time_for_user(user, entry_id, write=True)
    services.service_time_delete(actor=user, entry=entry)


@router.get("/parties/{int:party_id}/effort", response=EffortOut, tags=["effort"])
def party_effort_view(
    request: HttpRequest, party_id: int, query: Query[EffortQuery]
) -> dict[str, Any]:
    """Staff minutes spent on the party per month: interactions, done tasks, service time."""
    party = get_party_for_user(api_user(request), party_id)
    since, until = last_months(query.months)
    months = party_effort([party.pk], since=since, until=until).get(party.pk, [])
    return {
        "party": party,
        "since": since,
        "until": until,
        "total_minutes": sum(m.total_minutes for m in months),
        "months": months,
    }
