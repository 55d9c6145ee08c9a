"""Finding duplicate parties: normalised keys, blocking, and scored, explained pairs.

A party becomes a `Profile` (its name reduced to the part that tells firms apart, the
pinyin of that, canonical phones and emails, USCC, address, birthday). Profiles that
share a *blocking key* are compared; every other pair is never looked at, which keeps a
full scan near-linear. Keys: each phone, email and USCC; the reduced name; its pinyin
(a wrong character typed with a pinyin IME is a homophone, so 腾迅 and 腾讯 share it); the
pinyin syllables sorted (张伟 / 伟 张, Smith John / John Smith); the name with one
character left out (one character missing, added or changed: every such pair shares a
key); the address. A block holding more than `MAX_BLOCK` profiles (a switchboard
number, a common person name) tells nothing and is skipped.

Each compared pair gets a score in [0, 1] from the name similarity (rapidfuzz) and the
evidence around it, and the reasons as codes that `explain` turns into a sentence
("同一手机号，名称相似度 92%") in the reader's language. See
docs/decisions/0010-duplicates.md for the weights and thresholds.
"""

import functools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import phonenumbers
from django.utils.translation import gettext as _
from pypinyin import Style, lazy_pinyin
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from kehu.dataio import regions

# A pair at or above this score is a candidate; at or above WARN_SCORE creating it warns.
CANDIDATE_SCORE = 0.75
WARN_SCORE = 0.75
MAX_BLOCK = 100
# Names shorter than this get no one-left-out keys (张伟 would give 张 and 伟).
# Shorter names (4 characters: 2 of brand, 2 of trade, the common firm name) would share
# their one-left-out keys with thousands; their typos are found by pinyin instead.
DELETION_MIN = 6
DELETION_MAX = 16

# Longest first, so that 股份有限公司 is stripped whole, not as 有限公司 leaving 股份.
LEGAL_FORMS = (
    "集团股份有限公司",
    "集团有限责任公司",
    "集团有限公司",
    "股份有限公司",
    "有限责任公司",
    "有限合伙企业",
    "有限合伙",
    "有限公司",
    "股份公司",
    "集团公司",
    "合伙企业",
    "集团",
    "公司",
)
_ENGLISH_FORMS = re.compile(
    r"[\s,.]*\b(?:co\.?,?\s*ltd\.?|company\s+limited|limited|ltd\.?|inc\.?|corp\.?|"
    r"corporation|company|llc|gmbh|co\.?)\s*$"
)
_BRACKETED = re.compile(r"[(\[【〔]([^)\]】〕]*)[)\]】〕]")
_NOT_WORD = re.compile(r"[\W_]+")
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_GMAIL = frozenset({"gmail.com", "googlemail.com"})


@functools.cache
def _places() -> tuple[frozenset[str], re.Pattern[str]]:
    """Every province and prefecture name as written in full or short (广东省, 广东, 深圳)."""
    names = set(regions.province_names())
    for cities in regions.city_names().values():
        names.update(cities)
    names = {n for n in names if len(n) >= 2}
    alternatives = "|".join(sorted(map(re.escape, names), key=len, reverse=True))
    return frozenset(names), re.compile(f"^(?:{alternatives})")


def _is_place(text: str) -> bool:
    return text.strip() in _places()[0]


def fold(value: str) -> str:
    """Full-width to half-width (NFKC), lower case, trimmed."""
    return unicodedata.normalize("NFKC", value).lower().strip()


def company_name(name: str) -> str:
    """The part of a company name that tells firms apart: no legal form, no place in
    brackets or in front, no punctuation or spaces, half-width, lower case.
    （深圳）华为技术有限公司, 深圳市华为技术有限公司 and 华为技术（深圳）有限公司 → 华为技术."""
    return _company_parts(name)[0]


def company_place(name: str) -> str:
    """Where a company name says it is, as "province|city" (either part may be empty):
    深圳市腾讯科技有限公司 and 腾讯科技（深圳）有限公司 → 广东省|深圳市; "" when it says not."""
    return _place_of(_company_parts(name)[1])


_province_names = functools.cache(regions.province_names)


def _place_of(removed: list[str]) -> str:
    province, city = "", ""
    for place in removed:
        short = place.removesuffix("省").removesuffix("市")
        whole = _province_names().get(place) or _province_names().get(short)
        if whole:
            province = province or whole
            continue
        found = regions.cities_anywhere().get(place) or regions.cities_anywhere().get(short)
        if found:
            candidates = [pc for pc in found if not province or pc[0] == province]
            province, city = (candidates or found)[0]
    return f"{province}|{city}" if province or city else ""


