"""Drawing the demo firm's people and organisations, one PartySpec at a time.

PartyFactory draws every value from one random.Random in a fixed order, so a seed gives
the same parties on every run (values that depend on the clock, such as "due today",
move with it but never change what is drawn after them). generator.py turns the specs
into rows.
"""

import datetime
from array import array
from bisect import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate, pairwise
from random import Random
from typing import Generic, TypeVar

from django.core.exceptions import ValidationError
from django.utils import timezone

from kehu.demo import data
from kehu.parties import normalize
from kehu.parties.models import (
    AccountRole,
    AddressKind,
    ContactKind,
    DateKind,
    Gender,
    LinkKind,
    PartyKind,
    PartyRoleKind,
    RelationshipState,
)
from kehu.tenancy.models import Role, User, Visibility

T = TypeVar("T")

DAY = datetime.timedelta(days=1)
YEAR = datetime.timedelta(days=365)
PARTY_SPAN = 4 * YEAR  # parties were created over the last four years …
INTERACTION_SPAN = 3 * YEAR  # … and talked to over the last three


# --- drawing values ---------------------------------------------------------------------


class Weighted(Generic[T]):
    """Draws items in proportion to their weights, with one bisect per draw."""

    def __init__(self, pairs: Iterable[tuple[T, float]]):
        items = list(pairs)
        self.items = [item for item, _weight in items]
        self.cumulative = list(accumulate(weight for _item, weight in items))

    def pick(self, rng: Random) -> T:
        i = bisect(self.cumulative, rng.random() * self.cumulative[-1])
        return self.items[min(i, len(self.items) - 1)]


@dataclass(frozen=True)
class Place:
    province: str
    city: data.City
    district: str
    district_code: str


PLACES = Weighted(
    (Place(p.name, c, d, code), p.weight / len(p.cities) / len(c.districts))
    for p in data.PROVINCES
    for c in p.cities
    for d, code in c.districts
)
SURNAMES = Weighted(data.SURNAMES)
GIVEN_MALE = Weighted(data.COMMON_GIVEN_MALE)
GIVEN_FEMALE = Weighted(data.COMMON_GIVEN_FEMALE)
BUSINESSES = Weighted(((words, industry), w) for words, industry, w in data.BUSINESSES)
LEGAL_FORMS = Weighted(data.LEGAL_FORMS)
TITLES = Weighted(data.TITLES)
MAIL_DOMAINS = Weighted(data.MAIL_DOMAINS)
SOURCES = Weighted(data.SOURCES)
INTERACTION_KINDS = Weighted(data.INTERACTION_KINDS)
ORG_ROLES = Weighted(
    [
        (PartyRoleKind.CUSTOMER, 46),
        (PartyRoleKind.PROSPECT, 34),
        (PartyRoleKind.DISTRIBUTOR, 6),
        (PartyRoleKind.PARTNER, 5),
        (PartyRoleKind.COMPETITOR, 3),
        (PartyRoleKind.MEDIA, 3),
        (PartyRoleKind.GOVERNMENT, 2),
    ]
)
INDIVIDUAL_ROLES = Weighted(
    [
        (PartyRoleKind.CUSTOMER, 35),
        (PartyRoleKind.PROSPECT, 45),
        (PartyRoleKind.INFLUENCER, 15),
        (PartyRoleKind.MEDIA, 5),
    ]
)
S = RelationshipState
STATES_BY_ROLE: dict[str, Weighted[str]] = {
    PartyRoleKind.CUSTOMER: Weighted([(S.CURRENT, 65), (S.LOST, 20), (S.WON_BACK, 15)]),
    PartyRoleKind.PROSPECT: Weighted([(S.POTENTIAL, 60), (S.TARGET, 40)]),
    PartyRoleKind.DISTRIBUTOR: Weighted([(S.CURRENT, 85), (S.LOST, 10), (S.WON_BACK, 5)]),
    PartyRoleKind.PARTNER: Weighted([(S.CURRENT, 85), (S.LOST, 10), (S.WON_BACK, 5)]),
}
OTHER_STATES = Weighted([(S.POTENTIAL, 80), (S.TARGET, 20)])
# Contacts per organisation: customers have at least one. With 67% of draws being an
# organisation this gives about 40% organisations, 40% their staff, 20% individuals.
CUSTOMER_EMPLOYEES = Weighted([(1, 60), (2, 30), (3, 10)])
OTHER_EMPLOYEES = Weighted([(0, 50), (1, 40), (2, 10)])
STATE_CODES = {state: i for i, state in enumerate(RelationshipState.values)}
ORG_CODE_SPACE = 31**9
PLACE_SUFFIXES = ("壮族自治区", "回族自治区", "维吾尔自治区", "自治区", "白族自治州", "省", "市")


