"""Interactions, tasks and the timeline through the API. Access per endpoint is pinned in
kehu/core/tests/test_api_access.py."""

import datetime
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from kehu.activities import services
from kehu.activities.models import Interaction, InteractionParty, Task
from kehu.core.context import tenant_scope
from kehu.core.tests.test_api_problems import (
    api_client,
    assert_problem,
    field_errors,
)
from kehu.parties import services as parties
from kehu.parties.models import Party
from kehu.tenancy.models import Tenant, User

JSON = "application/json"
TODAY = datetime.date(2030, 6, 15)


@pytest.fixture
def party(acme: Tenant, alice: User) -> Party:
    with tenant_scope(acme.pk):
        return parties.party_create(actor=alice, kind="organisation", name="甲公司")


@pytest.fixture
def person(acme: Tenant, alice: User) -> Party:
    with tenant_scope(acme.pk):
        return parties.party_create(actor=alice, kind="person", name="张三")


@pytest.fixture
def client(alice: User) -> Client:
    return api_client(alice)


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content.decode()
    return [item["id"] for item in response.json()["items"]]


def test_an_interaction_lands_on_every_partys_timeline(
    client: Client, party: Party, person: Party, acme: Tenant
) -> None:
    response = client.post(
        "/api/v1/interactions",
        {
            "party_ids": [party.pk, person.pk, party.pk],
            "kind": "visit",
            "subject": "上门拜访",
            "body": "<b>谈了续约</b>",
            "occurred_at": "2025-03-01T10:00:00+08:00",
            "duration_minutes": 90,
        },
        content_type=JSON,
    )
    assert response.status_code == 201, response.content.decode()
    body = response.json()
    assert sorted(p["id"] for p in body["parties"]) == sorted([party.pk, person.pk])
    assert body["body"] == "<b>谈了续约</b>"
    assert body["created_by"]["username"] == "alice"
    assert datetime.datetime.fromisoformat(body["occurred_at"]) == datetime.datetime(
        2025, 3, 1, 2, 0, tzinfo=datetime.UTC
    )
    for p in (party, person):
        timeline = client.get(f"/api/v1/parties/{p.pk}/timeline").json()
        assert [i["kind"] for i in timeline] == ["created", "interaction"]  # newest first
        assert timeline[1]["interaction"]["subject"] == "上门拜访"
    with tenant_scope(acme.pk):
        assert InteractionParty.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"party_ids": [], "kind": "call", "subject": "x"}, "party_ids"),
        ({"party_ids": ["{party}"], "kind": "fax", "subject": "x"}, "kind"),
        ({"party_ids": ["{party}"], "kind": "call", "subject": ""}, "subject"),
        ({"party_ids": ["{party}"], "kind": "call", "subject": "长" * 201}, "subject"),
        (
            {"party_ids": ["{party}"], "kind": "call", "subject": "x", "duration_minutes": -5},
            "duration_minutes",
        ),
        (
            {"party_ids": ["{party}"], "kind": "call", "subject": "x", "occurred_at": "soon"},
            "occurred_at",
        ),
        (
            {"party_ids": ["{party}"], "kind": "call", "subject": "x", "occurred_at": "2099-01-01"},
            "occurred_at",
        ),
    ],
)
def test_a_bad_interaction_is_a_422_and_saves_nothing(
    client: Client, party: Party, acme: Tenant, body: dict[str, Any], field: str
) -> None:
    body = {**body, "party_ids": [party.pk if p == "{party}" else p for p in body["party_ids"]]}
    assert field in field_errors(client.post("/api/v1/interactions", body, content_type=JSON))
    with tenant_scope(acme.pk):
        assert not Interaction.objects.exists()


def test_an_interaction_naming_an_invisible_party_is_404_and_saves_nothing(
    party: Party, bob: User, acme: Tenant
) -> None:
    with tenant_scope(acme.pk):
        own = parties.party_create(actor=bob, kind="person", name="鲍勃的客户")
    response = api_client(bob).post(
        "/api/v1/interactions",
        {"party_ids": [own.pk, party.pk], "kind": "call", "subject": "x"},
        content_type=JSON,
    )
    assert_problem(response, 404)
    with tenant_scope(acme.pk):
        assert not Interaction.objects.exists()


def test_interactions_list_newest_first_and_filter_by_party(
    client: Client, party: Party, person: Party, alice: User, acme: Tenant
) -> None:
    with tenant_scope(acme.pk):
        first = services.interaction_log(
            actor=alice,
            parties=[party],
            kind="call",
            subject="一",
            occurred_at=timezone.now() - datetime.timedelta(days=2),
        )
        second = services.interaction_log(actor=alice, parties=[person], kind="call", subject="二")
    assert ids(client.get("/api/v1/interactions")) == [second.pk, first.pk]
    assert ids(client.get(f"/api/v1/interactions?party={party.pk}")) == [first.pk]
    assert_problem(client.get("/api/v1/interactions?party=999999"), 404)


