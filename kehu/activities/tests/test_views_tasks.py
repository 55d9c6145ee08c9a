"""Creating tasks, closing and reopening them, and the "my tasks today" page."""

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from conftest import login
from kehu.activities import services
from kehu.activities.models import Task, TaskStatus
from kehu.core.context import tenant_scope
from kehu.core.models import AuditEntry
from kehu.parties import services as party_services
from kehu.parties.models import Party, PartyKind
from kehu.tenancy.models import Tenant, User

NEW = reverse("activities:task_new")
MINE = reverse("activities:my_tasks")


def today() -> datetime.date:
    return timezone.localdate()


def in_days(n: int) -> datetime.date:
    return today() + datetime.timedelta(days=n)


@pytest.fixture
def bytedance(alice: User) -> Party:
    """Alice's customer: Dora (sees all) sees it, Bob (sees his own) does not."""
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        return party_services.party_create(
            actor=alice, kind=PartyKind.ORGANISATION, name="北京字节跳动科技有限公司"
        )


def make_task(actor: User, title: str, due: int = 0, **kw: object) -> Task:
    with tenant_scope(actor.tenant_id):  # type: ignore[arg-type]
        return services.task_create(actor=actor, title=title, due_date=in_days(due), **kw)  # type: ignore[arg-type]


def rows(tenant: Tenant) -> tuple[int, int]:
    with tenant_scope(tenant.pk):
        return Task.objects.count(), AuditEntry.objects.filter(
            object_type="activities.task"
        ).count()


def status_of(task: Task) -> str:
    task.refresh_from_db()
    return task.status


def set_status(client: Client, task: Task, status: str, *, htmx: bool = False) -> int:
    headers = {"HX-Request": "true"} if htmx else {}
    url = reverse("activities:task_status", args=[task.pk])
    return client.post(url, {"status": status}, headers=headers).status_code


# Creating.


def test_task_form_preselects_the_party_and_me(alice: User, bytedance: Party) -> None:
    response = login(alice).get(NEW, {"party": bytedance.pk})
    assert response.status_code == 200
    assert response.context["party"] == bytedance
    assert response.context["form"].initial["assignee"] == alice.pk
    assert f'name="party" value="{bytedance.pk}"' in response.content.decode()


def test_create_a_task_about_a_party_for_a_colleague(
    alice: User, bob: User, bytedance: Party
) -> None:
    data = {
        "title": "寄送报价单",
        "note": "附上阶梯价",
        "due_date": in_days(2).isoformat(),
        "assignee": bob.pk,
        "party": bytedance.pk,
    }
    response = login(alice).post(NEW, data)
    assert (response.status_code, response["Location"]) == (
        302,
        reverse("parties:detail", args=[bytedance.pk]),
    )
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        task = Task.objects.get()
    assert (task.title, task.assignee_id, task.party_id, task.due_date) == (
        "寄送报价单",
        bob.pk,
        bytedance.pk,
        in_days(2),
    )
    assert (task.status, task.created_by_id) == (TaskStatus.OPEN, alice.pk)
    assert rows(alice.tenant) == (1, 1)  # type: ignore[arg-type]


def test_a_task_without_party_goes_to_my_tasks(bob: User) -> None:
    data = {"title": "整理名片", "due_date": today().isoformat(), "assignee": bob.pk}
    response = login(bob).post(NEW, data)
    assert (response.status_code, response["Location"]) == (302, MINE)
    assert "整理名片" in login(bob).get(MINE).content.decode()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "长" * 201}, "title"),
        ({"due_date": "明天吧"}, "due_date"),
        ({"due_date": "2025-02-30"}, "due_date"),
        ({"assignee": "999999"}, "assignee"),
    ],
    ids=["empty-title", "long-title", "garbage-date", "impossible-date", "unknown-assignee"],
)
def test_bad_input_is_a_field_error_and_saves_nothing(
    alice: User, overrides: dict[str, str], field: str
) -> None:
    data = {"title": "回访", "due_date": today().isoformat(), "assignee": str(alice.pk)}
    response = login(alice).post(NEW, {**data, **overrides})
    assert response.status_code == 422
    assert response.context["form"].errors[field]
    assert rows(alice.tenant) == (0, 0)  # type: ignore[arg-type]


