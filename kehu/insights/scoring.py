"""Scoring a firm's customers, in numpy: history, the value models, CLP, tiers, stages.

No Django here: `services.scoring_run_execute` reads the orders in bulk, calls
`score_customers` and writes the result. The method in plain words, with its limits:
docs/customer-value.md; the BG/NBD and Gamma-Gamma models: docs/value-models.md.

Every array is one value per customer, in the order of `customer_ids` (sorted). Nothing
returned is NaN or infinite: the last step checks it.
"""

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from kehu.insights import btyd

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

PERIOD_DAYS = 7  # the models count time in weeks
DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12
HALF_YEAR = 182  # the trend compares the last half year with the one before
YEAR = 365
# Lifecycle rules (docs/customer-value.md, "Lifecycle stage").
EXPLORATION_DAYS = 180  # younger relationships are still being tried out
STABILITY_DAYS = 730  # two years together before a relationship counts as stable
STABILITY_PURCHASE_DAYS = 4  # and at least four purchase days
RISING = 0.2  # value growing faster than this is still formation
ONE_TIME_STALE_DAYS = 365  # one purchase and nothing for a year: declining
MIN_HOURS = 1.0  # 人效 divides by at least one staff hour


@dataclass(frozen=True)
class Config:
    """The firm's InsightSettings as plain numbers (rates as fractions)."""

    horizon_months: int = 36
    annual_discount_rate: float = 0.10
    default_margin: float = 0.30
    weight_longevity: float = 35
    weight_scale: float = 40
    weight_efficiency: float = 25
    share_s: float = 0.05
    share_a: float = 0.15
    share_b: float = 0.30
    churn_alive_threshold: float = 0.5
    churn_trend_threshold: float = 0.4

    @property
    def horizon_days(self) -> float:
        return self.horizon_months * DAYS_PER_MONTH

    @property
    def horizon_periods(self) -> int:
        return max(1, round(self.horizon_days / PERIOD_DAYS))


@dataclass(frozen=True)
class Orders:
    """Booked orders (returns included, negative), one entry per order.

    `day` is a day number (days since 1970-01-01); a return carries its original
    order's day, so that it nets against the purchase it undoes."""

    party: IntArray
    day: IntArray
    revenue: FloatArray
    profit: FloatArray
    cost_known: BoolArray  # False: no cost was recorded (cost 0 on a sale)
    is_return: BoolArray


@dataclass
class Result:
    """Per-customer arrays, plus what the run says about itself."""

    customer_ids: IntArray
    columns: dict[str, NDArray[Any]]
    method: str  # "bgnbd" or "rfm"
    parameters: dict[str, Any]
    fallback_reason: str = ""  # why the models were not fitted ("" when they were)
    fallback_counts: dict[str, int] = field(default_factory=dict)


TIERS = np.array(["S", "A", "B", "C"])
STAGES = ("exploration", "formation", "stability", "decline")


def percentile_rank(values: FloatArray) -> FloatArray:
    """Each value's rank among all as a share in (0, 1]; ties share their mean rank."""
    if values.size == 0:
        return np.zeros(0)
    ranks: FloatArray = stats.rankdata(values, method="average") / values.size
    return ranks


def quintile_score(values: FloatArray) -> IntArray:
    """1–5 by percentile (5 the best fifth)."""
    return np.clip(np.ceil(percentile_rank(values) * 5), 1, 5).astype(np.int64)


@dataclass
class History:
    """What the orders say about each customer up to the scoring day."""

    orders_count: IntArray
    revenue_total: FloatArray
    profit_total: FloatArray
    margin: FloatArray
    revenue_last_year: FloatArray
    profit_last_year: FloatArray
    tenure_days: IntArray  # since the first purchase day
    recency_days: IntArray  # since the last
    purchase_days: IntArray
    days_recent: IntArray  # purchase days in the last half year
    days_before: IntArray  # … and in the half year before
    revenue_recent: FloatArray
    revenue_before: FloatArray
    summary: btyd.Summary  # aligned with the customers (see _aligned_summary)


def _bincount(index: IntArray, weights: FloatArray | None, n: int) -> FloatArray:
    out: FloatArray = np.bincount(index, weights=weights, minlength=n).astype(np.float64)
    return out


# A look-up table from party id to position is used while it is at most this many times
# larger than the customers (ids of one firm are mostly close together); a binary search
# per order otherwise.
_TABLE_SPREAD = 8