def test_bob_sees_interactions_of_his_parties_only(
    party: Party, bob: User, alice: User, acme: Tenant
) -> None:
    with tenant_scope(acme.pk):
        own = parties.party_create(actor=bob, kind="person", name="鲍勃的客户")
        services.interaction_log(actor=alice, parties=[party], kind="call", subject="甲")
        mine = services.interaction_log(actor=bob, parties=[own], kind="call", subject="乙")
    assert ids(api_client(bob).get("/api/v1/interactions")) == [mine.pk]


def test_the_interaction_list_costs_the_same_queries_for_2_or_20(
    client: Client,
    party: Party,
    person: Party,
    alice: User,
    acme: Tenant,
    django_assert_num_queries: Any,
) -> None:
    client.get("/api/v1/me")  # the token's last-used time is written on first use

    def log(n: int) -> None:
        with tenant_scope(acme.pk):
            for i in range(n):
                services.interaction_log(
                    actor=alice, parties=[party, person], kind="call", subject=f"第{i}次"
                )

    log(2)
    # token, count, page (with creator), links (with parties)
    with django_assert_num_queries(4):
        assert len(ids(client.get("/api/v1/interactions"))) == 2
    log(18)
    with django_assert_num_queries(4):
        assert len(ids(client.get("/api/v1/interactions"))) == 20


def test_a_task_is_created_for_a_colleague_about_a_party(
    client: Client, party: Party, bob: User, acme: Tenant
) -> None:
    response = client.post(
        "/api/v1/tasks",
        {"title": "送样品", "due_date": "2030-06-15", "assignee": bob.pk, "party": party.pk},
        content_type=JSON,
    )
    assert response.status_code == 201, response.content.decode()
    body = response.json()
    assert (body["assignee"]["username"], body["party"]["id"], body["status"]) == (
        "bob",
        party.pk,
        "open",
    )
    # Bob cannot see the party, but he sees the task he was given.
    assert api_client(bob).get(f"/api/v1/tasks/{body['id']}").status_code == 200
    assert_problem(api_client(bob).get(f"/api/v1/parties/{party.pk}"), 404)


def test_a_task_defaults_to_the_caller_and_no_party(client: Client) -> None:
    body = client.post(
        "/api/v1/tasks", {"title": "写周报", "due_date": "2030-06-15"}, content_type=JSON
    ).json()
    assert (body["assignee"]["username"], body["party"]) == ("alice", None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "", "due_date": "2030-01-01"}, "title"),
        ({"title": "x"}, "due_date"),
        ({"title": "x", "due_date": "明天"}, "due_date"),
        ({"title": "x", "due_date": "2030-01-01", "assignee": 999999}, "assignee"),
    ],
)
def test_a_bad_task_is_a_422(
    client: Client, acme: Tenant, body: dict[str, Any], field: str
) -> None:
    assert field in field_errors(client.post("/api/v1/tasks", body, content_type=JSON))
    with tenant_scope(acme.pk):
        assert not Task.objects.exists()


def test_a_task_for_an_outsider_is_refused(client: Client, charlie: User, acme: Tenant) -> None:
    body = {"title": "x", "due_date": "2030-01-01", "assignee": charlie.pk}
    assert "assignee" in field_errors(client.post("/api/v1/tasks", body, content_type=JSON))


@pytest.fixture
def tasks(acme: Tenant, alice: User, bob: User, party: Party) -> dict[str, Task]:
    with tenant_scope(acme.pk):
        made = {
            "overdue": services.task_create(
                actor=alice, title="逾期", due_date=TODAY - datetime.timedelta(days=3), party=party
            ),
            "today": services.task_create(actor=alice, title="今天", due_date=TODAY),
            "later": services.task_create(
                actor=alice, title="以后", due_date=TODAY + datetime.timedelta(days=9)
            ),
            "bobs": services.task_create(
                actor=alice, title="鲍勃的", due_date=TODAY, assignee=bob, party=party
            ),
            "done": services.task_create(actor=alice, title="完成", due_date=TODAY),
        }
        services.task_set_status(actor=alice, task=made["done"], status="done")
    return made


