"""Correcting and deleting a logged interaction, and the list of interactions."""

import datetime
import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from conftest import login
from kehu.activities import services
from kehu.activities.models import Interaction, InteractionParty
from kehu.activities.selectors import party_timeline
from kehu.activities.tests.conftest import make_party
from kehu.core.context import tenant_scope
from kehu.core.models import AuditEntry
from kehu.core.tests.test_api_problems import api_client, assert_problem
from kehu.parties import services as party_services
from kehu.parties.models import Party
from kehu.tenancy.models import Tenant, User

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))
MARCH = datetime.datetime(2025, 3, 1, 10, 30, tzinfo=SHANGHAI)


def log(actor: User, *parties: Party, subject: str = "拜访采购部") -> Interaction:
    with tenant_scope(actor.tenant_id):  # type: ignore[arg-type]
        return services.interaction_log(
            actor=actor,
            parties=list(parties),
            kind="visit",
            subject=subject,
            occurred_at=MARCH,
            duration_minutes=45,
        )


@pytest.fixture
def alices(alice: User, bytedance: Party, bobs_party: Party) -> Interaction:
    """Alice's log with both parties: Bob sees it (his party) but did not write it."""
    return log(alice, bytedance, bobs_party)


def state(tenant: Tenant) -> list[Any]:
    """All a refused request could have changed (an API token's own history aside)."""
    with tenant_scope(tenant.pk):
        return [
            list(Interaction.objects.order_by("pk").values_list("pk", "kind", "subject", "body")),
            list(InteractionParty.objects.order_by("pk").values_list("pk", "occurred_at")),
            AuditEntry.objects.filter(object_type="activities.interaction").count(),
        ]


def audit(interaction_pk: int, action: str) -> list[AuditEntry]:
    return list(
        AuditEntry.objects.filter(
            object_type="activities.interaction", object_id=interaction_pk, action=action
        ).order_by("root_id")
    )


# Services.


def test_update_moves_it_on_every_timeline_and_audits_each_party(
    alice: User, alices: Interaction, bytedance: Party, bobs_party: Party, in_acme: None
) -> None:
    later = datetime.datetime(2025, 3, 5, 9, 0, tzinfo=SHANGHAI)
    services.interaction_update(
        actor=alice, interaction=alices, subject="电话回访", occurred_at=later, kind="call"
    )
    links = InteractionParty.objects.filter(interaction=alices)
    assert {link.occurred_at for link in links} == {later}
    on_timeline = [i for i in party_timeline(bytedance) if i.kind == "interaction"]
    assert [(i.at, i.obj) for i in on_timeline] == [(later, alices)]
    entries = audit(alices.pk, AuditEntry.Action.UPDATE)
    assert [e.root_id for e in entries] == sorted([bytedance.pk, bobs_party.pk])
    changes = entries[0].changes
    assert changes["subject"] == ["拜访采购部", "电话回访"]
    assert changes["kind"] == ["visit", "call"]
    assert set(changes) == {"subject", "kind", "occurred_at"}
    assert entries[0].actor_id == alice.pk


def test_an_update_that_changes_nothing_writes_no_history(
    alice: User, alices: Interaction, in_acme: None
) -> None:
    services.interaction_update(actor=alice, interaction=alices, subject="拜访采购部")
    assert audit(alices.pk, AuditEntry.Action.UPDATE) == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"subject": ""}, "subject"),
        ({"kind": "fax"}, "kind"),
        ({"occurred_at": timezone.now() + datetime.timedelta(days=3)}, "occurred_at"),
    ],
)
def test_bad_corrections_name_the_field_and_change_nothing(
    alice: User, alices: Interaction, acme: Tenant, changes: dict[str, Any], field: str
) -> None:
    before = state(acme)
    with tenant_scope(acme.pk), pytest.raises(ValidationError) as error:
        services.interaction_update(
            actor=alice, interaction=Interaction.objects.get(pk=alices.pk), **changes
        )
    assert field in error.value.message_dict
    assert state(acme) == before


def test_the_parties_are_not_changed_by_an_update(
    alice: User, alices: Interaction, bytedance: Party, in_acme: None
) -> None:
    with pytest.raises(ValidationError):
        services.interaction_update(actor=alice, interaction=alices, parties=[bytedance])


def test_delete_removes_it_from_every_timeline_and_keeps_the_history(
    alice: User, alices: Interaction, bytedance: Party, bobs_party: Party, in_acme: None
) -> None:
    pk = alices.pk
    services.interaction_delete(actor=alice, interaction=alices)
    assert not Interaction.objects.filter(pk=pk).exists()
    assert not InteractionParty.objects.filter(interaction_id=pk).exists()
    for party in (bytedance, bobs_party):
        assert [i for i in party_timeline(party) if i.kind == "interaction"] == []
    entries = audit(pk, AuditEntry.Action.DELETE)
    assert [e.root_id for e in entries] == sorted([bytedance.pk, bobs_party.pk])
    assert entries[0].changes["subject"] == ["拜访采购部", None]


