"""Handover (工作交接): a leaving colleague's parties, account-team places and open tasks
move in one step, each with the note; deactivation waits until nothing is left."""

import datetime
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from conftest import login
from kehu.activities import services as activities
from kehu.activities.models import Task, TaskStatus
from kehu.core.context import tenant_scope
from kehu.core.models import AuditEntry
from kehu.core.tests.test_api_problems import api_client, assert_problem, field_errors
from kehu.parties import services as parties
from kehu.parties.models import AccountTeamMember, OwnershipChange, OwnershipKind, Party
from kehu.tenancy import services
from kehu.tenancy.models import Role, Tenant, User, Visibility

NOTE = "鲍离职，客户转交"
DUE = datetime.date(2030, 1, 1)


def colleague(alice: User, username: str, role: str = Role.SALES) -> User:
    return services.staff_create(
        actor=alice,
        username=username,
        password="x-Long-enough-42",
        role=role,
        visibility=Visibility.OWN,
    )


@pytest.fixture
def bobs_work(alice: User, bob: User, in_acme: None) -> dict[str, Any]:
    """Bob owns three parties, serves on Alice's account team, has open and done tasks."""
    owned = [parties.party_create(actor=bob, kind="person", name=f"鲍的客户{i}") for i in range(3)]
    alices = parties.party_create(actor=alice, kind="organisation", name="甲公司")
    place = parties.account_team_add(actor=alice, party=alices, user=bob, role="sales")
    about = activities.task_create(actor=bob, title="回访", due_date=DUE, party=owned[1])
    loose = activities.task_create(actor=bob, title="整理名片", due_date=DUE)
    done = activities.task_create(actor=bob, title="旧事", due_date=DUE, party=owned[0])
    activities.task_set_status(actor=bob, task=done, status=TaskStatus.DONE)
    return {"owned": owned, "alices": alices, "place": place, "about": about, "loose": loose,
            "done": done}  # fmt: skip


def test_everything_moves_with_the_note_and_nothing_is_left(
    alice: User, bob: User, bobs_work: dict[str, Any]
) -> None:
    carol = colleague(alice, "carol")
    moved = services.staff_handover(actor=alice, giver=bob, receivers=[carol], note=NOTE)
    assert services.handover_counts(moved) == {"account_team": 1, "party": 3, "task": 2}
    assert services.held_by(bob) == {}
    assert set(Party.objects.filter(owner=carol)) == set(bobs_work["owned"])
    assert AccountTeamMember.objects.get(party=bobs_work["alices"]).user == carol
    assert Task.objects.get(pk=bobs_work["done"].pk).assignee == bob  # done work stays his
    changes = OwnershipChange.objects.filter(kind=OwnershipKind.HANDOVER)
    assert {(c.from_owner, c.to_owner, c.note) for c in changes} == {(bob, carol, NOTE)}
    noted = AuditEntry.objects.filter(changes__handover_note=[None, NOTE])
    assert {e.object_type for e in noted} == {
        "activities.task",
        "parties.accountteammember",
        "tenancy.user",
    }
    assert (
        AuditEntry.objects.filter(
            object_type="parties.ownershipchange", changes__note=[None, NOTE]
        ).count()
        == 3
    )


def test_several_receivers_share_by_round_robin_and_tasks_follow_their_party(
    alice: User, bob: User, bobs_work: dict[str, Any]
) -> None:
    carol, dan = colleague(alice, "carol"), colleague(alice, "dan")
    services.staff_handover(actor=alice, giver=bob, receivers=[carol, dan], note=NOTE)
    owners = [Party.objects.get(pk=p.pk).owner for p in bobs_work["owned"]]
    assert owners == [carol, dan, carol]
    assert Task.objects.get(pk=bobs_work["about"].pk).assignee == dan  # with 鲍的客户1


def test_a_subset_moves_only_what_was_chosen(
    alice: User, bob: User, bobs_work: dict[str, Any]
) -> None:
    carol = colleague(alice, "carol")
    first = bobs_work["owned"][0]
    services.staff_handover(
        actor=alice, giver=bob, receivers=[carol], note="调岗", only={"party": {first.pk}}
    )
    assert Party.objects.get(pk=first.pk).owner == carol
    assert services.held_by(bob) == {"客户": 2, "客户团队成员身份": 1, "待办任务": 2}


def test_a_receiver_already_on_the_team_is_not_added_twice(
    alice: User, bob: User, bobs_work: dict[str, Any]
) -> None:
    # Alice owns 甲公司: taking Bob's place there she just removes him.
    services.staff_handover(
        actor=alice,
        giver=bob,
        receivers=[alice],
        note=NOTE,
        only={"account_team": {bobs_work["place"].pk}},
    )
    assert not AccountTeamMember.objects.filter(party=bobs_work["alices"]).exists()


@pytest.mark.parametrize(
    ("receivers", "note", "field"),
    [("self", NOTE, "receivers"), ("none", NOTE, "receivers"), ("carol", "  ", "note")],
)
def test_bad_handovers_change_nothing(
    alice: User, bob: User, bobs_work: dict[str, Any], receivers: str, note: str, field: str
) -> None:
    carol = colleague(alice, "carol")
    chosen = {"self": [bob], "none": [], "carol": [carol]}[receivers]
    before = AuditEntry.objects.count()
    with pytest.raises(ValidationError) as caught:
        services.staff_handover(actor=alice, giver=bob, receivers=chosen, note=note)
    assert field in caught.value.message_dict
    assert AuditEntry.objects.count() == before
    assert services.held_by(bob)["客户"] == 3


