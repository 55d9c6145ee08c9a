"""The import's fast checks agree with the archive's own rules, value by value, and the
plain rows it writes are the rows the parties' services write."""

import random

import pytest
from django.core.exceptions import ValidationError
from pypinyin import Style, lazy_pinyin

from kehu.core.models import AuditEntry
from kehu.dataio import checks, services
from kehu.dataio.tests.conftest import csv_bytes, run, upload
from kehu.parties import normalize
from kehu.parties import services as party_services
from kehu.parties.models import ContactPoint, Party, PartyLink, SearchKey
from kehu.tenancy.models import User

MOBILES = [
    "13812345678",
    "+86 138 1234 5678",
    "138-1234-5678",
    "８６１３９１２３４５６７８",
    "14512345678",
    "16612345678",
    "17400012345",
    "16101234567",
    "12012345678",  # not a mobile prefix
    "1381234567",  # ten digits
    "1234",
    "0755-12345678",
    "+1 650 253 0000",
    "(010)12345678",
]


def _archive(kind: str, value: str) -> str | list[str]:
    part = ContactPoint(kind=kind, value=value)
    try:
        part.clean()
    except ValidationError as exc:
        return exc.messages
    return part.value


def _fast(kind: str, value: str) -> str | list[str]:
    try:
        return checks.ContactChecker().clean(kind, value)
    except ValidationError as exc:
        return exc.messages


@pytest.mark.parametrize("value", MOBILES)
@pytest.mark.parametrize("kind", ["mobile", "phone"])
def test_phones_are_accepted_and_refused_as_the_archive_does(kind: str, value: str) -> None:
    assert _fast(kind, value) == _archive(kind, value)


def test_every_mobile_prefix_agrees_with_libphonenumber() -> None:
    rng = random.Random(7)
    for prefix in range(100, 200):
        for _ in range(3):
            value = f"{prefix}{rng.randrange(10**8):08d}"
            assert _fast("mobile", value) == _archive("mobile", value), value
            fast = _fast("mobile", value)
            if isinstance(fast, str):
                assert checks.contact_display("mobile", fast) == normalize.phone_display(fast)


@pytest.mark.parametrize(
    "value",
    ["zw@tengfei.cn", "LiNa@Example.COM", "a.b+c@sub.qq.com", "not-an-email", "a@b", "@qq.com"],
)
def test_emails_are_accepted_and_refused_as_the_archive_does(value: str) -> None:
    assert _fast("email", value) == _archive("email", value)


def test_party_fields_are_cleaned_as_full_clean_does() -> None:
    checker = checks.party_checker()
    good = {"kind": "organisation", "name": " 深圳  腾飞 ", "uscc": "", "website": ""}
    assert checker.clean(good) == {} and good["name"] == "深圳 腾飞"
    bad_site = {"kind": "organisation", "name": "甲", "website": "not a url"}
    assert "website" in checker.clean(bad_site)
    too_long = {"kind": "person", "name": "名" * 101}
    assert "name" in checker.clean(too_long)
    # The model's own clean: a person has no 统一社会信用代码, an organisation no gender.
    assert "uscc" in checker.clean({"kind": "person", "name": "张三", "uscc": "X"})
    assert "gender" in checker.clean({"kind": "organisation", "name": "甲", "gender": "male"})
    # The reused instance keeps nothing of the row before.
    assert checker.clean({"kind": "person", "name": "李四"}) == {}


def test_pinyin_by_words_is_pypinyin_reading_the_whole_name() -> None:
    names = ["重庆长安银行有限公司", "厦门行长重量级科技", "长沙乐乐音乐", "银川 ABC 贸易", "单于"]
    # Runs of other characters between, before and after the Chinese ones (each Chinese
    # run is read on its own and remembered), a rare character, an emoji, nothing.
    names += [
        "3M中国有限公司",
        "重庆长安12号银行",
        "长沙-乐乐(音乐)工作室8",
        "𠮷野家",
        "乐😀乐",
        "",
    ]
    for name in names:
        text = normalize.search_text(name)
        read = lazy_pinyin(text, style=Style.NORMAL)
        assert normalize.pinyin_full(name) == "".join(read), name
        assert normalize.pinyin_initials(name) == "".join(s[0] for s in read if s), name


pytestmark_db = pytest.mark.usefixtures("in_acme")
IGNORED = {"from_party", "to_party", "is_primary"}


@pytestmark_db
def test_an_imported_party_has_the_rows_the_services_write(alice: User) -> None:
    """Search keys, pinyin and audit changes of an imported organisation and its contact
    person are those of the same parties entered through the archive's services."""
    rows = [
        ["客户名称", "联系人", "手机", "邮箱"],
        ["深圳腾飞科技有限公司", "张伟", "13812345678", "Zw@Tf.cn"],
    ]
    job = services.import_upload(actor=alice, file=upload("a.csv", csv_bytes(rows)))
    run(alice, job)
    org = Party.objects.get(name="深圳腾飞科技有限公司")
    person = Party.objects.get(name="张伟")

    typed_org = party_services.party_create(
        actor=alice, kind="organisation", name="深圳腾飞科技有限公司"
    )
    typed = party_services.party_create(
        actor=alice,
        kind="person",
        name="张伟",
        contacts=[("mobile", "13812345678"), ("email", "Zw@Tf.cn")],
    )
    party_services.party_link_add(actor=alice, from_party=typed_org, to_party=typed, kind="employs")

    def keys(party: Party) -> list[str]:
        return sorted(SearchKey.objects.filter(party=party).values_list("key", flat=True))

    assert keys(org) == keys(typed_org) and keys(person) == keys(typed)
    assert (person.name_pinyin, person.name_initials) == (typed.name_pinyin, typed.name_initials)

    def history(party: Party) -> list[tuple[str, str, dict[str, object]]]:
        entries = AuditEntry.objects.filter(root_type="parties.party", root_id=party.pk)
        out = []
        for e in entries.order_by("object_type", "object_id"):
            # Ids differ; the import makes each party's first contact of a kind its primary.
            changes = {k: v for k, v in e.changes.items() if k not in IGNORED}
            out.append((e.object_type, e.object_repr, changes))
        return sorted(out, key=repr)

    assert history(person) == history(typed)
    assert history(org)[0] == history(typed_org)[0]  # the party's own entry
    link = PartyLink.objects.get(from_party=org)
    typed_link = PartyLink.objects.get(from_party=typed_org)
    assert (link.kind, link.title, str(link)) == (
        typed_link.kind,
        typed_link.title,
        str(typed_link),
    )
