"""Planned spend (the balance sheet's planned acquisition and win-back spend): managers
write it, every write is audited, bad input says what and where and writes nothing;
those who see the whole firm read it, a rep with visibility own and an outsider do not."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from conftest import login, page_text
from kehu.core.context import tenant_scope
from kehu.core.models import AuditEntry
from kehu.core.tests.test_api_problems import api_client, assert_problem, field_errors
from kehu.insights import balance_services as balance
from kehu.insights.models import PlannedSpend
from kehu.tenancy.models import Tenant, User

LIST = reverse("insights_firm:planned_spend")
API = "/api/v1/insights/firm/planned-spend"
NOVEMBER = {"period_start": "2026-11-01", "period_end": "2026-11-30"}


@pytest.fixture
def entry(acme: Tenant, alice: User) -> PlannedSpend:
    with tenant_scope(acme.pk):
        return balance.planned_spend_create(
            actor=alice,
            kind="win_back",
            period_start=datetime.date(2026, 11, 1),
            period_end=datetime.date(2026, 11, 30),
            amount=Decimal("3000.5"),
            note="  老客户  回访礼品 ",
        )


def _audit(acme: Tenant, entry_id: int) -> list[tuple[str, dict[str, list[object]]]]:
    with tenant_scope(acme.pk):
        rows = AuditEntry.objects.filter(object_type="insights.plannedspend", object_id=entry_id)
        return list(rows.order_by("id").values_list("action", "changes"))


def test_a_manager_adds_edits_and_deletes_on_the_page_each_audited(
    alice: User, acme: Tenant
) -> None:
    client = login(alice)
    form = {"kind": "acquisition", **NOVEMBER, "amount": "12000", "note": "展会"}
    assert client.post(LIST, form).status_code == 302
    with tenant_scope(acme.pk):
        made = PlannedSpend.objects.get()
    assert (made.kind, made.amount, made.note, made.created_by) == (
        "acquisition",
        Decimal("12000.00"),
        "展会",
        alice,
    )
    page = page_text(client.get(LIST))
    assert "展会" in page and "12000.00" in page
    edit = reverse("insights_firm:planned_spend_edit", args=[made.pk])
    assert client.post(edit, {**form, "amount": "9000"}).status_code == 302
    delete = reverse("insights_firm:planned_spend_delete", args=[made.pk])
    assert client.post(delete).status_code == 302
    with tenant_scope(acme.pk):
        assert not PlannedSpend.objects.exists()
    actions = _audit(acme, made.pk)
    assert [a for a, _ in actions] == ["create", "update", "delete"]
    assert actions[0][1]["amount"] == [None, "12000.00"]
    assert actions[1][1] == {"amount": ["12000.00", "9000.00"]}
    assert actions[2][1]["kind"] == ["acquisition", None]


def test_bad_input_on_the_page_says_what_and_where(alice: User, acme: Tenant) -> None:
    client = login(alice)
    negative = client.post(LIST, {"kind": "acquisition", **NOVEMBER, "amount": "-5"})
    assert negative.status_code == 422
    assert "金额不能为负数。" in page_text(negative)
    backwards = {"kind": "win_back", "period_start": "2026-11-30", "period_end": "2026-11-01"}
    reversed_period = client.post(LIST, {**backwards, "amount": "5"})
    assert reversed_period.status_code == 422
    assert "结束日期不能早于开始日期。" in page_text(reversed_period)
    with tenant_scope(acme.pk):
        assert not PlannedSpend.objects.exists()
        assert not AuditEntry.objects.filter(object_type="insights.plannedspend").exists()


def test_the_errors_are_translated(alice: User, acme: Tenant) -> None:
    with (
        tenant_scope(acme.pk),
        translation.override("en"),
        pytest.raises(ValidationError) as negative,
    ):
        balance.planned_spend_create(
            actor=alice,
            kind="other",
            period_start=datetime.date(2026, 11, 1),
            period_end=datetime.date(2026, 10, 1),
            amount=Decimal(-1),
        )
    messages = negative.value.message_dict
    assert messages["amount"] == ["The amount cannot be negative."]
    assert messages["period_end"] == ["The end date cannot be before the start date."]


def test_a_failed_edit_changes_nothing(entry: PlannedSpend, alice: User, acme: Tenant) -> None:
    edit = reverse("insights_firm:planned_spend_edit", args=[entry.pk])
    bad = {"kind": "win_back", **NOVEMBER, "period_end": "2026-10-01", "amount": "1"}
    response = login(alice).post(edit, bad)
    assert response.status_code == 422
    assert "结束日期不能早于开始日期。" in page_text(response)
    with tenant_scope(acme.pk):
        entry.refresh_from_db()
    assert (entry.period_end, entry.amount) == (datetime.date(2026, 11, 30), Decimal("3000.50"))
    assert [a for a, _ in _audit(acme, entry.pk)] == ["create"]


def test_the_api_writes_with_the_same_rules(entry: PlannedSpend, alice: User, acme: Tenant) -> None:
    client = api_client(alice)
    made = client.post(
        API, {"kind": "acquisition", **NOVEMBER, "amount": "800"}, content_type="application/json"
    )
    assert made.status_code == 201
    assert made.json()["amount"] == "800.00" and made.json()["created_by_id"] == alice.pk
    bad = client.post(
        API, {"kind": "acquisition", **NOVEMBER, "amount": "-1"}, content_type="application/json"
    )
    assert field_errors(bad) == {"amount": "金额不能为负数。"}
    url = f"{API}/{entry.pk}"
    late = client.patch(url, {"period_start": "2026-12-01"}, content_type="application/json")
    assert field_errors(late) == {"period_end": "结束日期不能早于开始日期。"}
    changed = client.patch(url, {"amount": "2500"}, content_type="application/json")
    assert changed.status_code == 200 and changed.json()["amount"] == "2500.00"
    assert changed.json()["note"] == "老客户 回访礼品"
    listed = client.get(API, {"on": "2026-11-15"}).json()
    assert listed["count"] == 2
    assert client.get(API, {"on": "2026-12-01"}).json()["count"] == 0
    assert client.delete(url).status_code == 204
    assert [a for a, _ in _audit(acme, entry.pk)] == ["create", "update", "delete"]


def test_a_rep_with_visibility_own_sees_no_planned_spend(entry: PlannedSpend, bob: User) -> None:
    assert api_client(bob).get(API).json()["items"] == []
    assert_problem(api_client(bob).get(f"{API}/{entry.pk}"), 404)
    page = page_text(login(bob).get(LIST))
    assert "只有能查看全部客户的成员可以查看" in page and "回访礼品" not in page
    assert 'id="planned-spend-form"' not in page
    form = {"kind": "acquisition", **NOVEMBER, "amount": "1"}
    assert login(bob).post(LIST, form).status_code == 403
    edit = reverse("insights_firm:planned_spend_edit", args=[entry.pk])
    assert login(bob).get(edit).status_code == 404


def test_a_read_only_colleague_reads_but_does_not_write(
    entry: PlannedSpend, dora: User, acme: Tenant
) -> None:
    page = page_text(login(dora).get(LIST))
    assert "回访礼品" in page and 'id="planned-spend-form"' not in page
    assert reverse("insights_firm:planned_spend_edit", args=[entry.pk]) not in page
    form = {"kind": "acquisition", **NOVEMBER, "amount": "1"}
    assert login(dora).post(LIST, form).status_code == 403
    edit = reverse("insights_firm:planned_spend_edit", args=[entry.pk])
    assert login(dora).post(edit, form).status_code == 403
    delete = reverse("insights_firm:planned_spend_delete", args=[entry.pk])
    assert login(dora).post(delete).status_code == 403
    with tenant_scope(acme.pk):
        assert PlannedSpend.objects.count() == 1


def test_an_outsider_sees_and_touches_nothing(
    entry: PlannedSpend, charlie: User, acme: Tenant
) -> None:
    assert "回访礼品" not in page_text(login(charlie).get(LIST))
    for url in (
        reverse("insights_firm:planned_spend_edit", args=[entry.pk]),
        reverse("insights_firm:planned_spend_delete", args=[entry.pk]),
    ):
        assert (
            login(charlie).post(url, {"kind": "other", **NOVEMBER, "amount": "1"}).status_code
            == 404
        )
    with tenant_scope(acme.pk):
        entry.refresh_from_db()
    assert entry.kind == "win_back"


def test_the_sheet_links_to_the_entries_of_its_day(entry: PlannedSpend, alice: User) -> None:
    client = login(alice)
    inside = page_text(client.get(LIST, {"on": "2026-11-30"}))
    assert "回访礼品" in inside
    outside = page_text(client.get(LIST, {"on": "2026-12-01"}))
    assert "回访礼品" not in outside and "还没有计划投入" in outside
