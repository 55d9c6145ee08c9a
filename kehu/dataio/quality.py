"""Data quality (数据质量, docs/decisions/0012-data-quality.md): how complete the archive
is field by field, which values fail their validators, the likely duplicates, and the
customers nobody has been in touch with for N days; per owner and as a daily trend.

Every figure is computed over a scope, a queryset of parties: a user's is exactly what
the customer list shows them (`user_scope`), so a figure and the list behind its link
(the filters `?missing=`, `?filled=`, `?invalid=`, `?duplicate=`, `?stale=`, which
call the same conditions here) always agree. The nightly snapshot's scope is the
firm's whole list.

Completeness, customers and stale are one GROUP BY owner query of conditional counts.
Validation of phones, emails, WeChat and QQ ids and USCCs needs Python (libphonenumber,
the USCC check digit): those rows are streamed (`values_list(...).iterator()`) and each
value checked once per process (about 100–230 µs a phone, 40–70 µs an email or WeChat
id on the benchmark machine; docs/benchmarks.md).
"""

import datetime
import functools
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from kehu.activities.models import InteractionParty
from kehu.core.context import current_tenant_id
from kehu.dataio.models import CandidateStatus, DuplicateCandidate, QualitySnapshot
from kehu.parties import normalize
from kehu.parties.models import (
    Address,
    ContactKind,
    ContactPoint,
    LinkKind,
    Party,
    PartyKind,
    PartyLink,
    RelationshipState,
    contact_value,
)
from kehu.tenancy.models import TeamMembership, User, Visibility

STALE_DAYS_DEFAULT = 90
STALE_DAYS_MAX = 3650
# "Customers" of the stale figure: the relationships the firm has now.
CUSTOMER_STATES = (RelationshipState.CURRENT, RelationshipState.WON_BACK)
ORGANISATIONS = Q(kind=PartyKind.ORGANISATION)
TREND_DAYS = 180


def _contact(*kinds: str) -> Q:
    return Q(Exists(ContactPoint.objects.filter(party=OuterRef("pk"), kind__in=kinds)))


@dataclass(frozen=True)
class Check:
    """A field of the completeness table: when a party has it, and which parties it
    applies to (a contact person or a USCC only to organisations)."""

    key: str
    label: Promise
    filled: Callable[[], Q]  # built per query: the subqueries need the request's tenant
    applies: Q = field(default_factory=Q)

    def missing(self) -> Q:
        return self.applies & ~self.filled()


CHECKS: tuple[Check, ...] = (
    Check("name", _("名称"), lambda: ~Q(name="")),
    Check("industry", _("行业"), lambda: ~Q(industry="")),
    Check("province", _("省"), lambda: ~Q(province="")),
    Check("city", _("市"), lambda: ~Q(city="")),
    Check("address", _("地址"), lambda: Q(Exists(Address.objects.filter(party=OuterRef("pk"))))),
    Check("owner", _("在职负责人"), lambda: Q(owner__is_active=True)),
    Check("phone", _("手机或电话"), lambda: _contact(ContactKind.MOBILE, ContactKind.PHONE)),
    Check("email", _("邮箱"), lambda: _contact(ContactKind.EMAIL)),
    Check("wechat", _("微信"), lambda: _contact(ContactKind.WECHAT)),
    Check(
        "contact",
        _("联系人（组织）"),
        lambda: Q(
            Exists(PartyLink.objects.filter(from_party=OuterRef("pk"), kind=LinkKind.EMPLOYS))
        ),
        ORGANISATIONS,
    ),
    Check("uscc", _("统一社会信用代码（组织）"), lambda: ~Q(uscc=""), ORGANISATIONS),
    Check("source", _("来源"), lambda: ~Q(source="")),
)
CHECK_BY_KEY = {check.key: check for check in CHECKS}

