"""The customer pool (公海): the idle rule, claims and their limit, assigning, releasing,
the pages and the API. Access per endpoint is also pinned in test_api_access.py."""

import datetime
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from conftest import login
from kehu.activities import services as activities
from kehu.activities.selectors import party_timeline
from kehu.core.context import tenant_scope
from kehu.core.models import AuditEntry
from kehu.core.tests.test_api_problems import api_client, assert_problem, field_errors
from kehu.parties import services as parties
from kehu.parties.models import OwnershipChange, OwnershipKind, Party
from kehu.pool import services
from kehu.pool.selectors import claims_in_window, pool_custodian, pool_settings
from kehu.pool.tasks import next_night
from kehu.tenancy import services as tenancy
from kehu.tenancy.models import Role, Tenant, User, Visibility

DAY = datetime.timedelta(days=1)


@pytest.fixture
def rule(alice: User, in_acme: None) -> None:
    services.pool_settings_update(actor=alice, enabled=True, idle_days=30, claim_limit=2)


def party_of(owner: User, name: str = "甲公司") -> Party:
    return parties.party_create(actor=owner, kind="organisation", name=name)


@pytest.fixture
def carol(alice: User, acme: Tenant) -> User:
    """A second salesperson who, like Bob, sees only her own customers."""
    with tenant_scope(acme.pk):
        return tenancy.staff_create(
            actor=alice, username="carol", password="x-Long-enough-42", visibility=Visibility.OWN
        )


def in_pool(party: Party) -> bool:
    party.refresh_from_db()
    return party.in_pool


# The idle rule.


def test_a_party_idle_exactly_n_days_stays_and_one_second_more_goes(
    rule: None, alice: User, bob: User
) -> None:
    party = party_of(bob)
    touched = party.owner_touched_at
    assert services.pool_sweep(now=touched + 30 * DAY) == 0
    assert not in_pool(party)
    assert services.pool_sweep(now=touched + 30 * DAY + datetime.timedelta(seconds=1)) == 1
    assert in_pool(party)
    assert (party.owner, party.pool_previous_owner) == (alice, bob)  # held by the custodian


@pytest.mark.parametrize(
    "act",
    [
        lambda owner, p: activities.interaction_log(
            actor=owner, parties=[p], kind="call", subject="回访"
        ),
        lambda owner, p: activities.service_time_log(actor=owner, party=p, minutes=30),
        lambda owner, p: parties.party_change_state(
            actor=owner, party=p, to_state="target", reason="重点"
        ),
        lambda owner, p: parties.party_update(actor=owner, party=p, industry="制造"),
        lambda owner, p: parties.tag_add(actor=owner, party=p, name="VIP"),
        lambda owner, p: activities.task_set_status(
            actor=owner,
            task=activities.task_create(
                actor=owner, title="报价", due_date=timezone.localdate(), party=p
            ),
            status="done",
        ),
    ],
    ids=["interaction", "service_time", "state", "edit", "part", "task_done"],
)
def test_what_the_owner_does_restarts_the_clock(rule: None, bob: User, act: Any) -> None:
    untouched = party_of(bob, "没人管")
    party = party_of(bob)
    created = party.owner_touched_at
    act(bob, party)
    party.refresh_from_db()
    assert party.owner_touched_at > created
    # 30 days after the owner's act: the party stays, the one left alone goes.
    assert services.pool_sweep(now=party.owner_touched_at + 30 * DAY) == 1
    assert (in_pool(untouched), in_pool(party)) == (True, False)


def test_what_someone_else_does_does_not_count(rule: None, alice: User, bob: User) -> None:
    party = party_of(bob)
    created = party.owner_touched_at
    activities.interaction_log(actor=alice, parties=[party], kind="visit", subject="经理拜访")
    activities.service_time_log(actor=alice, party=party, minutes=60)
    parties.tag_add(actor=alice, party=party, name="重点")
    party.refresh_from_db()
    assert party.owner_touched_at == created
    assert services.pool_sweep(now=created + 31 * DAY) == 1


def test_deleted_parties_do_not_enter_the_pool(rule: None, alice: User, bob: User) -> None:
    party = party_of(bob)
    parties.party_delete(actor=alice, party=party)
    assert services.pool_sweep(now=timezone.now() + 60 * DAY) == 0
    assert Party.with_deleted.get(pk=party.pk).in_pool_since is None