def below(rng: Random, n: int) -> int:
    """A number in [0, n) that always takes one draw, whatever n is.

    `randrange` draws more often for some n than for others; where n depends on the
    clock (how many days since …) that would make the rest of the data depend on it.
    """
    return min(int(rng.random() * n), n - 1)


def short_place(name: str) -> str:
    """广东省 → 广东, 广西壮族自治区 → 广西, 杭州市 → 杭州."""
    for suffix in PLACE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


@lru_cache(maxsize=16384)
def word_pinyin(word: str) -> str:
    return normalize.pinyin_full(word)


@lru_cache(maxsize=16384)
def word_initials(word: str) -> str:
    return normalize.pinyin_initials(word)


@lru_cache(maxsize=256)
def landline_digits(area_code: str) -> int:
    """Local number length in this area: 8 in big cities, 7 in many others."""
    try:
        normalize.phone(f"+86{area_code}62345678", mobile=False)
    except ValidationError:
        return 7
    return 8


def uscc_for(prefix: str, district_code: str, serial: int) -> str:
    """A valid 统一社会信用代码, unique per serial: 9 characters from a bijection of it."""
    # Multiplying by a number coprime with 31**9 permutes the codes: no two serials meet.
    n = (serial + 1) * 16340585143681 % ORG_CODE_SPACE
    chars = []
    for _ in range(9):
        n, r = divmod(n, 31)
        chars.append(normalize.USCC_CHARSET[r])
    return normalize.uscc_with_check_digit(prefix + district_code + "".join(chars))


# --- staff ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffMember:
    username: str
    display_name: str
    role: str
    visibility: str
    teams: tuple[str, ...] = ()
    leads: tuple[str, ...] = ()
    owner_weight: int = 0  # share of the customer archive this person owns


TEAMS = ("销售一部", "销售二部", "客服部")
STAFF = (
    StaffMember("admin", "王建国", Role.ADMIN, Visibility.ALL),
    StaffMember(
        "manager", "李秀英", Role.MANAGER, Visibility.TEAM, TEAMS[:2], TEAMS[:2], owner_weight=6
    ),
    StaffMember("sales1", "张明", Role.SALES, Visibility.OWN, (TEAMS[0],), owner_weight=24),
    StaffMember("sales2", "刘洋", Role.SALES, Visibility.OWN, (TEAMS[0],), owner_weight=24),
    StaffMember("sales3", "陈静", Role.SALES, Visibility.TEAM, (TEAMS[1],), owner_weight=23),
    StaffMember("sales4", "杨帆", Role.SALES, Visibility.OWN, (TEAMS[1],), owner_weight=23),
    StaffMember("service1", "赵敏", Role.SERVICE, Visibility.ALL, (TEAMS[2],), (TEAMS[2],)),
    StaffMember("marketing", "黄磊", Role.MARKETING, Visibility.ALL),
    StaffMember("analyst", "周婷", Role.ANALYST, Visibility.ALL),
    StaffMember("readonly", "吴刚", Role.READ_ONLY, Visibility.ALL),
)


# --- parties ----------------------------------------------------------------------------