# The values with a validator: the contact kinds (`contact_value`, ContactPoint.clean's)
# and the USCC's check digit.
VALIDATED: dict[str, Promise] = {
    ContactKind.MOBILE: _("手机"),
    ContactKind.PHONE: _("电话"),
    ContactKind.EMAIL: _("邮箱"),
    ContactKind.WECHAT: _("微信"),
    ContactKind.QQ: _("QQ"),
    "uscc": _("统一社会信用代码"),
}
ANY_INVALID = "any"


def filled_q(key: str) -> Q:
    check = CHECK_BY_KEY[key]
    return check.applies & check.filled()


def missing_q(key: str) -> Q:
    return CHECK_BY_KEY[key].missing()


def stale_q(days: int, now: datetime.datetime | None = None) -> Q:
    """Customers with no interaction in the last `days` days (or none ever)."""
    since = (now or timezone.now()) - datetime.timedelta(days=days)
    recent = InteractionParty.objects.filter(party=OuterRef("pk"), occurred_at__gte=since)
    return Q(relationship_state__in=CUSTOMER_STATES) & ~Q(Exists(recent))


def _open_pairs() -> QuerySet[DuplicateCandidate]:
    return DuplicateCandidate.objects.filter(status=CandidateStatus.OPEN)


def duplicate_q() -> Q:
    """Parties in an open likely-duplicate pair (the review queue's)."""
    pairs = _open_pairs()
    return Q(pk__in=pairs.values("party_a")) | Q(pk__in=pairs.values("party_b"))


# libphonenumber takes ~100 µs a number on the 2 shared cores of the benchmark machine:
# a figure and the list behind its link validate the same values, so they are
# remembered (a pure function of its arguments; ~40 MB at the cap).
@functools.lru_cache(maxsize=2**18)
def value_is_valid(kind: str, value: str) -> bool:
    """Whether a stored value passes the validator it was meant to pass."""
    try:
        if kind == "uscc":
            normalize.uscc(value)
        else:
            contact_value(kind, value)
    except ValidationError:
        return False
    return True


def _invalid_rows(
    scope: QuerySet[Party], kinds: Iterable[str] = tuple(VALIDATED)
) -> Iterable[tuple[int, int, str]]:
    """(party id, owner id, kind) of each stored value of `kinds` failing its validator."""
    contact_kinds = [k for k in kinds if k != "uscc"]
    contacts = ContactPoint.objects.filter(
        party__in=scope.values("pk"), kind__in=contact_kinds
    ).values_list("party_id", "party__owner_id", "kind", "value")
    for party_id, owner_id, kind, value in contacts.iterator(chunk_size=5000):
        if not value_is_valid(kind, value):
            yield party_id, owner_id, kind
    if "uscc" not in kinds:
        return
    codes = scope.exclude(uscc="").values_list("pk", "owner_id", "uscc")
    for party_id, owner_id, code in codes.iterator(chunk_size=5000):
        if not value_is_valid("uscc", code):
            yield party_id, owner_id, "uscc"


def invalid_party_ids(scope: QuerySet[Party], kind: str) -> set[int]:
    """The parties of `scope` with a value of `kind` (or, for "any", of any kind) that
    fails its validator."""
    kinds = tuple(VALIDATED) if kind == ANY_INVALID else (kind,)
    return {pk for pk, _owner, _kind in _invalid_rows(scope, kinds)}


@dataclass(frozen=True)
class Figures:
    """The figures of one scope (the whole of it, or one owner's part)."""

    owner_id: int | None
    parties: int = 0
    organisations: int = 0
    customers: int = 0
    stale: int = 0
    filled: dict[str, int] = field(default_factory=dict)
    invalid: dict[str, int] = field(default_factory=dict)  # parties, per kind
    invalid_parties: int = 0  # with at least one invalid value
    duplicate_pairs: int = 0  # open pairs with at least one party of the scope
    duplicate_parties: int = 0

    def applicable(self, key: str) -> int:
        return self.organisations if CHECK_BY_KEY[key].applies == ORGANISATIONS else self.parties

    def missing(self, key: str) -> int:
        return self.applicable(key) - self.filled.get(key, 0)

    def percent(self, key: str) -> float | None:
        """Filled, as a percentage of the parties the field applies to."""
        total = self.applicable(key)
        return round(self.filled.get(key, 0) * 100 / total, 1) if total else None

    @property
    def completeness(self) -> float | None:
        """The mean of the fields' percentages (None for an empty scope)."""
        shares = [p for p in (self.percent(c.key) for c in CHECKS) if p is not None]
        return round(sum(shares) / len(shares), 1) if shares else None

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        del out["owner_id"]
        out["completeness"] = self.completeness
        return out


