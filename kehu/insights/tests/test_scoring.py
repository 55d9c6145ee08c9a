"""The scoring arithmetic on small cases worked out by hand (no database)."""

import numpy as np
import pytest

from kehu.insights import scoring
from kehu.insights.scoring import Config, Orders

AS_OF = 20_000  # a day number


def orders(rows: list[tuple[int, int, float, float]], *, returns: int = 0) -> Orders:
    """(party, days before AS_OF, revenue, profit) rows; the last `returns` are returns."""
    party = np.array([r[0] for r in rows], dtype=np.int64)
    day = AS_OF - np.array([r[1] for r in rows], dtype=np.int64)
    revenue = np.array([r[2] for r in rows], dtype=np.float64)
    profit = np.array([r[3] for r in rows], dtype=np.float64)
    is_return = np.zeros(len(rows), dtype=bool)
    if returns:
        is_return[-returns:] = True
    return Orders(party, day, revenue, profit, np.ones(len(rows), dtype=bool), is_return)


def test_percentile_rank_shares_ties() -> None:
    assert scoring.percentile_rank(np.array([10.0, 20.0, 20.0, 5.0])).tolist() == [
        0.5,
        0.875,
        0.875,
        0.25,
    ]


def test_tiers_follow_the_shares_from_the_top() -> None:
    # 20 customers, shares 5/15/30/50 %: 1 S, 3 A, 6 B, 10 C, best score first.
    score = np.arange(20, dtype=float)
    tiers = scoring.tiers_of(score, np.zeros(20), Config())
    assert tiers[19] == "S"
    assert sorted(tiers[16:19].tolist()) == ["A", "A", "A"]
    assert (tiers[10:16] == "B").all()
    assert (tiers[:10] == "C").all()


def test_equal_scores_are_ranked_by_clp() -> None:
    tiers = scoring.tiers_of(np.ones(4), np.array([1.0, 9.0, 5.0, 3.0]), Config(share_s=0.25))
    assert tiers.tolist()[1] == "S"


def test_lifecycle_rules_and_the_rule_that_decided() -> None:
    stage, rule = scoring.lifecycle(
        tenure_days=np.array([30, 400, 900, 900, 900, 500]),
        purchase_days=np.array([1, 3, 8, 8, 8, 1]),
        recency_days=np.array([30, 20, 10, 10, 10, 400]),
        frequency_trend=np.array([0.0, 0.5, 0.0, -0.6, 0.0, 0.0]),
        value_trend=np.array([0.0, 0.5, 0.1, -0.5, 0.1, 0.0]),
        had_before=np.array([False, True, True, True, True, False]),
        p_alive=np.array([1.0, 0.9, 0.95, 0.9, 0.3, 1.0]),
        config=Config(),
    )
    assert stage.tolist() == [
        "exploration",
        "formation",
        "stability",
        "decline",
        "decline",
        "decline",
    ]
    assert rule.tolist() == [
        "new",
        "growing",
        "mature",
        "trend_down",
        "p_alive_low",
        "one_time_stale",
    ]


def test_churn_risk_is_one_minus_alive_raised_by_a_fall() -> None:
    risk = scoring.churn_risk(np.array([0.8, 0.8, 0.8]), np.array([0.0, -0.5, 0.3]))
    assert risk.tolist() == pytest.approx([0.2, 0.6, 0.2])


def test_growth_potential_matches_the_median_one_tier_up() -> None:
    # One A customer (buys 10×, 100 a time, 3 categories); one B (5×, 50, 1 category).
    # B moved to A: 10 purchases (alive 1) at max(50, 100, 50 + 2 × 100/3) = 116.67;
    # extra revenue 10 × 116.67 − 5 × 50 = 916.67; × margin 0.5 × its discount 0.8.
    growth = scoring.growth_potential(
        np.array(["A", "B"]),
        p_alive=np.array([1.0, 1.0]),
        expected=np.array([10.0, 5.0]),
        spend=np.array([100.0, 50.0]),
        categories=np.array([3.0, 1.0]),
        margin=np.array([0.5, 0.5]),
        current_value=np.array([400.0, 100.0]),  # B: 5 × 50 × 0.5 = 125, discounted 0.8
        config=Config(),
    )
    assert growth[0] == 0.0  # nobody above the top tier here
    assert growth[1] == pytest.approx((10 * (50 + 2 * 100 / 3) - 5 * 50) * 0.5 * 0.8)


def test_a_customer_already_above_the_tier_up_has_no_growth() -> None:
    growth = scoring.growth_potential(
        np.array(["A", "B"]),
        p_alive=np.array([1.0, 1.0]),
        expected=np.array([2.0, 5.0]),
        spend=np.array([10.0, 50.0]),
        categories=np.array([1.0, 2.0]),
        margin=np.array([0.3, 0.3]),
        current_value=np.array([5.0, 60.0]),
        config=Config(),
    )
    assert growth.tolist() == [0.0, 0.0]