def positions(customer_ids: IntArray, party: IntArray) -> tuple[IntArray, BoolArray]:
    """Each party's position among the customers (sorted ids), and whether it is one."""
    n = customer_ids.size
    if n == 0:
        return np.zeros(party.size, dtype=np.int64), np.zeros(party.size, dtype=bool)
    low, high = int(customer_ids[0]), int(customer_ids[-1])
    if high - low + 1 > _TABLE_SPREAD * n + 1024:
        pos = np.searchsorted(customer_ids, party).astype(np.int64, copy=False)
        np.clip(pos, 0, n - 1, out=pos)
        return pos, customer_ids[pos] == party
    # One gather per order: far cheaper than a binary search through a million ids.
    table = np.full(high - low + 2, -1, dtype=np.int64)
    table[customer_ids - low] = np.arange(n)
    offset = party - low
    outside = (offset < 0) | (offset > high - low)
    offset[outside] = high - low + 1  # the table's last entry: -1, no customer
    pos = table[offset]
    del offset, outside, table
    found = pos >= 0
    pos[~found] = 0
    return pos, found


def history(customer_ids: IntArray, orders: Orders, *, as_of: int, config: Config) -> History:
    n = customer_ids.size
    pos, keep = positions(customer_ids, orders.party)
    keep &= orders.day <= as_of
    if keep.all():  # the usual case: the orders were read for these customers
        idx, day, revenue, profit = pos, orders.day, orders.revenue, orders.profit
        known, is_return = orders.cost_known, orders.is_return
    else:
        idx, day = pos[keep], orders.day[keep]
        revenue, profit = orders.revenue[keep], orders.profit[keep]
        known, is_return = orders.cost_known[keep], orders.is_return[keep]
    del keep
    # Profit where the cost is known; the firm's default margin where it is not.
    estimated = np.where(known, profit, revenue * config.default_margin)
    revenue_known = _bincount(idx, np.where(known, revenue, 0.0), n)
    profit_known = _bincount(idx, np.where(known, profit, 0.0), n)
    margin = np.full(n, config.default_margin)
    has_cost = revenue_known > 0
    margin[has_cost] = np.clip(profit_known[has_cost] / revenue_known[has_cost], -1.0, 1.0)
    last_year = day > as_of - YEAR
    # The customers' purchase days, once: both the model summary and the day counts
    # below come from them (one sort of the orders).
    days = btyd.purchase_days(idx, day, revenue, observation_end=as_of)
    summary = btyd.summary_from_purchase_days(days, observation_end=as_of, period_days=PERIOD_DAYS)
    days_recent, days_before, first_day, last_day, purchase_days = _purchase_days(
        days, as_of=as_of, n=n
    )
    del days
    recent = day > as_of - HALF_YEAR
    before = (day > as_of - 2 * HALF_YEAR) & ~recent
    return History(
        orders_count=np.bincount(idx[~is_return], minlength=n).astype(np.int64),
        revenue_total=_bincount(idx, revenue, n),
        profit_total=_bincount(idx, estimated, n),
        margin=margin,
        revenue_last_year=_bincount(idx, np.where(last_year, revenue, 0.0), n),
        profit_last_year=_bincount(idx, np.where(last_year, estimated, 0.0), n),
        tenure_days=np.maximum(as_of - first_day, 0),
        recency_days=np.maximum(as_of - last_day, 0),
        purchase_days=purchase_days,
        days_recent=days_recent,
        days_before=days_before,
        revenue_recent=_bincount(idx, np.where(recent, revenue, 0.0), n),
        revenue_before=_bincount(idx, np.where(before, revenue, 0.0), n),
        summary=_aligned_summary(summary, n, as_of - first_day),
    )


def _purchase_days(
    days: btyd.PurchaseDays, *, as_of: int, n: int
) -> tuple[IntArray, IntArray, IntArray, IntArray, IntArray]:
    """Distinct purchase days (net revenue ≥ 0, as in btyd) per customer: in the last
    half year, in the one before, first, last, and in all."""
    first = np.full(n, as_of, dtype=np.int64)
    last = np.full(n, as_of, dtype=np.int64)
    who, when = days.owner, days.day
    recent = when > as_of - HALF_YEAR
    before = (when > as_of - 2 * HALF_YEAR) & ~recent
    counts = np.bincount(who, minlength=n).astype(np.int64)
    has = counts > 0
    # The days are sorted by customer then day: the first and last of each run.
    starts = np.searchsorted(who, np.arange(n), side="left")
    ends = np.searchsorted(who, np.arange(n), side="right") - 1
    first[has], last[has] = when[starts[has]], when[ends[has]]
    return (
        np.bincount(who[recent], minlength=n).astype(np.int64),
        np.bincount(who[before], minlength=n).astype(np.int64),
        first,
        last,
        counts,
    )


