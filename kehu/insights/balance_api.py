"""The customer asset balance sheet and its planned spend through the API: the same
selectors and services as the pages, the same scope (balance_selectors)."""

import datetime
from decimal import Decimal
from typing import Any

from django.http import Http404, HttpRequest
from ninja import Field, Query, Router, Schema

from kehu.core.pagination import Page, PageParams, page_of
from kehu.insights import balance_selectors as selectors
from kehu.insights import balance_services as services
from kehu.insights.models import PlannedSpend, SpendKind
from kehu.parties.selectors import capped_count
from kehu.tenancy.api_auth import api_user, require_manage
from kehu.tenancy.models import User
from kehu.tenancy.schemas import InSchema, PatchSchema

router = Router(tags=["insights"])


class SheetQuery(Schema):
    run: int | None = Field(None, ge=1, description="评分任务 id；不填为最近一次完成的评分")


class RunRef(Schema):
    id: int
    as_of: datetime.date


class LineOut(Schema):
    key: str
    label: str
    amount: Decimal | None = Field(description="null：计划投入不计入（调用者看不到全公司）")
    count: int | None = Field(description="背后的客户数、任务数或条目数")
    note: str


class MovementOut(Schema):
    key: str = Field(description="gained, churned, upgraded, downgraded, same")
    label: str
    customers: int
    before: Decimal = Field(description="上次评分的客户全生命周期利润")
    now: Decimal = Field(description="本次评分的客户全生命周期利润")
    change: Decimal


class BalanceSheetOut(Schema):
    run: RunRef | None
    previous_run: RunRef | None
    period_start: datetime.date | None
    period_end: datetime.date | None
    assets: list[LineOut]
    total_assets: Decimal
    liabilities: list[LineOut]
    total_liabilities: Decimal
    equity: Decimal = Field(description="净客户资产：资产 − 负债")
    movements: list[MovementOut] = Field(description="与上一次完成的评分相比；没有时为空")
    task_hours: Decimal
    staff_hour_cost: Decimal
    spend_counted: bool


@router.get("/balance-sheet", response=BalanceSheetOut)
def balance_sheet(request: HttpRequest, query: Query[SheetQuery]) -> dict[str, Any]:
    """A finished run's customer asset balance sheet (the latest when `run` is left out;
    404 for no such run): assets, liabilities, net equity, and the movement since the
    run before. Customer figures cover what the caller may report on; planned spend
    counts only for callers who see the whole firm."""
    run = selectors.chosen_run(query.run)
    if run is None and query.run is not None:
        raise Http404
    sheet = selectors.balance_sheet(api_user(request), run)
    return {
        "run": sheet.run,
        "previous_run": sheet.previous,
        "period_start": sheet.period_start,
        "period_end": sheet.period_end,
        "assets": sheet.assets,
        "total_assets": sheet.total_assets,
        "liabilities": sheet.liabilities,
        "total_liabilities": sheet.total_liabilities,
        "equity": sheet.equity,
        "movements": [{**m.__dict__, "change": m.change} for m in sheet.movements],
        "task_hours": sheet.task_hours,
        "staff_hour_cost": sheet.staff_hour_cost,
        "spend_counted": sheet.spend_counted,
    }


# --- planned spend --------------------------------------------------------------------


class PlannedSpendIn(InSchema):
    kind: SpendKind
    period_start: datetime.date
    period_end: datetime.date
    amount: Decimal = Field(max_digits=14, decimal_places=2, description="人民币，不能为负")
    note: str = Field("", max_length=500)


class PlannedSpendPatch(PatchSchema):
    kind: SpendKind | None = None
    period_start: datetime.date | None = None
    period_end: datetime.date | None = None
    amount: Decimal | None = Field(None, max_digits=14, decimal_places=2)
    note: str | None = Field(None, max_length=500)


class PlannedSpendOut(Schema):
    id: int
    kind: str
    period_start: datetime.date
    period_end: datetime.date
    amount: Decimal
    note: str
    created_by_id: int | None
    created_at: datetime.datetime


class SpendQuery(Schema):
    on: datetime.date | None = Field(None, description="只列出期间包含这一天的条目")


def _entry(user: User, entry_id: int) -> PlannedSpend:
    entry = PlannedSpend.objects.filter(pk=entry_id).first()
    if entry is None or not selectors.sees_budget(user):
        raise Http404
    return entry


@router.get("/planned-spend", response=Page[PlannedSpendOut])
def list_planned_spend(
    request: HttpRequest, page: Query[PageParams], query: Query[SpendQuery]
) -> dict[str, Any]:
    """The firm's planned spend, newest period first (empty for those who do not see the
    whole firm)."""
    user = api_user(request)
    entries = PlannedSpend.objects.order_by("-period_start", "kind", "id")
    if query.on is not None:
        entries = selectors.spend_on(query.on).order_by("kind", "id")
    if not selectors.sees_budget(user):
        entries = entries.none()
    return page_of(entries, page, capped_count(entries))


@router.post("/planned-spend", response={201: PlannedSpendOut})
def create_planned_spend(request: HttpRequest, payload: PlannedSpendIn) -> tuple[int, PlannedSpend]:
    """Add planned spend (managers and admins)."""
    user = api_user(request)
    require_manage(user)
    return 201, services.planned_spend_create(actor=user, **payload.dict())


@router.get("/planned-spend/{int:entry_id}", response=PlannedSpendOut)
def get_planned_spend(request: HttpRequest, entry_id: int) -> PlannedSpend:
    return _entry(api_user(request), entry_id)


@router.patch("/planned-spend/{int:entry_id}", response=PlannedSpendOut)
def update_planned_spend(
    request: HttpRequest, entry_id: int, payload: PlannedSpendPatch
) -> PlannedSpend:
    """Change the fields given (managers and admins)."""
    user = api_user(request)
    entry = _entry(user, entry_id)
    require_manage(user)
    changes = payload.dict(exclude_unset=True)
    return services.planned_spend_update(actor=user, entry=entry, **changes)


@router.delete("/planned-spend/{int:entry_id}", response={204: None})
def delete_planned_spend(request: HttpRequest, entry_id: int) -> tuple[int, None]:
    user = api_user(request)
    entry = _entry(user, entry_id)
    require_manage(user)
    services.planned_spend_delete(actor=user, entry=entry)
    return 204, None
