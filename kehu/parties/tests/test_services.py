import pytest
from django.core.exceptions import ValidationError

from conftest import _user
from kehu.core.audit import audit_for
from kehu.parties import services
from kehu.parties.models import (
    ContactKind,
    LinkKind,
    Party,
    PartyKind,
    PartyRole,
    RelationshipState,
    SearchKey,
    StateChange,
)
from kehu.parties.search import matching_party_ids
from kehu.tenancy.models import Role, Tenant, User, Visibility

pytestmark = pytest.mark.usefixtures("in_acme")


def make_person(actor: User, name: str = "张三", **kw: object) -> Party:
    return services.party_create(actor=actor, kind=PartyKind.PERSON, name=name, **kw)  # type: ignore[arg-type]


def test_create_sets_owner_pinyin_roles_contacts_and_audit(alice: User) -> None:
    party = make_person(alice, roles=["customer"], contacts=[(ContactKind.MOBILE, "138 1234 5678")])
    party.refresh_from_db()
    assert party.owner == alice
    assert (party.name_pinyin, party.name_initials) == ("zhangsan", "zs")
    assert list(party.roles.values_list("role", flat=True)) == ["customer"]
    assert party.contact_points.get().value == "+8613812345678"
    actions = [(e.action, e.object_type) for e in audit_for(party)]
    assert ("create", "parties.party") in actions
    assert ("create", "parties.contactpoint") in actions
    assert ("create", "parties.partyrole") in actions


def test_invalid_mobile_names_the_field_and_saves_nothing(alice: User) -> None:
    with pytest.raises(ValidationError) as exc:
        make_person(alice, contacts=[(ContactKind.MOBILE, "1234")])
    assert "value" in exc.value.message_dict
    assert not Party.objects.exists()
    assert not SearchKey.objects.exists()


def test_bad_uscc_is_refused_on_the_uscc_field(alice: User) -> None:
    with pytest.raises(ValidationError) as exc:
        services.party_create(
            actor=alice, kind=PartyKind.ORGANISATION, name="某公司", uscc="91350100M000100Y44"
        )
    assert "uscc" in exc.value.message_dict
    assert not Party.objects.exists()


def test_duplicate_uscc_in_one_tenant_is_refused(alice: User) -> None:
    code = "91350100M000100Y43"
    services.party_create(actor=alice, kind=PartyKind.ORGANISATION, name="甲公司", uscc=code)
    with pytest.raises(ValidationError) as exc:
        services.party_create(actor=alice, kind=PartyKind.ORGANISATION, name="乙公司", uscc=code)
    assert "uscc" in exc.value.message_dict
    assert Party.objects.count() == 1


def test_over_long_name_is_refused(alice: User) -> None:
    with pytest.raises(ValidationError) as exc:
        make_person(alice, name="长" * 101)
    assert "name" in exc.value.message_dict


def test_owner_from_another_tenant_is_refused(alice: User, charlie: User) -> None:
    with pytest.raises(ValidationError) as exc:
        make_person(alice, owner=charlie)
    assert "owner" in exc.value.message_dict


def test_update_audits_before_and_after(alice: User, bob: User) -> None:
    party = make_person(alice)
    services.party_update(actor=alice, party=party, name="张三丰", owner=bob)
    entry = audit_for(party).filter(action="update").get()
    assert entry.changes == {"name": ["张三", "张三丰"], "owner": [alice.pk, bob.pk]}
    assert entry.actor == alice
    assert list(matching_party_ids("zsf")) == [party.pk]


def test_state_moves_along_the_allowed_path_and_keeps_who_when_why(alice: User) -> None:
    party = make_person(alice)
    path = ["target", "current", "lost", "won_back"]
    for state in path:
        services.party_change_state(actor=alice, party=party, to_state=state, reason=f"到{state}")
    party.refresh_from_db()
    assert party.relationship_state == RelationshipState.WON_BACK
    changes = list(StateChange.objects.filter(party=party).order_by("changed_at", "id"))
    assert [c.to_state for c in changes] == path
    assert all(c.changed_by == alice and c.reason for c in changes)


@pytest.mark.parametrize(("start", "bad"), [("potential", "lost"), ("potential", "won_back")])
def test_state_cannot_skip(alice: User, start: str, bad: str) -> None:
    party = make_person(alice)
    with pytest.raises(ValidationError) as exc:
        services.party_change_state(actor=alice, party=party, to_state=bad, reason="x")
    assert "to_state" in exc.value.message_dict
    party.refresh_from_db()
    assert party.relationship_state == start
    assert not StateChange.objects.exists()


