"""The matcher: normalisers, scores and explanations on hand-checked pairs, blocking."""

import pytest

from kehu.dataio import dedup


@pytest.mark.parametrize(
    ("name", "core"),
    [
        ("（深圳）华为技术有限公司", "华为技术"),
        ("深圳市华为技术有限公司", "华为技术"),
        ("华为技术（深圳）有限公司", "华为技术"),
        ("广东省深圳市腾讯科技集团有限公司", "腾讯科技"),
        ("ＡＢＣ科技股份有限公司", "abc科技"),
        ("杭州 阿里巴巴 有限责任公司", "阿里巴巴"),
        ("Acme Co., Ltd.", "acme"),
        ("北京市", "北京市"),
    ],
)
def test_company_name(name: str, core: str) -> None:
    assert dedup.company_name(name) == core


def test_phone_and_email_keys() -> None:
    assert dedup.phone_key("138 1234 5678") == "+8613812345678"
    assert dedup.phone_key("+86-138-1234-5678") == "+8613812345678"
    assert dedup.phone_key("０７５５－８８８８６６６６") == "+8675588886666"
    assert dedup.phone_key("12") == ""
    assert dedup.email_key("A.B+news@GoogleMail.com") == "ab@gmail.com"
    assert dedup.email_key("A.B@QQ.com") == "a.b@qq.com"


def test_person_name_and_pinyin() -> None:
    assert dedup.person_name(" 欧阳 · 娜娜 ") == "欧阳娜娜"
    assert dedup.pinyin_syllables("张伟") == ["zhang", "wei"]
    assert dedup.pinyin_syllables("john smith") == ["john", "smith"]


def _org(id: int, name: str, **kw: str | list[str]) -> dedup.Profile:
    return dedup.profile(id=id, kind="organisation", name=name, **kw)  # type: ignore[arg-type]


def test_same_mobile_and_homophone_name_is_explained() -> None:
    a = _org(1, "深圳市腾讯科技有限公司", phones=["13812345678"])
    b = _org(2, "腾迅科技（深圳）有限公司", phones=["+86 138 1234 5678"])
    match = dedup.score_pair(a, b)
    assert match.score == 1.0
    assert match.explanation == "同一手机号，名称相似度 95%"
    assert dedup.blocking_keys(a) & dedup.blocking_keys(b)


def test_two_people_of_one_name_alone_are_not_a_candidate() -> None:
    a = dedup.profile(id=1, kind="person", name="张伟")
    b = dedup.profile(id=2, kind="person", name="张伟")
    assert dedup.score_pair(a, b).score < dedup.CANDIDATE_SCORE
    assert not dedup.could_match(a, b)
    c = dedup.profile(id=3, kind="person", name="张伟", emails=["zw@163.com"])
    d = dedup.profile(id=4, kind="person", name="张 伟", emails=["ZW@163.com"])
    match = dedup.score_pair(c, d)
    assert match.score >= dedup.CANDIDATE_SCORE
    assert match.explanation == "同一邮箱，名称相似度 100%"


def test_different_uscc_weighs_against_and_kinds_never_match() -> None:
    a = _org(1, "华为技术有限公司", uscc="91440300192203821W")
    b = _org(2, "华为技术有限公司", uscc="914403001922038216")
    assert dedup.score_pair(a, b).score < dedup.CANDIDATE_SCORE
    person = dedup.profile(id=3, kind="person", name="华为技术")
    assert dedup.score_pair(a, person).score == 0.0


def test_blocking_finds_the_pairs_and_only_those_alike() -> None:
    profiles = [
        _org(1, "上海浦东发展银行股份有限公司"),
        _org(2, "浦东发展银行（上海）"),
        _org(3, "广州白云山医药集团股份有限公司"),
        _org(4, "广州白云山医要集团股份有限公司"),  # 药 → 要: one character changed
        _org(5, "杭州娃哈哈集团有限公司", emails=["info@wahaha.com"]),
        _org(6, "娃哈哈饮料", emails=["INFO@wahaha.com"]),
        _org(7, "成都小米科技有限公司"),
    ]
    found = {(m.a, m.b) for m in dedup.find_matches(profiles)}
    assert found == {(1, 2), (3, 4), (5, 6)}