def test_each_task_filter(client: Client, tasks: dict[str, Task], party: Party) -> None:
    def listed(query: str) -> list[str]:
        response = client.get(f"/api/v1/tasks?{query}")
        assert response.status_code == 200
        return [t["title"] for t in response.json()["items"]]

    assert listed("") == ["逾期", "今天", "鲍勃的", "完成", "以后"]
    assert listed("mine=true") == ["逾期", "今天", "完成", "以后"]
    assert listed("status=done") == ["完成"]
    assert listed("status=open&mine=true") == ["逾期", "今天", "以后"]
    assert listed(f"due_before={TODAY.isoformat()}") == ["逾期", "今天", "鲍勃的", "完成"]
    assert listed(f"party={party.pk}") == ["逾期", "鲍勃的"]
    assert "status" in field_errors(client.get("/api/v1/tasks?status=lazy"))
    assert "due_before" in field_errors(client.get("/api/v1/tasks?due_before=someday"))


def test_bob_sees_his_own_tasks_only(tasks: dict[str, Task], bob: User) -> None:
    assert ids(api_client(bob).get("/api/v1/tasks")) == [tasks["bobs"].pk]


def test_today_lists_open_tasks_due_today_or_overdue(
    client: Client, tasks: dict[str, Task], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: TODAY)
    assert ids(client.get("/api/v1/tasks/today")) == [tasks["overdue"].pk, tasks["today"].pk]


def test_the_task_list_costs_the_same_queries_for_few_or_many(
    client: Client, party: Party, alice: User, acme: Tenant, django_assert_num_queries: Any
) -> None:
    client.get("/api/v1/me")

    def make(n: int) -> None:
        with tenant_scope(acme.pk):
            for i in range(n):
                services.task_create(actor=alice, title=f"任务{i}", due_date=TODAY, party=party)

    make(2)
    # token, count, page (with assignee and party)
    with django_assert_num_queries(3):
        assert len(ids(client.get("/api/v1/tasks"))) == 2
    make(20)
    with django_assert_num_queries(3):
        assert len(ids(client.get("/api/v1/tasks"))) == 22


def test_patch_and_status_change_a_task(
    client: Client, tasks: dict[str, Task], bob: User, acme: Tenant
) -> None:
    task = tasks["overdue"]  # about a party Alice sees, so she still sees it once it is Bob's
    response = client.patch(
        f"/api/v1/tasks/{task.pk}", {"title": "今天下午", "assignee": bob.pk}, content_type=JSON
    )
    assert (response.json()["title"], response.json()["assignee"]["username"]) == (
        "今天下午",
        "bob",
    )
    done = client.post(f"/api/v1/tasks/{task.pk}/status", {"status": "done"}, content_type=JSON)
    assert done.json()["status"] == "done"
    assert done.json()["completed_at"] is not None
    reopened = client.post(f"/api/v1/tasks/{task.pk}/status", {"status": "open"}, content_type=JSON)
    assert (reopened.json()["status"], reopened.json()["completed_at"]) == ("open", None)
    with tenant_scope(acme.pk):
        task.refresh_from_db()
    assert (task.title, task.assignee_id, task.status) == ("今天下午", bob.pk, "open")


@pytest.mark.parametrize(
    ("body", "field"),
    [({"title": None}, "title"), ({"party": 1}, "party"), ({"status": "done"}, "status")],
)
def test_patch_refuses_nulls_and_fields_it_does_not_change(
    client: Client, tasks: dict[str, Task], body: dict[str, Any], field: str
) -> None:
    task = tasks["today"]
    assert field in field_errors(client.patch(f"/api/v1/tasks/{task.pk}", body, content_type=JSON))


def test_a_tasks_party_timeline_shows_state_and_tasks(
    client: Client, party: Party, alice: User, acme: Tenant
) -> None:
    with tenant_scope(acme.pk):
        parties.party_change_state(actor=alice, party=party, to_state="target", reason="重点客户")
        services.task_create(actor=alice, title="报价", due_date=TODAY, party=party)
    timeline = client.get(f"/api/v1/parties/{party.pk}/timeline").json()
    kinds = {item["kind"]: item for item in timeline}
    assert kinds["state"]["state_change"]["reason"] == "重点客户"
    assert kinds["task"]["task"]["title"] == "报价"
    assert kinds["created"]["created_by"]["username"] == "alice"
    assert len(client.get(f"/api/v1/parties/{party.pk}/timeline?limit=1").json()) == 1
    assert "limit" in field_errors(client.get(f"/api/v1/parties/{party.pk}/timeline?limit=201"))


def test_a_time_without_an_offset_means_beijing_time(client: Client, party: Party) -> None:
    response = client.post(
        "/api/v1/interactions",
        {
            "party_ids": [party.pk],
            "kind": "call",
            "subject": "x",
            "occurred_at": "2025-03-01T10:00",
        },
        content_type=JSON,
    )
    assert response.status_code == 201, response.content.decode()
    occurred = datetime.datetime.fromisoformat(response.json()["occurred_at"])
    assert occurred == datetime.datetime(2025, 3, 1, 2, 0, tzinfo=datetime.UTC)
