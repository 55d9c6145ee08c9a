"""Logging an interaction with one or more parties, and the party search of its form."""

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from conftest import login
from kehu.activities.models import Interaction, InteractionParty
from kehu.core.context import tenant_scope
from kehu.core.models import AuditEntry
from kehu.parties.models import Party
from kehu.tenancy.models import Tenant, User

URL = reverse("activities:interaction_new")
SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


def rows(tenant: Tenant) -> tuple[int, int, int]:
    with tenant_scope(tenant.pk):
        return (
            Interaction.objects.count(),
            InteractionParty.objects.count(),
            AuditEntry.objects.filter(object_type="activities.interaction").count(),
        )


def local(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def form_data(*parties: Party, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "kind": "visit",
        "subject": "拜访采购部",
        "body": "谈了明年的框架协议。",
        "occurred_at": "2025-03-01T10:30",
        "duration_minutes": "45",
        "parties": [p.pk for p in parties],
    }
    data.update(overrides)
    return data


def test_form_preselects_the_party_from_the_query(alice: User, bytedance: Party) -> None:
    response = login(alice).get(URL, {"party": bytedance.pk})
    assert response.status_code == 200
    page = response.content.decode()
    assert f'name="parties" value="{bytedance.pk}" checked' in page
    assert "北京字节跳动科技有限公司" in page
    assert 'type="datetime-local"' in page


def test_log_an_interaction_with_two_parties(
    alice: User, bytedance: Party, bobs_party: Party
) -> None:
    response = login(alice).post(URL, form_data(bytedance, bobs_party))
    assert response.status_code == 302
    assert response["Location"] == reverse("parties:detail", args=[bytedance.pk])
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        interaction = Interaction.objects.get()
        linked = set(interaction.links.values_list("party_id", flat=True))
    assert linked == {bytedance.pk, bobs_party.pk}
    assert (interaction.kind, interaction.subject, interaction.duration_minutes) == (
        "visit",
        "拜访采购部",
        45,
    )
    # The datetime-local value is read in Asia/Shanghai.
    assert interaction.occurred_at == datetime.datetime(2025, 3, 1, 10, 30, tzinfo=SHANGHAI)
    assert interaction.created_by_id == alice.pk
    assert rows(alice.tenant) == (1, 2, 2)  # type: ignore[arg-type]


def test_after_saving_a_safe_next_wins_and_an_unsafe_one_is_ignored(
    alice: User, bytedance: Party
) -> None:
    client = login(alice)
    response = client.post(URL, form_data(bytedance, next="/tasks/"))
    assert response["Location"] == "/tasks/"
    response = client.post(URL, form_data(bytedance, next="https://evil.example/"))
    assert response["Location"] == reverse("parties:detail", args=[bytedance.pk])


def test_bob_can_log_on_his_own_party(bob: User, bobs_party: Party) -> None:
    assert login(bob).post(URL, form_data(bobs_party)).status_code == 302
    assert rows(bob.tenant) == (1, 1, 1)  # type: ignore[arg-type]


def test_bob_gets_404_for_a_party_he_cannot_see(
    bob: User, bytedance: Party, bobs_party: Party
) -> None:
    client = login(bob)
    assert client.get(URL, {"party": bytedance.pk}).status_code == 404
    assert client.post(URL, form_data(bytedance)).status_code == 404
    assert client.post(URL, form_data(bobs_party, bytedance)).status_code == 404
    assert rows(bob.tenant) == (0, 0, 0)  # type: ignore[arg-type]


def test_read_only_colleague_gets_403(dora: User, bytedance: Party) -> None:
    client = login(dora)
    assert client.get(URL, {"party": bytedance.pk}).status_code == 403
    assert client.post(URL, form_data(bytedance)).status_code == 403
    assert rows(dora.tenant) == (0, 0, 0)  # type: ignore[arg-type]


def test_outsider_gets_404_and_nothing_is_written(
    alice: User, charlie: User, bytedance: Party
) -> None:
    client = login(charlie)
    assert client.get(URL, {"party": bytedance.pk}).status_code == 404
    assert client.post(URL, form_data(bytedance)).status_code == 404
    assert rows(alice.tenant) == (0, 0, 0)  # type: ignore[arg-type]
    assert rows(charlie.tenant) == (0, 0, 0)  # type: ignore[arg-type]


def test_a_malformed_party_id_is_404(alice: User) -> None:
    assert login(alice).get(URL, {"party": "abc"}).status_code == 404


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"subject": ""}, "subject", "这个字段是必填项。"),
        ({"subject": "长" * 201}, "subject", ""),
        ({"occurred_at": "not-a-date"}, "occurred_at", ""),
        ({"kind": "telepathy"}, "kind", ""),
        ({"duration_minutes": "-5"}, "duration_minutes", ""),
        ({"parties": []}, "parties", "至少选择一个客户。"),
    ],
    ids=["empty-subject", "long-subject", "garbage-date", "bad-kind", "negative-duration", "none"],
)
def test_bad_input_is_a_field_error_and_saves_nothing(
    alice: User, bytedance: Party, overrides: dict[str, object], field: str, message: str
) -> None:
    response = login(alice).post(URL, form_data(bytedance, **overrides))
    assert response.status_code == 422
    errors = response.context["form"].errors[field]
    assert errors and message in " ".join(errors)
    assert rows(alice.tenant) == (0, 0, 0)  # type: ignore[arg-type]


