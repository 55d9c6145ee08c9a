"""Effort (the staff side of 人效): time on tasks, service time, and the monthly sums."""

import datetime
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from conftest import login
from kehu.activities import selectors, services
from kehu.activities.models import ServiceTime, TaskStatus
from kehu.activities.selectors import EffortMonth, month_start, party_effort, staff_effort
from kehu.core.context import tenant_scope
from kehu.core.models import AuditEntry
from kehu.core.tests.test_api_problems import api_client, assert_problem, field_errors
from kehu.parties import services as parties
from kehu.parties.models import Party
from kehu.tenancy import services as tenancy
from kehu.tenancy.models import Role, Tenant, User, Visibility

JSON = "application/json"


def local(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


@pytest.fixture
def org(acme: Tenant, alice: User) -> Party:
    with tenant_scope(acme.pk):
        return parties.party_create(actor=alice, kind="organisation", name="甲公司")


@pytest.fixture
def person(acme: Tenant, alice: User) -> Party:
    with tenant_scope(acme.pk):
        return parties.party_create(actor=alice, kind="person", name="张三")


def log_time(actor: User, party: Party, minutes: int, **kw: Any) -> ServiceTime:
    with tenant_scope(actor.tenant_id):  # type: ignore[arg-type]
        return services.service_time_log(actor=actor, party=party, minutes=minutes, **kw)


def entries(tenant: Tenant) -> tuple[int, int]:
    with tenant_scope(tenant.pk):
        audited = AuditEntry.objects.filter(object_type="activities.servicetime").count()
        return ServiceTime.objects.count(), audited


# The sums, checked by hand.


@pytest.fixture
def effort_world(alice: User, bob: User, org: Party, person: Party, in_acme: None) -> None:
    """Last month and this month of work on 甲公司 and 张三, around the month boundary."""
    this_month = month_start(timezone.localdate())
    last_day_before = this_month - datetime.timedelta(days=1)
    # 23:30 on the last day of last month in Beijing is already this month in UTC+9 and
    # last month in UTC: the firm's zone decides.
    services.interaction_log(
        actor=alice,
        parties=[org, person],
        kind="meeting",
        subject="联合会议",
        occurred_at=local(last_day_before, 23, 30),
        duration_minutes=60,
    )
    services.interaction_log(
        actor=alice,
        parties=[org],
        kind="call",
        subject="电话",
        occurred_at=local(this_month, 0, 0),
        duration_minutes=30,
    )
    services.interaction_log(actor=alice, parties=[org], kind="note", subject="无时长")
    done = services.task_create(actor=alice, title="报价", due_date=this_month, party=org)
    services.task_set_status(actor=alice, task=done, status=TaskStatus.DONE, time_spent_minutes=45)
    still_open = services.task_create(actor=alice, title="回访", due_date=this_month, party=org)
    services.task_update(actor=alice, task=still_open, time_spent_minutes=20)
    services.service_time_log(actor=alice, party=org, minutes=90, worked_on=last_day_before)
    services.service_time_log(actor=bob, party=org, minutes=15, worked_on=this_month)


def test_party_effort_sums_each_source_per_firm_month(
    effort_world: None, org: Party, person: Party
) -> None:
    this_month = month_start(timezone.localdate())
    last_month = month_start(timezone.localdate(), 1)
    since, until = selectors.last_months(12)
    found = party_effort([org.pk, person.pk], since=since, until=until)
    assert found[org.pk] == [
        EffortMonth(last_month, interaction_minutes=60, service_minutes=90),
        EffortMonth(this_month, interaction_minutes=30, task_minutes=45, service_minutes=15),
    ]
    # The joint meeting counts in full for each party that was in it.
    assert found[person.pk] == [EffortMonth(last_month, interaction_minutes=60)]
    assert found[org.pk][1].total_minutes == 90
    assert selectors.total_hours(found[org.pk]) == 4.0


def test_party_effort_keeps_to_the_period(effort_world: None, org: Party) -> None:
    this_month = month_start(timezone.localdate())
    only_this_month = party_effort([org.pk], since=this_month, until=month_start(this_month, -1))
    assert [m.month for m in only_this_month[org.pk]] == [this_month]
    assert party_effort(None, since=this_month, until=this_month) == {}


def test_staff_effort_counts_an_interaction_once_for_its_author(
    effort_world: None, alice: User, bob: User
) -> None:
    since, until = selectors.last_months(12)
    last_month = month_start(timezone.localdate(), 1)
    this_month = month_start(timezone.localdate())
    assert staff_effort(alice, since=since, until=until) == [
        EffortMonth(last_month, interaction_minutes=60, service_minutes=90),
        EffortMonth(this_month, interaction_minutes=30, task_minutes=45),
    ]
    assert staff_effort(bob, since=since, until=until) == [
        EffortMonth(this_month, service_minutes=15)
    ]


def test_party_effort_is_three_grouped_queries_for_any_number_of_parties(
    alice: User, in_acme: None, django_assert_num_queries: Any
) -> None:
    many = [parties.party_create(actor=alice, kind="person", name=f"客户{i}") for i in range(12)]
    for i, party in enumerate(many):
        services.service_time_log(actor=alice, party=party, minutes=10 + i)
        services.interaction_log(
            actor=alice, parties=[party], kind="call", subject="电话", duration_minutes=5
        )
    since, until = selectors.last_months(1)
    with django_assert_num_queries(3):
        found = party_effort(Party.objects.values("pk"), since=since, until=until)
    assert {pk: months[0].total_minutes for pk, months in found.items()} == {
        party.pk: 15 + i for i, party in enumerate(many)
    }


def test_month_start_steps_over_years() -> None:
    assert month_start(datetime.date(2025, 1, 20), 1) == datetime.date(2024, 12, 1)
    assert month_start(datetime.date(2025, 12, 5), -1) == datetime.date(2026, 1, 1)
    assert month_start(datetime.date(2025, 3, 31), 14) == datetime.date(2024, 1, 1)


# Service time rules.


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"minutes": 0}, "minutes"),
        ({"minutes": 24 * 60 + 1}, "minutes"),
        ({"minutes": 30, "worked_on": datetime.date(2999, 1, 1)}, "worked_on"),
        ({"minutes": 30, "kind": "nap"}, "kind"),
        ({"minutes": 30, "note": "长" * 501}, "note"),
    ],
)
def test_service_time_refuses_bad_values_naming_the_field(
    alice: User, org: Party, acme: Tenant, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        log_time(alice, org, **fields)
    assert field in caught.value.message_dict
    assert entries(acme) == (0, 0)


def test_service_time_for_an_inactive_colleague_is_refused(
    alice: User, bob: User, org: Party, acme: Tenant
) -> None:
    with tenant_scope(acme.pk):
        tenancy.staff_update(actor=alice, user=bob, is_active=False)
    with pytest.raises(ValidationError) as caught:
        log_time(alice, org, 30, user=bob)
    assert "user" in caught.value.message_dict


def test_service_time_is_audited_on_the_party_and_on_its_timeline(
    alice: User, org: Party, acme: Tenant
) -> None:
    entry = log_time(alice, org, 30, note="上门安装")
    with tenant_scope(acme.pk):
        services.service_time_update(actor=alice, entry=entry, minutes=40)
        audit = list(
            AuditEntry.objects.filter(
                root_id=org.pk, object_type="activities.servicetime"
            ).order_by("id")
        )
        timeline = selectors.party_timeline(org)
    assert [(a.action, a.changes.get("minutes")) for a in audit] == [
        ("create", [None, 30]),
        ("update", [30, 40]),
    ]
    assert [item.obj for item in timeline if item.kind == "service_time"] == [entry]


def test_task_time_over_a_week_is_refused(alice: User, org: Party, in_acme: None) -> None:
    task = services.task_create(actor=alice, title="部署", due_date=timezone.localdate())
    with pytest.raises(ValidationError) as caught:
        services.task_set_status(
            actor=alice, task=task, status=TaskStatus.DONE, time_spent_minutes=7 * 24 * 60 + 1
        )
    assert "time_spent_minutes" in caught.value.message_dict


# Pages.

NEW = reverse("activities:service_time_new")
MINE = reverse("activities:my_time")


def form(party: Party, minutes: int = 45, **extra: Any) -> dict[str, Any]:
    today = timezone.localdate().isoformat()
    return {"party": party.pk, "worked_on": today, "minutes": minutes, "kind": "support", **extra}


def test_log_time_from_the_party_page(alice: User, org: Party, acme: Tenant) -> None:
    client = login(alice)
    detail = client.get(reverse("parties:detail", args=[org.pk])).content.decode()
    assert f"{NEW}?party={org.pk}" in detail
    assert client.get(NEW, {"party": org.pk}).status_code == 200
    response = client.post(NEW, form(org, note="<b>远程排障</b>"))
    assert response.status_code == 302
    assert response["Location"] == reverse("parties:detail", args=[org.pk]) + "#effort"
    page = client.get(reverse("parties:detail", args=[org.pk])).content.decode()
    assert "近 12 个月 0.8 小时" in page
    assert "&lt;b&gt;远程排障&lt;/b&gt;" in page
    assert entries(acme) == (1, 1)


def test_a_bad_entry_is_sent_back_with_the_field_named(
    alice: User, org: Party, acme: Tenant
) -> None:
    response = login(alice).post(NEW, form(org, minutes=0))
    assert response.status_code == 422
    assert "minutes" in response.context["form"].errors
    assert entries(acme) == (0, 0)


@pytest.mark.parametrize(("persona", "status"), [("bob", 404), ("dora", 403), ("charlie", 404)])
def test_logging_time_on_a_party_not_yours_is_refused(
    persona: str, status: int, org: Party, acme: Tenant, request: pytest.FixtureRequest
) -> None:
    client = login(request.getfixturevalue(persona))
    assert client.get(NEW, {"party": org.pk}).status_code == status
    assert client.post(NEW, form(org)).status_code == status
    assert entries(acme) == (0, 0)


@pytest.mark.parametrize(("persona", "status"), [("bob", 404), ("dora", 403), ("charlie", 404)])
def test_editing_or_deleting_an_entry_not_yours_is_refused(
    persona: str, status: int, alice: User, org: Party, acme: Tenant, request: pytest.FixtureRequest
) -> None:
    entry = log_time(alice, org, 30)
    client = login(request.getfixturevalue(persona))
    edit = reverse("activities:service_time_edit", args=[entry.pk])
    delete = reverse("activities:service_time_delete", args=[entry.pk])
    assert client.get(edit).status_code == status
    assert client.post(edit, form(org, minutes=5)).status_code == status
    assert client.post(delete).status_code == status
    entry.refresh_from_db()
    assert entry.minutes == 30
    assert entries(acme) == (1, 1)


def test_a_colleague_who_sees_the_party_may_not_change_my_entry(
    alice: User, org: Party, acme: Tenant
) -> None:
    with tenant_scope(acme.pk):
        carol = tenancy.staff_create(
            actor=alice, username="carol", password="x-Long-enough-42", visibility=Visibility.ALL
        )
        entry = services.service_time_log(actor=alice, party=org, minutes=30)
    assert carol.role == Role.SALES
    edit = reverse("activities:service_time_edit", args=[entry.pk])
    assert login(carol).post(edit, form(org, minutes=5)).status_code == 403
    entry.refresh_from_db()
    assert entry.minutes == 30


def test_edit_and_delete_my_own_entry(bob: User, acme: Tenant) -> None:
    with tenant_scope(acme.pk):
        mine = parties.party_create(actor=bob, kind="person", name="鲍的客户")
    entry = log_time(bob, mine, 30)
    client = login(bob)
    edit = reverse("activities:service_time_edit", args=[entry.pk])
    assert client.post(edit, form(mine, minutes=50)).status_code == 302
    entry.refresh_from_db()
    assert entry.minutes == 50
    delete = reverse("activities:service_time_delete", args=[entry.pk])
    assert client.post(delete).status_code == 302
    assert entries(acme) == (0, 3)


def test_my_time_shows_my_months_and_entries_with_pinned_queries(
    bob: User, acme: Tenant, django_assert_num_queries: Any
) -> None:
    with tenant_scope(acme.pk):
        mine = [parties.party_create(actor=bob, kind="person", name=f"客户{i}") for i in range(8)]
    for i, party in enumerate(mine):
        log_time(bob, party, 10 + i, note=f"第{i}次")
    client = login(bob)
    # session, user, tenant (top bar); the three monthly sums; count and page of entries
    with django_assert_num_queries(8):
        page = client.get(MINE).content.decode()
    assert "近 12 个月共 1.8 小时" in page
    assert page.count("service-time-") == 8


def test_completing_a_task_records_its_time(alice: User, org: Party, acme: Tenant) -> None:
    with tenant_scope(acme.pk):
        task = services.task_create(
            actor=alice, title="安装", due_date=timezone.localdate(), party=org
        )
    url = reverse("activities:task_status", args=[task.pk])
    response = login(alice).post(url, {"status": "done", "time_spent_minutes": "75"})
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.status, task.time_spent_minutes) == (TaskStatus.DONE, 75)