def test_state_change_needs_a_reason(alice: User) -> None:
    party = make_person(alice)
    with pytest.raises(ValidationError):
        services.party_change_state(actor=alice, party=party, to_state="target", reason="  ")


def test_employs_link_goes_from_organisation_to_person(alice: User) -> None:
    org = services.party_create(actor=alice, kind=PartyKind.ORGANISATION, name="甲公司")
    person = make_person(alice)
    link = services.party_link_add(
        actor=alice, from_party=org, to_party=person, kind=LinkKind.EMPLOYS, title="采购经理"
    )
    assert link.title == "采购经理"
    with pytest.raises(ValidationError):
        services.party_link_add(actor=alice, from_party=person, to_party=org, kind=LinkKind.EMPLOYS)
    assert audit_for(person).filter(object_type="parties.partylink").count() == 1


def test_roles_set_adds_and_removes(alice: User) -> None:
    party = make_person(alice, roles=["prospect"])
    services.party_roles_set(actor=alice, party=party, roles=["customer", "influencer"])
    assert set(PartyRole.objects.filter(party=party).values_list("role", flat=True)) == {
        "customer",
        "influencer",
    }


def test_primary_address_sets_region(alice: User) -> None:
    party = make_person(alice)
    services.address_add(
        actor=alice,
        party=party,
        kind="office",
        province="广东省",
        city="深圳市",
        district="南山区",
        street="科技园",
        is_primary=True,
    )
    party.refresh_from_db()
    assert (party.province, party.city, party.district) == ("广东省", "深圳市", "南山区")


def test_bad_postcode_and_email_are_refused(alice: User) -> None:
    party = make_person(alice)
    with pytest.raises(ValidationError) as exc:
        services.address_add(
            actor=alice, party=party, kind="office", province="北京市", postcode="12"
        )
    assert "postcode" in exc.value.message_dict
    with pytest.raises(ValidationError):
        services.contact_point_add(actor=alice, party=party, kind="email", value="not-an-email")


def test_tags_are_shared_per_tenant(alice: User) -> None:
    a, b = make_person(alice, name="甲"), make_person(alice, name="乙")
    services.tag_add(actor=alice, party=a, name="VIP")
    services.tag_add(actor=alice, party=b, name="VIP")
    assert a.party_tags.get().tag_id == b.party_tags.get().tag_id
    with pytest.raises(ValidationError):
        services.tag_add(actor=alice, party=a, name="VIP")


def test_account_team_refuses_other_tenant_staff(alice: User, charlie: User) -> None:
    party = make_person(alice)
    with pytest.raises(ValidationError):
        services.account_team_add(actor=alice, party=party, user=charlie, role="sales")


def test_soft_delete_hides_and_restore_brings_back(alice: User) -> None:
    party = make_person(alice)
    services.party_delete(actor=alice, party=party)
    assert not Party.objects.filter(pk=party.pk).exists()
    services.party_restore(actor=alice, party=Party.with_deleted.get(pk=party.pk))
    assert Party.objects.filter(pk=party.pk).exists()


def test_inactive_owner_is_refused(acme: Tenant, alice: User) -> None:
    gone = _user(acme, "gone", Role.SALES, Visibility.OWN)
    gone.is_active = False
    gone.save()
    with pytest.raises(ValidationError):
        make_person(alice, owner=gone)


def test_same_contact_twice_is_refused_and_primary_moves(alice: User) -> None:
    party = make_person(alice)
    services.contact_point_add(
        actor=alice, party=party, kind="mobile", value="13812345678", is_primary=True
    )
    with pytest.raises(ValidationError) as exc:
        services.contact_point_add(actor=alice, party=party, kind="mobile", value="138-1234-5678")
    assert "value" in exc.value.message_dict
    services.contact_point_add(
        actor=alice, party=party, kind="mobile", value="13900001111", is_primary=True
    )
    primary = party.contact_points.filter(is_primary=True).values_list("value", flat=True)
    assert list(primary) == ["+8613900001111"]


def test_only_one_primary_address(alice: User) -> None:
    party = make_person(alice)
    for city in ("杭州市", "宁波市"):
        services.address_add(
            actor=alice, party=party, kind="office", province="浙江省", city=city, is_primary=True
        )
    assert list(party.addresses.filter(is_primary=True).values_list("city", flat=True)) == [
        "宁波市"
    ]
    party.refresh_from_db()
    assert party.city == "宁波市"
