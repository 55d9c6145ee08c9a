"""Duplicates in the archive: the full scan, the check of one new party, the review queue.

The matcher itself (normalisers, blocking keys, scores) is `dedup`; merging is `merge`.
Here are the parts that read and write the database. Reviewing duplicates and merging
is a manager's work (admin, manager): the queue shows parties of the whole firm.
"""

import contextlib
import datetime
import multiprocessing
import multiprocessing.pool
import os
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.audit import audit_write
from kehu.core.context import current_tenant_id
from kehu.core.models import AuditEntry
from kehu.dataio import dedup, dedup_batch
from kehu.dataio.dedup import Match, Profile
from kehu.dataio.models import (
    CandidateStatus,
    DuplicateCandidate,
    DuplicateScan,
    PartyMerge,
    ScanStatus,
)
from kehu.parties import normalize
from kehu.parties.models import (
    Address,
    ContactKind,
    ContactPoint,
    DateKind,
    ImportantDate,
    Party,
    SearchKey,
)
from kehu.parties.search import KEY_LENGTH
from kehu.parties.selectors import parties_visible_to
from kehu.tenancy.models import User

SCAN_BATCH = 20_000
# Ids per query when looking up which pairs are known already.
KNOWN_CHUNK = 500
# Processes that score a scan's pairs (the targets are set for 2 cores).
SCAN_PROCESSES = int(os.environ.get("KEHU_DEDUP_PROCESSES", "2"))
# A one-record check reads at most this many keys for each name prefix it tries.
PREFIX_CAP = 200
PHONES = (ContactKind.MOBILE, ContactKind.PHONE)


def require_dedup(user: User) -> None:
    """Reviewing and merging duplicates: managers only (a 403 for anyone else)."""
    if not user.can_manage:
        raise PermissionDenied(_("只有经理可以处理重复客户。"))


# Profiles read from the archive.


def _profiles(parties: QuerySet[Party], *, whole_archive: bool = False) -> list[Profile]:
    """Profiles of the parties; `whole_archive` reads every contact point, address and
    birthday of the tenant in one pass each instead of looking them up by party id."""
    rows = list(parties.values_list("id", "kind", "name", "uscc"))
    if not rows:
        return []
    ids = Q() if whole_archive else Q(party_id__in=[r[0] for r in rows])
    phones: defaultdict[int, list[str]] = defaultdict(list)
    emails: defaultdict[int, list[str]] = defaultdict(list)
    contacts = ContactPoint.objects.filter(ids, kind__in=[*PHONES, ContactKind.EMAIL])
    for party_id, kind, value in contacts.values_list("party_id", "kind", "value"):
        (emails if kind == ContactKind.EMAIL else phones)[party_id].append(value)
    addresses: dict[int, str] = {}
    address_rows = Address.objects.filter(ids).order_by("party_id", "-is_primary", "id")
    for party_id, *parts in address_rows.values_list(
        "party_id", "province", "city", "district", "street"
    ):
        addresses.setdefault(party_id, "".join(parts))
    birthdays = dict(
        ImportantDate.objects.filter(ids, kind=DateKind.BIRTHDAY).values_list("party_id", "date")
    )
    return [
        dedup.profile(
            id=pk,
            kind=kind,
            name=name,
            phones=phones.get(pk, ()),
            emails=emails.get(pk, ()),
            uscc=uscc,
            address=addresses.get(pk, ""),
            birthday=_iso(birthdays.get(pk)),
        )
        for pk, kind, name, uscc in rows
    ]


def _iso(day: datetime.date | None) -> str:
    return day.isoformat() if day else ""


def archive_profiles() -> list[Profile]:
    """Every live party of the tenant."""
    return _profiles(Party.objects.order_by("pk"), whole_archive=True)


# The full scan.