def places_differ(a: str, b: str) -> bool:
    """Two places that cannot be the same (different provinces, or different cities)."""
    if not a or not b:
        return False
    province_a, city_a = a.split("|")
    province_b, city_b = b.split("|")
    return province_a != province_b or bool(city_a and city_b and city_a != city_b)


def _company_parts(name: str) -> tuple[str, list[str]]:
    """The reduced name (see company_name) and the place names taken out of it."""
    text = fold(name)
    removed: list[str] = []

    def bracket(match: re.Match[str]) -> str:
        if _is_place(match.group(1)):
            removed.append(match.group(1).strip())
            return ""
        return match.group(1)

    text = _BRACKETED.sub(bracket, text)
    text = _ENGLISH_FORMS.sub("", text)
    text = _NOT_WORD.sub("", text)
    text = _strip_legal_forms(text)
    places = _places()[1]
    for _round in range(2):  # 广东省深圳市…: a province, then (only then) a city
        match = places.match(text)
        if match is None or len(text) - match.end() < 2:
            break
        removed.append(match.group(0))
        text = text[match.end() :]
        text = text.removeprefix("省").removeprefix("市") if len(text) > 2 else text
        if match.group(0) not in regions.province_names():
            break
    return text, removed


def _strip_legal_forms(text: str) -> str:
    stripped = True
    while stripped:
        stripped = False
        for form in LEGAL_FORMS:
            if text.endswith(form) and len(text) > len(form):
                text, stripped = text[: -len(form)], True
                break
    return text


def person_name(name: str) -> str:
    """A person's name without spaces, dots (·) or punctuation, half-width, lower case."""
    return _NOT_WORD.sub("", fold(name))


def name_key(kind: str, name: str) -> str:
    return company_name(name) if kind == "organisation" else person_name(name)


@functools.lru_cache(maxsize=65536)
def _char_pinyin(char: str) -> str:
    # One reading per character, without context: a key only has to be the same for
    # the same characters, and this is a dictionary look-up, not a phrase match.
    return lazy_pinyin(char, style=Style.NORMAL)[0]


def pinyin_syllables(text: str) -> list[str]:
    """Tone-less pinyin of each Chinese character; runs of Latin letters and digits stay
    one token each (john smith → john, smith)."""
    out: list[str] = []
    latin = ""
    for char in text:
        if char.isascii() and char.isalnum():
            latin += char
            continue
        if latin:
            out.append(latin)
            latin = ""
        if not char.isspace() and not (char.isascii() and not char.isalnum()):
            out.append(_char_pinyin(char))
    if latin:
        out.append(latin)
    return out


def phone_key(value: str) -> str:
    """E.164 (+8613812345678) for anything libphonenumber reads as a valid number, the
    bare digits otherwise; '' for fewer than 7 digits. The archive keeps E.164 already."""
    if _E164.fullmatch(value):
        return value
    try:
        number = phonenumbers.parse(fold(value), "CN")
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    digits = re.sub(r"\D", "", value)
    return digits if len(digits) >= 7 else ""


def email_key(value: str) -> str:
    """Lower case; for Gmail, which ignores them, no dots and no +tag in the local part.
    Other providers (QQ, 163, company mail) deliver a.b and ab to different people."""
    address = fold(value)
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    if domain in _GMAIL:
        local = local.split("+", 1)[0].replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"


def address_key(value: str) -> str:
    """The address folded, punctuation dropped, words kept apart by one space (Latin
    addresses; a Chinese one is one word)."""
    return " ".join(_NOT_WORD.sub(" ", fold(value)).split())


@dataclass(frozen=True, slots=True)
class Profile:
    """What the matcher knows of one party."""

    id: int
    kind: str
    name: str
    key: str
    pinyin: str
    tokens: tuple[str, ...]
    phones: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()
    uscc: str = ""
    address: str = ""
    birthday: str = ""
    place: str = ""  # where an organisation's name says it is (company_place)


def profile(
    *,
    id: int,
    kind: str,
    name: str,
    phones: Iterable[str] = (),
    emails: Iterable[str] = (),
    uscc: str = "",
    address: str = "",
    birthday: str = "",
) -> Profile:
    if kind == "organisation":
        key, removed = _company_parts(name)
        place = _place_of(removed)
    else:
        key, place = person_name(name), ""
    tokens = tuple(pinyin_syllables(key if kind == "organisation" else fold(name)))
    return Profile(
        id=id,
        kind=kind,
        name=name,
        key=key,
        pinyin="".join(tokens),
        tokens=tokens,
        phones=frozenset(p for p in map(phone_key, phones) if p),
        emails=frozenset(e for e in map(email_key, emails) if e),
        uscc=fold(uscc).upper(),
        address=address_key(address),
        birthday=birthday,
        place=place,
    )


