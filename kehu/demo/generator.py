"""Deterministic demo data, from the 2,000-party demo firm to a million-party benchmark.

`generate(tenant, parties=N, interactions=M, seed=S)` fills a tenant with staff, teams,
organisations and people, their roles, links, contact points, addresses, tags,
preferences, important dates, account teams, relationship-state histories, search keys,
audit entries, interactions and tasks, and the product catalogue and orders
(kehu/demo/orders.py). The same seed gives the same data on every run.

The values are drawn by `factory.PartyFactory`; this module turns them into rows and
writes them in batches of plain tuples (`kehu.core.bulk.BulkWriter`: executemany on SQLite, COPY on
PostgreSQL) instead of calling the services once per record, which would take hours at
a million parties. The rows are the ones the services would write: names and pinyin
through `kehu.parties.normalize`, phones in E.164, search keys from
`kehu.parties.search.keys_for`, the party's region equal to its primary address, a
"create" audit entry per party and a "state" entry per state change. Audit entries of a
party's parts (each phone, tag …) are not written: the demo has no history to show
there. Memory stays flat apart from a few bytes per party (ids, kind, state, owner).

This module is allow-listed to use `Model.all_tenants` (kehu/core/tests/test_tenant_guard.py).
"""

import datetime
import time
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from random import Random
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils import timezone

from kehu.activities.models import (
    DailyEffort,
    Interaction,
    InteractionKind,
    InteractionParty,
    Task,
    TaskStatus,
)
from kehu.activities.summary import effort_rebuild
from kehu.core.bulk import BulkWriter, Row
from kehu.core.context import tenant_scope
from kehu.core.models import AuditEntry
from kehu.demo import data
from kehu.demo.effort import add_effort_and_pool
from kehu.demo.factory import (
    DAY,
    INTERACTION_KINDS,
    INTERACTION_SPAN,
    STAFF,
    STATE_CODES,
    TEAMS,
    PartyFactory,
    PartySpec,
    S,
    below,
)
from kehu.demo.orders import write_orders
from kehu.demo.pipeline import write_pipeline
from kehu.parties import normalize, search
from kehu.parties.models import (
    AccountTeamMember,
    Address,
    ContactPoint,
    ImportantDate,
    Party,
    PartyKind,
    PartyLink,
    PartyRole,
    PartyTag,
    Preference,
    RelationshipState,
    SearchKey,
    StateChange,
    Tag,
)
from kehu.parties.services import PARTY_FIELDS
from kehu.sales.models import DailySales
from kehu.sales.summary import summary_rebuild
from kehu.tenancy.models import Role, Team, TeamMembership, Tenant, User

DEMO_NAME = "演示公司"
DEMO_SLUG = "demo"
DEMO_PASSWORD = "kehu-demo-2024"  # noqa: S105 - printed by load_demo, documented
DEMO_SEED = 2024
DEMO_PARTIES = 2000
DEMO_INTERACTIONS = 20000
DEMO_ORDERS = 50000
DEMO_OPPORTUNITIES = 400
DEMO_LEADS = 300

T = TypeVar("T")
# progress(stage, done, total)
Progress = Callable[[str, int, int], None]

NameInfo = tuple[str, str, frozenset[str]]


def _name_info(name: str) -> NameInfo:
    """(name_pinyin, name_initials, search keys of the name) as the services compute them."""
    return (
        normalize.pinyin_full(name)[:300],
        normalize.pinyin_initials(name)[:100],
        frozenset(search.keys_for(name, ())),
    )


# People's names repeat (张伟 …); companies' rarely do and cost more, so only people cache.
_person_name_info = lru_cache(maxsize=50_000)(_name_info)


def usernames_taken(prefix: str) -> list[str]:
    """Staff usernames (unique across tenants) that another tenant already uses."""
    names = [prefix + member.username for member in STAFF]
    return sorted(User.all_tenants.filter(username__in=names).values_list("username", flat=True))


