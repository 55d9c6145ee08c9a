"""Reads of interactions and tasks, and the timeline of a party."""

import datetime
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from kehu.activities.models import Interaction, InteractionParty, Task, TaskStatus
from kehu.core.models import AuditEntry
from kehu.parties.models import Party, StateChange
from kehu.parties.selectors import parties_visible_to
from kehu.sales.models import Order
from kehu.tenancy.models import User, Visibility


@dataclass(frozen=True)
class TimelineItem:
    """One event on a party's timeline: an interaction, a state change, a task, a record event."""

    at: datetime.datetime
    kind: str  # "interaction" | "state" | "task" | "order" | "created"
    obj: object


def party_timeline(party: Party, *, limit: int = 50) -> list[TimelineItem]:
    """The newest `limit` events of every kind, merged newest first."""
    links = (
        InteractionParty.objects.filter(party=party)
        .select_related("interaction", "interaction__created_by")
        .order_by("-occurred_at")[:limit]
    )
    items = [TimelineItem(link.occurred_at, "interaction", link.interaction) for link in links]
    changes = StateChange.objects.filter(party=party).select_related("changed_by")
    items += [
        TimelineItem(c.changed_at, "state", c) for c in changes.order_by("-changed_at")[:limit]
    ]
    tasks = Task.objects.filter(party=party).select_related("assignee").order_by("-created_at")
    items += [TimelineItem(t.completed_at or t.created_at, "task", t) for t in tasks[:limit]]
    orders = Order.objects.filter(party=party).order_by("-order_date", "-id")[:limit]
    items += [TimelineItem(_placed_at(o), "order", o) for o in orders]
    # Through the (root_type, root_id) index: the party's history is its own root.
    created = AuditEntry.objects.filter(
        root_type="parties.party",
        root_id=party.pk,
        object_type="parties.party",
        action=AuditEntry.Action.CREATE,
    ).select_related("actor")
    items += [TimelineItem(e.created_at, "created", e) for e in created[:1]]
    items.sort(key=lambda item: item.at, reverse=True)
    return items[:limit]


def _placed_at(order: Order) -> datetime.datetime:
    """When an order goes on the timeline: when it was entered, if that was the day it
    was placed; else (an order entered or imported later) the start of that day."""
    if timezone.localdate(order.created_at) == order.order_date:
        return order.created_at
    return timezone.make_aware(datetime.datetime.combine(order.order_date, datetime.time()))


def tasks_due(user: User, *, on: datetime.date | None = None) -> QuerySet[Task]:
    """The user's open tasks due on `on` (today) or overdue, earliest first."""
    day = on or timezone.localdate()
    return (
        Task.objects.filter(assignee=user, status=TaskStatus.OPEN, due_date__lte=day)
        .select_related("party")
        .order_by("due_date", "id")
    )


def tasks_upcoming(user: User, *, days: int = 7, on: datetime.date | None = None) -> QuerySet[Task]:
    """The user's open tasks due in the `days` days after `on` (today), earliest first."""
    day = on or timezone.localdate()
    return (
        Task.objects.filter(
            assignee=user,
            status=TaskStatus.OPEN,
            due_date__gt=day,
            due_date__lte=day + datetime.timedelta(days=days),
        )
        .select_related("party")
        .order_by("due_date", "id")
    )


def interactions_visible_to(user: User) -> QuerySet[Interaction]:
    visible = parties_visible_to(user).values("pk")
    ids = InteractionParty.objects.filter(party_id__in=visible).values("interaction_id")
    return Interaction.objects.filter(pk__in=ids)


def tasks_visible_to(user: User) -> QuerySet[Task]:
    """Tasks assigned to the user, or about a party the user may see; with visibility
    "all", every task of the firm (a manager follows up colleagues' work)."""
    if user.effective_visibility == Visibility.ALL:
        return Task.objects.all()
    visible = parties_visible_to(user).values("pk")

    return Task.objects.filter(Q(assignee=user) | Q(party_id__in=visible))


def get_task_for_user(user: User, pk: int) -> Task:
    task = tasks_visible_to(user).filter(pk=pk).select_related("party", "assignee").first()
    if task is None:
        raise Http404
    return task