def blocking_keys(p: Profile) -> set[str]:
    keys = {f"t{phone}" for phone in p.phones} | {f"e{email}" for email in p.emails}
    if p.uscc:
        keys.add(f"u{p.uscc}")
    kind = p.kind[:1]
    if p.key:
        keys.add(f"n{kind}{p.key}")
    if p.pinyin:
        keys.add(f"p{kind}{p.pinyin}")
    if len(p.tokens) > 1:
        keys.add(f"s{kind}{' '.join(sorted(p.tokens))}")
    if DELETION_MIN <= len(p.key) <= DELETION_MAX:
        # The key with each character left out, and the key itself: a name one
        # character short of another's meets it here.
        keys.update(f"d{kind}{p.key[:i]}{p.key[i + 1 :]}" for i in range(len(p.key)))
        keys.add(f"d{kind}{p.key}")
    if p.birthday:
        keys.add(f"b{kind}{p.birthday}")
    if p.address:
        keys.add(f"a{kind}{p.address.replace(' ', '')}")
    return keys


@dataclass(frozen=True, slots=True)
class Match:
    """A scored pair: `a` < `b` by id, the score and the reasons behind it."""

    a: int
    b: int
    score: float
    reasons: list[list[str | int]] = field(default_factory=list)

    @property
    def explanation(self) -> str:
        return explain(self.reasons)


# Weights (docs/decisions/0010-duplicates.md). A firm's name alone is strong evidence;
# a person's is not (there are many 张伟): a person needs a phone, an email, a birthday
# or an address besides.
NAME_WEIGHT = {"organisation": 0.82, "person": 0.55}
PHONE_WEIGHT = 0.4
EMAIL_WEIGHT = 0.35
BIRTHDAY_WEIGHT = 0.2
BIRTHDAY_CONFLICT = 0.3
ADDRESS_WEIGHT = 0.3
ADDRESS_FLOOR = 0.85
# Firms whose names put them in different cities are different firms (a branch is its
# own legal entity too): 武汉天信商贸 and 青岛天信商贸.
PLACE_CONFLICT = 0.3


def name_similarity(a: Profile, b: Profile) -> float:
    """The best of: the reduced names compared as characters; as pinyin syllables, one
    by one (a homophone typo, 腾迅 for 腾讯, is no change; 恒美 and 盛美 differ by a
    syllable, not a letter); and, for people, 95% for the same syllables in another
    order (Smith John)."""
    if not a.key or not b.key:
        return 0.0
    chars = fuzz.ratio(a.key, b.key)
    sounds = fuzz.ratio(a.tokens, b.tokens) * 0.95  # syllable by syllable
    # A person's name in another order is the same name; a firm's brand is not (锐倩 and
    # 倩锐 are two brands).
    reordered = a.kind == "person" and sorted(a.tokens) == sorted(b.tokens)
    order = 95.0 if reordered else 0.0
    return max(chars, sounds, order) / 100


def _evidence_bound(a: Profile, b: Profile) -> float:
    """The most the evidence besides the name can add to the pair's score."""
    bound = PHONE_WEIGHT if a.phones & b.phones else 0.0
    bound += EMAIL_WEIGHT if a.emails & b.emails else 0.0
    if a.birthday and b.birthday:
        if a.birthday == b.birthday:
            bound += BIRTHDAY_WEIGHT
        elif _birthday_typo(a.birthday, b.birthday):
            bound += BIRTHDAY_WEIGHT / 2
    return bound + (ADDRESS_WEIGHT if a.address and b.address else 0.0)


_NUMBER = re.compile(r"\d+")


def _address_similarity(a: str, b: str) -> float:
    """Characters alike, spaces aside; or the same words in another order. Two addresses
    with different house numbers are different places however alike the rest (人民路
    12 号 and 人民路 98 号 of one district are 90% alike as text)."""
    numbers_a, numbers_b = _NUMBER.findall(a), _NUMBER.findall(b)
    if numbers_a and numbers_b and not _numbers_alike(numbers_a, numbers_b):
        return 0.0
    chars = fuzz.ratio(a.replace(" ", ""), b.replace(" ", ""))
    words = fuzz.token_sort_ratio(a, b) if " " in a or " " in b else 0.0
    return max(chars, words) / 100