def test_history_nets_returns_and_counts_zero_value_orders() -> None:
    rows = [
        (1, 100, 200.0, 50.0),
        (1, 10, 0.0, 0.0),  # a zero-value order: a purchase day
        (2, 50, 300.0, 90.0),
        (1, 100, -80.0, -20.0),  # returns part of its first order (on that order's day)
    ]
    h = scoring.history(np.array([1, 2]), orders(rows, returns=1), as_of=AS_OF, config=Config())
    assert h.revenue_total.tolist() == [120.0, 300.0]
    assert h.profit_total.tolist() == [30.0, 90.0]
    assert h.orders_count.tolist() == [2, 1]
    assert h.purchase_days.tolist() == [2, 1]
    assert h.tenure_days.tolist() == [100, 50]
    assert h.recency_days.tolist() == [10, 50]
    assert h.margin.tolist() == pytest.approx([0.25, 0.3])


def test_unknown_costs_use_the_default_margin() -> None:
    o = orders([(1, 20, 1000.0, 1000.0)])
    o = Orders(o.party, o.day, o.revenue, o.profit, np.array([False]), o.is_return)
    h = scoring.history(np.array([1]), o, as_of=AS_OF, config=Config(default_margin=0.2))
    assert h.profit_total.tolist() == [200.0]
    assert h.margin.tolist() == [0.2]


def test_five_customers_fall_back_to_rfm_without_nan() -> None:
    rows = [(1, 400, 100.0, 30.0), (1, 200, 100.0, 30.0), (1, 10, 100.0, 30.0)]
    rows += [(2, 30, 50.0, 10.0), (3, 700, 500.0, -50.0), (4, 5, 0.0, 0.0), (5, 90, 10.0, 2.0)]
    result = scoring.score_customers(
        np.arange(1, 6),
        orders(rows),
        categories=np.array([2.0, 1.0, 1.0, 1.0, 1.0]),
        staff_hours=np.zeros(5),
        as_of=AS_OF,
        config=Config(),
    )
    assert result.method == "rfm"
    assert result.fallback_counts == {"customers": 5, "repeat": 1}
    for name, values in result.columns.items():
        if values.dtype.kind == "f":
            assert np.isfinite(values).all(), name
    c = result.columns
    # Customer 1: 3 purchase days over 400 days, last 10 days ago (< its 133-day gap):
    # alive; 3/400 purchases a day over 36 months.
    assert c["p_alive"][0] == 1.0
    assert c["expected_purchases"][0] == pytest.approx(3 / 400 * Config().horizon_days)
    # Customer 3 lost money: its value is negative, not hidden.
    assert c["current_value"][2] <= 0
    assert c["clp"].tolist() == pytest.approx((c["current_value"] + c["growth_potential"]).tolist())
    assert sorted(c["tier"].tolist()) == ["B", "B", "C", "C", "S"]


def test_enough_customers_are_fitted_with_bgnbd() -> None:
    rng = np.random.default_rng(7)
    rows = []
    for party in range(1, 201):
        for _ in range(int(rng.integers(1, 8))):
            spend = float(rng.gamma(2.0, 100.0))
            rows.append((party, int(rng.integers(0, 720)), spend, spend * 0.3))
    result = scoring.score_customers(
        np.arange(1, 201),
        orders(rows),
        categories=np.ones(200),
        staff_hours=rng.uniform(0, 10, 200),
        as_of=AS_OF,
        config=Config(),
    )
    assert result.method == "bgnbd"
    c = result.columns
    assert ((c["p_alive"] >= 0) & (c["p_alive"] <= 1)).all()
    assert (c["growth_potential"] >= 0).all()
    assert (c["growth_potential"][c["tier"] == "S"] == 0).all()
    assert set(result.parameters["bgnbd"]) == {"r", "alpha", "a", "b", "log_likelihood"}
    for values in c.values():
        if values.dtype.kind == "f":
            assert np.isfinite(values).all()


@pytest.mark.parametrize("spread", [1, 100])  # ids close together: a table; far apart: search
def test_positions_find_each_partys_customer_or_none(spread: int) -> None:
    customers = np.array([3, 5, 6, 9], dtype=np.int64) * spread
    party = np.array([9, 2, 3, 6, 7, 5, 9, 1000, -4], dtype=np.int64) * spread
    pos, found = scoring.positions(customers, party)
    assert found.tolist() == [True, False, True, True, False, True, True, False, False]
    assert pos[found].tolist() == [3, 0, 2, 1, 3]
    assert (pos >= 0).all() and (pos < customers.size).all()
    none_pos, none_found = scoring.positions(np.zeros(0, dtype=np.int64), party)
    assert not none_found.any() and none_pos.tolist() == [0] * party.size
