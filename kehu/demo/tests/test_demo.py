"""The demo generator: deterministic, valid, and the same rows the services would write."""

import datetime
import io
from collections import defaultdict

import pytest
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone

from kehu.activities.models import Interaction, InteractionParty, Task
from kehu.activities.selectors import tasks_due
from kehu.core.context import tenant_scope
from kehu.core.models import AuditEntry, TenantOwned
from kehu.demo.generator import DEMO_SLUG, GenerateReport, generate
from kehu.parties import normalize
from kehu.parties.models import (
    STATE_MOVES,
    Address,
    ContactKind,
    ContactPoint,
    LinkKind,
    Party,
    PartyKind,
    PartyLink,
    PartyRole,
    RelationshipState,
    SearchKey,
    StateChange,
)
from kehu.parties.search import keys_for, matching_party_ids
from kehu.sales.models import Order
from kehu.tenancy.models import Role, Tenant, User

NOW = datetime.datetime(2025, 6, 2, 3, 0, tzinfo=datetime.UTC)
PARTIES = 200


def _firm(slug: str, seed: int = 7, now: datetime.datetime = NOW) -> tuple[Tenant, GenerateReport]:
    tenant = Tenant.objects.create(name=f"公司 {slug}", slug=slug)
    report = generate(
        tenant, parties=PARTIES, interactions=600, seed=seed, now=now, username_prefix=f"{slug}_"
    )
    return tenant, report


@pytest.fixture
def firm(db: None) -> Tenant:
    return _firm("gen")[0]


def _names_and_phones(tenant: Tenant) -> list[tuple[str, list[str]]]:
    with tenant_scope(tenant.pk):
        phones: dict[int, list[str]] = defaultdict(list)
        for party_id, value in ContactPoint.objects.filter(kind=ContactKind.MOBILE).values_list(
            "party_id", "value"
        ):
            phones[party_id].append(value)
        return [(p.name, phones[p.pk]) for p in Party.objects.order_by("id")]


def test_same_seed_gives_the_same_firm(db: None) -> None:
    first, report = _firm("one")
    # Another day and hour: dates move with the clock, the rest does not.
    second, again = _firm("two", now=NOW + datetime.timedelta(days=40, hours=7))
    third, _ = _firm("three", seed=8)
    assert report.rows["parties.Party"] == PARTIES
    assert _names_and_phones(first) == _names_and_phones(second)
    # The summaries' rows are per day and per month, so their numbers move with the
    # dates (a party's days may fall in one month or in two); every other count may not.
    by_date = {"activities.DailyEffort", "sales.DailySales"}
    assert report.rows["activities.DailyEffort"] > 0
    assert {k: n for k, n in report.rows.items() if k not in by_date} == {
        k: n for k, n in again.rows.items() if k not in by_date
    }
    assert _names_and_phones(first) != _names_and_phones(third)


def test_contact_points_addresses_and_codes_are_valid(firm: Tenant) -> None:
    with tenant_scope(firm.pk):
        contacts = list(ContactPoint.objects.all())
        assert {c.kind for c in contacts} >= {ContactKind.MOBILE, ContactKind.PHONE}
        for contact in contacts:
            value = contact.value
            contact.clean()  # the model's own normalising and checks
            assert contact.value == value
            if contact.kind == ContactKind.MOBILE:
                assert normalize.phone(value, mobile=True) == value
        codes = [p.uscc for p in Party.objects.filter(kind=PartyKind.ORGANISATION)]
        assert codes and all(normalize.uscc(code) == code for code in codes)
        assert len(set(codes)) == len(codes)
        for address in Address.objects.all():
            address.clean()


def test_parties_hold_what_the_services_would_write(firm: Tenant) -> None:
    with tenant_scope(firm.pk):
        contacts = defaultdict(list)
        for party_id, kind, value in ContactPoint.objects.values_list("party_id", "kind", "value"):
            contacts[party_id].append((kind, value))
        keys = defaultdict(set)
        for party_id, key in SearchKey.objects.values_list("party_id", "key"):
            keys[party_id].add(key)
        primary = {a.party_id: a for a in Address.objects.filter(is_primary=True)}
        created = set(
            AuditEntry.objects.filter(action="create", object_type="parties.party").values_list(
                "object_id", flat=True
            )
        )
        people = 0
        for party in Party.objects.all():
            assert party.name_pinyin == normalize.pinyin_full(party.name)
            assert party.name_initials == normalize.pinyin_initials(party.name)
            assert keys[party.pk] == keys_for(party.name, contacts[party.pk])
            address = primary[party.pk]
            assert (party.province, party.city, party.district) == (
                address.province,
                address.city,
                address.district,
            )
            assert party.pk in created
            people += party.kind == PartyKind.PERSON
        assert 0.5 < people / PARTIES < 0.7