@dataclass(slots=True)
class PartySpec:
    """Everything about one party before it has an id; links name other parties by index."""

    idx: int
    kind: str
    name: str
    owner: int  # a user id
    created_at: datetime.datetime
    region: Place
    roles: list[str]
    state: str = RelationshipState.POTENTIAL
    history: list[tuple[str, str, datetime.datetime, str]] = field(default_factory=list)
    gender: str = ""
    industry: str = ""
    website: str = ""
    source: str = ""
    description: str = ""
    uscc: str = ""
    is_direct: bool = True
    contacts: list[tuple[str, str, str, bool]] = field(default_factory=list)
    addresses: list[tuple[str, Place, str, bool]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    preferences: list[tuple[str, str]] = field(default_factory=list)
    dates: list[tuple[str, datetime.date, str]] = field(default_factory=list)
    team: list[tuple[int, str]] = field(default_factory=list)
    links: list[tuple[int, int, str, str]] = field(default_factory=list)  # from, to, kind, title
    tasks: list[tuple[str, datetime.date, int, bool]] = field(default_factory=list)
    employer: int = -1
    employees: int = 0
    name_pinyin_hint: str = ""  # pinyin of the name's parts, for email and WeChat ids

    @property
    def updated_at(self) -> datetime.datetime:
        return self.history[-1][2] if self.history else self.created_at


@dataclass
class _Org:
    """What an organisation's staff inherit from it."""

    spec: PartySpec
    domain: str


class PartyFactory:
    """Draws parties in index order: an organisation is followed by its employees."""

    def __init__(self, rng: Random, users: Sequence[User], n: int, now: datetime.datetime):
        self.rng = rng
        self.n = n
        self.now = now
        self.today = timezone.localdate(now)
        self.start = now - PARTY_SPAN
        self.users = {member.username: user for member, user in zip(STAFF, users, strict=True)}
        self.owners = Weighted(
            (user.pk, member.owner_weight)
            for member, user in zip(STAFF, users, strict=True)
            if member.owner_weight
        )
        self.manager = self.users["manager"].pk
        self.service = self.users["service1"].pk
        self.marketing = self.users["marketing"].pk
        self.sellers = [pk for pk in self.owners.items if pk != self.manager]
        # A few bytes per party, so that later parties and interactions can refer back.
        self.kinds = array("b")
        self.states = array("b")
        self.owner_of = array("q")
        self.employer_of = array("i")
        self.employee_count = array("b")
        self.distributors = array("i")
        self.competitors = array("i")

    # The moment party i was created: increasing with i, so ids follow creation order.
    def created_at(self, i: float) -> datetime.datetime:
        moment = self.start + PARTY_SPAN * (i / self.n)
        return min(moment, self.now - datetime.timedelta(minutes=5))

    def created_before(self, moment: datetime.datetime) -> int:
        """How many parties existed at `moment`."""
        share = (moment - self.start) / PARTY_SPAN
        return max(1, min(self.n, int(share * self.n)))

    def specs(self) -> Iterator[PartySpec]:
        rng = self.rng
        idx = 0
        while idx < self.n:
            if rng.random() < 0.67:
                org = self._organisation(idx)
                org.spec.employees = min(org.spec.employees, self.n - idx - 1)
                yield self._remember(org.spec)
                idx += 1
                for _ in range(org.spec.employees):
                    yield self._remember(self._employee(idx, org))
                    idx += 1
            else:
                yield self._remember(self._individual(idx))
                idx += 1

    def _remember(self, spec: PartySpec) -> PartySpec:
        self.kinds.append(0 if spec.kind == PartyKind.ORGANISATION else 1)
        self.states.append(STATE_CODES[spec.state])
        self.owner_of.append(spec.owner)
        self.employer_of.append(spec.employer)
        self.employee_count.append(spec.employees)
        if PartyRoleKind.DISTRIBUTOR in spec.roles:
            self.distributors.append(spec.idx)
        if PartyRoleKind.COMPETITOR in spec.roles:
            self.competitors.append(spec.idx)
        return spec

    # -- organisations

    def _organisation(self, idx: int) -> _Org:
        rng = self.rng
        role = ORG_ROLES.pick(rng)
        place = PLACES.pick(rng)
        created = self.created_at(idx + rng.random())
        spec = PartySpec(
            idx=idx,
            kind=PartyKind.ORGANISATION,
            name="",
            owner=self.owners.pick(rng),
            created_at=created,
            region=place,
            roles=[role],
            source=SOURCES.pick(rng),
        )
        domain = ""
        if role == PartyRoleKind.GOVERNMENT:
            spec.name = f"{place.city.name}{place.district}{rng.choice(data.GOVERNMENT_BODIES)}"
            spec.industry = "政府机构"
            spec.uscc = uscc_for("11", place.district_code, idx)
            spec.is_direct = False
        else:
            brand = "".join(rng.sample(data.BRAND_CHARS, 2))
            words, industry = BUSINESSES.pick(rng)
            if role == PartyRoleKind.MEDIA:
                words, industry = rng.choice((("文化传媒", "文化传媒"), ("广告", "文化传媒")))
            elif role == PartyRoleKind.DISTRIBUTOR:
                words, industry = rng.choice((("商贸", "批发零售"), ("供应链管理", "交通物流")))
            prefix = self._name_prefix(place)
            spec.name = f"{prefix}{brand}{words}{LEGAL_FORMS.pick(rng)}"
            spec.industry = industry
            spec.uscc = uscc_for("91", place.district_code, idx)
            domain = f"{word_pinyin(brand)}{word_initials(words)}.com"
            if rng.random() < 0.55:
                spec.website = f"https://www.{domain}"
            spec.is_direct = role != PartyRoleKind.MEDIA
        if role in (PartyRoleKind.DISTRIBUTOR, PartyRoleKind.PARTNER) and rng.random() < 0.3:
            spec.roles.append(PartyRoleKind.CUSTOMER)
        spec.state = STATES_BY_ROLE.get(role, OTHER_STATES).pick(rng)
        spec.history = self._history(spec.state, spec.owner, created)
        customer = role == PartyRoleKind.CUSTOMER
        spec.employees = (CUSTOMER_EMPLOYEES if customer else OTHER_EMPLOYEES).pick(rng)
        self._org_contacts(spec, domain)
        self._org_details(spec, role)
        self._org_links(spec, role)
        self._common(spec)
        return _Org(spec, domain)

    def _name_prefix(self, place: Place) -> str:
        roll = self.rng.random()
        if roll < 0.75:
            return short_place(place.city.name)
        if roll < 0.9:
            return short_place(place.province)
        return ""

    def _org_contacts(self, spec: PartySpec, domain: str) -> None:
        rng = self.rng
        city = spec.region.city
        if rng.random() < 0.85:
            spec.contacts.append((ContactKind.PHONE, self._landline(city), "总机", True))
        if domain and rng.random() < 0.5:
            mailbox = rng.choice(("info", "sales", "service", "purchase", "hr"))
            spec.contacts.append((ContactKind.EMAIL, f"{mailbox}@{domain}", "公司邮箱", False))
        spec.addresses.append((AddressKind.OFFICE, spec.region, self._office(), True))
        if rng.random() < 0.2:
            kind = rng.choice((AddressKind.BILLING, AddressKind.SHIPPING))
            spec.addresses.append((kind, PLACES.pick(rng), self._office(), False))

    def _org_details(self, spec: PartySpec, role: str) -> None:
        rng = self.rng
        if role != PartyRoleKind.GOVERNMENT and rng.random() < 0.3:
            spec.description = (
                f"员工约 {rng.choice((20, 50, 80, 150, 300, 800, 2000))} 人，"
                f"年采购额约 {rng.choice((30, 80, 150, 400, 1000))} 万元；"
                f"关注{rng.choice(data.PRODUCTS)}。"
            )
        if rng.random() < 0.5:
            founded = datetime.date(rng.randint(1992, 2022), rng.randint(1, 12), rng.randint(1, 28))
            spec.dates.append((DateKind.FOUNDING, founded, "公司成立日"))
        if spec.state in (S.CURRENT, S.WON_BACK) and rng.random() < 0.4:
            signed = self.today - datetime.timedelta(days=rng.randint(30, 1000))
            spec.dates.append((DateKind.CONTRACT, signed, "年度框架合同签订"))
        customer = spec.state in (S.CURRENT, S.WON_BACK)
        if customer and (rng.random() < 0.25):
            spec.tags.append("大客户")
            if rng.random() < 0.4:
                spec.tags.append("VIP")
            self._account_team(spec)
        if role == PartyRoleKind.PARTNER:
            spec.tags.append("战略合作")
        if role == PartyRoleKind.GOVERNMENT:
            spec.tags.append("政府项目")

    def _account_team(self, spec: PartySpec) -> None:
        rng = self.rng
        members: list[tuple[int, str]] = [(self.service, AccountRole.SERVICE)]
        if spec.owner != self.manager and rng.random() < 0.5:
            members.append((self.manager, AccountRole.EXECUTIVE_SPONSOR))
        if rng.random() < 0.3:
            colleague = rng.choice(self.sellers)
            if colleague != spec.owner:
                members.append((colleague, AccountRole.SALES))
        spec.team = members

    def _org_links(self, spec: PartySpec, role: str) -> None:
        rng = self.rng
        idx = spec.idx
        if role == PartyRoleKind.CUSTOMER and self.distributors and rng.random() < 0.25:
            distributor = self.distributors[rng.randrange(len(self.distributors))]
            spec.links.append((idx, distributor, LinkKind.BUYS_THROUGH, ""))
            spec.is_direct = False
        if role == PartyRoleKind.COMPETITOR and self.competitors and rng.random() < 0.5:
            rival = self.competitors[rng.randrange(len(self.competitors))]
            spec.links.append((idx, rival, LinkKind.COMPETES_WITH, ""))

    # -- people

    def _person(self, idx: int, owner: int, place: Place) -> PartySpec:
        rng = self.rng
        surname = SURNAMES.pick(rng)
        female = rng.random() < 0.45
        if rng.random() < 0.35:
            given = (GIVEN_FEMALE if female else GIVEN_MALE).pick(rng)
        else:
            chars = data.GIVEN_CHARS_FEMALE if female else data.GIVEN_CHARS_MALE
            given = rng.choice(chars) + rng.choice(chars)
        return PartySpec(
            idx=idx,
            kind=PartyKind.PERSON,
            name=surname + given,
            owner=owner,
            created_at=self.created_at(idx + rng.random()),
            region=place,
            roles=[],
            gender=Gender.FEMALE if female else Gender.MALE,
            name_pinyin_hint=word_pinyin(surname) + word_pinyin(given),
        )

    def _employee(self, idx: int, org: _Org) -> PartySpec:
        rng = self.rng
        company = org.spec
        spec = self._person(idx, company.owner, company.region)
        spec.roles = [company.roles[0]]
        spec.state = company.state
        spec.history = self._history(spec.state, spec.owner, spec.created_at)
        spec.source = company.source
        spec.is_direct = company.is_direct
        spec.employer = company.idx
        _kind, place, street, _primary = company.addresses[0]
        spec.addresses.append((AddressKind.OFFICE, place, street, True))
        title = TITLES.pick(rng)
        spec.links.append((company.idx, idx, LinkKind.EMPLOYS, title))
        if title in data.DECISION_TITLES:
            spec.tags.append("决策人")
        self._person_contacts(spec, org.domain)
        self._common(spec)
        return spec

    def _individual(self, idx: int) -> PartySpec:
        rng = self.rng
        spec = self._person(idx, self.owners.pick(rng), PLACES.pick(rng))
        role = INDIVIDUAL_ROLES.pick(rng)
        spec.roles = [role]
        spec.source = SOURCES.pick(rng)
        spec.state = STATES_BY_ROLE.get(role, OTHER_STATES).pick(rng)
        spec.history = self._history(spec.state, spec.owner, spec.created_at)
        spec.is_direct = role in (PartyRoleKind.CUSTOMER, PartyRoleKind.PROSPECT)
        if role in (PartyRoleKind.INFLUENCER, PartyRoleKind.MEDIA) and idx > 0:
            target = rng.randrange(idx)
            spec.links.append((idx, target, LinkKind.INFLUENCES, ""))
        spec.addresses.append((AddressKind.HOME, spec.region, self._home(), True))
        self._person_contacts(spec, "")
        self._common(spec)
        return spec

    def _person_contacts(self, spec: PartySpec, domain: str) -> None:
        rng = self.rng
        handle = spec.name_pinyin_hint
        if rng.random() < 0.95:
            spec.contacts.append((ContactKind.MOBILE, self._mobile(), "手机", True))
        if rng.random() < 0.5:
            if domain:
                spec.contacts.append((ContactKind.EMAIL, f"{handle}@{domain}", "工作", False))
            else:
                mail_domain = MAIL_DOMAINS.pick(rng)
                mailbox = f"{handle}{rng.randint(1, 9999)}@{mail_domain}"
                spec.contacts.append((ContactKind.EMAIL, mailbox, "个人", False))
        if rng.random() < 0.6:
            if rng.random() < 0.5:
                wechat = f"{handle[:14]}_{rng.randint(1960, 2005)}"
            else:
                wechat = "wxid_" + "".join(rng.choices("abcdefghijkmnpqrstuvwxyz23456789", k=10))
            spec.contacts.append((ContactKind.WECHAT, wechat, "", False))
        if rng.random() < 0.4:
            birthday = datetime.date(
                rng.randint(1962, 2000), rng.randint(1, 12), rng.randint(1, 28)
            )
            spec.dates.append((DateKind.BIRTHDAY, birthday, "生日"))

    # -- shared by all

    def _common(self, spec: PartySpec) -> None:
        rng = self.rng
        if spec.source == "展会":
            spec.tags.append("展会获客")
        if spec.source == "老客户转介绍":
            spec.tags.append("转介绍")
            if spec.idx > 0:
                referrer = rng.randrange(spec.idx)
                if referrer != spec.employer:
                    spec.links.append((referrer, spec.idx, LinkKind.REFERS, ""))
        if spec.state == S.TARGET and rng.random() < 0.4:
            spec.tags.append("重点跟进")
        if spec.state == S.LOST and rng.random() < 0.5:
            spec.tags.append("需回访")
        if spec.state in (S.CURRENT, S.WON_BACK):
            if self.now - spec.created_at > 2 * YEAR:
                spec.tags.append("老客户")
            elif self.now - spec.created_at < 90 * DAY:
                spec.tags.append("新客户")
        if spec.state == S.TARGET and rng.random() < 0.3:
            spec.tags.append("高潜力")
        if rng.random() < 0.08:
            spec.tags.append("价格敏感")
        for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):
            category, content = rng.choice(data.PREFERENCES)
            if (category, content) not in spec.preferences:
                spec.preferences.append((category, content))
        if rng.random() < 0.15:
            self._task(spec)

    def _task(self, spec: PartySpec) -> None:
        """An open task (due soon or overdue) or a done one, for the party's owner."""
        rng = self.rng
        title = rng.choice(data.TASK_TITLES).format(n=spec.name)
        first_day = timezone.localdate(spec.created_at)
        if rng.random() < 0.4:
            due = max(first_day, self.today + datetime.timedelta(days=rng.randint(-10, 21)))
            spec.tasks.append((title, due, spec.owner, False))
        else:
            days = max(0, (self.today - first_day).days - 1)
            due = first_day + datetime.timedelta(days=below(rng, days + 1))
            spec.tasks.append((title, due, spec.owner, True))

    def _history(
        self, final: str, actor: int, created: datetime.datetime
    ) -> list[tuple[str, str, datetime.datetime, str]]:
        """A path along STATE_MOVES from potential to `final`, at increasing times."""
        rng = self.rng
        path: list[str] = [S.POTENTIAL]
        if final != S.POTENTIAL:
            if final == S.TARGET or rng.random() < 0.7:
                path.append(S.TARGET)
            if final != S.TARGET:
                path.append(S.CURRENT)
                if final in (S.LOST, S.WON_BACK):
                    path += [S.LOST, S.WON_BACK] if final == S.WON_BACK else [S.LOST]
                if final == S.LOST and rng.random() < 0.15:
                    path[-1:] = [S.LOST, S.WON_BACK, S.LOST]
        elif rng.random() < 0.1:
            path += [S.TARGET, S.POTENTIAL]  # chosen, then set aside
        moves = list(pairwise(path))
        if not moves:
            return []
        span = (self.now - created).total_seconds()
        offsets = sorted(rng.uniform(0.02, 0.98) * span for _ in moves)
        return [
            (
                a,
                b,
                created + datetime.timedelta(seconds=offset),
                rng.choice(data.STATE_REASONS[a, b]),
            )
            for (a, b), offset in zip(moves, offsets, strict=True)
        ]

    def _mobile(self) -> str:
        rng = self.rng
        return f"+86{rng.choice(data.MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"

    def _landline(self, city: data.City) -> str:
        rng = self.rng
        digits = landline_digits(city.area_code)
        local = str(rng.randint(2, 8)) + f"{rng.randrange(10 ** (digits - 1)):0{digits - 1}d}"
        return f"+86{city.area_code}{local}"

    def _office(self) -> str:
        rng = self.rng
        road = rng.choice(data.ROADS)
        building = "".join(rng.sample(data.BRAND_CHARS, 2)) + rng.choice(data.BUILDINGS)
        return f"{road}{rng.randint(1, 999)}号{building}{rng.randint(1, 32)}层"

    def _home(self) -> str:
        rng = self.rng
        road = rng.choice(data.ROADS)
        return (
            f"{road}{rng.randint(1, 500)}号{rng.randint(1, 20)}栋"
            f"{rng.randint(1, 4)}单元{rng.randint(1, 30)}{rng.randint(1, 4):02d}室"
        )