@pytest.mark.parametrize(
    ("name", "place"),
    [
        ("深圳市腾讯科技有限公司", "广东省|深圳市"),
        ("腾讯科技（深圳）有限公司", "广东省|深圳市"),
        ("广东省深圳市腾讯科技有限公司", "广东省|深圳市"),
        ("广东腾讯科技有限公司", "广东省|"),
        ("腾讯科技有限公司", ""),
    ],
)
def test_company_place(name: str, place: str) -> None:
    assert dedup.company_place(name) == place


def test_firms_whose_names_name_different_cities_are_not_candidates() -> None:
    wuhan, qingdao = _org(1, "武汉天信商贸有限公司"), _org(2, "青岛天信商贸集团有限公司")
    match = dedup.score_pair(wuhan, qingdao)
    assert match.score < dedup.CANDIDATE_SCORE
    assert "名称中的城市不同" in match.explanation
    # The same city written two ways, a province and a city in it, or no city at all
    # are no conflict.
    for other in ("天信商贸（武汉）有限公司", "湖北天信商贸有限公司", "天信商贸有限公司"):
        assert dedup.score_pair(wuhan, _org(3, other)).score >= dedup.CANDIDATE_SCORE, other
    assert dedup.places_differ("湖北省|武汉市", "广东省|")
    assert not dedup.places_differ("湖北省|武汉市", "湖北省|")


def test_a_mistyped_birthday_is_no_conflict_but_another_is() -> None:
    def person(id: int, birthday: str) -> dedup.Profile:
        return dedup.profile(
            id=id, kind="person", name="李娜", birthday=birthday, address="杭州市西湖区文三路 8 号"
        )

    base = person(1, "1985-03-04")
    same = dedup.score_pair(base, person(2, "1985-03-04")).score
    typo = dedup.score_pair(base, person(3, "1985-03-05"))
    swapped = dedup.score_pair(base, person(4, "1985-04-03")).score
    other = dedup.score_pair(base, person(5, "1990-11-20")).score
    assert same > typo.score == swapped > other
    assert typo.score >= dedup.CANDIDATE_SCORE > other
    assert "生日只差一位" in typo.explanation


def test_a_name_one_character_short_and_a_shared_birthday_share_a_block() -> None:
    long = dedup.profile(id=1, kind="person", name="christina coleman")
    short = dedup.profile(id=2, kind="person", name="christina colemn")
    assert dedup.blocking_keys(long) & dedup.blocking_keys(short)
    a = dedup.profile(id=3, kind="person", name="王小明", birthday="1990-01-02")
    b = dedup.profile(id=4, kind="person", name="王晓敏", birthday="1990-01-02")
    assert dedup.blocking_keys(a) & dedup.blocking_keys(b)


def test_addresses_on_one_road_with_other_house_numbers_are_not_alike() -> None:
    def firm(id: int, name: str, address: str) -> dedup.Profile:
        return _org(id, name, address=address)

    a = firm(1, "武汉安宇信息技术有限公司", "湖北省武汉市洪山区珞喻路 129 号")
    neighbour = firm(2, "武汉弘宇信息技术有限公司", "湖北省武汉市洪山区珞喻路 981 号")
    typo = firm(3, "武汉弘宇信息技术有限公司", "湖北省武汉市洪山区珞瑜路 128 号")
    assert "address_alike" not in str(dedup.score_pair(a, neighbour).reasons)
    assert "address_alike" in str(dedup.score_pair(a, typo).reasons)  # one digit off
    words = dedup.profile(
        id=4, kind="person", name="x", address="30 wallace heights learmonth drive"
    )
    swapped = dedup.profile(
        id=5, kind="person", name="x", address="30 learmonth drive wallace heights"
    )
    assert ["address_alike", 100] in dedup.score_pair(words, swapped).reasons


