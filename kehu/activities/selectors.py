"""Reads of interactions and tasks, and the timeline of a party."""

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import DateTimeField, Q, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncMonth
from django.http import Http404
from django.utils import timezone

from kehu.activities.models import (
    Interaction,
    InteractionParty,
    ServiceTime,
    Task,
    TaskStatus,
)
from kehu.core.models import AuditEntry
from kehu.parties.models import OwnershipChange, Party, StateChange
from kehu.parties.selectors import parties_visible_to
from kehu.sales.models import Opportunity, Order
from kehu.tenancy.models import User, Visibility


@dataclass(frozen=True)
class TimelineItem:
    """One event on a party's timeline: an interaction, a state change, a task, a record event."""

    at: datetime.datetime
    # interaction, state, task, order, deal (won or lost), service_time, ownership, created
    kind: str
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
    closed = (
        Opportunity.objects.filter(party=party, closed_on__isnull=False)
        .select_related("stage", "owner", "lost_reason", "order")
        .order_by("-stage_changed_at")[:limit]
    )
    items += [TimelineItem(deal.stage_changed_at, "deal", deal) for deal in closed]
    owners = OwnershipChange.objects.filter(party=party).select_related(
        "from_owner", "to_owner", "changed_by"
    )
    items += [
        TimelineItem(o.changed_at, "ownership", o) for o in owners.order_by("-changed_at")[:limit]
    ]
    times = ServiceTime.objects.filter(party=party).select_related("user")
    items += [
        TimelineItem(_noon(e.worked_on), "service_time", e)
        for e in times.order_by("-worked_on", "-id")[:limit]
    ]
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


def interactions_with_hidden_parties(user: User, ids: Iterable[int]) -> set[int]:
    """Those of the interactions `ids` that involve a party `user` may not see."""
    if user.effective_visibility == Visibility.ALL:
        return set()  # no query: every party of the firm is theirs to see
    visible = parties_visible_to(user, include_deleted=True).values("pk")
    hidden = InteractionParty.objects.filter(interaction_id__in=list(ids)).exclude(
        party_id__in=visible
    )
    return set(hidden.values_list("interaction_id", flat=True))


def may_change_interaction(user: User, interaction: Interaction) -> bool:
    """Its author or a manager, who writes; whether they see every party is asked apart."""
    return user.can_write and (interaction.created_by_id == user.pk or user.can_manage)


def editable_interaction_ids(user: User, interactions: Iterable[Interaction]) -> set[int]:
    """Which of `interactions` `user` may correct or delete (the pages' buttons)."""
    mine = {i.pk for i in interactions if may_change_interaction(user, i)}
    return mine - interactions_with_hidden_parties(user, mine) if mine else set()


def get_interaction_for_user(user: User, pk: int, *, write: bool = False) -> Interaction:
    """The interaction if it involves a party `user` may see (else 404); for `write`, the
    user must be allowed to change it and see every party it involves (else 403)."""
    interaction = interactions_visible_to(user).filter(pk=pk).select_related("created_by").first()
    if interaction is None:
        raise Http404
    if write and not (
        may_change_interaction(user, interaction)
        and not interactions_with_hidden_parties(user, [interaction.pk])
    ):
        raise PermissionDenied
    return interaction


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


def _noon(day: datetime.date) -> datetime.datetime:
    """A day's work placed on a timeline of moments: midday, in the firm's time zone."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))


# Service time.


def service_times_visible_to(user: User) -> QuerySet[ServiceTime]:
    """Entries about parties the user may see, and the user's own."""
    if user.effective_visibility == Visibility.ALL:
        return ServiceTime.objects.all()
    visible = parties_visible_to(user).values("pk")
    return ServiceTime.objects.filter(Q(user=user) | Q(party_id__in=visible))


def get_service_time_for_user(user: User, pk: int, *, write: bool = False) -> ServiceTime:
    """The entry if `user` may see it (else 404); for `write`, the entry must be the
    user's own or the user a manager (else 403)."""
    entry = service_times_visible_to(user).filter(pk=pk).select_related("party", "user").first()
    if entry is None:
        raise Http404
    if write and not (user.can_write and (entry.user_id == user.pk or user.can_manage)):
        raise PermissionDenied
    return entry


# Effort: the staff minutes spent on each party, per month (the staff side of 人效).


@dataclass
class EffortMonth:
    """Minutes of staff time in one month, by where they were recorded."""

    month: datetime.date  # its first day
    interaction_minutes: int = 0
    task_minutes: int = 0
    service_minutes: int = 0

    @property
    def total_minutes(self) -> int:
        return self.interaction_minutes + self.task_minutes + self.service_minutes

    @property
    def hours(self) -> float:
        return round(self.total_minutes / 60, 1)