def test_every_row_belongs_to_the_tenant(firm: Tenant) -> None:
    for model in apps.get_models():
        if issubclass(model, TenantOwned) and model._meta.app_label in {
            "parties",
            "activities",
            "sales",
        }:
            assert not model.all_tenants.exclude(tenant=firm).exists(), model


def test_search_finds_a_generated_person_by_initials_pinyin_and_phone(firm: Tenant) -> None:
    with tenant_scope(firm.pk):
        person = Party.objects.filter(kind=PartyKind.PERSON).order_by("id")[5]
        mobile = ContactPoint.objects.filter(party=person, kind=ContactKind.MOBILE).first()
        queries = [person.name_initials, person.name_pinyin, person.name]
        if mobile:
            queries.append(mobile.value[3:10])
        for query in queries:
            assert person.pk in list(matching_party_ids(query)), query


def test_states_follow_their_history(firm: Tenant) -> None:
    with tenant_scope(firm.pk):
        history = defaultdict(list)
        for change in StateChange.objects.order_by("changed_at", "id"):
            history[change.party_id].append(change)
        states = set()
        for party in Party.objects.all():
            state: str = RelationshipState.POTENTIAL
            for change in history[party.pk]:
                assert change.from_state == state
                assert change.to_state in STATE_MOVES[state]
                assert party.created_at < change.changed_at <= NOW
                state = change.to_state
            assert party.relationship_state == state
            states.add(state)
        assert states == set(RelationshipState.values)


def test_links_roles_and_owners_make_sense(firm: Tenant) -> None:
    with tenant_scope(firm.pk):
        kinds = dict(Party.objects.values_list("id", "kind"))
        for link in PartyLink.objects.filter(kind=LinkKind.EMPLOYS):
            assert kinds[link.from_party_id] == PartyKind.ORGANISATION
            assert kinds[link.to_party_id] == PartyKind.PERSON
            assert link.title
        assert set(PartyRole.objects.values_list("party_id", flat=True)) == set(kinds)
        owner_roles = set(Party.objects.values_list("owner__role", flat=True))
        assert owner_roles <= {Role.SALES, Role.MANAGER}


def test_interactions_come_after_their_parties(firm: Tenant) -> None:
    with tenant_scope(firm.pk):
        assert Interaction.objects.count() == 600
        created = dict(Party.objects.values_list("id", "created_at"))
        links = InteractionParty.objects.select_related("interaction")
        per_interaction: dict[int, int] = defaultdict(int)
        for link in links:
            assert link.occurred_at == link.interaction.occurred_at
            assert created[link.party_id] < link.occurred_at <= NOW
            per_interaction[link.interaction_id] += 1
        assert set(per_interaction.values()) <= {1, 2, 3}
        assert len(per_interaction) == 600


def test_every_salesperson_has_tasks_today(firm: Tenant) -> None:
    today = timezone.localdate(NOW)
    with tenant_scope(firm.pk):
        sellers = User.objects.filter(role__in=[Role.SALES, Role.SERVICE])
        for user in sellers:
            assert tasks_due(user, on=today).exists(), user.username
        assert Task.objects.filter(status="done").exists()


def test_load_demo_creates_the_firm_once(db: None) -> None:
    out = io.StringIO()
    call_command("load_demo", parties=60, interactions=100, orders=300, stdout=out)
    tenant = Tenant.objects.get(slug=DEMO_SLUG)
    with tenant_scope(tenant.pk):
        counts = (Party.objects.count(), Interaction.objects.count(), User.objects.count())
        orders = Order.objects.count()
    assert counts == (60, 100, 10) and orders > 0
    assert "admin" in out.getvalue() and "kehu-demo-2024" in out.getvalue()

    again = io.StringIO()
    call_command("load_demo", parties=60, interactions=100, orders=300, stdout=again)
    with tenant_scope(tenant.pk):
        assert (Party.objects.count(), Interaction.objects.count(), User.objects.count()) == counts
        assert Order.objects.count() == orders
    assert "sales1" in again.getvalue()
    assert Tenant.objects.filter(slug=DEMO_SLUG).count() == 1


def test_the_firm_has_effort_and_a_pool(firm: Tenant) -> None:
    from kehu.activities.models import ServiceTime, TaskStatus
    from kehu.parties.models import OwnershipChange
    from kehu.pool.selectors import pool_settings

    with tenant_scope(firm.pk):
        assert pool_settings().enabled
        pooled = Party.objects.filter(in_pool_since__isnull=False)
        custodian = pool_settings().custodian
        assert pooled.exists() and all(p.owner == custodian for p in pooled)
        assert all(p.pool_previous_owner_id not in (None, p.owner_id) for p in pooled)
        assert OwnershipChange.objects.count() == pooled.count()
        times = list(ServiceTime.objects.all())
        assert times and all(0 < t.minutes <= 24 * 60 and t.worked_on <= NOW.date() for t in times)
        done = Task.objects.filter(status=TaskStatus.DONE)
        assert done.exists() and not done.filter(time_spent_minutes__isnull=True).exists()
