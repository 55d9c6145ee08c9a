"""Shared model behaviour: the `any_of` and `in_set` lookups and choice labels."""

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from kehu.parties import services
from kehu.parties.models import Party, PartyKind, RelationshipState
from kehu.tenancy.models import User


@pytest.fixture
def three(in_acme: None, alice: User) -> list[Party]:
    return [
        services.party_create(actor=alice, kind=PartyKind.PERSON, name=name)
        for name in ("甲", "乙", "丙")
    ]


def test_any_of_finds_the_same_rows_as_in(three: list[Party]) -> None:
    ids = [three[0].pk, three[2].pk, three[0].pk, 10**9]
    with CaptureQueriesContext(connection) as queries:
        found = set(Party.objects.filter(pk__any_of=ids).values_list("pk", flat=True))
    assert found == set(Party.objects.filter(pk__in=ids).values_list("pk", flat=True))
    assert found == {three[0].pk, three[2].pk}
    sql = queries.captured_queries[0]["sql"]
    assert ("= ANY(" in sql) if connection.vendor == "postgresql" else (" IN (" in sql)


def test_any_of_an_empty_list_finds_nothing_without_a_query(three: list[Party]) -> None:
    with CaptureQueriesContext(connection) as queries:
        assert list(Party.objects.filter(pk__any_of=[])) == []
    assert len(queries) == 0


def test_any_of_combines_with_other_filters(three: list[Party]) -> None:
    ids = [p.pk for p in three]
    named = Party.objects.filter(pk__any_of=ids, name="乙").values_list("name", flat=True)
    assert list(named) == ["乙"]
    assert Party.objects.exclude(pk__any_of=ids[:2]).get().name == "丙"


def test_in_set_finds_the_same_rows_as_in_also_inside_an_or(three: list[Party]) -> None:
    named = Party.objects.filter(name__in=["甲", "丙"]).values("pk")
    either = Q(pk__in_set=named) | Q(name="乙")
    with CaptureQueriesContext(connection) as queries:
        found = set(Party.objects.filter(either).values_list("name", flat=True))
        alone = set(Party.objects.filter(pk__in_set=named).values_list("name", flat=True))
    assert found == {"甲", "乙", "丙"} and alone == {"甲", "丙"}
    assert alone == set(Party.objects.filter(pk__in=named).values_list("name", flat=True))
    nobody = Party.objects.filter(name="无").values("pk")
    assert not Party.objects.filter(pk__in_set=nobody).exists()
    sql = queries.captured_queries[0]["sql"]
    assert (
        ("= ANY(ARRAY(SELECT" in sql)
        if connection.vendor == "postgresql"
        else (" IN (SELECT" in sql)
    )


def test_choice_labels_follow_the_active_language(three: list[Party]) -> None:
    party = three[0]
    assert party.relationship_state == RelationshipState.POTENTIAL
    with translation.override("zh-hans"):
        assert party.get_relationship_state_display() == "潜在"
        assert party.get_kind_display() == "个人"
    with translation.override("en"):
        assert party.get_relationship_state_display() == "Potential"
        assert party.get_kind_display() == "Person"


def test_an_unknown_choice_value_shows_as_itself(three: list[Party]) -> None:
    party = three[0]
    party.relationship_state = "no-such-state"
    assert party.get_relationship_state_display() == "no-such-state"
