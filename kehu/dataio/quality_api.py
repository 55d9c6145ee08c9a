"""The data-quality figures through the API: the page's selectors, the page's scope
(kehu/dataio/quality.py). `/data-quality` is what the caller's customer list holds,
with the per-owner breakdown for who may see others; `/data-quality/owners/{user_id}` one
owner's part (oneself, or anyone's for visibility team or all; else a 404)."""

import datetime
from typing import Any

from django.http import Http404, HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from kehu.dataio import quality
from kehu.tenancy.api_auth import api_user
from kehu.tenancy.models import User

router = Router(tags=["data-quality"])


class QualityQuery(Schema):
    days: int = Field(quality.STALE_DAYS_DEFAULT, ge=1, le=quality.STALE_DAYS_MAX)


class FieldOut(Schema):
    field: str
    applicable: int
    filled: int
    missing: int
    percent: float | None


class FiguresOut(Schema):
    owner_id: int | None
    parties: int
    completeness: float | None
    fields: list[FieldOut]
    invalid: dict[str, int]
    invalid_parties: int
    duplicate_pairs: int
    duplicate_parties: int
    customers: int
    stale: int


class TrendOut(Schema):
    taken_on: datetime.date
    completeness: float | None
    invalid_parties: int
    duplicate_parties: int
    stale: int


class QualityOut(Schema):
    days: int
    total: FiguresOut
    owners: list[FiguresOut] | None
    trend: list[TrendOut]


def figures_out(figures: quality.Figures) -> dict[str, Any]:
    return {
        "owner_id": figures.owner_id,
        "parties": figures.parties,
        "completeness": figures.completeness,
        "fields": [
            {
                "field": c.key,
                "applicable": figures.applicable(c.key),
                "filled": figures.filled.get(c.key, 0),
                "missing": figures.missing(c.key),
                "percent": figures.percent(c.key),
            }
            for c in quality.CHECKS
        ],
        "invalid": figures.invalid,
        "invalid_parties": figures.invalid_parties,
        "duplicate_pairs": figures.duplicate_pairs,
        "duplicate_parties": figures.duplicate_parties,
        "customers": figures.customers,
        "stale": figures.stale,
    }


def _answer(user: User, owner: User | None, days: int) -> dict[str, Any]:
    report = quality.report(quality.user_scope(user, owner), days=days)
    breakdown = owner is None and quality.sees_others(user)
    return {
        "days": days,
        "total": figures_out(report.total),
        "owners": [figures_out(f) for f in report.owners] if breakdown else None,
        "trend": quality.trend(user, owner),
    }


@router.get("/data-quality", response=QualityOut)
def data_quality(request: HttpRequest, query: Query[QualityQuery]) -> dict[str, Any]:
    """Completeness per field (count and % filled), parties with values that fail their
    validator (per kind), open likely-duplicate pairs and the parties in them, and
    customers with no interaction in `days` days, over the caller's customer list; by
    owner (null for visibility "own"); and the nightly snapshots' trend."""
    return _answer(api_user(request), None, query.days)


@router.get("/data-quality/owners/{user_id}", response=QualityOut)
def data_quality_owner(
    request: HttpRequest, user_id: int, query: Query[QualityQuery]
) -> dict[str, Any]:
    """The same figures over the caller's customers owned by `user_id`."""
    user = api_user(request)
    try:
        owner = quality.owner_for(user, user_id)
    except LookupError as exc:
        raise Http404 from exc
    return _answer(user, owner, query.days)