def test_a_disabled_rule_moves_nothing(alice: User, bob: User, in_acme: None) -> None:
    party_of(bob)
    assert services.pool_sweep(now=timezone.now() + 60 * DAY) == 0
    services.pool_settings_update(actor=alice, enabled=False)
    assert services.pool_sweep(now=timezone.now() + 60 * DAY) == 0


def test_the_sweep_is_written_everywhere(rule: None, alice: User, bob: User) -> None:
    party = party_of(bob)
    services.pool_sweep(now=timezone.now() + 31 * DAY)
    change = OwnershipChange.objects.get(party=party)
    assert (change.kind, change.from_owner, change.to_owner, change.changed_by) == (
        OwnershipKind.POOL_AUTO_RELEASE,
        bob,
        alice,
        None,
    )
    assert "30" in change.note
    audit = AuditEntry.objects.filter(root_id=party.pk, object_type="parties.ownershipchange")
    assert audit.get().changes["from_owner"] == [None, bob.pk]
    assert [i.obj for i in party_timeline(party) if i.kind == "ownership"] == [change]
    assert pool_settings().last_swept_moved == 1


def test_the_custodian_falls_back_to_the_first_active_admin(
    alice: User, bob: User, in_acme: None
) -> None:
    manager = tenancy.staff_create(
        actor=alice, username="mia", password="x-Long-enough-42", role=Role.MANAGER
    )
    services.pool_settings_update(actor=alice, custodian=manager)
    assert pool_custodian(pool_settings()) == manager
    tenancy.staff_update(actor=alice, user=manager, is_active=False)
    assert pool_custodian(pool_settings()) == alice
    with pytest.raises(ValidationError) as caught:
        services.pool_settings_update(actor=alice, custodian=bob)
    assert "custodian" in caught.value.message_dict


# Claims.


def test_claim_takes_the_party_and_restarts_the_clock(rule: None, alice: User, bob: User) -> None:
    party = party_of(alice)
    services.pool_release(actor=alice, party=party, reason="换人跟进")
    services.pool_claim(actor=bob, party=party)
    party.refresh_from_db()
    assert (party.owner, party.in_pool, party.pool_previous_owner) == (bob, False, None)
    assert timezone.now() - party.owner_touched_at < datetime.timedelta(minutes=1)
    assert [c.kind for c in OwnershipChange.objects.filter(party=party).order_by("id")] == [
        OwnershipKind.POOL_RELEASE,
        OwnershipKind.POOL_CLAIM,
    ]


def test_claims_are_limited_per_rep_and_window(rule: None, alice: User, bob: User) -> None:
    pooled = [party_of(alice, f"公司{i}") for i in range(3)]
    for party in pooled:
        services.pool_release(actor=alice, party=party, reason="整理")
    services.pool_claim(actor=bob, party=pooled[0])
    services.pool_claim(actor=bob, party=pooled[1])
    with pytest.raises(ValidationError, match="已达领取上限"):
        services.pool_claim(actor=bob, party=pooled[2])
    assert in_pool(pooled[2])
    rule_now = pool_settings()
    assert claims_in_window(bob, rule_now) == 2
    assert claims_in_window(bob, rule_now, now=timezone.now() + 31 * DAY) == 0
    # A manager's assignment is not a claim: it does not use up the rep's limit.
    services.pool_assign(actor=alice, party=pooled[2], owner=bob)
    assert claims_in_window(bob, rule_now) == 2


def test_two_reps_claiming_the_same_party_one_wins(
    rule: None, alice: User, bob: User, carol: User
) -> None:
    party = party_of(alice)
    services.pool_release(actor=alice, party=party, reason="整理")
    seen_by_carol = Party.objects.get(pk=party.pk)  # loaded while it was still in the pool
    services.pool_claim(actor=bob, party=party)
    with pytest.raises(services.PoolConflict, match="Bob"):
        services.pool_claim(actor=carol, party=seen_by_carol)
    party.refresh_from_db()
    assert party.owner == bob
    assert OwnershipChange.objects.filter(party=party, kind=OwnershipKind.POOL_CLAIM).count() == 1


def test_the_claim_page_says_who_was_faster(
    rule: None, alice: User, bob: User, carol: User
) -> None:
    party = party_of(alice)
    services.pool_release(actor=alice, party=party, reason="整理")
    services.pool_claim(actor=bob, party=party)
    client = login(carol)
    response = client.post(reverse("pool:claim", args=[party.pk]), follow=True)
    assert "已被 Bob 领取" in response.content.decode()
    party.refresh_from_db()
    assert party.owner == bob