def create_staff(tenant: Tenant, *, prefix: str, password: str) -> list[User]:
    """The ten colleagues of STAFF, their teams and team memberships."""
    encoded = make_password(password)  # one hash for all: PBKDF2 is slow on purpose
    users = []
    for member in STAFF:
        user = User(
            tenant=tenant,
            username=prefix + member.username,
            display_name=member.display_name,
            email=f"{prefix}{member.username}@demo.kehu.local",
            role=member.role,
            visibility=member.visibility,
            password=encoded,
        )
        user.save()
        users.append(user)
    teams = {name: Team.objects.create(tenant=tenant, name=name) for name in TEAMS}
    for member, user in zip(STAFF, users, strict=True):
        for name in member.teams:
            TeamMembership.objects.create(
                tenant=tenant, team=teams[name], user=user, is_lead=name in member.leads
            )
    return users


class PartyRows:
    """Turns a batch of PartySpecs into rows of every table, and writes them."""

    def __init__(self, writer: BulkWriter, factory: PartyFactory, tags: dict[str, int]):
        self.writer = writer
        self.factory = factory
        self.tags = tags
        self.ids = array("q")  # party index → id
        # The last few parties each owner got, for the tasks due today.
        self.recent: dict[int, deque[tuple[int, str]]] = {}

    def write(self, batch: Sequence[PartySpec]) -> None:
        w = self.writer
        self.ids.extend(w.reserve_ids(Party, len(batch)))
        infos = [
            _person_name_info(s.name) if s.kind == PartyKind.PERSON else _name_info(s.name)
            for s in batch
        ]
        self._parties(batch, infos)
        self._keys(batch, infos)
        self._parts(batch)
        self._history(batch)
        self._audit(batch)
        self._tasks(batch)
        for spec in batch:
            self.recent.setdefault(spec.owner, deque(maxlen=4)).append(
                (self.ids[spec.idx], spec.name)
            )

    def _parties(self, batch: Sequence[PartySpec], infos: Sequence[NameInfo]) -> None:
        fields = (
            "id", "kind", "name", "name_pinyin", "name_initials", "uscc", "gender", "industry",
            "website", "source", "description", "relationship_state", "is_direct", "owner_id",
            "province", "city", "district", "created_by_id", "created_at", "updated_at",
        )  # fmt: skip
        rows = [self._party_row(s, info) for s, info in zip(batch, infos, strict=True)]
        self.writer.insert(Party, fields, rows)

    def _party_row(self, s: PartySpec, info: NameInfo) -> Row:
        region = s.region
        return (
            *(self.ids[s.idx], s.kind, s.name, info[0], info[1], s.uscc, s.gender, s.industry),
            *(s.website, s.source, s.description, s.state, s.is_direct, s.owner),
            *(region.province, region.city.name, region.district),
            *(self._creator(s), s.created_at, s.updated_at),
        )

    def _creator(self, spec: PartySpec) -> int:
        return self.factory.marketing if spec.source == "展会" else spec.owner

    def _keys(self, batch: Sequence[PartySpec], infos: Sequence[NameInfo]) -> None:
        rows = []
        for spec, info in zip(batch, infos, strict=True):
            contacts = [(kind, value) for kind, value, _label, _primary in spec.contacts]
            # keys_for(name, contacts) is the union of the name's and the contacts' keys.
            keys = info[2] | search.keys_for("", contacts)
            pid = self.ids[spec.idx]
            rows += [(pid, key) for key in sorted(keys)]
        self.writer.insert(SearchKey, ("party_id", "key"), rows)

    def _parts(self, batch: Sequence[PartySpec]) -> None:
        ids = self.ids
        w = self.writer
        w.insert(
            PartyRole,
            ("party_id", "role"),
            [(ids[s.idx], role) for s in batch for role in s.roles],
        )
        w.insert(
            ContactPoint,
            ("party_id", "kind", "value", "label", "is_primary"),
            [(ids[s.idx], *contact) for s in batch for contact in s.contacts],
        )
        w.insert(
            Address,
            (
                "party_id",
                "kind",
                "province",
                "city",
                "district",
                "street",
                "postcode",
                "is_primary",
            ),
            [
                (
                    ids[s.idx],
                    kind,
                    p.province,
                    p.city.name,
                    p.district,
                    street,
                    p.city.postcode,
                    pri,
                )
                for s in batch
                for kind, p, street, pri in s.addresses
            ],
        )
        w.insert(
            PartyTag,
            ("party_id", "tag_id"),
            [(ids[s.idx], self.tags[tag]) for s in batch for tag in dict.fromkeys(s.tags)],
        )
        w.insert(
            Preference,
            ("party_id", "category", "content", "created_at"),
            [(ids[s.idx], *pref, s.created_at) for s in batch for pref in s.preferences],
        )
        w.insert(
            ImportantDate,
            ("party_id", "kind", "date", "label"),
            [(ids[s.idx], *d) for s in batch for d in s.dates],
        )
        w.insert(
            AccountTeamMember,
            ("party_id", "user_id", "role"),
            [(ids[s.idx], *member) for s in batch for member in s.team],
        )
        w.insert(
            PartyLink,
            ("from_party_id", "to_party_id", "kind", "title", "created_at"),
            [
                (ids[a], ids[b], kind, title, s.created_at)
                for s in batch
                for a, b, kind, title in s.links
            ],
        )

    def _history(self, batch: Sequence[PartySpec]) -> None:
        self.writer.insert(
            StateChange,
            ("party_id", "from_state", "to_state", "changed_at", "reason", "changed_by_id"),
            [(self.ids[s.idx], *change, s.owner) for s in batch for change in s.history],
        )

    def _audit(self, batch: Sequence[PartySpec]) -> None:
        fields = (
            "actor_id", "action", "changes", "created_at",
            "object_type", "object_id", "object_repr", "root_type", "root_id",
        )  # fmt: skip
        label = Party._meta.label_lower
        create, state = AuditEntry.Action.CREATE, AuditEntry.Action.STATE
        rows: list[Row] = []
        for s in batch:
            pid = self.ids[s.idx]
            party = (label, pid, s.name[:200], label, pid)
            rows.append((self._creator(s), create, self._created_changes(s), s.created_at, *party))
            rows += [
                (s.owner, state, {"reason": [None, why], "relationship_state": [a, b]}, at, *party)
                for a, b, at, why in s.history
            ]
        self.writer.insert(AuditEntry, fields, rows)

    @staticmethod
    def _created_changes(s: PartySpec) -> dict[str, list[Any]]:
        """What party_create's audit entry holds: every field, from nothing to its value."""
        values: dict[str, Any] = {
            "kind": s.kind,
            "name": s.name,
            "uscc": s.uscc,
            "gender": s.gender,
            "industry": s.industry,
            "website": s.website,
            "source": s.source,
            "description": s.description,
            "is_direct": s.is_direct,
            "owner": s.owner,
            "province": s.region.province,
            "city": s.region.city.name,
            "district": s.region.district,
            "relationship_state": RelationshipState.POTENTIAL,
        }
        return {k: [None, values[k]] for k in sorted((*PARTY_FIELDS, "relationship_state"))}

    def _tasks(self, batch: Sequence[PartySpec]) -> None:
        rows = []
        now = self.writer.now
        for s in batch:
            for title, due, assignee, done in s.tasks:
                created = max(s.created_at, _at(due, 9) - 7 * DAY)
                created = min(created, now)
                completed = min(max(_at(due, 16), created), now) if done else None
                status = TaskStatus.DONE if done else TaskStatus.OPEN
                rows.append(
                    (title, due, assignee, self.ids[s.idx], status, completed, s.owner, created)
                )
        self.write_tasks(rows)

    def write_tasks(self, rows: Sequence[Row]) -> None:
        fields = (
            "title", "due_date", "assignee_id", "party_id", "status", "completed_at",
            "created_by_id", "created_at",
        )  # fmt: skip
        self.writer.insert(Task, fields, rows)