# Pages.


def edit_url(interaction: Interaction) -> str:
    return reverse("activities:interaction_edit", args=[interaction.pk])


def delete_url(interaction: Interaction) -> str:
    return reverse("activities:interaction_delete", args=[interaction.pk])


def form_data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "kind": "meeting",
        "subject": "年度会议",
        "body": "<b>框架协议</b>",
        "occurred_at": "2025-03-02T14:00",
        "duration_minutes": "90",
    }
    data.update(overrides)
    return data


def test_the_edit_form_is_filled_and_shows_the_parties(
    alice: User, alices: Interaction, bytedance: Party
) -> None:
    response = login(alice).get(edit_url(alices))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'value="拜访采购部"' in page
    assert 'value="2025-03-01T10:30"' in page
    assert "北京字节跳动科技有限公司" in page
    assert 'name="parties"' not in page


def test_saving_a_correction_goes_back_to_the_party(
    alice: User, alices: Interaction, bytedance: Party, acme: Tenant
) -> None:
    back = reverse("parties:detail", args=[bytedance.pk]) + "#timeline"
    response = login(alice).post(edit_url(alices), form_data(next=back))
    assert response.status_code == 302
    assert response["Location"] == back
    with tenant_scope(acme.pk):
        saved = Interaction.objects.get(pk=alices.pk)
        assert (saved.kind, saved.subject, saved.duration_minutes) == ("meeting", "年度会议", 90)
        links = InteractionParty.objects.filter(interaction=saved)
        assert {link.occurred_at for link in links} == {
            datetime.datetime(2025, 3, 2, 14, 0, tzinfo=SHANGHAI)
        }
    detail = login(alice).get(back).content.decode()
    assert "&lt;b&gt;框架协议&lt;/b&gt;" in detail


def test_a_bad_correction_is_a_field_error(alice: User, alices: Interaction, acme: Tenant) -> None:
    before = state(acme)
    response = login(alice).post(edit_url(alices), form_data(subject=""))
    assert response.status_code == 422
    assert 'class="field invalid"' in response.content.decode()
    assert state(acme) == before


def test_delete_goes_back_to_next(alice: User, alices: Interaction, bytedance: Party) -> None:
    back = reverse("parties:detail", args=[bytedance.pk])
    response = login(alice).post(delete_url(alices), {"next": back})
    assert response.status_code == 302
    assert response["Location"] == back
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        assert not Interaction.objects.filter(pk=alices.pk).exists()


def test_delete_is_post_only(alice: User, alices: Interaction) -> None:
    assert login(alice).get(delete_url(alices)).status_code == 405


def test_the_timeline_offers_edit_and_delete_to_those_allowed(
    alice: User, bob: User, dora: User, alices: Interaction, bobs_party: Party
) -> None:
    own = log(bob, bobs_party, subject="鲍的电话")
    page = reverse("parties:detail", args=[bobs_party.pk])
    for_alice = login(alice).get(page).content.decode()
    assert edit_url(alices) in for_alice and edit_url(own) in for_alice  # a manager
    for_bob = login(bob).get(page).content.decode()
    assert edit_url(own) in for_bob and delete_url(own) in for_bob
    assert edit_url(alices) not in for_bob  # a colleague's, with a party he cannot see
    for_dora = login(dora).get(page).content.decode()
    assert "interaction_edit" not in for_dora and edit_url(own) not in for_dora


def test_bob_may_correct_his_own(bob: User, bobs_party: Party, acme: Tenant) -> None:
    own = log(bob, bobs_party)
    assert login(bob).post(edit_url(own), form_data()).status_code == 302
    assert login(bob).post(delete_url(own)).status_code == 302
    with tenant_scope(acme.pk):
        assert not Interaction.objects.filter(pk=own.pk).exists()


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_refusals_on_the_pages(
    method: str,
    alice: User,
    bob: User,
    charlie: User,
    dora: User,
    bytedance: Party,
    bobs_party: Party,
    alices: Interaction,
    acme: Tenant,
) -> None:
    hidden = log(alice, bytedance)  # Bob does not see it at all
    cases = [(charlie, hidden, 404), (charlie, alices, 404), (bob, hidden, 404)]
    cases += [(bob, alices, 403), (dora, alices, 403), (dora, hidden, 403)]
    before = state(acme)
    for user, interaction, status in cases:
        client = login(user)
        if method == "get":
            response = client.get(edit_url(interaction))
        elif method == "post":
            response = client.post(edit_url(interaction), form_data())
        else:
            response = client.post(delete_url(interaction))
        assert response.status_code == status, (user.username, interaction.subject)
    assert state(acme) == before


def test_bob_may_not_change_his_own_once_a_party_in_it_is_hidden_from_him(
    alice: User, bob: User, bobs_party: Party, acme: Tenant
) -> None:
    other = make_party(bob, "鲍的另一个客户")
    own = log(bob, bobs_party, other)
    with tenant_scope(acme.pk):
        party_services.party_hand_over(actor=alice, party=other, receiver=alice, note="调岗")
    before = state(acme)
    assert login(bob).post(delete_url(own)).status_code == 403
    assert login(bob).post(edit_url(own), form_data()).status_code == 403
    assert state(acme) == before