def _aligned_summary(summary: btyd.Summary, n: int, tenure_days: IntArray) -> btyd.Summary:
    """The model summary with a row for every customer: one without a purchase day (only
    refunds) counts as just arrived, with no repeat purchase."""
    frequency = np.zeros(n, dtype=np.int64)
    recency = np.zeros(n)
    T = np.maximum(tenure_days, 0) / PERIOD_DAYS
    monetary = np.zeros(n)
    rows = summary.customer_ids
    frequency[rows] = summary.frequency
    recency[rows] = summary.recency
    T[rows] = summary.T
    monetary[rows] = summary.monetary
    return btyd.Summary(np.arange(n, dtype=np.int64), frequency, recency, T, monetary)


@dataclass
class Forecast:
    p_alive: FloatArray
    expected_purchases: FloatArray  # over the horizon
    spend_per_purchase: FloatArray  # revenue
    current_value: FloatArray  # discounted expected profit over the horizon
    method: str
    parameters: dict[str, Any]
    fallback_reason: str = ""
    fallback_counts: dict[str, int] = field(default_factory=dict)


def forecast(h: History, config: Config) -> Forecast:
    """BG/NBD + Gamma-Gamma when the firm has the data; simple RFM rules when not."""
    s = h.summary
    try:
        bg = btyd.fit_bgnbd(s.frequency, s.recency, s.T)
        gg = btyd.fit_gamma_gamma(s.frequency, s.monetary)
    except btyd.InsufficientData as exc:
        customers = int(s.frequency.size)
        repeat = int(((s.frequency > 0) & (s.monetary > 0)).sum())
        return _rfm_forecast(h, config, str(exc), {"customers": customers, "repeat": repeat})
    p_alive = btyd.bgnbd_prob_alive(bg, s.frequency, s.recency, s.T)
    expected = btyd.bgnbd_expected_purchases(
        bg, config.horizon_periods, s.frequency, s.recency, s.T
    )
    spend = btyd.gamma_gamma_expected_spend(gg, s.frequency, s.monetary)
    current = btyd.discounted_expected_value(
        bg,
        s.frequency,
        s.recency,
        s.T,
        spend * h.margin,
        horizon_periods=config.horizon_periods,
        period_length=1.0,
        annual_discount_rate=config.annual_discount_rate,
        periods_per_year=DAYS_PER_YEAR / PERIOD_DAYS,
    )
    parameters = {
        "bgnbd": {k: getattr(bg, k) for k in ("r", "alpha", "a", "b", "log_likelihood")},
        "gamma_gamma": {k: getattr(gg, k) for k in ("p", "q", "v", "log_likelihood")},
        "period_days": PERIOD_DAYS,
        "customers_fitted": bg.n_customers,
        "repeat_buyers_fitted": gg.n_customers,
    }
    return Forecast(p_alive, expected, spend, current, "bgnbd", parameters)


def uniform_discount(config: Config) -> float:
    """The mean discount factor of a steady stream of profit over the horizon."""
    years = config.horizon_days / DAYS_PER_YEAR
    delta = np.log1p(config.annual_discount_rate)
    if delta <= 0 or years <= 0:
        return 1.0
    return float((1 - np.exp(-delta * years)) / (delta * years))


def _rfm_forecast(h: History, config: Config, reason: str, counts: dict[str, int]) -> Forecast:
    """Too little data to fit: alive while within the customer's usual gap between
    purchases, fading after it; the past purchase rate and mean spend carried forward."""
    tenure = h.tenure_days.astype(float)
    recency_days = h.recency_days.astype(float)
    days = np.maximum(h.purchase_days, 1)
    gap = np.where(h.purchase_days > 1, tenure / days, float(YEAR))
    gap = np.maximum(gap, 1.0)
    p_alive = np.where(recency_days <= gap, 1.0, np.exp(-(recency_days - gap) / gap))
    rate = days / np.maximum(tenure, float(YEAR))  # purchases per day, at least a year seen
    expected = p_alive * rate * config.horizon_days
    spend = np.where(h.purchase_days > 0, np.maximum(h.revenue_total, 0.0) / days, 0.0)
    current = expected * spend * h.margin * uniform_discount(config)
    parameters = {"rules": "rfm", "period_days": PERIOD_DAYS}
    return Forecast(p_alive, expected, spend, current, "rfm", parameters, reason, counts)


