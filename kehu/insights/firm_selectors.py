"""The firm-level value figures (DOMAIN.md §3): the Pareto curve (二八理论) of the latest
scores. Reads are scoped like the reports (kehu/reports/__init__.py): admins, managers
and analysts see the whole firm; everyone else the customers they own or serve (the
customer pool left out: it is nobody's book of business)."""

import math
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet

from kehu.insights.models import CustomerScore
from kehu.insights.selectors import published_run
from kehu.parties.models import Party
from kehu.parties.selectors import parties_visible_to
from kehu.reports.selectors import sees_firm
from kehu.tenancy.models import User

MEASURES = ("profit_total", "clp")
# The customer lists behind the key figures.
SHOWS = ("top20", "top5", "negative")
ZERO = Decimal("0.00")


def parties_in_scope(user: User) -> QuerySet[Party]:
    """The parties `user` may report on."""
    return Party.objects.all() if sees_firm(user) else parties_visible_to(user, include_pool=False)


def scores_in_scope(user: User) -> QuerySet[CustomerScore]:
    """Every run's scores of the parties `user` may report on. The whole firm's as a join
    (not `party IN (every party)`), so that a read of one run goes through the run's
    index rather than through every party's whole history."""
    if sees_firm(user):
        return CustomerScore.objects.filter(party__deleted_at__isnull=True)
    return CustomerScore.objects.filter(party__in=parties_in_scope(user).values("pk"))


@dataclass(frozen=True)
class Customer:
    party_id: int
    name: str
    amount: Decimal


@dataclass(frozen=True)
class Pareto:
    measure: str
    customers: list[Customer]  # the highest amount first
    total: Decimal

    @property
    def count(self) -> int:
        return len(self.customers)

    def top(self, percent: int) -> list[Customer]:
        """The top `percent` % of customers (at least one when there are any)."""
        return self.customers[: math.ceil(self.count * percent / 100)]

    def share_of(self, customers: list[Customer]) -> float | None:
        """Their share (%) of the total; None when the total is not positive (a share
        of a loss or of nothing means nothing)."""
        if self.total <= 0:
            return None
        return round(float(sum((c.amount for c in customers), ZERO) * 100 / self.total), 1)

    @property
    def negative(self) -> list[Customer]:
        return [c for c in self.customers if c.amount < 0]

    @property
    def negative_share(self) -> float | None:
        """The share (%) of customers with a negative amount."""
        return round(len(self.negative) * 100 / self.count, 1) if self.count else None

    @property
    def destroyed(self) -> Decimal:
        """What the negative customers take away (a negative sum)."""
        return sum((c.amount for c in self.negative), ZERO)

    def listed(self, show: str) -> list[Customer]:
        if show == "top5":
            return self.top(5)
        if show == "negative":
            return self.negative
        return self.top(20)

    def curve(self) -> list[float | None]:
        """The cumulative share (%) held by the top 0, 1, …, 100 % of customers."""
        if self.total <= 0:
            return []
        amounts = [c.amount for c in self.customers]
        running = [ZERO]
        for amount in amounts:
            running.append(running[-1] + amount)
        return [
            round(float(running[math.ceil(self.count * p / 100)] * 100 / self.total), 1)
            for p in range(101)
        ]


def pareto(user: User, measure: str = "profit_total") -> Pareto:
    """The latest scores by `measure` (historical profit or CLP), highest first."""
    rows = (
        scores_in_scope(user)
        .filter(run_id=published_run())
        .order_by(f"-{measure}", "party_id")
        .values_list("party_id", "party__name", measure)
    )
    customers = [Customer(pk, name, Decimal(amount)) for pk, name, amount in rows]
    return Pareto(measure, customers, sum((c.amount for c in customers), ZERO))