def scan_start(*, actor: User) -> DuplicateScan:
    """Queue a full scan (one at a time: a running one is returned instead)."""
    from kehu.dataio.tasks import run_duplicate_scan

    running = DuplicateScan.objects.filter(
        status__in=[ScanStatus.QUEUED, ScanStatus.RUNNING]
    ).first()
    if running is not None:
        return running
    scan = DuplicateScan.objects.create(started_by=actor)
    tenant_id = scan.tenant_id
    transaction.on_commit(lambda: run_duplicate_scan.enqueue(tenant_id, scan.pk))
    return scan


def scan_run(*, scan_id: int, timings: dict[str, float] | None = None) -> DuplicateScan:
    """Block every live party, then score each block's pairs, SCAN_BATCH blocks per
    transaction. The blocks come in a fixed order, so a resumed scan skips the
    `blocks_done` already committed; a pair found again is left as it is (a dismissed
    pair stays dismissed). `timings`, when given, gets the seconds of each stage
    (read, block, score, write: bench/dedup_scan.py)."""
    clock = _Stages(timings)
    scan = DuplicateScan.objects.get(pk=scan_id)
    scan.status = ScanStatus.RUNNING
    scan.save(update_fields=["status"])
    with clock("read"):
        profiles = {p.id: p for p in archive_profiles()}
    with clock("block"):
        found = dedup.blocks(profiles.values())
        columns = dedup_batch.Columns.of(profiles.values())
    scan.parties, scan.total_blocks = len(profiles), len(found)
    scan.save(update_fields=["parties", "total_blocks"])
    starts = range(scan.blocks_done, len(found), SCAN_BATCH)
    batches = (found[start : start + SCAN_BATCH] for start in starts)
    global _SCAN_COLUMNS
    _SCAN_COLUMNS = columns
    try:
        with _scoring_pool() as pool:
            scored = pool.imap(_score_batch, batches) if pool else map(_score_batch, batches)
            for start in starts:
                with clock("score"):
                    matches, compared = next(scored)
                with clock("write"):
                    done = min(start + SCAN_BATCH, len(found))
                    _scan_commit(scan, matches, compared, blocks_done=done)
    finally:
        _SCAN_COLUMNS = None
    scan.status = ScanStatus.DONE
    scan.finished_at = timezone.now()
    scan.save(update_fields=["status", "finished_at"])
    return scan


class _Stages:
    """Adds the seconds spent in each `with stages(name)` to a dict (or to nothing)."""

    def __init__(self, into: dict[str, float] | None) -> None:
        self.into = into

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            if self.into is not None:
                self.into[name] = self.into.get(name, 0.0) + time.perf_counter() - start


# The scan's profiles as columns, for the scoring processes: forked, they share the
# parent's memory.
_SCAN_COLUMNS: dedup_batch.Columns | None = None


@contextlib.contextmanager
def _scoring_pool() -> Iterator[multiprocessing.pool.Pool | None]:
    """SCAN_PROCESSES forked workers scoring blocks; none (score here) where fork is not
    available or one process is asked for. Workers never touch the database."""
    if SCAN_PROCESSES < 2 or "fork" not in multiprocessing.get_all_start_methods():
        yield None
        return
    with multiprocessing.get_context("fork").Pool(SCAN_PROCESSES) as pool:
        yield pool


def _score_batch(batch: Sequence[list[int]]) -> tuple[list[Match], int]:
    """Score the pairs of a batch of blocks: (the matches, how many pairs were compared)."""
    assert _SCAN_COLUMNS is not None
    return dedup_batch.score_blocks(_SCAN_COLUMNS, batch)


def _scan_commit(
    scan: DuplicateScan, matches: list[Match], compared: int, *, blocks_done: int
) -> None:
    with transaction.atomic():
        created = candidates_record(matches)
        scan.blocks_done = blocks_done
        scan.pairs_compared += compared
        scan.candidates_found += created
        scan.progressed_at = timezone.now()
        scan.save(
            update_fields=["blocks_done", "pairs_compared", "candidates_found", "progressed_at"]
        )