def tiers_of(value_score: FloatArray, clp: FloatArray, config: Config) -> NDArray[np.str_]:
    """S/A/B/C by rank of the weighted score: the top share_s of customers are S, …"""
    n = value_score.size
    order = np.lexsort((-clp, -value_score))  # best first; CLP breaks ties
    position = np.empty(n)
    position[order] = np.arange(n) / max(n, 1)
    cuts = np.cumsum([config.share_s, config.share_a, config.share_b])
    tier_index = np.searchsorted(cuts, position, side="right")
    out: NDArray[np.str_] = TIERS[np.minimum(tier_index, 3)]
    return out


def growth_potential(
    tiers: NDArray[np.str_],
    *,
    p_alive: FloatArray,
    expected: FloatArray,
    spend: FloatArray,
    categories: FloatArray,
    margin: FloatArray,
    current_value: FloatArray,
    config: Config,
) -> FloatArray:
    """Extra discounted profit if each customer bought like the median customer one tier
    up: as often (when alive), as much per purchase, across as many categories — each
    missing category worth what the peers spend per category. Spend and breadth both
    lift the spend per purchase, so the larger lift is taken, not both."""
    growth = np.zeros(tiers.size)
    rate_if_alive = np.where(p_alive > 0.01, expected / np.maximum(p_alive, 0.01), 0.0)
    for upper, lower in itertools.pairwise(TIERS):
        peers, group = tiers == upper, tiers == lower
        if not peers.any() or not group.any():
            continue
        target_rate = float(np.median(rate_if_alive[peers]))
        target_spend = float(np.median(spend[peers]))
        target_categories = float(np.median(categories[peers]))
        per_category = float(np.median(spend[peers] / np.maximum(categories[peers], 1.0)))
        own_spend = spend[group]
        missing = np.maximum(target_categories - categories[group], 0.0)
        breadth_spend = own_spend + missing * per_category
        new_spend = np.maximum(np.maximum(own_spend, target_spend), breadth_spend)
        new_purchases = np.maximum(expected[group], p_alive[group] * target_rate)
        # The new behaviour valued as the customer's own is: at its discounting, or at a
        # steady stream's when the customer is not expected to buy at all.
        own_profit = expected[group] * own_spend * margin[group]
        discount = np.where(
            np.abs(own_profit) > 1e-9,
            current_value[group] / np.where(np.abs(own_profit) > 1e-9, own_profit, 1.0),
            uniform_discount(config),
        )
        discount = np.clip(discount, 0.0, 1.0)
        extra = (new_purchases * new_spend - expected[group] * own_spend) * margin[group] * discount
        growth[group] = np.maximum(extra, 0.0)
    return growth


def _trend(recent: FloatArray, before: FloatArray) -> FloatArray:
    """(recent − before) / before; 0 when there was nothing before to compare with."""
    return np.where(before > 0, (recent - before) / np.where(before > 0, before, 1.0), 0.0)


def lifecycle(
    *,
    tenure_days: IntArray,
    purchase_days: IntArray,
    recency_days: IntArray,
    frequency_trend: FloatArray,
    value_trend: FloatArray,
    had_before: BoolArray,
    p_alive: FloatArray,
    config: Config,
) -> tuple[NDArray[np.str_], NDArray[np.str_]]:
    """(stage, rule) per customer; the rule is the code of the reason that decided."""
    n = tenure_days.size
    stage = np.full(n, "formation", dtype=object)
    rule = np.full(n, "growing", dtype=object)
    mature = (
        (tenure_days >= STABILITY_DAYS)
        & (purchase_days >= STABILITY_PURCHASE_DAYS)
        & (value_trend <= RISING)
    )
    stage[mature], rule[mature] = "stability", "mature"
    young = tenure_days < EXPLORATION_DAYS
    single = purchase_days <= 1
    stage[young | single] = "exploration"
    rule[single], rule[young] = "single_purchase", "new"
    falling = had_before & (
        (frequency_trend <= -config.churn_trend_threshold)
        | (value_trend <= -config.churn_trend_threshold)
    )
    stale_one_time = single & (recency_days > ONE_TIME_STALE_DAYS)
    low_alive = p_alive < config.churn_alive_threshold
    for mask, code in (
        (stale_one_time, "one_time_stale"),
        (falling, "trend_down"),
        (low_alive, "p_alive_low"),
    ):
        stage[mask], rule[mask] = "decline", code
    return stage.astype(str), rule.astype(str)