def test_releasing_twice_is_a_conflict_and_needs_a_reason(rule: None, alice: User) -> None:
    party = party_of(alice)
    with pytest.raises(ValidationError) as caught:
        services.pool_release(actor=alice, party=party, reason="  ")
    assert "reason" in caught.value.message_dict
    services.pool_release(actor=alice, party=party, reason="客户要求换人")
    with pytest.raises(services.PoolConflict):
        services.pool_release(actor=alice, party=Party.objects.get(pk=party.pk), reason="再来")


def test_pool_parties_are_visible_to_all_but_writable_only_after_claiming(
    rule: None, alice: User, bob: User
) -> None:
    party = party_of(alice)
    client = login(bob)
    detail = reverse("parties:detail", args=[party.pk])
    assert client.get(detail).status_code == 404
    services.pool_release(actor=alice, party=party, reason="整理")
    page = client.get(detail).content.decode()
    assert reverse("pool:claim", args=[party.pk]) in page
    assert client.get(reverse("parties:edit", args=[party.pk])).status_code == 403
    # Not in Bob's customer list until he claims it; then it is.
    assert party.name not in client.get(reverse("parties:list")).content.decode()
    assert client.post(reverse("pool:claim", args=[party.pk])).status_code == 302
    assert party.name in client.get(reverse("parties:list")).content.decode()


# Pages.


def test_pool_page_lists_searches_and_pins_its_queries(
    rule: None, alice: User, bob: User, django_assert_num_queries: Any
) -> None:
    for i in range(6):
        services.pool_release(actor=alice, party=party_of(alice, f"公海{i}号"), reason="整理")
    party_of(alice, "不在公海")
    client = login(bob)
    # session, user, tenant; the rule and Bob's claims; count, page (with previous owner);
    # the tag filter's choices
    with django_assert_num_queries(8):
        page = client.get(reverse("pool:list")).content.decode()
    assert page.count("pool-party-") == 6
    assert "不在公海" not in page
    found = client.get(reverse("pool:list"), {"q": "公海3"}).content.decode()
    assert found.count("pool-party-") == 1


@pytest.mark.parametrize(("persona", "status"), [("dora", 403), ("charlie", 404)])
def test_claim_page_refuses_read_only_and_outsiders(
    rule: None, alice: User, persona: str, status: int, request: pytest.FixtureRequest
) -> None:
    party = party_of(alice)
    services.pool_release(actor=alice, party=party, reason="整理")
    client = login(request.getfixturevalue(persona))
    assert client.post(reverse("pool:claim", args=[party.pk])).status_code == status
    assert in_pool(party)


@pytest.mark.parametrize(("persona", "status"), [("bob", 404), ("dora", 403), ("charlie", 404)])
def test_only_managers_release(
    rule: None, alice: User, persona: str, status: int, request: pytest.FixtureRequest
) -> None:
    party = party_of(alice)
    client = login(request.getfixturevalue(persona))
    response = client.post(reverse("pool:release", args=[party.pk]), {"reason": "整理"})
    assert response.status_code == status
    assert not in_pool(party)


def test_manager_releases_and_assigns_from_the_party_page(
    rule: None, alice: User, bob: User
) -> None:
    party = party_of(alice)
    client = login(alice)
    client.post(reverse("pool:release", args=[party.pk]), {"reason": "<b>换人</b>"})
    assert in_pool(party)
    page = client.get(reverse("parties:detail", args=[party.pk])).content.decode()
    assert "&lt;b&gt;换人&lt;/b&gt;" in page
    client.post(reverse("pool:assign", args=[party.pk]), {"owner": bob.pk, "note": "华南区"})
    party.refresh_from_db()
    assert (party.owner, party.in_pool) == (bob, False)


@pytest.mark.parametrize(("persona", "status"), [("bob", 403), ("dora", 403), ("charlie", 404)])
def test_only_managers_assign(
    rule: None, alice: User, bob: User, persona: str, status: int, request: pytest.FixtureRequest
) -> None:
    party = party_of(alice)
    services.pool_release(actor=alice, party=party, reason="整理")
    client = login(request.getfixturevalue(persona))
    response = client.post(reverse("pool:assign", args=[party.pk]), {"owner": bob.pk})
    assert response.status_code == status
    assert in_pool(party)