def candidates_record(matches: Iterable[Match]) -> int:
    """Write the pairs not known yet; returns how many were new."""
    tenant_id = current_tenant_id()
    by_pair = {(m.a, m.b): m for m in matches}
    rows = [
        DuplicateCandidate(
            tenant_id=tenant_id, party_a_id=a, party_b_id=b, score=m.score, reasons=m.reasons
        )
        for (a, b), m in by_pair.items()
    ]
    if not rows:
        return 0
    # The known pairs among them, read by their first party in chunks (one OR of
    # thousands of pairs is an expression too deep for SQLite).
    firsts = sorted({a for a, _b in by_pair})
    known: set[tuple[int, int]] = set()
    for start in range(0, len(firsts), KNOWN_CHUNK):
        chunk = firsts[start : start + KNOWN_CHUNK]
        found = DuplicateCandidate.objects.filter(party_a_id__in=chunk)
        known.update(found.values_list("party_a_id", "party_b_id"))
    new = [r for r in rows if (r.party_a_id, r.party_b_id) not in known]
    DuplicateCandidate.objects.bulk_create(new, batch_size=2000, ignore_conflicts=True)
    return len(new)


def candidates_for_pairs(pairs: Iterable[tuple[int, int]]) -> int:
    """Pairs written despite a warning (an import told to create anyway): scored like a
    scan's and put in the review queue. Returns how many were new."""
    pairs = list(pairs)
    if not pairs:
        return 0
    ids = {pk for pair in pairs for pk in pair}
    profiles = {p.id: p for p in _profiles(Party.objects.filter(pk__in=ids))}
    return candidates_record(
        dedup.score_pair(profiles[a], profiles[b])
        for a, b in pairs
        if a in profiles and b in profiles
    )


def scan_failed(*, scan_id: int, error: str) -> None:
    DuplicateScan.objects.filter(pk=scan_id).update(status=ScanStatus.FAILED, error=error[:2000])


def scan_resumable(scan: DuplicateScan) -> bool:
    return scan.status in {ScanStatus.RUNNING, ScanStatus.FAILED}


def scan_resume(*, scan: DuplicateScan) -> DuplicateScan:
    from kehu.dataio.tasks import run_duplicate_scan

    tenant_id = scan.tenant_id
    transaction.on_commit(lambda: run_duplicate_scan.enqueue(tenant_id, scan.pk))
    return scan


# One new record against the archive.


@dataclass(frozen=True)
class NewParty:
    kind: str
    name: str
    phones: Sequence[str] = ()
    emails: Sequence[str] = ()
    uscc: str = ""


def new_party(kind: str, form: Any) -> NewParty:
    """The party a valid PartyCreateForm is about to create."""
    data = form.cleaned_data
    return NewParty(
        kind=kind,
        name=data["name"],
        phones=[v for v in (data.get("mobile"), data.get("phone")) if v],
        emails=[data["email"]] if data.get("email") else [],
        uscc=data.get("uscc") or "",
    )