def test_a_failure_half_way_rolls_everything_back(
    alice: User, bob: User, bobs_work: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(**kwargs: Any) -> None:
        raise ValidationError("任务无法移交")

    # The parties have moved by the time the tasks fail: all of it is undone.
    monkeypatch.setattr(activities, "task_hand_over", refuse)
    with pytest.raises(ValidationError):
        services.staff_handover(actor=alice, giver=bob, receivers=[alice], note=NOTE)
    assert services.held_by(bob) == {"客户": 3, "客户团队成员身份": 1, "待办任务": 2}
    assert not OwnershipChange.objects.exists()


def test_deactivating_someone_who_holds_records_points_to_the_handover(
    alice: User, bob: User, bobs_work: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError) as caught:
        services.staff_update(actor=alice, user=bob, is_active=False)
    message = caught.value.message_dict["is_active"][0]
    assert "客户 3" in message and "待办任务 2" in message and "工作交接" in message
    bob.refresh_from_db()
    assert bob.is_active
    services.staff_handover(actor=alice, giver=bob, receivers=[alice], note=NOTE)
    services.staff_update(actor=alice, user=bob, is_active=False)
    bob.refresh_from_db()
    assert not bob.is_active


# Pages.


def test_staff_edit_refuses_deactivation_and_links_the_handover(
    alice: User, bob: User, bobs_work: dict[str, Any]
) -> None:
    data = {"display_name": "Bob", "role": Role.SALES, "visibility": Visibility.OWN}
    response = login(alice).post(reverse("tenancy:staff_edit", args=[bob.pk]), data)
    assert response.status_code == 422
    assert reverse("tenancy:handover", args=[bob.pk]) in response.content.decode()


def test_handover_page_lists_holdings_with_pinned_queries_and_moves_them(
    alice: User, bob: User, bobs_work: dict[str, Any], django_assert_num_queries: Any
) -> None:
    carol = colleague(alice, "carol")
    client = login(alice)
    url = reverse("tenancy:handover", args=[bob.pk])
    # session, user, tenant; Bob; his parties, account-team places, open tasks, open
    # opportunities, open leads; receivers
    with django_assert_num_queries(10):
        page = client.get(url).content.decode()
    assert page.count('name="pick"') == 6
    picks = [f"party:{p.pk}" for p in bobs_work["owned"]] + [f"task:{bobs_work['loose'].pk}"]
    response = client.post(url, {"receivers": [carol.pk], "note": "<b>调岗</b>", "pick": picks})
    assert response.status_code == 200
    summary = response.content.decode()
    assert summary.count("<tr>") == 5  # the header and four records
    assert "&lt;b&gt;调岗&lt;/b&gt;" in summary
    assert services.held_by(bob) == {"客户团队成员身份": 1, "待办任务": 1}


def test_a_handover_without_a_note_is_sent_back(
    alice: User, bob: User, bobs_work: dict[str, Any]
) -> None:
    url = reverse("tenancy:handover", args=[bob.pk])
    response = login(alice).post(url, {"receivers": [alice.pk], "note": ""})
    assert response.status_code == 422
    assert "note" in response.context["form"].errors


@pytest.mark.parametrize(("persona", "status"), [("bob", 403), ("dora", 403), ("charlie", 404)])
def test_only_managers_hand_over(
    alice: User, bob: User, acme: Tenant, persona: str, status: int, request: pytest.FixtureRequest
) -> None:
    with tenant_scope(acme.pk):
        party = parties.party_create(actor=bob, kind="person", name="鲍的客户")
        before = AuditEntry.objects.count()
    client = login(request.getfixturevalue(persona))
    url = reverse("tenancy:handover", args=[bob.pk])
    assert client.get(url).status_code == status
    assert client.post(url, {"receivers": [alice.pk], "note": NOTE}).status_code == status
    with tenant_scope(acme.pk):
        assert Party.objects.get(pk=party.pk).owner == bob
        assert AuditEntry.objects.count() == before


def test_a_manager_may_hand_over(alice: User, bob: User, acme: Tenant) -> None:
    with tenant_scope(acme.pk):
        mia = colleague(alice, "mia", Role.MANAGER)
        party = parties.party_create(actor=bob, kind="person", name="鲍的客户")
    url = reverse("tenancy:handover", args=[bob.pk])
    data = {"receivers": [alice.pk], "note": NOTE, "pick": [f"party:{party.pk}"]}
    assert login(mia).post(url, data).status_code == 200
    with tenant_scope(acme.pk):
        assert Party.objects.get(pk=party.pk).owner == alice


# API.


def test_api_lists_holdings_and_hands_over(
    alice: User, bob: User, acme: Tenant, bobs_work: dict[str, Any]
) -> None:
    client = api_client(alice)
    held = client.get(f"/api/v1/users/{bob.pk}/holdings").json()
    assert sorted({h["kind"] for h in held}) == ["account_team", "party", "task"]
    bad = client.post(
        f"/api/v1/users/{bob.pk}/handover",
        {"receivers": [999999], "note": NOTE},
        content_type="application/json",
    )
    assert "receivers" in field_errors(bad)
    done = client.post(
        f"/api/v1/users/{bob.pk}/handover",
        {"receivers": [alice.pk], "note": NOTE, "only": {"task": [bobs_work["loose"].pk]}},
        content_type="application/json",
    ).json()
    assert done["counts"] == {"task": 1}
    assert done["moved"][0]["receiver"]["username"] == "alice"


def test_api_handover_is_for_managers(bob: User, dora: User, acme: Tenant) -> None:
    for user in (bob, dora):
        body = {"receivers": [user.pk], "note": NOTE}
        client = api_client(user)
        assert_problem(client.get(f"/api/v1/users/{bob.pk}/holdings"), 403)
        assert_problem(
            client.post(f"/api/v1/users/{bob.pk}/handover", body, content_type="application/json"),
            403,
        )