def month_start(day: datetime.date, months_back: int = 0) -> datetime.date:
    """The first day of the month `months_back` months before `day`'s month."""
    index = day.year * 12 + day.month - 1 - months_back
    return datetime.date(index // 12, index % 12 + 1, 1)


def _moment(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _as_date(value: datetime.date | datetime.datetime) -> datetime.date:
    return value.date() if isinstance(value, datetime.datetime) else value


def effort_grouped(
    rows: QuerySet[Any],
    moment: str,
    minutes: str,
    key: str,
    trunc: type[TruncMonth | TruncDay] = TruncMonth,
) -> Iterable[tuple[Any, datetime.date, int]]:
    """(key, month, minutes) from one GROUP BY key, month in SQL (or day: `trunc`)."""
    # A moment is put in the firm's month (day); a day (service time) is its own.
    is_day = not isinstance(rows.model._meta.get_field(moment), DateTimeField)
    tz = None if is_day else timezone.get_current_timezone()
    grouped = (
        rows.annotate(month=trunc(moment, tzinfo=tz))
        .values(key, "month")
        .annotate(total=Sum(minutes))
        .order_by()
    )
    return ((row[key], _as_date(row["month"]), row["total"] or 0) for row in grouped)


def _collect(
    sources: list[tuple[str, Iterable[tuple[Any, datetime.date, int]]]],
) -> dict[Any, list[EffortMonth]]:
    months: dict[Any, dict[datetime.date, EffortMonth]] = defaultdict(dict)
    for slot, rows in sources:
        for key, month, minutes in rows:
            cell = months[key].setdefault(month, EffortMonth(month))
            setattr(cell, slot, getattr(cell, slot) + minutes)
    return {key: sorted(cells.values(), key=lambda m: m.month) for key, cells in months.items()}


def party_effort(
    parties: QuerySet[Any] | Iterable[int] | None,
    *,
    since: datetime.date,
    until: datetime.date,
) -> dict[int, list[EffortMonth]]:
    """{party id: its months with effort} for days in [since, until), oldest month first.

    Three GROUP BY queries, one per source, each an index range per party:
    - an interaction's duration, counted in full for every party it involved (the time
      was spent with each of them), in the month it happened, whoever logged it;
    - a done task's time spent, in the month it was done;
    - service time, in the month of its day.
    `parties`: ids or a queryset of ids (values("pk")); None for every party.
    """
    return _collect(
        [
            (slot, effort_grouped(rows, moment, minutes, "party_id"))
            for slot, rows, moment, minutes in effort_sources(parties, since=since, until=until)
        ]
    )


def effort_sources(
    parties: QuerySet[Any] | Iterable[int] | None,
    *,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
) -> list[tuple[str, QuerySet[Any], str, str]]:
    """(slot, rows, moment field, minutes field) of the three sources of a party's
    effort (see `party_effort`), for days in [since, until) (None: unbounded)."""
    links = InteractionParty.objects.filter(interaction__duration_minutes__gt=0)
    tasks = Task.objects.filter(
        status=TaskStatus.DONE, time_spent_minutes__gt=0, party__isnull=False
    )
    times = ServiceTime.objects.all()
    if since is not None:
        links = links.filter(occurred_at__gte=_moment(since))
        tasks = tasks.filter(completed_at__gte=_moment(since))
        times = times.filter(worked_on__gte=since)
    if until is not None:
        links = links.filter(occurred_at__lt=_moment(until))
        tasks = tasks.filter(completed_at__lt=_moment(until))
        times = times.filter(worked_on__lt=until)
    if parties is not None:
        ids = parties if isinstance(parties, QuerySet) else list(parties)
        links = links.filter(party_id__in=ids)
        tasks = tasks.filter(party_id__in=ids)
        times = times.filter(party_id__in=ids)
    return [
        ("interaction_minutes", links, "occurred_at", "interaction__duration_minutes"),
        ("task_minutes", tasks, "completed_at", "time_spent_minutes"),
        ("service_minutes", times, "worked_on", "minutes"),
    ]


def staff_effort(user: User, *, since: datetime.date, until: datetime.date) -> list[EffortMonth]:
    """One colleague's months: interactions they logged (once each, however many parties
    took part), tasks they did, and their service time."""
    start, end = _moment(since), _moment(until)
    interactions = Interaction.objects.filter(
        created_by=user, occurred_at__gte=start, occurred_at__lt=end, duration_minutes__gt=0
    )
    tasks = Task.objects.filter(
        assignee=user,
        status=TaskStatus.DONE,
        time_spent_minutes__gt=0,
        completed_at__gte=start,
        completed_at__lt=end,
    )
    times = ServiceTime.objects.filter(user=user, worked_on__gte=since, worked_on__lt=until)
    found = _collect(
        [
            (
                "interaction_minutes",
                effort_grouped(interactions, "occurred_at", "duration_minutes", "created_by_id"),
            ),
            (
                "task_minutes",
                effort_grouped(tasks, "completed_at", "time_spent_minutes", "assignee_id"),
            ),
            ("service_minutes", effort_grouped(times, "worked_on", "minutes", "user_id")),
        ]
    )
    return found.get(user.pk, [])


# Pages show the hours of the last year, this month included.
EFFORT_MONTHS = 12


def total_hours(months: Iterable[EffortMonth]) -> float:
    return round(sum(m.total_minutes for m in months) / 60, 1)


def last_months(
    months: int, *, today: datetime.date | None = None
) -> tuple[datetime.date, datetime.date]:
    """[since, until) covering this month and the `months` − 1 before it."""
    day = today or timezone.localdate()
    return month_start(day, months - 1), month_start(day, -1)