def test_rule_page_admin_edits_manager_reads(alice: User, bob: User, acme: Tenant) -> None:
    url = reverse("pool:rule")
    assert login(bob).get(url).status_code == 403
    data = {"enabled": "on", "idle_days": "45", "claim_limit": "10", "claim_window_days": "30"}
    assert login(alice).post(url, data).status_code == 302
    with tenant_scope(acme.pk):
        assert (pool_settings().idle_days, pool_settings().enabled) == (45, True)
    bad = login(alice).post(url, {**data, "idle_days": "0"})
    assert bad.status_code == 422
    assert "idle_days" in bad.context["form"].errors


def test_sweep_now_runs_for_my_firm(
    alice: User, dora: User, acme: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    with tenant_scope(acme.pk):
        services.pool_settings_update(actor=alice, enabled=True)
    assert login(dora).post(reverse("pool:sweep")).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        assert login(alice).post(reverse("pool:sweep")).status_code == 302
    with tenant_scope(acme.pk):
        assert pool_settings().last_swept_at is not None


def test_the_command_sweeps_every_firm(alice: User, bob: User, acme: Tenant) -> None:
    with tenant_scope(acme.pk):
        services.pool_settings_update(actor=alice, enabled=True, idle_days=1)
        party = party_of(bob)
    call_command("pool_sweep")
    with tenant_scope(acme.pk):
        assert pool_settings().last_swept_at is not None
        assert not in_pool(party)  # touched just now: not idle


def test_next_night_is_two_oclock_local() -> None:
    evening = timezone.make_aware(datetime.datetime(2025, 3, 1, 23, 0))
    early = timezone.make_aware(datetime.datetime(2025, 3, 2, 1, 0))
    assert timezone.localtime(next_night(evening)).isoformat().startswith("2025-03-02T02:00")
    assert next_night(early) == timezone.make_aware(datetime.datetime(2025, 3, 2, 2, 0))


# API.


def test_api_claim_race_is_409_and_limit_is_422(
    alice: User, bob: User, carol: User, acme: Tenant
) -> None:
    with tenant_scope(acme.pk):
        services.pool_settings_update(actor=alice, enabled=True, claim_limit=1)
        first, second = party_of(alice, "一号"), party_of(alice, "二号")
        for party in (first, second):
            services.pool_release(actor=alice, party=party, reason="整理")
    bob_api = api_client(bob)
    assert bob_api.post(f"/api/v1/parties/{first.pk}/claim").json()["owner"]["username"] == "bob"
    # Carol (own visibility) can no longer see it, but is told who was faster.
    body = assert_problem(api_client(carol).post(f"/api/v1/parties/{first.pk}/claim"), 409)
    assert "Bob" in body["detail"]
    assert_problem(bob_api.post(f"/api/v1/parties/{second.pk}/claim"), 422)
    listed = bob_api.get("/api/v1/parties?in_pool=true").json()["items"]
    assert [p["name"] for p in listed] == ["二号"]
    assert listed[0]["pool_previous_owner"]["username"] == "alice"


def test_api_rule_and_release(alice: User, acme: Tenant) -> None:
    client = api_client(alice)
    assert client.get("/api/v1/pool/settings").json()["enabled"] is False
    bad = client.patch("/api/v1/pool/settings", {"idle_days": 0}, content_type="application/json")
    assert "idle_days" in field_errors(bad)
    changed = client.patch(
        "/api/v1/pool/settings", {"enabled": True}, content_type="application/json"
    )
    assert changed.json()["enabled"] is True
    with tenant_scope(acme.pk):
        party = party_of(alice)
    empty = client.post(
        f"/api/v1/parties/{party.pk}/release", {"reason": ""}, content_type="application/json"
    )
    assert "reason" in field_errors(empty)
    client.post(
        f"/api/v1/parties/{party.pk}/release", {"reason": "整理"}, content_type="application/json"
    )
    history = client.get(f"/api/v1/parties/{party.pk}/ownership-changes").json()["items"]
    assert [(h["kind"], h["note"]) for h in history] == [("pool_release", "整理")]
    assert client.post("/api/v1/pool/sweep").json() == {"moved": 0}


def test_the_api_timeline_shows_the_owner_change(rule: None, alice: User, bob: User) -> None:
    party = party_of(bob)
    services.pool_release(actor=alice, party=party, reason="半年没联系")
    timeline = api_client(alice).get(f"/api/v1/parties/{party.pk}/timeline").json()
    ownership = [item for item in timeline if item["kind"] == "ownership"]
    assert len(ownership) == 1
    assert ownership[0]["ownership"]["note"] == "半年没联系"
