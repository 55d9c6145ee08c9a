import pytest

from kehu.parties import services
from kehu.parties.models import ContactKind, Party, PartyKind
from kehu.parties.search import keys_for, matching_party_ids
from kehu.tenancy.models import User

pytestmark = pytest.mark.usefixtures("in_acme")


def test_keys_cover_suffixes_pinyin_initials_and_contacts() -> None:
    keys = keys_for("张三", [(ContactKind.MOBILE, "+8613812345678"), (ContactKind.EMAIL, "a@b.cn")])
    assert {"张三", "三", "zhangsan", "zs", "13812345678", "a@b.cn"} <= keys


@pytest.fixture
def people(alice: User) -> dict[str, Party]:
    return {
        "zhang": services.party_create(
            actor=alice,
            kind=PartyKind.PERSON,
            name="张三",
            contacts=[(ContactKind.MOBILE, "13812345678")],
        ),
        "li": services.party_create(actor=alice, kind=PartyKind.PERSON, name="李四"),
        "org": services.party_create(
            actor=alice, kind=PartyKind.ORGANISATION, name="北京字节跳动科技有限公司"
        ),
    }


@pytest.mark.parametrize(
    ("query", "who"),
    [
        ("zs", "zhang"),
        ("zhangsan", "zhang"),
        ("ZHANG", "zhang"),
        ("张三", "zhang"),
        ("138 1234", "zhang"),
        ("+86 13812345678", "zhang"),
        ("李", "li"),
        ("字节", "org"),
        ("zjtd", "org"),
        ("zijie", "org"),
        ("有限公司", "org"),
    ],
)
def test_search_finds_by_name_pinyin_initials_phone(
    people: dict[str, Party], query: str, who: str
) -> None:
    assert list(matching_party_ids(query)) == [people[who].pk]


def test_search_misses_what_is_not_there(people: dict[str, Party]) -> None:
    assert list(matching_party_ids("王五")) == []


def test_search_keys_follow_contact_changes(alice: User, people: dict[str, Party]) -> None:
    li = people["li"]
    contact = services.contact_point_add(actor=alice, party=li, kind="mobile", value="13900001111")
    assert list(matching_party_ids("1390000")) == [li.pk]
    services.contact_point_remove(actor=alice, party=li, contact=contact)
    assert list(matching_party_ids("1390000")) == []