def _lookup_keys(new: NewParty, profile: Profile) -> tuple[set[str], set[str]]:
    """(exact search keys, prefixes) that any likely duplicate of `new` has one of."""
    exact = {normalize.phone_search_key(p) for p in profile.phones if p.startswith("+")}
    exact |= {e[:KEY_LENGTH] for e in profile.emails}
    text = normalize.search_text(new.name)
    exact |= {text[:KEY_LENGTH], normalize.pinyin_full(normalize.core_name(new.name))[:KEY_LENGTH]}
    exact.add(normalize.pinyin_full(profile.key)[:KEY_LENGTH])
    half = profile.key[: max(2, len(profile.key) // 2)]
    prefixes = {profile.key[:KEY_LENGTH], half} if len(profile.key) >= 2 else set()
    exact.discard("")
    return exact, prefixes


def duplicates_of(new: NewParty, *, exclude_id: int | None = None) -> list[Match]:
    """The live parties of the tenant that `new` likely duplicates, best first. Reads
    the search keys (docs/decisions/0003-search-keys.md): a few exact keys and name
    prefixes, each one index range, then scores the parties found."""
    profile = dedup.profile(
        id=0, kind=new.kind, name=new.name, phones=new.phones, emails=new.emails, uscc=new.uscc
    )
    exact, prefixes = _lookup_keys(new, profile)
    ids = set(SearchKey.objects.filter(key__in=exact).values_list("party_id", flat=True))
    for prefix in prefixes:
        found = SearchKey.objects.filter(key__prefix=prefix).order_by("key")[:PREFIX_CAP]
        ids.update(found.values_list("party_id", flat=True))
    if profile.uscc:
        ids.update(Party.objects.filter(uscc=profile.uscc).values_list("pk", flat=True))
    ids.discard(exclude_id or 0)
    others = _profiles(Party.objects.filter(pk__in=sorted(ids), kind=new.kind).order_by("pk"))
    return dedup.matches_for(profile, others)


@dataclass(frozen=True)
class Warning:
    """What creating a party warns of: the duplicates the user may see, and how many
    others exist that the user may not see (a colleague's customer)."""

    matches: list[tuple[Match, Party]]
    hidden: int


def duplicate_warning(user: User, new: NewParty) -> Warning | None:
    """None when nothing alike exists. A party with the same USCC is left out: saving
    refuses it anyway, with its own message."""
    matches = [m for m in duplicates_of(new) if ["same_uscc", 0] not in m.reasons]
    if not matches:
        return None
    visible = parties_visible_to(user).filter(pk__in=[m.b for m in matches])
    by_id = {p.pk: p for p in visible.select_related("owner")}
    shown = [(m, by_id[m.b]) for m in matches if m.b in by_id]
    return Warning(matches=shown[:5], hidden=len(matches) - len(shown))


def candidates_after_create(party: Party, new: NewParty) -> int:
    """The user saved a party despite the warning: its pairs join the review queue."""
    matches = duplicates_of(new, exclude_id=party.pk)
    return candidates_record(
        Match(min(party.pk, m.b), max(party.pk, m.b), m.score, m.reasons) for m in matches
    )


# The review queue.


def open_candidates() -> QuerySet[DuplicateCandidate]:
    """Open pairs whose parties both still exist, best first."""
    return (
        DuplicateCandidate.objects.filter(
            status=CandidateStatus.OPEN,
            party_a__deleted_at__isnull=True,
            party_b__deleted_at__isnull=True,
        )
        .select_related("party_a__owner", "party_b__owner")
        .order_by("-score", "id")
    )


def get_candidate_for_user(user: User, pk: int) -> DuplicateCandidate:
    require_dedup(user)
    candidate = (
        DuplicateCandidate.objects.filter(pk=pk)
        .select_related("party_a__owner", "party_b__owner")
        .first()
    )
    if candidate is None:
        raise Http404
    return candidate


def get_merge_for_user(user: User, pk: int) -> PartyMerge:
    require_dedup(user)
    record = PartyMerge.objects.filter(pk=pk).select_related("survivor", "loser").first()
    if record is None:
        raise Http404
    return record


def get_scan(pk: int) -> DuplicateScan:
    scan = DuplicateScan.objects.filter(pk=pk).first()
    if scan is None:
        raise Http404
    return scan


def recent_merges() -> QuerySet[PartyMerge]:
    return PartyMerge.objects.select_related("survivor", "loser", "merged_by").order_by("-id")


@transaction.atomic
def candidate_dismiss(*, actor: User, candidate: DuplicateCandidate) -> DuplicateCandidate:
    """Not the same party: the pair leaves the queue and later scans leave it out."""
    candidate.status = CandidateStatus.DISMISSED
    candidate.decided_by = actor
    candidate.decided_at = timezone.now()
    candidate.save(update_fields=["status", "decided_by", "decided_at"])
    audit_write(
        actor_id=actor.pk,
        action=AuditEntry.Action.UPDATE,
        obj=candidate,
        changes={"status": [CandidateStatus.OPEN, CandidateStatus.DISMISSED]},
        root=candidate.party_a,
    )
    return candidate