def test_an_inactive_or_foreign_assignee_is_refused(alice: User, bob: User, charlie: User) -> None:
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    client = login(alice)
    for assignee in (bob, charlie):
        data = {"title": "回访", "due_date": today().isoformat(), "assignee": assignee.pk}
        response = client.post(NEW, data)
        assert response.status_code == 422
        assert response.context["form"].errors["assignee"]
    assert rows(alice.tenant) == (0, 0)  # type: ignore[arg-type]


def test_bob_gets_404_for_a_party_he_cannot_see(bob: User, bytedance: Party) -> None:
    client = login(bob)
    assert client.get(NEW, {"party": bytedance.pk}).status_code == 404
    data = {"title": "回访", "due_date": today().isoformat(), "assignee": bob.pk}
    assert client.post(NEW, {**data, "party": bytedance.pk}).status_code == 404
    assert rows(bob.tenant) == (0, 0)  # type: ignore[arg-type]


def test_read_only_colleague_gets_403(dora: User, bytedance: Party) -> None:
    client = login(dora)
    assert client.get(NEW, {"party": bytedance.pk}).status_code == 403
    data = {"title": "回访", "due_date": today().isoformat(), "assignee": dora.pk}
    assert client.post(NEW, data).status_code == 403
    assert rows(dora.tenant) == (0, 0)  # type: ignore[arg-type]


def test_outsider_gets_404_for_an_acme_party(alice: User, charlie: User, bytedance: Party) -> None:
    client = login(charlie)
    assert client.get(NEW, {"party": bytedance.pk}).status_code == 404
    data = {"title": "回访", "due_date": today().isoformat(), "assignee": charlie.pk}
    assert client.post(NEW, {**data, "party": bytedance.pk}).status_code == 404
    assert rows(alice.tenant) == (0, 0)  # type: ignore[arg-type]
    assert rows(charlie.tenant) == (0, 0)  # type: ignore[arg-type]


# Closing and reopening.


def test_done_then_reopen(bob: User) -> None:
    task = make_task(bob, "回电话")
    client = login(bob)
    assert set_status(client, task, TaskStatus.DONE) == 302
    assert (status_of(task), task.completed_at is not None) == (TaskStatus.DONE, True)
    assert set_status(client, task, TaskStatus.OPEN) == 302
    assert (status_of(task), task.completed_at) == (TaskStatus.OPEN, None)
    assert set_status(client, task, TaskStatus.CANCELLED) == 302
    assert status_of(task) == TaskStatus.CANCELLED