def churn_risk(p_alive: FloatArray, worst_trend: FloatArray) -> FloatArray:
    """1 − P(alive), raised by a falling trend: a 50 % fall halves the alive share."""
    falling = 1.0 + np.clip(worst_trend, -1.0, 0.0)
    risk: FloatArray = np.clip(1.0 - p_alive * falling, 0.0, 1.0)
    return risk


def score_customers(
    customer_ids: IntArray,
    orders: Orders,
    *,
    categories: FloatArray,
    staff_hours: FloatArray,
    as_of: int,
    config: Config,
) -> Result:
    """Every number a CustomerScore holds, for the customers given (sorted ids)."""
    h = history(customer_ids, orders, as_of=as_of, config=config)
    f = forecast(h, config)
    tenure, recency_days = h.tenure_days, h.recency_days
    expected_revenue = f.expected_purchases * f.spend_per_purchase
    longevity = (percentile_rank(f.p_alive) + percentile_rank(tenure.astype(float))) / 2
    scale = (percentile_rank(h.revenue_last_year) + percentile_rank(expected_revenue)) / 2
    efficiency = percentile_rank(h.profit_last_year / np.maximum(staff_hours, MIN_HOURS))
    weights = np.array([config.weight_longevity, config.weight_scale, config.weight_efficiency])
    weights = weights / weights.sum() if weights.sum() > 0 else np.full(3, 1 / 3)
    value_score = weights[0] * longevity + weights[1] * scale + weights[2] * efficiency
    tiers = tiers_of(value_score, f.current_value, config)
    growth = growth_potential(
        tiers,
        p_alive=f.p_alive,
        expected=f.expected_purchases,
        spend=f.spend_per_purchase,
        categories=categories,
        margin=h.margin,
        current_value=f.current_value,
        config=config,
    )
    frequency_trend = _trend(h.days_recent.astype(float), h.days_before.astype(float))
    value_trend = _trend(h.revenue_recent, h.revenue_before)
    had_before = h.days_before > 0
    stage, rule = lifecycle(
        tenure_days=tenure,
        purchase_days=h.purchase_days,
        recency_days=recency_days,
        frequency_trend=frequency_trend,
        value_trend=value_trend,
        had_before=had_before,
        p_alive=f.p_alive,
        config=config,
    )
    worst = np.where(had_before, np.minimum(frequency_trend, value_trend), 0.0)
    columns: dict[str, NDArray[Any]] = {
        "frequency": h.summary.frequency,
        "orders_count": h.orders_count,
        "recency_days": recency_days,
        "tenure_days": tenure,
        "purchase_days": h.purchase_days,
        "revenue_total": h.revenue_total,
        "profit_total": h.profit_total,
        "revenue_last_year": h.revenue_last_year,
        "category_count": categories,
        "staff_hours": staff_hours,
        "rfm_recency": quintile_score(-recency_days.astype(float)),
        "rfm_frequency": quintile_score(h.purchase_days.astype(float)),
        "rfm_monetary": quintile_score(h.revenue_total),
        "p_alive": f.p_alive,
        "expected_purchases": f.expected_purchases,
        "expected_profit_per_purchase": f.spend_per_purchase * h.margin,
        "current_value": f.current_value,
        "growth_potential": growth,
        "clp": f.current_value + growth,
        "longevity_score": longevity,
        "scale_score": scale,
        "efficiency_score": efficiency,
        "value_score": value_score,
        "tier": tiers,
        "frequency_trend": frequency_trend,
        "value_trend": value_trend,
        "had_before": had_before,
        "inferred_stage": stage,
        "stage_rule": rule,
        "churn_risk": churn_risk(f.p_alive, worst),
    }
    for name, values in columns.items():
        if values.dtype.kind == "f":
            columns[name] = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    return Result(
        customer_ids, columns, f.method, f.parameters, f.fallback_reason, f.fallback_counts
    )
