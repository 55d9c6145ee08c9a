"""API of duplicates: the review queue, dismiss, merge, undo, the full scan and the
check of a party not yet saved. Managers only (403), except the check, which any
writer may ask before creating a party; another firm's pair or merge is a 404."""

from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from kehu.core.pagination import Page, PageParams, page_of
from kehu.dataio import duplicates, merge
from kehu.dataio.models import DuplicateCandidate, DuplicateScan, PartyMerge
from kehu.parties.models import PartyKind
from kehu.parties.selectors import capped_count
from kehu.tenancy.api_auth import api_user, require_write

router = Router(tags=["duplicates"])


class PartyBrief(Schema):
    id: int
    name: str
    kind: str


class CandidateOut(Schema):
    id: int
    party_a: PartyBrief
    party_b: PartyBrief
    score: float
    explanation: str
    status: str


class MergeIn(Schema):
    survivor: Literal["a", "b"] = "a"
    # {field: "a" | "b"}: whose value to keep; a field left out keeps the survivor's.
    choices: dict[str, Literal["a", "b"]] = Field(default_factory=dict)


class MergeOut(Schema):
    id: int
    survivor_id: int
    loser_id: int
    moved: dict[str, list[int]]
    undone_at: Any = None


class ScanOut(Schema):
    id: int
    status: str
    parties: int
    total_blocks: int | None
    blocks_done: int
    pairs_compared: int
    candidates_found: int
    percent: int


class CheckIn(Schema):
    kind: PartyKind
    name: str = Field(min_length=1, max_length=100)
    phones: list[str] = Field(default_factory=list, max_length=10)
    emails: list[str] = Field(default_factory=list, max_length=10)
    uscc: str = Field("", max_length=18)


class LikelyDuplicate(Schema):
    id: int
    name: str
    score: float
    explanation: str


class CheckOut(Schema):
    duplicates: list[LikelyDuplicate]
    hidden: int


def check_out(warning: duplicates.Warning | None) -> dict[str, Any]:
    if warning is None:
        return {"duplicates": [], "hidden": 0}
    found = [
        {"id": p.pk, "name": p.name, "score": m.score, "explanation": m.explanation}
        for m, p in warning.matches
    ]
    return {"duplicates": found, "hidden": warning.hidden}


@router.get("/duplicates", response=Page[CandidateOut])
def list_candidates(request: HttpRequest, params: Query[PageParams]) -> dict[str, Any]:
    """Open pairs, most alike first."""
    duplicates.require_dedup(api_user(request))
    found = duplicates.open_candidates()
    return page_of(found, params, capped_count(found))


@router.post("/duplicates/{int:candidate_id}/dismiss", response=CandidateOut)
def dismiss(request: HttpRequest, candidate_id: int) -> DuplicateCandidate:
    user = api_user(request)
    found = duplicates.get_candidate_for_user(user, candidate_id)
    return duplicates.candidate_dismiss(actor=user, candidate=found)


@router.post("/duplicates/{int:candidate_id}/merge", response={201: MergeOut})
def merge_pair(request: HttpRequest, candidate_id: int, payload: MergeIn) -> PartyMerge:
    """Merge the pair: `survivor` is kept, the other's linked records move to it."""
    user = api_user(request)
    found = duplicates.get_candidate_for_user(user, candidate_id)
    pair = {"a": found.party_a, "b": found.party_b}
    other = "b" if payload.survivor == "a" else "a"
    unknown = set(payload.choices) - set(merge.MERGE_FIELDS)
    if unknown:
        raise ValidationError({"choices": [", ".join(sorted(unknown))]})
    side = {payload.survivor: "survivor", other: "loser"}
    choices = {name: side[v] for name, v in payload.choices.items()}
    return merge.party_merge(
        actor=user,
        survivor=pair[payload.survivor],
        loser=pair[other],
        choices=choices,
        candidate=found,
    )


@router.post("/merges/{int:merge_id}/undo", response=MergeOut)
def undo(request: HttpRequest, merge_id: int) -> PartyMerge:
    user = api_user(request)
    return merge.party_merge_undo(actor=user, record=duplicates.get_merge_for_user(user, merge_id))


@router.post("/duplicates/scan", response={202: ScanOut})
def start_scan(request: HttpRequest) -> DuplicateScan:
    """Queue a full scan of the archive (or return the one running)."""
    user = api_user(request)
    duplicates.require_dedup(user)
    return duplicates.scan_start(actor=user)


@router.get("/duplicates/scans/{int:scan_id}", response=ScanOut)
def get_scan(request: HttpRequest, scan_id: int) -> DuplicateScan:
    duplicates.require_dedup(api_user(request))
    return duplicates.get_scan(scan_id)


@router.post("/duplicates/check", response=CheckOut)
def check(request: HttpRequest, payload: CheckIn) -> dict[str, Any]:
    """The likely duplicates of a party before it is created."""
    user = api_user(request)
    require_write(user)
    new = duplicates.NewParty(
        kind=payload.kind,
        name=payload.name,
        phones=payload.phones,
        emails=payload.emails,
        uscc=payload.uscc,
    )
    return check_out(duplicates.duplicate_warning(user, new))