def test_one_click_done_returns_the_updated_row(bob: User) -> None:
    task = make_task(bob, "回电话", due=-1)
    response = login(bob).post(
        reverse("activities:task_status", args=[task.pk]),
        {"status": TaskStatus.DONE},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    row = response.content.decode()
    assert row.strip().startswith(f'<tr id="task-{task.pk}"')
    assert "<html" not in row
    assert "已完成" in row and 'value="open"' in row
    assert "overdue" not in row  # a finished task is no longer overdue
    assert status_of(task) == TaskStatus.DONE


def test_an_assignee_may_close_a_task_about_a_party_he_cannot_see(
    alice: User, bob: User, bytedance: Party
) -> None:
    task = make_task(alice, "寄样品", assignee=bob, party=bytedance)
    assert set_status(login(bob), task, TaskStatus.DONE) == 302
    assert status_of(task) == TaskStatus.DONE


def test_bob_gets_404_for_a_task_he_cannot_see(alice: User, bob: User, bytedance: Party) -> None:
    task = make_task(alice, "内部任务", party=bytedance)
    before = rows(alice.tenant)  # type: ignore[arg-type]
    assert set_status(login(bob), task, TaskStatus.DONE) == 404
    assert set_status(login(bob), task, TaskStatus.DONE, htmx=True) == 404
    assert status_of(task) == TaskStatus.OPEN
    assert rows(alice.tenant) == before  # type: ignore[arg-type]


def test_read_only_colleague_gets_403_on_a_task_she_sees(
    alice: User, dora: User, bytedance: Party
) -> None:
    task = make_task(alice, "回访", assignee=dora, party=bytedance)
    before = rows(alice.tenant)  # type: ignore[arg-type]
    assert set_status(login(dora), task, TaskStatus.DONE) == 403
    assert status_of(task) == TaskStatus.OPEN
    assert rows(alice.tenant) == before  # type: ignore[arg-type]


def test_outsider_gets_404_and_changes_nothing(alice: User, charlie: User) -> None:
    task = make_task(alice, "回访")
    before = rows(alice.tenant)  # type: ignore[arg-type]
    assert set_status(login(charlie), task, TaskStatus.DONE) == 404
    assert status_of(task) == TaskStatus.OPEN
    assert rows(alice.tenant) == before  # type: ignore[arg-type]


def test_unknown_status_is_refused(bob: User) -> None:
    task = make_task(bob, "回访")
    assert set_status(login(bob), task, "finished-ish") == 400
    assert status_of(task) == TaskStatus.OPEN


def test_status_change_is_post_only(bob: User) -> None:
    task = make_task(bob, "回访")
    assert login(bob).get(reverse("activities:task_status", args=[task.pk])).status_code == 405


# My tasks today.


def test_my_tasks_shows_today_overdue_and_the_next_seven_days(
    alice: User, bob: User, bytedance: Party
) -> None:
    make_task(bob, "逾期任务", due=-2)
    make_task(bob, "今天的任务", due=0)
    make_task(alice, "关于字节", due=0, assignee=bob, party=bytedance)
    make_task(bob, "三天后", due=3)
    make_task(bob, "一个月后", due=30)
    make_task(alice, "爱丽丝的任务", due=0)
    done = make_task(bob, "已完成的任务", due=0)
    with tenant_scope(bob.tenant_id):  # type: ignore[arg-type]
        services.task_set_status(actor=bob, task=done, status=TaskStatus.DONE)
    response = login(bob).get(MINE)
    assert response.status_code == 200
    due = [t.title for t in response.context["due"]]
    assert due == ["逾期任务", "今天的任务", "关于字节"]
    assert [t.title for t in response.context["upcoming"]] == ["三天后"]
    page = response.content.decode()
    assert page.count('class="overdue"') == 1
    assert "逾期" in page and "北京字节跳动科技有限公司" in page
    for hidden in ("一个月后", "爱丽丝的任务", "已完成的任务"):
        assert hidden not in page


def test_read_only_colleague_sees_her_tasks_without_buttons(alice: User, dora: User) -> None:
    task = make_task(alice, "阅读报告", assignee=dora)
    page = login(dora).get(MINE).content.decode()
    assert "阅读报告" in page
    assert reverse("activities:task_status", args=[task.pk]) not in page


def test_outsider_sees_none_of_acme_tasks(alice: User, charlie: User) -> None:
    make_task(alice, "爱丽丝的任务")
    response = login(charlie).get(MINE)
    assert response.status_code == 200
    assert "爱丽丝的任务" not in response.content.decode()


def test_task_titles_are_escaped(bob: User) -> None:
    make_task(bob, "<script>alert(1)</script>")
    page = login(bob).get(MINE).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page


def test_my_tasks_query_count_is_pinned(
    alice: User, bob: User, bytedance: Party, django_assert_num_queries: object
) -> None:
    client = login(bob)
    make_task(alice, "关于字节", assignee=bob, party=bytedance)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(MINE).status_code == 200
        return len(queries)

    few = count()
    for n in range(10):
        make_task(alice, f"任务{n}", due=n % 5 - 2, assignee=bob, party=bytedance)
    # session, user, tenant (top bar), due tasks with parties, upcoming tasks with parties
    with django_assert_num_queries(5):  # type: ignore[operator]
        client.get(MINE)
    assert count() == few


def test_my_tasks_needs_sign_in(db: None) -> None:
    response = Client().get(MINE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