def _at(day: datetime.date, hour: int) -> datetime.datetime:
    """`hour` o'clock on `day` in the firm's time zone."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def tasks_due_today(
    rows: PartyRows, factory: PartyFactory, users: Sequence[User], rng: Random
) -> list[Row]:
    """Open tasks so that every salesperson and the service desk have work today."""
    today = factory.today
    now = factory.now
    out: list[Row] = []
    recent_any = [item for items in rows.recent.values() for item in items]
    for member, user in zip(STAFF, users, strict=True):
        if member.owner_weight:
            parties = list(rows.recent.get(user.pk, ()))
        elif member.role == Role.SERVICE:
            parties = recent_any[:3]
        else:
            continue
        for i, (pid, name) in enumerate(parties):
            due = today - datetime.timedelta(days=(0, 0, 2, 5)[i % 4])
            title = rng.choice(data.TASK_TITLES).format(n=name)
            created = min(_at(due, 9) - 3 * DAY, now)
            out.append((title, due, user.pk, pid, TaskStatus.OPEN, None, user.pk, created))
    return out


# --- interactions -----------------------------------------------------------------------


INTERACTION_FIELDS = (
    "id", "kind", "subject", "body", "occurred_at", "duration_minutes", "created_by_id",
    "created_at",
)  # fmt: skip


class InteractionRows:
    """Interactions spread over the last three years, each with one to three parties."""

    def __init__(
        self, writer: BulkWriter, factory: PartyFactory, party_ids: Sequence[int], rng: Random
    ):
        self.writer = writer
        self.factory = factory
        self.party_ids = party_ids
        self.rng = rng
        self.start = factory.now - INTERACTION_SPAN
        self.service = factory.service

    def write(self, first: int, count: int, total: int) -> None:
        w = self.writer
        ids = w.reserve_ids(Interaction, count)
        interactions: list[Row] = []
        links: list[Row] = []
        for n, iid in enumerate(ids):
            row, parties = self._one(first + n, total, iid)
            interactions.append(row)
            links += [(iid, self.party_ids[p], row[4]) for p in parties]
        w.insert(Interaction, INTERACTION_FIELDS, interactions)
        w.insert(InteractionParty, ("interaction_id", "party_id", "occurred_at"), links)

    def _one(self, j: int, total: int, iid: int) -> tuple[Row, list[int]]:
        rng = self.rng
        f = self.factory
        moment = self.start + INTERACTION_SPAN * ((j + rng.random()) / total)
        local = timezone.localtime(moment)
        occurred = local.replace(
            hour=rng.randint(9, 17), minute=rng.randrange(60), second=0, microsecond=0
        )
        if occurred > f.now:
            occurred = local
        # Parties that existed a day before: they existed when the working day began
        # (and the count does not depend on the hour the generator runs at).
        existing = f.created_before(moment - DAY)
        primary = self._party(existing)
        parties = [primary]
        employer = f.employer_of[primary]
        if employer >= 0 and rng.random() < 0.5:
            parties.append(employer)
        elif f.employee_count[primary] and rng.random() < 0.5:
            colleague = primary + 1 + rng.randrange(f.employee_count[primary])
            if colleague < existing:
                parties.append(colleague)
        if rng.random() < 0.05:
            other = self._party(existing)
            if other not in parties:
                parties.append(other)
        kind = INTERACTION_KINDS.pick(rng)
        subject = rng.choice(data.SUBJECTS[kind]).format(p=rng.choice(data.PRODUCTS))
        body = f"{subject}。{rng.choice(data.OUTCOMES)}" if rng.random() < 0.7 else ""
        author = f.owner_of[primary] if rng.random() < 0.85 else self.service
        written = occurred + datetime.timedelta(minutes=rng.randint(1, 120))
        row = (iid, kind, subject, body, occurred, self._duration(kind), author, written)
        return row, parties

    def _party(self, existing: int) -> int:
        """A party that existed then; customers are talked to more than the rest."""
        rng = self.rng
        states = self.factory.states
        pick = below(rng, existing)
        for _ in range(2):
            if states[pick] in (STATE_CODES[S.CURRENT], STATE_CODES[S.WON_BACK]):
                break
            pick = below(rng, existing)
        return pick

    def _duration(self, kind: str) -> int | None:
        rng = self.rng
        if kind == InteractionKind.CALL:
            return rng.randint(2, 30)
        if kind == InteractionKind.VISIT:
            return rng.choice((60, 90, 120, 180))
        if kind == InteractionKind.MEETING:
            return rng.choice((30, 45, 60, 90, 120))
        return None


# --- the whole -------------------------------------------------------------------------


@dataclass
class GenerateReport:
    staff: list[User]
    rows: Counter[str]
    seconds: float

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _batches(items: Iterator[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def generate(
    tenant: Tenant,
    *,
    parties: int = DEMO_PARTIES,
    interactions: int = DEMO_INTERACTIONS,
    orders: int = 0,
    opportunities: int = 0,
    leads: int = 0,
    seed: int = DEMO_SEED,
    now: datetime.datetime | None = None,
    username_prefix: str = "",
    password: str = DEMO_PASSWORD,
    batch_size: int = 2000,
    progress: Progress | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> GenerateReport:
    """Fill `tenant` with staff and `parties` parties talked to in `interactions` interactions,
    and (with `orders`) a product catalogue and about that many orders of its customers,
    and (with `opportunities`, `leads`) two pipelines with that many deals and leads.

    Each batch is its own transaction (wrap the call in one to make it all-or-nothing).
    """
    began = time.perf_counter()
    now = now or timezone.now()
    rng = Random(seed)
    tick = progress or (lambda _stage, _done, _total: None)
    writer = BulkWriter(tenant.pk, now, using)
    with tenant_scope(tenant.pk):
        with transaction.atomic(using=using):
            users = create_staff(tenant, prefix=username_prefix, password=password)
            tags = {
                tag.name: tag.pk
                for tag in Tag.objects.bulk_create(
                    Tag(tenant=tenant, name=name) for name in data.TAGS
                )
            }
        writer.rows.update({User._meta.label: len(users), Tag._meta.label: len(tags)})
        factory = PartyFactory(rng, users, parties, now)
        party_rows = PartyRows(writer, factory, tags)
        done = 0
        for batch in _batches(factory.specs(), batch_size):
            with transaction.atomic(using=using):
                party_rows.write(batch)
            done += len(batch)
            tick("parties", done, parties)
        with transaction.atomic(using=using):
            party_rows.write_tasks(tasks_due_today(party_rows, factory, users, rng))
        talk = InteractionRows(writer, factory, party_rows.ids, rng)
        step = batch_size * 5
        for first in range(0, interactions, step):
            count = min(step, interactions - first)
            with transaction.atomic(using=using):
                talk.write(first, count, interactions)
            tick("interactions", first + count, interactions)
        if orders:
            with transaction.atomic(using=using):
                write_orders(writer, factory, party_rows.ids, orders, now, rng)
            tick("orders", orders, orders)
        with transaction.atomic(using=using):
            add_effort_and_pool(writer, factory, party_rows.ids, seed)
            writer.rows[DailyEffort._meta.label] = effort_rebuild()
        if orders:
            with transaction.atomic(using=using):
                writer.rows[DailySales._meta.label] = summary_rebuild()
            tick("sales summary", orders, orders)
        if opportunities or leads:
            with transaction.atomic(using=using):
                written = write_pipeline(users, now, rng, opportunities=opportunities, leads=leads)
            writer.rows.update(written)
            tick("pipeline", opportunities + leads, opportunities + leads)
    return GenerateReport(users, writer.rows, time.perf_counter() - began)


def demo_load(
    *,
    parties: int = DEMO_PARTIES,
    interactions: int = DEMO_INTERACTIONS,
    orders: int = DEMO_ORDERS,
    opportunities: int = DEMO_OPPORTUNITIES,
    leads: int = DEMO_LEADS,
    seed: int = DEMO_SEED,
    progress: Progress | None = None,
) -> tuple[Tenant, GenerateReport | None]:
    """The demo firm, created with its data unless it exists (then nothing is written)."""
    tenant = Tenant.objects.filter(slug=DEMO_SLUG).first()
    if tenant is not None:
        return tenant, None
    prefix = ""
    if usernames_taken(prefix):
        prefix = "demo_"  # another tenant uses "admin" …: keep the demo's logins apart
        if usernames_taken(prefix):
            raise ValidationError(f"用户名已被占用：{', '.join(usernames_taken(prefix))}")
    with transaction.atomic():
        tenant = Tenant.objects.create(name=DEMO_NAME, slug=DEMO_SLUG)
        result = generate(
            tenant,
            parties=parties,
            interactions=interactions,
            orders=orders,
            opportunities=opportunities,
            leads=leads,
            seed=seed,
            username_prefix=prefix,
            progress=progress,
        )
    return tenant, result


def staff_of(tenant: Tenant) -> list[User]:
    with tenant_scope(tenant.pk):
        return list(User.objects.order_by("id"))


def site_url() -> str:
    return str(settings.SITE_URL)
