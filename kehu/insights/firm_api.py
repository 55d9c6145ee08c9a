"""The firm-level value figures through the API: the same selectors as the pages, the
same scope (firm_selectors)."""

from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema

from kehu.insights import firm_selectors as selectors
from kehu.insights.balance_api import router as balance_router
from kehu.tenancy.api_auth import api_user

router = Router(tags=["insights"])


class ParetoQuery(Schema):
    measure: Literal["profit_total", "clp"] = "profit_total"


class ParetoCustomerOut(Schema):
    party_id: int
    name: str
    amount: Decimal


class ParetoOut(Schema):
    measure: str
    customers: int
    total: Decimal
    top20_share: float | None
    top5_share: float | None
    negative_share: float | None
    negative_profit: Decimal
    curve: list[float | None]
    top20: list[ParetoCustomerOut]
    top5: list[ParetoCustomerOut]
    negative: list[ParetoCustomerOut]


@router.get("/pareto", response=ParetoOut)
def pareto(request: HttpRequest, query: Query[ParetoQuery]) -> dict[str, Any]:
    """The latest scores' Pareto curve (share of the `measure` held by the top 0…100 %
    of customers), the top 20 % and 5 % shares, and the customers with a negative
    amount: their share of customers and what they destroy. Shares are null when the
    total is not positive."""
    figures = selectors.pareto(api_user(request), query.measure)
    return {
        "measure": figures.measure,
        "customers": figures.count,
        "total": figures.total,
        "top20_share": figures.share_of(figures.top(20)),
        "top5_share": figures.share_of(figures.top(5)),
        "negative_share": figures.negative_share,
        "negative_profit": figures.destroyed,
        "curve": figures.curve(),
        "top20": figures.top(20),
        "top5": figures.top(5),
        "negative": figures.negative,
    }


# The balance sheet and its planned spend (balance_api), under the same prefix.
router.add_router("", balance_router)