# The list page.

LIST = reverse("activities:interaction_list")


def test_the_list_shows_what_the_user_may_see_newest_first(
    alice: User, bob: User, bytedance: Party, bobs_party: Party
) -> None:
    older = log(alice, bytedance, subject="旧的拜访")
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        newer = services.interaction_log(
            actor=bob, parties=[bobs_party], kind="call", subject="新的电话"
        )
    page = login(alice).get(LIST).content.decode()
    assert page.index("新的电话") < page.index("旧的拜访")
    assert edit_url(older) in page and edit_url(newer) in page
    for_bob = login(bob).get(LIST).content.decode()
    assert "新的电话" in for_bob and "旧的拜访" not in for_bob


def test_the_list_filters_by_kind(alice: User, bytedance: Party) -> None:
    log(alice, bytedance, subject="上门拜访")
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        services.interaction_log(actor=alice, parties=[bytedance], kind="call", subject="电话")
    page = login(alice).get(LIST, {"kind": "call"}).content.decode()
    assert "电话" in page and "上门拜访" not in page
    unknown = login(alice).get(LIST, {"kind": "fax"}).content.decode()
    assert "上门拜访" in unknown


def test_an_outsider_sees_none_of_acmes_interactions(charlie: User, alices: Interaction) -> None:
    page = login(charlie).get(LIST).content.decode()
    assert "拜访采购部" not in page
    assert edit_url(alices) not in page


def test_dora_sees_the_list_without_edit_buttons(dora: User, alices: Interaction) -> None:
    page = login(dora).get(LIST).content.decode()
    assert "拜访采购部" in page and edit_url(alices) not in page


@pytest.mark.parametrize("persona", ["alice", "bob"])
def test_the_list_costs_the_same_queries_for_one_row_or_fifty(
    persona: str,
    request: pytest.FixtureRequest,
    bob: User,
    bobs_party: Party,
    django_assert_num_queries: Any,
) -> None:
    user = request.getfixturevalue(persona)
    for n in range(60):
        log(bob, bobs_party, make_party(bob, f"客户{n}"), subject=f"拜访 {n}")
    client = login(user)
    # session, user, membership… then count, page, its links with parties; and for Bob
    # (own visibility) which of the page's interactions involve a party he cannot see.
    expected = {"alice": 6, "bob": 7}[persona]
    with django_assert_num_queries(expected):
        response = client.get(LIST)
    assert response.content.decode().count('<tr id="interaction-') == 50
    with django_assert_num_queries(expected):
        client.get(LIST, {"page": 2})


# The API.


def api(user: User, method: str, interaction: Interaction, body: Any = None) -> Any:
    path = f"/api/v1/interactions/{interaction.pk}"
    if body is None:
        return api_client(user).generic(method, path)
    return api_client(user).generic(method, path, json.dumps(body), content_type="application/json")


def test_api_patch_corrects_and_returns_it(
    alice: User, alices: Interaction, bytedance: Party, bobs_party: Party, acme: Tenant
) -> None:
    response = api(alice, "PATCH", alices, {"subject": "电话", "occurred_at": "2025-03-03T08:00"})
    assert response.status_code == 200, response.content.decode()
    body = response.json()
    assert body["subject"] == "电话"
    assert body["occurred_at"].startswith("2025-03-03T08:00:00+08:00")
    assert [p["id"] for p in body["parties"]] == [bytedance.pk, bobs_party.pk]
    with tenant_scope(acme.pk):
        link = InteractionParty.objects.get(interaction=alices, party=bytedance)
    assert link.occurred_at == datetime.datetime(2025, 3, 3, 8, 0, tzinfo=SHANGHAI)


def test_api_bad_patch_names_the_field(alice: User, alices: Interaction, acme: Tenant) -> None:
    before = state(acme)
    future = (timezone.now() + datetime.timedelta(days=5)).isoformat()
    body = assert_problem(api(alice, "PATCH", alices, {"occurred_at": future}), 422)
    assert "occurred_at" in json.dumps(body)
    assert state(acme) == before


def test_api_bob_gets_403_on_a_colleagues_interaction_he_can_see(
    bob: User, alices: Interaction, acme: Tenant
) -> None:
    assert api(bob, "GET", alices).status_code == 200
    before = state(acme)
    assert_problem(api(bob, "PATCH", alices, {"subject": "改"}), 403)
    assert_problem(api(bob, "DELETE", alices), 403)
    assert state(acme) == before


def test_api_bob_may_delete_his_own(bob: User, bobs_party: Party, acme: Tenant) -> None:
    own = log(bob, bobs_party)
    assert api(bob, "DELETE", own).status_code == 204
    with tenant_scope(acme.pk):
        assert not Interaction.objects.filter(pk=own.pk).exists()