# API.


def test_api_logs_lists_and_sums_service_time(alice: User, org: Party, acme: Tenant) -> None:
    client = api_client(alice)
    created = client.post(
        "/api/v1/service-times",
        {"party": org.pk, "minutes": 120, "kind": "implementation", "note": "<i>上线</i>"},
        content_type=JSON,
    )
    assert created.status_code == 201, created.content.decode()
    body = created.json()
    assert (body["minutes"], body["note"], body["party"]["id"]) == (120, "<i>上线</i>", org.pk)
    assert body["user"]["username"] == "alice"
    effort = client.get(f"/api/v1/parties/{org.pk}/effort?months=3").json()
    assert effort["total_minutes"] == 120
    assert effort["months"] == [
        {
            "month": month_start(timezone.localdate()).isoformat(),
            "interaction_minutes": 0,
            "task_minutes": 0,
            "service_minutes": 120,
            "total_minutes": 120,
        }
    ]
    assert effort["since"] == month_start(timezone.localdate(), 2).isoformat()


def test_api_refuses_zero_minutes_naming_the_field(alice: User, org: Party, acme: Tenant) -> None:
    response = api_client(alice).post(
        "/api/v1/service-times", {"party": org.pk, "minutes": 0}, content_type=JSON
    )
    assert "minutes" in field_errors(response)
    assert entries(acme) == (0, 0)


