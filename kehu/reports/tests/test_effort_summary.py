"""The daily effort summary against the activities: hours per customer (人效) and
new-vs-existing read from the summary equal the same reports computed from the
interactions, tasks and service time themselves (`live_*`), for readers with every kind
of visibility, after each kind of write through the services, as staff would make them."""

import datetime
import random
from collections import Counter
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import TestCase
from django.utils import timezone

from kehu.activities import services as activities
from kehu.activities.models import DailyEffort, Interaction, ServiceTime, Task, TaskStatus
from kehu.activities.selectors import month_start
from kehu.activities.summary import effort_rebuild
from kehu.core.context import tenant_scope
from kehu.dataio import merge
from kehu.dataio import services as dataio
from kehu.dataio.tests.conftest import csv_bytes, upload
from kehu.parties import services as parties
from kehu.parties.models import Party
from kehu.reports import selectors
from kehu.reports.periods import Period
from kehu.reports.selectors import ReportFilters
from kehu.reports.tests import test_summary
from kehu.tenancy.models import Tenant, User

START = datetime.date(2024, 1, 1)
world = test_summary.world  # the fixture: reps, teams, parties and their orders


def local(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


@pytest.fixture
def effort(world: dict[str, Any], alice: User, acme: Tenant) -> dict[str, Any]:
    """~80 interactions since 2024 (some with two parties, some without minutes, some at
    23:30 on a month's last day), done and open tasks, service time by three people."""
    reps, book = world["reps"], world["parties"]
    rng = random.Random(11)
    today = timezone.localdate()
    span = (today - START).days
    with tenant_scope(acme.pk):
        for i in range(80):
            day = START + datetime.timedelta(rng.randint(0, span))
            moment = (
                local(month_start(day, -1) - datetime.timedelta(days=1), 23, 30)
                if i % 9 == 0
                else local(day, rng.randint(0, 23), rng.choice([0, 15, 59]))
            )
            activities.interaction_log(
                actor=rng.choice(reps),
                parties=rng.sample(book, 2 if i % 5 == 0 else 1),
                kind="meeting",
                subject=f"会议{i}",
                occurred_at=min(moment, timezone.now()),
                duration_minutes=rng.choice([None, 0, 15, 30, 45, 90]),
            )
        for i in range(12):
            task = activities.task_create(
                actor=alice,
                title=f"任务{i}",
                due_date=today,
                party=book[i % len(book)] if i % 4 else None,
                assignee=rng.choice(reps),
            )
            if i % 3:
                activities.task_set_status(
                    actor=alice, task=task, status=TaskStatus.DONE, time_spent_minutes=10 * i
                )
        for _ in range(30):
            activities.service_time_log(
                actor=alice,
                party=rng.choice(book),
                user=rng.choice(reps),
                minutes=rng.randint(1, 240),
                worked_on=START + datetime.timedelta(rng.randint(0, span)),
            )
    return world


def filter_sets(world: dict[str, Any]) -> list[ReportFilters]:
    today = timezone.localdate()
    bob, north = world["reps"][1], world["teams"][1]
    whole = ReportFilters(since=START, until=today)
    partial = ReportFilters(since=datetime.date(2024, 3, 15), until=today, top=3)
    found = [ReportFilters(**{**whole.__dict__, "period": period}) for period in Period.values]
    found.append(ReportFilters(since=datetime.date(2024, 2, 10), until=datetime.date(2025, 5, 3)))
    found.append(ReportFilters(**{**partial.__dict__, "period": Period.QUARTER}))
    found.append(ReportFilters(**{**whole.__dict__, "owner_id": bob.pk}))
    found.append(ReportFilters(**{**whole.__dict__, "team_id": north.pk}))
    return found


def assert_summary_is_live(world: dict[str, Any], alice: User) -> int:
    """Both reports, every filter, readers of every visibility (the admin, Bob his own,
    Carol her team's, Erin all): the summary's answer is the activities' answer. The
    number of customers and minutes compared (so that an empty comparison fails)."""
    compared = 0
    for user in (alice, *world["reps"][1:]):
        for filters in filter_sets(world):
            found = selectors.customer_effort(user, filters)
            assert found == selectors.live_customer_effort(user, filters), (user, filters)
            splits = selectors.new_vs_existing(user, filters)
            assert splits == selectors.live_new_vs_existing(user, filters), (user, filters)
            compared += len(found) + sum(s.minutes for s in splits)
    return compared


def stored() -> Counter[tuple[Any, ...]]:
    fields = [f.attname for f in DailyEffort._meta.concrete_fields if f.attname != "id"]
    return Counter(DailyEffort.objects.values_list(*fields))


def assert_kept_is_rebuilt() -> None:
    """The rows kept write by write are what computing them whole gives."""
    kept = stored()
    assert kept
    effort_rebuild()
    assert stored() == kept


def test_the_reports_from_the_summary_equal_the_activities(
    effort: dict[str, Any], alice: User, acme: Tenant
) -> None:
    with tenant_scope(acme.pk):
        assert DailyEffort.objects.filter(month=True).count() > 20
        assert DailyEffort.objects.filter(task_minutes__gt=0).exists()
        assert assert_summary_is_live(effort, alice) > 1000
        assert_kept_is_rebuilt()


def test_the_comparison_reads_the_summary(
    effort: dict[str, Any], alice: User, acme: Tenant
) -> None:
    """A minute added to a month row, and to a day row, shows in the summary's reports."""
    whole = filter_sets(effort)[0]  # since 2024-01-01: whole months, then this month's days
    with tenant_scope(acme.pk):
        # A month row of a whole month; a day row of this month (its days are read).
        for month, since in ((True, START), (False, month_start(timezone.localdate()))):
            row = DailyEffort.objects.filter(month=month, day__gte=since).order_by("pk").first()
            assert row is not None
            DailyEffort.objects.filter(pk=row.pk).update(service_minutes=row.service_minutes + 60)
            summary = selectors.customer_effort(alice, whole)
            live = selectors.live_customer_effort(alice, whole)
            assert summary != live
            splits = selectors.new_vs_existing(alice, whole)
            live_splits = selectors.live_new_vs_existing(alice, whole)
            assert sum(s.minutes for s in splits) == sum(s.minutes for s in live_splits) + 60
            effort_rebuild()
            assert selectors.customer_effort(alice, whole) == live


def test_each_kind_of_write_keeps_it_equal(
    effort: dict[str, Any], alice: User, acme: Tenant
) -> None:
    reps, book = effort["reps"], effort["parties"]
    with tenant_scope(acme.pk):
        # Interactions: minutes changed, moved to another month, added minutes, deleted.
        timed = Interaction.objects.filter(duration_minutes__gt=0).order_by("pk")
        first, second, third = timed[0], timed[1], timed[2]
        activities.interaction_update(actor=alice, interaction=first, duration_minutes=7)
        activities.interaction_update(
            actor=alice, interaction=second, occurred_at=local(datetime.date(2024, 2, 29), 23, 45)
        )
        untimed = Interaction.objects.filter(duration_minutes__isnull=True).first()
        assert untimed is not None
        activities.interaction_update(actor=alice, interaction=untimed, duration_minutes=33)
        activities.interaction_delete(actor=alice, interaction=third)
        assert_summary_is_live(effort, alice)
        # Tasks: a done one reopened, another's time corrected, an open one done.
        done = Task.objects.filter(status=TaskStatus.DONE, party__isnull=False).order_by("pk")
        activities.task_set_status(actor=alice, task=done[0], status=TaskStatus.OPEN)
        activities.task_update(actor=alice, task=done[1], time_spent_minutes=500)
        still_open = Task.objects.filter(status=TaskStatus.OPEN, party__isnull=False).last()
        assert still_open is not None
        activities.task_set_status(
            actor=alice, task=still_open, status=TaskStatus.DONE, time_spent_minutes=25
        )
        assert_summary_is_live(effort, alice)
        # Service time: moved to another day and corrected, deleted.
        entries = ServiceTime.objects.order_by("pk")
        activities.service_time_update(
            actor=alice, entry=entries[0], worked_on=datetime.date(2024, 1, 31), minutes=11
        )
        activities.service_time_delete(actor=alice, entry=entries[1])
        assert_summary_is_live(effort, alice)
        # Parties: another owner, a handover of tasks, one deleted (and later restored).
        parties.party_hand_over(actor=alice, party=book[0], receiver=reps[2], note="调岗")
        task = Task.objects.filter(status=TaskStatus.OPEN).first()
        assert task is not None
        activities.task_hand_over(actor=alice, task=task, receiver=reps[3], note="交接")
        parties.party_delete(actor=alice, party=book[1])
        assert_summary_is_live(effort, alice)
        # A merge moves one party's activities to another; its undo moves them back.
        survivor, loser = Party.objects.get(pk=book[3].pk), Party.objects.get(pk=book[4].pk)
        record = merge.party_merge(actor=alice, survivor=survivor, loser=loser, choices={})
        assert not DailyEffort.objects.filter(party=loser).exists()
        assert_summary_is_live(effort, alice)
        merge.party_merge_undo(actor=alice, record=record)
        assert DailyEffort.objects.filter(party=loser).exists()
        parties.party_restore(actor=alice, party=Party.with_deleted.get(pk=book[1].pk))
        assert_summary_is_live(effort, alice)
        assert_kept_is_rebuilt()


HEADER = ["客户名称", "类型", "主题", "时间", "时长（分钟）"]


def test_imported_interactions_are_in_the_summary(
    effort: dict[str, Any], alice: User, acme: Tenant
) -> None:
    book = effort["parties"]
    rows = [
        [book[i].name, "电话", f"导入{i}", f"2024年{i + 1}月{i + 2}日 10:00", str(10 * (i + 1))]
        for i in range(4)
    ]

    def run(rows: list[list[str]]) -> None:
        job = dataio.import_upload(
            actor=alice, file=upload("互动.csv", csv_bytes([HEADER, *rows])), target="interactions"
        )
        dataio.import_dry_run(actor=alice, job=job)
        with TestCase.captureOnCommitCallbacks(execute=True):
            dataio.import_start(actor=alice, job=job)

    with tenant_scope(acme.pk):
        before = stored()
        run(rows)
        assert Interaction.objects.filter(subject__startswith="导入").count() == 4
        assert stored() != before
        assert_summary_is_live(effort, alice)
        rows[2][4] = "75"  # the same interaction again, with other minutes: an update
        run(rows)
        assert Interaction.objects.get(subject="导入2").duration_minutes == 75
        assert_summary_is_live(effort, alice)
        assert_kept_is_rebuilt()


def test_a_firm_reads_only_its_own_summary(
    effort: dict[str, Any], charlie: User, acme: Tenant, other: Tenant
) -> None:
    with tenant_scope(other.pk):
        assert not DailyEffort.objects.exists()
        assert selectors.customer_effort(charlie, filter_sets(effort)[0]) == []
        assert effort_rebuild() == 0
    with tenant_scope(acme.pk):
        assert DailyEffort.objects.exists()


def test_the_rebuild_command(effort: dict[str, Any], acme: Tenant) -> None:
    with tenant_scope(acme.pk):
        kept = stored()
        DailyEffort.objects.all().delete()
    call_command("effort_summary_rebuild", acme.slug)
    with tenant_scope(acme.pk):
        assert stored() == kept
    with pytest.raises(CommandError, match="no such firm"):
        call_command("effort_summary_rebuild", "no-such-firm")