def _numbers_alike(a: list[str], b: list[str]) -> bool:
    """The same numbers, but for a typo in one of them (12 / 13, 126 / 162)."""
    if len(a) != len(b):
        return False
    typos = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    return len(typos) <= 1 and all(
        Levenshtein.distance(x, y) <= 1 or sorted(x) == sorted(y) for x, y in typos
    )


def _birthday_typo(a: str, b: str) -> bool:
    """One digit mistyped (1965-06-15 / 1965-06-16), or month and day swapped in an ISO
    date (1965-03-04 / 1965-04-03)."""
    if len(a) != len(b):
        return False
    if sum(x != y for x, y in zip(a, b, strict=True)) == 1:
        return True
    return len(a) == 10 and a[:4] == b[:4] and a[5:7] == b[8:10] and a[8:10] == b[5:7]


def could_match(a: Profile, b: Profile, threshold: float = CANDIDATE_SCORE) -> bool:
    """False where the pair cannot reach `threshold` even with identical names: the scan
    skips it unscored (two people called 张伟 with nothing else alike)."""
    if a.kind != b.kind:
        return False
    if a.uscc and a.uscc == b.uscc:
        return True
    return NAME_WEIGHT[a.kind] + _evidence_bound(a, b) >= threshold


# A score is rounded to 4 places before it is compared with a threshold.
_ROUNDING = 1e-4


def may_reach(a: Profile, b: Profile, similarity: float, threshold: float) -> bool:
    """False where `score_pair` cannot reach `threshold` given the names' similarity: the
    same sums, with every address taken as identical (the one costly comparison left
    out). The scan scores only the pairs this lets through, so a pair it drops could
    never have been a candidate."""
    if a.uscc and b.uscc:
        if a.uscc == b.uscc:
            return True
        if threshold > 0.3:  # different USCCs: the score is multiplied by 0.3
            return False
    bound = NAME_WEIGHT[a.kind] * similarity + _evidence_bound(a, b)
    birthdays = a.birthday and b.birthday and a.birthday != b.birthday
    if birthdays and not _birthday_typo(a.birthday, b.birthday):
        bound -= BIRTHDAY_CONFLICT
    if places_differ(a.place, b.place):
        bound -= PLACE_CONFLICT
    return bound >= threshold - _ROUNDING


def score_pair(a: Profile, b: Profile, *, similarity: float | None = None) -> Match:
    """The pair's score and reasons (`similarity`: their name_similarity, if known)."""
    if a.id > b.id:
        a, b = b, a
    if a.kind != b.kind:
        return Match(a.id, b.id, 0.0, [["kind_differs", 0]])
    reasons: list[list[str | int]] = []
    if similarity is None:
        similarity = name_similarity(a, b)
    score = NAME_WEIGHT[a.kind] * similarity
    shared = a.phones & b.phones
    if shared:
        score += PHONE_WEIGHT
        mobile = any(p.startswith("+861") for p in shared)
        reasons.append(["same_mobile" if mobile else "same_phone", 0])
    if a.emails & b.emails:
        score += EMAIL_WEIGHT
        reasons.append(["same_email", 0])
    if a.birthday and b.birthday:
        if a.birthday == b.birthday:
            score += BIRTHDAY_WEIGHT
            reasons.append(["same_birthday", 0])
        elif _birthday_typo(a.birthday, b.birthday):
            score += BIRTHDAY_WEIGHT / 2
            reasons.append(["birthday_alike", 0])
        else:
            score -= BIRTHDAY_CONFLICT
            reasons.append(["birthday_differs", 0])
    if places_differ(a.place, b.place):
        score -= PLACE_CONFLICT
        reasons.append(["place_differs", 0])
    if a.address and b.address:
        address = _address_similarity(a.address, b.address)
        if address >= ADDRESS_FLOOR:
            score += ADDRESS_WEIGHT * address
            reasons.append(["address_alike", round(address * 100)])
    reasons.append(["name_alike", round(similarity * 100)])
    if a.uscc and b.uscc:
        if a.uscc == b.uscc:
            score = max(score, 0.98)
            reasons.insert(0, ["same_uscc", 0])
        else:
            score *= 0.3
            reasons.insert(0, ["uscc_differs", 0])
    return Match(a.id, b.id, round(min(max(score, 0.0), 1.0), 4), reasons)