@dataclass(frozen=True)
class Report:
    days: int
    total: Figures
    owners: list[Figures]


def grouped_counts(days: int) -> dict[str, Count]:
    """The conditional counts of one GROUP BY: parties, organisations, customers, stale
    customers and each field filled."""
    return {
        "n_parties": Count("pk"),
        "n_organisations": Count("pk", filter=ORGANISATIONS),
        "n_customers": Count("pk", filter=Q(relationship_state__in=CUSTOMER_STATES)),
        "n_stale": Count("pk", filter=stale_q(days)),
        **{f"filled_{c.key}": Count("pk", filter=c.applies & c.filled()) for c in CHECKS},
    }


def report(scope: QuerySet[Party], *, days: int = STALE_DAYS_DEFAULT) -> Report:
    """The figures of `scope`, as a whole and by owner."""
    rows = scope.order_by().values("owner_id").annotate(**grouped_counts(days)).order_by("owner_id")
    by_owner: dict[int, dict[str, Any]] = {}
    for row in rows:
        by_owner[row["owner_id"]] = {
            "parties": row["n_parties"],
            "organisations": row["n_organisations"],
            "customers": row["n_customers"],
            "stale": row["n_stale"],
            "filled": {c.key: row[f"filled_{c.key}"] for c in CHECKS},
        }
    invalid: dict[int, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    for party_id, owner_id, kind in _invalid_rows(scope):
        invalid[owner_id][kind].add(party_id)
    involved = dict(scope.filter(duplicate_q()).order_by().values_list("pk", "owner_id"))
    in_scope = scope.values("pk")
    pairs = (
        _open_pairs()
        .filter(Q(party_a__in=in_scope) | Q(party_b__in=in_scope))
        .values_list("party_a_id", "party_b_id")
    )
    pairs_of: dict[int, int] = defaultdict(int)
    parties_of: dict[int, int] = defaultdict(int)
    for owner_id in involved.values():
        parties_of[owner_id] += 1
    for a, b in pairs:
        for owner_id in {involved[p] for p in (a, b) if p in involved}:
            pairs_of[owner_id] += 1
    owners = [
        Figures(
            owner_id=owner_id,
            **base,
            invalid={k: len(invalid[owner_id][k]) for k in VALIDATED},
            invalid_parties=len(set().union(*invalid[owner_id].values())),
            duplicate_pairs=pairs_of[owner_id],
            duplicate_parties=parties_of[owner_id],
        )
        for owner_id, base in by_owner.items()
    ]
    return Report(days, _combined(owners, duplicate_pairs=len(pairs)), owners)


def _combined(owners: list[Figures], *, duplicate_pairs: int) -> Figures:
    """The whole scope: each party has one owner, so the counts add up; a pair may
    span two owners, so its count is the scope's own."""

    def total(name: str) -> int:
        return sum(getattr(f, name) for f in owners)

    def per_key(name: str, keys: Iterable[str]) -> dict[str, int]:
        return {k: sum(getattr(f, name)[k] for f in owners) for k in keys}

    return Figures(
        owner_id=None,
        parties=total("parties"),
        organisations=total("organisations"),
        customers=total("customers"),
        stale=total("stale"),
        filled=per_key("filled", CHECK_BY_KEY),
        invalid=per_key("invalid", VALIDATED),
        invalid_parties=total("invalid_parties"),
        duplicate_pairs=duplicate_pairs,
        duplicate_parties=total("duplicate_parties"),
    )


# Who sees what.


def sees_others(user: User) -> bool:
    """Whether the per-owner table is the user's to see: not for visibility "own"."""
    return user.effective_visibility != Visibility.OWN


def user_scope(user: User, owner: User | None = None) -> QuerySet[Party]:
    """What the customer list shows `user` (the pool left out), or that part of it
    owned by `owner`."""
    # Here, not at the top: kehu.parties.selectors reads this module's conditions.
    from kehu.parties.selectors import parties_visible_to

    scope = parties_visible_to(user, include_pool=False)
    return scope.filter(owner=owner) if owner is not None else scope


def owner_for(user: User, owner_id: int | None) -> User | None:
    """The owner a per-owner view is about: oneself, or, for who may see others, any
    member of the firm. None when no owner was asked for; LookupError when the owner
    is not one the user may look at (another firm's, or a colleague's for "own")."""
    if owner_id is None:
        return None
    if owner_id != user.pk and not sees_others(user):
        raise LookupError(owner_id)
    owner = User.objects.filter(pk=owner_id).first()  # the firm's staff only
    if owner is None:
        raise LookupError(owner_id)
    return owner


# The trend.


def firm_scope() -> QuerySet[Party]:
    return Party.objects.filter(in_pool_since__isnull=True)


def snapshot_take(today: datetime.date | None = None) -> int:
    """Write today's snapshots of the current tenant (the firm's and each owner's),
    replacing any taken earlier today; returns how many rows were written."""
    day = today or timezone.localdate()
    figures = report(firm_scope())
    tenant_id = current_tenant_id()
    rows = [
        QualitySnapshot(tenant_id=tenant_id, taken_on=day, owner_id=f.owner_id, figures=f.as_json())
        for f in [figures.total, *figures.owners]
    ]
    QualitySnapshot.objects.filter(taken_on=day).delete()
    QualitySnapshot.objects.bulk_create(rows)
    return len(rows)


@dataclass(frozen=True)
class TrendPoint:
    taken_on: datetime.date
    completeness: float | None
    invalid_parties: int
    duplicate_parties: int
    stale: int


def trend(user: User, owner: User | None = None, days: int = TREND_DAYS) -> list[TrendPoint]:
    """The snapshots of the last `days` days that match what the user sees: an owner's
    rows; the firm's for visibility "all"; else the sum of the owners' the user's
    visibility covers (their own, or their teams'). Completeness is then the mean of
    the owners' weighted by their parties."""
    since = timezone.localdate() - datetime.timedelta(days=days)
    rows = QualitySnapshot.objects.filter(taken_on__gte=since).order_by("taken_on")
    visibility = user.effective_visibility
    if visibility == Visibility.ALL:
        mine = Q(owner=owner) if owner is not None else Q(owner__isnull=True)
    elif visibility == Visibility.TEAM:
        teams = TeamMembership.objects.filter(user=user).values("team_id")
        people = TeamMembership.objects.filter(team_id__in=teams).values("user_id")
        mine = Q(owner=user) | Q(owner__in=people)
    else:
        mine = Q(owner=user)
    # An owner outside what the user sees has no trend for them (their firm-wide
    # figures are not the user's to see), only their parties the user serves, live.
    rows = rows.filter(mine & Q(owner=owner) if owner is not None else mine)
    days_seen: dict[datetime.date, list[dict[str, Any]]] = defaultdict(list)
    for taken_on, figures in rows.values_list("taken_on", "figures"):
        days_seen[taken_on].append(figures)
    return [_point(day, day_rows) for day, day_rows in days_seen.items()]


def _point(day: datetime.date, rows: list[dict[str, Any]]) -> TrendPoint:
    parties = sum(r["parties"] for r in rows)
    weighted = [(r["completeness"], r["parties"]) for r in rows if r["completeness"] is not None]
    completeness = (
        round(sum(c * n for c, n in weighted) / parties, 1) if weighted and parties else None
    )
    return TrendPoint(
        taken_on=day,
        completeness=completeness,
        invalid_parties=sum(r["invalid_parties"] for r in rows),
        duplicate_parties=sum(r["duplicate_parties"] for r in rows),
        stale=sum(r["stale"] for r in rows),
    )