def test_only_a_manager_logs_a_colleagues_time_by_api(alice: User, bob: User, acme: Tenant) -> None:
    with tenant_scope(acme.pk):
        mine = parties.party_create(actor=bob, kind="person", name="鲍的客户")
    body = {"party": mine.pk, "minutes": 30, "user": alice.pk}
    assert_problem(api_client(bob).post("/api/v1/service-times", body, content_type=JSON), 403)
    by_manager = api_client(alice).post(
        "/api/v1/service-times", {**body, "user": bob.pk}, content_type=JSON
    )
    assert by_manager.json()["user"]["username"] == "bob"


def test_api_task_status_takes_time_spent(alice: User, org: Party, acme: Tenant) -> None:
    with tenant_scope(acme.pk):
        task = services.task_create(actor=alice, title="培训", due_date=timezone.localdate())
    response = api_client(alice).post(
        f"/api/v1/tasks/{task.pk}/status",
        {"status": "done", "time_spent_minutes": 30},
        content_type=JSON,
    )
    assert response.json()["time_spent_minutes"] == 30


def test_service_time_list_query_count_is_pinned(
    alice: User, org: Party, person: Party, django_assert_num_queries: Any
) -> None:
    client = api_client(alice)
    client.get("/api/v1/me")  # the token's last-used time is written on first use
    log_time(alice, org, 10)
    # token, count, page with party and user
    with django_assert_num_queries(3):
        assert len(client.get("/api/v1/service-times").json()["items"]) == 1
    for i in range(15):
        log_time(alice, person if i % 2 else org, 10 + i)
    with django_assert_num_queries(3):
        assert len(client.get("/api/v1/service-times").json()["items"]) == 16
    # and the party named in the filter, looked up through its access helper
    with django_assert_num_queries(4):
        assert len(client.get(f"/api/v1/service-times?party={org.pk}").json()["items"]) == 9