def test_a_brand_in_another_order_is_another_brand() -> None:
    firms = dedup.score_pair(_org(1, "锐倩文化传媒有限公司"), _org(2, "倩锐文化传媒有限公司"))
    assert firms.score < dedup.CANDIDATE_SCORE
    people = dedup.name_similarity(
        dedup.profile(id=3, kind="person", name="John Smith"),
        dedup.profile(id=4, kind="person", name="Smith John"),
    )
    assert people == 0.95


def test_the_scans_prefilter_never_drops_a_pair_that_scores_a_candidate() -> None:
    """may_reach is an upper bound: every pair score_pair makes a candidate passes it,
    and it does drop pairs (else it would save nothing)."""
    import random

    rng = random.Random(5)
    names = ["腾讯科技", "腾迅科技", "深圳市腾讯科技有限公司", "武汉天信商贸", "青岛天信商贸"]
    people = ["张伟", "张 伟", "王小明", "王晓明", "李娜"]
    profiles = []
    for i in range(160):
        kind = "organisation" if i % 2 else "person"
        profiles.append(
            dedup.profile(
                id=i,
                kind=kind,
                name=rng.choice(names if kind == "organisation" else people),
                phones=rng.choice([[], ["13812345678"], ["13987654321"]]),
                emails=rng.choice([[], ["a@qq.com"]]),
                uscc=rng.choice(["", "", "91440300192203821W", "914403001922038216"]),
                address=rng.choice(["", "人民路12号", "人民路13号", "人民路98号"]),
                birthday=rng.choice(["", "1965-06-15", "1965-06-16", "1970-01-01"]),
            )
        )
    dropped = found = 0
    for i, a in enumerate(profiles):
        for b in profiles[i + 1 :]:
            if a.kind != b.kind:
                continue
            similarity = dedup.name_similarity(a, b)
            reach = dedup.may_reach(a, b, similarity, dedup.CANDIDATE_SCORE)
            match = dedup.score_pair(a, b, similarity=similarity)
            assert match == dedup.score_pair(a, b)
            if match.score >= dedup.CANDIDATE_SCORE:
                found += 1
                assert reach, (a, b, match)
            dropped += not reach
    assert found and dropped


def test_the_scans_bounds_find_what_scoring_every_pair_of_every_block_finds() -> None:
    """dedup_batch's numpy bounds (large blocks as a matrix, small ones pair by pair)
    give the same matches as score_pair on every pair sharing a block."""
    import random

    rng = random.Random(11)
    orgs = ["腾讯科技", "腾迅科技", "深圳市腾讯科技有限公司", "天润网络科技", "瑞润网络科技"]
    people = ["张伟", "张 伟", "王小明", "王晓明", "christina coleman", "christina colemn"]
    profiles = []
    for i in range(300):
        kind = "organisation" if i % 2 else "person"
        profiles.append(
            dedup.profile(
                id=i + 1,
                kind=kind,
                name=rng.choice(orgs if kind == "organisation" else people),
                phones=rng.choice([[], ["13812345678"], ["13987654321", "0755-1234567"]]),
                emails=rng.choice([[], ["a@qq.com"]]),
                uscc=rng.choice(["", "", "91440300192203821W", "914403001922038216"]),
                address=rng.choice(["", "人民路12号", "人民路13号", "30 wallace drive"]),
                birthday=rng.choice(["", "1965-06-15", "1965-06-16", "1965-15-06", "1970-01-01"]),
            )
        )
    by_id = {p.id: p for p in profiles}
    expected = set()
    for ids in dedup.blocks(profiles):
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                match = dedup.score_pair(by_id[a], by_id[b])
                if match.score >= dedup.CANDIDATE_SCORE:
                    expected.add((match.a, match.b, match.score))
    found = {(m.a, m.b, m.score) for m in dedup.find_matches(profiles)}
    assert expected and found == expected