def test_a_time_far_in_the_future_is_refused_on_its_field(alice: User, bytedance: Party) -> None:
    later = local(timezone.now() + datetime.timedelta(days=3))
    response = login(alice).post(URL, form_data(bytedance, occurred_at=later))
    assert response.status_code == 422
    assert response.context["form"].errors["occurred_at"] == ["互动时间不能晚于明天。"]
    assert rows(alice.tenant) == (0, 0, 0)  # type: ignore[arg-type]


def test_a_refused_form_keeps_the_chosen_parties_and_escapes_the_subject(
    alice: User, bytedance: Party
) -> None:
    response = login(alice).post(
        URL, form_data(bytedance, subject="<script>alert(1)</script>", occurred_at="x")
    )
    page = response.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    assert f'name="parties" value="{bytedance.pk}" checked' in page


# The party search of the form.


def search(client: Client, query: str, *chosen: Party) -> str:
    params: dict[str, str | list[int]] = {"q": query, "parties": [p.pk for p in chosen]}
    response = client.get(
        reverse("activities:party_search"), params, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    return response.content.decode()


def test_search_finds_visible_parties_by_name_and_pinyin(
    alice: User, bytedance: Party, bobs_party: Party
) -> None:
    client = login(alice)
    assert f'value="{bytedance.pk}"' in search(client, "字节")
    assert f'value="{bytedance.pk}"' in search(client, "zijie")
    assert f'value="{bobs_party.pk}"' not in search(client, "字节")
    assert "<html" not in search(client, "字节")


def test_search_keeps_the_chosen_parties_checked(
    alice: User, bytedance: Party, bobs_party: Party
) -> None:
    fragment = search(login(alice), "阿里", bytedance)
    assert f'value="{bytedance.pk}" checked' in fragment
    assert f'value="{bobs_party.pk}">' in fragment


def test_search_shows_bob_only_what_he_may_see(
    bob: User, bytedance: Party, bobs_party: Party
) -> None:
    client = login(bob)
    fragment = search(client, "字节")
    assert bytedance.name not in fragment and f'value="{bytedance.pk}"' not in fragment
    assert "没有找到" in fragment
    assert f'value="{bobs_party.pk}"' in search(client, "阿里")
    response = client.get(reverse("activities:party_search"), {"parties": bytedance.pk})
    assert response.status_code == 404


def test_search_shows_an_outsider_nothing_of_acme(charlie: User, bytedance: Party) -> None:
    fragment = search(login(charlie), "字节")
    assert bytedance.name not in fragment and f'value="{bytedance.pk}"' not in fragment
