import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from kehu.core.context import tenant_scope
from kehu.parties import services
from kehu.parties.models import Party, PartyKind
from kehu.parties.selectors import (
    PartyFilters,
    capped_count,
    get_party_for_user,
    parties_visible_to,
    party_list,
)
from kehu.tenancy import services as tenancy
from kehu.tenancy.models import Tenant, User, Visibility


def _person(actor: User, name: str, owner: User | None = None) -> Party:
    return services.party_create(actor=actor, kind=PartyKind.PERSON, name=name, owner=owner)


@pytest.fixture
def world(acme: Tenant, alice: User, bob: User, dora: User) -> dict[str, Party]:
    with tenant_scope(acme.pk):
        return {
            "alices": _person(alice, "甲"),
            "bobs": _person(alice, "乙", owner=bob),
            "served": _person(alice, "丙"),
        }


def test_own_visibility_sees_owned_and_served(
    acme: Tenant, alice: User, bob: User, world: dict[str, Party]
) -> None:
    with tenant_scope(acme.pk):
        services.account_team_add(actor=alice, party=world["served"], user=bob, role="service")
        names = set(parties_visible_to(bob).values_list("name", flat=True))
    assert names == {"乙", "丙"}


def test_team_visibility_sees_teammates_parties(
    acme: Tenant, alice: User, bob: User, dora: User, world: dict[str, Party]
) -> None:
    with tenant_scope(acme.pk):
        tenancy.staff_update(actor=alice, user=dora, visibility=Visibility.TEAM)
        assert set(parties_visible_to(dora).values_list("name", flat=True)) == set()
        team = tenancy.team_create(actor=alice, name="一部")
        tenancy.team_member_add(actor=alice, team=team, user=dora)
        tenancy.team_member_add(actor=alice, team=team, user=bob)
        assert set(parties_visible_to(dora).values_list("name", flat=True)) == {"乙"}


def test_get_party_for_user_hides_and_forbids(
    acme: Tenant, bob: User, dora: User, world: dict[str, Party]
) -> None:
    with tenant_scope(acme.pk):
        with pytest.raises(Http404):
            get_party_for_user(bob, world["alices"].pk)
        assert get_party_for_user(dora, world["alices"].pk).name == "甲"
        with pytest.raises(PermissionDenied):
            get_party_for_user(dora, world["alices"].pk, write=True)


def test_outsider_cannot_reach_a_party_by_id(
    other: Tenant, charlie: User, world: dict[str, Party]
) -> None:
    with tenant_scope(other.pk), pytest.raises(Http404):
        get_party_for_user(charlie, world["alices"].pk)


def test_list_filters_combine_with_search(
    acme: Tenant, alice: User, world: dict[str, Party]
) -> None:
    with tenant_scope(acme.pk):
        services.party_create(actor=alice, kind=PartyKind.ORGANISATION, name="甲乙科技")
        found = party_list(alice, PartyFilters(q="甲", kind=PartyKind.PERSON))
        assert [p.name for p in found] == ["甲"]
        assert [p.name for p in party_list(alice, PartyFilters(q="jiayi"))] == ["甲乙科技"]


def test_capped_count_stops_at_the_cap(acme: Tenant, alice: User, world: dict[str, Party]) -> None:
    with tenant_scope(acme.pk):
        everyone = party_list(alice, PartyFilters())
        assert capped_count(everyone, cap=2) == (2, False)
        assert capped_count(everyone, cap=3) == (3, True)
        assert capped_count(everyone, cap=10) == (3, True)


def test_the_customer_list_leaves_the_pool_out_without_an_or(
    acme: Tenant, alice: User, bob: User, world: dict[str, Party]
) -> None:
    from kehu.pool import services as pool

    with tenant_scope(acme.pk):
        pool.pool_release(actor=alice, party=world["alices"], reason="长期未跟进")
        listed = party_list(bob, PartyFilters(in_pool=False))
        everything = party_list(bob, PartyFilters())
        assert set(listed.values_list("name", flat=True)) == {"乙"}
        assert set(everything.values_list("name", flat=True)) == {"甲", "乙"}
        # Only the pool's own condition: no "… OR in pool" for the planner to trip on.
        assert '"in_pool_since" IS NOT NULL' not in str(listed.query)
        assert '"in_pool_since" IS NOT NULL' in str(everything.query)