def explain(reasons: Iterable[list[str | int]]) -> str:
    """The reasons as one sentence in the active language."""
    texts = {
        "same_uscc": _("同一统一社会信用代码"),
        "uscc_differs": _("统一社会信用代码不同"),
        "same_mobile": _("同一手机号"),
        "same_phone": _("同一电话号码"),
        "same_email": _("同一邮箱"),
        "same_birthday": _("生日相同"),
        "birthday_differs": _("生日不同"),
        "birthday_alike": _("生日只差一位"),
        "place_differs": _("名称中的城市不同"),
        "kind_differs": _("类型不同"),
    }
    parts = []
    for code, value in reasons:
        if code == "name_alike":
            parts.append(_("名称相似度 %(percent)s%%") % {"percent": value})
        elif code == "address_alike":
            parts.append(_("地址相似度 %(percent)s%%") % {"percent": value})
        else:
            parts.append(texts.get(str(code), str(code)))
    return _("，").join(parts)


def blocks(profiles: Iterable[Profile]) -> list[list[int]]:
    """The ids of the profiles that share a blocking key, for each key shared by 2 …
    MAX_BLOCK profiles, ascending. Keys shared by the same profiles (a person's name, its
    pinyin and its syllables sorted: 王伟, wangwei, wang wei) give one block. In a fixed
    order (by their ids), so that a resumed scan can skip the blocks done."""
    keys: list[str] = []
    owners: list[int] = []
    for p in profiles:
        found = blocking_keys(p)
        keys.extend(found)
        owners.extend([p.id] * len(found))
    groups = _groups(keys, np.array(owners, dtype=np.int64))
    return [list(ids) for ids in sorted(groups)]


def _groups(keys: list[str], owners: npt.NDArray[np.int64]) -> set[tuple[int, ...]]:
    """The owners of each key held by 2 … MAX_BLOCK owners (ascending, each once): the
    keys grouped by their hash in numpy, a group whose keys differ (two keys of one
    hash) split by the keys themselves."""
    hashes = np.fromiter(map(hash, keys), dtype=np.int64, count=len(keys))
    order = np.argsort(hashes, kind="stable")
    hashes = hashes[order]
    starts = np.flatnonzero(np.r_[True, hashes[1:] != hashes[:-1]])
    sizes = np.diff(np.r_[starts, len(hashes)])
    many = sizes > 1
    starts, sizes = starts[many], sizes[many]
    # Members of groups of two or more: a key unlike its predecessor in the same group
    # means a hash shared by two keys.
    inside = np.repeat(starts, sizes) + _ranges(sizes)
    members = np.array(keys, dtype=object)[order[inside]]
    first = np.zeros(len(inside), dtype=bool)
    first[np.cumsum(sizes) - sizes] = True
    unlike = np.zeros(len(inside), dtype=bool)
    unlike[1:] = members[1:] != members[:-1]
    mixed = set(np.repeat(np.arange(len(starts)), sizes)[unlike & ~first].tolist())
    owned = owners[order].tolist()
    groups: set[tuple[int, ...]] = set()
    for g, (start, size) in enumerate(zip(starts.tolist(), sizes.tolist(), strict=True)):
        if g in mixed:
            split: defaultdict[str, list[int]] = defaultdict(list)
            for k in order[start : start + size].tolist():
                split[keys[k]].append(owners[k])
            parts = [sorted(set(ids)) for ids in split.values()]
        elif size <= MAX_BLOCK:
            parts = [sorted(set(owned[start : start + size]))]
        else:
            continue
        groups.update(tuple(ids) for ids in parts if 1 < len(ids) <= MAX_BLOCK)
    return groups


def _ranges(sizes: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """0, 1, …, size - 1 for each size, concatenated."""
    ends = np.cumsum(sizes)
    return np.arange(ends[-1] if len(ends) else 0) - np.repeat(ends - sizes, sizes)


def find_matches(profiles: Iterable[Profile], *, threshold: float = CANDIDATE_SCORE) -> list[Match]:
    """Every pair of the profiles scoring at least `threshold` (a whole in-memory set:
    the benchmark's labelled data), blocked and scored as the archive's scan does."""
    from kehu.dataio import dedup_batch  # it builds on this module

    profiles = list(profiles)
    columns = dedup_batch.Columns.of(profiles)
    return dedup_batch.score_blocks(columns, blocks(profiles), threshold=threshold)[0]


def matches_for(
    new: Profile, others: Iterable[Profile], *, threshold: float = WARN_SCORE
) -> list[Match]:
    """The profiles among `others` (already narrowed by their keys) that `new` is a
    likely duplicate of, best first."""
    found = [score_pair(new, o) for o in others if o.id != new.id]
    return sorted((m for m in found if m.score >= threshold), key=lambda m: -m.score)
