"""Buy-till-you-die customer value models: BG/NBD and Gamma-Gamma, in numpy and scipy.

Pure numerics, no Django: the insights app reads orders, summarises them
(`purchase_days`, then `summary_from_purchase_days`; `summarise_transactions` does both),
fits per tenant and scores. Why an own core instead of `lifetimes`, `btyd` or
`pymc-marketing`: docs/decisions/0008-value-models.md; the method: docs/value-models.md.

Conventions: `frequency` is the number of repeat purchase days (distinct days after the
first), `recency` the time from the first to the last purchase day and `T` the time from
the first purchase day to the end of observation, both in periods (weeks by default).
Likelihoods are computed in log space, fitted by L-BFGS-B on log-parameters with
analytic gradients; rows may carry weights (counts of identical rows).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# Below these counts the estimates are noise (BG/NBD has four parameters, Gamma-Gamma
# three) and the caller should fall back to plain RFM rules.
MIN_CUSTOMERS = 50
MIN_REPEAT_CUSTOMERS = 10

# Log-parameter bounds: wide enough for any real tenant, narrow enough that a degenerate
# data set cannot drive exp() to overflow.
_LOG_BOUND = 15.0
# Gamma-Gamma needs q > 1 for the mean spend p·v/(q−1) to exist.
_Q_MIN = 1.0 + 1e-6


class InsufficientData(Exception):
    """Too little data to fit a model; the message says what is missing."""


@dataclass(frozen=True)
class BGNBDParams:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n_customers: int


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    v: float
    log_likelihood: float
    n_customers: int


@dataclass(frozen=True)
class Summary:
    """One row per customer with at least one purchase day up to the observation end."""

    customer_ids: IntArray
    frequency: IntArray
    recency: FloatArray
    T: FloatArray
    monetary: FloatArray


def _f64(values: ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


# --- Transactions to summary -------------------------------------------------------------


def summarise_transactions(
    customer_ids: ArrayLike,
    day_numbers: ArrayLike,
    amounts: ArrayLike,
    *,
    observation_end: int,
    period_days: int = 7,
) -> Summary:
    """Frequency, recency, T and monetary value per customer, from order rows.

    Orders after `observation_end` are ignored. Amounts of one customer's day are summed;
    a day counts as a purchase day when that sum is ≥ 0, so a zero-value order is a
    purchase and a day with only returns (negative sum) is not — its refund is dropped
    rather than charged against another day. `monetary` is the mean day total of the
    repeat purchase days (the first day is excluded, as in Fader & Hardie), 0 when there
    are none. Customers without a purchase day are left out.
    """
    days = purchase_days(customer_ids, day_numbers, amounts, observation_end=observation_end)
    return summary_from_purchase_days(
        days, observation_end=observation_end, period_days=period_days
    )


@dataclass(frozen=True)
class PurchaseDays:
    """Each customer's purchase days (day total ≥ 0), sorted by customer, then day."""

    owner: IntArray
    day: IntArray
    total: FloatArray


def _sort_order(key: IntArray, key_limit: int) -> tuple[IntArray, IntArray]:
    """(sorted keys, the rows in that order), equal keys in row order (a stable sort).

    When key and row number fit one int64 together, that integer is sorted by value,
    several times faster than an argsort (numpy sorts plain integers with SIMD code)."""
    row_bits = max(int(key.size - 1).bit_length(), 1)
    if (key_limit - 1).bit_length() + row_bits <= 63:
        packed = key << row_bits
        packed |= np.arange(key.size, dtype=np.int64)
        packed.sort()
        rows = packed & ((1 << row_bits) - 1)
        packed >>= row_bits
        return packed, rows
    rows = np.argsort(key, kind="stable")
    return key[rows], rows


def purchase_days(
    customer_ids: ArrayLike,
    day_numbers: ArrayLike,
    amounts: ArrayLike,
    *,
    observation_end: int,
) -> PurchaseDays:
    """The purchase days of order rows up to `observation_end` (see summarise_transactions):
    one entry per customer and day whose amounts sum to ≥ 0, summed in row order."""
    ids = np.asarray(customer_ids, dtype=np.int64)
    days = np.asarray(day_numbers, dtype=np.int64)
    amts = _f64(amounts)
    keep = days <= observation_end
    if not keep.all():
        ids, days, amts = ids[keep], days[keep], amts[keep]
    del keep
    if ids.size == 0:
        empty = np.zeros(0, np.int64)
        return PurchaseDays(empty, empty.copy(), np.zeros(0))
    first_day = int(days.min())
    span = int(days.max()) - first_day + 1
    low_id, id_range = int(ids.min()), int(ids.max()) - int(ids.min()) + 1
    if id_range * span < 2**62:  # (customer, day) fits one int64 key: a single sort
        key = (ids - low_id) * span + (days - first_day)
        unique_ids = None
    else:
        unique_ids, customer_index = np.unique(ids, return_inverse=True)
        key = customer_index.astype(np.int64) * span + (days - first_day)
        id_range = unique_ids.size
    del ids, days
    key, rows = _sort_order(key, id_range * span)
    amts = amts[rows]
    del rows
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    day_totals = np.add.reduceat(amts, starts)
    day_keys = key[starts]
    del key, amts, starts
    purchase = day_totals >= 0
    day_keys, day_totals = day_keys[purchase], day_totals[purchase]
    owner = day_keys // span
    owner = owner + low_id if unique_ids is None else unique_ids[owner]
    return PurchaseDays(owner, day_keys % span + first_day, day_totals)


def summary_from_purchase_days(
    days: PurchaseDays, *, observation_end: int, period_days: int = 7
) -> Summary:
    """Per-customer aggregates from the purchase days (sorted by customer, then day)."""
    day_owner, day_number, day_totals = days.owner, days.day, days.total
    if day_owner.size == 0:
        return _empty_summary()
    new_customer = np.r_[True, day_owner[1:] != day_owner[:-1]]
    firsts = np.flatnonzero(new_customer)
    lasts = np.r_[firsts[1:] - 1, day_owner.size - 1]
    n_days = lasts - firsts + 1
    frequency = (n_days - 1).astype(np.int64)
    repeat_spend = np.add.reduceat(day_totals, firsts) - day_totals[firsts]
    monetary = np.divide(repeat_spend, frequency, out=np.zeros(frequency.size), where=frequency > 0)
    first, last = day_number[firsts], day_number[lasts]
    return Summary(
        customer_ids=day_owner[firsts],
        frequency=frequency,
        recency=(last - first) / period_days,
        T=(observation_end - first) / period_days,
        monetary=monetary,
    )


def _empty_summary() -> Summary:
    empty = np.zeros(0)
    return Summary(np.zeros(0, np.int64), np.zeros(0, np.int64), empty, empty, empty)


# --- BG/NBD ------------------------------------------------------------------------------


def _check_bgnbd_data(x: FloatArray, tx: FloatArray, T: FloatArray, w: FloatArray) -> None:
    if not (x.shape == tx.shape == T.shape == w.shape):
        raise ValueError("frequency, recency, T and weights must have the same length")
    if not (np.isfinite(tx).all() and np.isfinite(T).all() and np.isfinite(x).all()):
        raise ValueError("frequency, recency and T must be finite")
    if (x < 0).any() or (tx < 0).any() or (tx > T).any() or (w < 0).any():
        raise ValueError("need frequency ≥ 0, weights ≥ 0 and 0 ≤ recency ≤ T")
    n_customers = float(w.sum())
    n_repeat = float(w[x > 0].sum())
    if n_customers < MIN_CUSTOMERS or n_repeat < MIN_REPEAT_CUSTOMERS:
        raise InsufficientData(
            f"BG/NBD needs at least {MIN_CUSTOMERS} customers of whom at least "
            f"{MIN_REPEAT_CUSTOMERS} bought again; got {n_customers:.0f} customers and "
            f"{n_repeat:.0f} repeat buyers"
        )


# Customers per block of a BG/NBD likelihood evaluation. A block's temporaries stay in
# the processor's caches and in memory the process already holds (a million-row
# temporary is fresh pages each time); two threads evaluate blocks side by side, since
# numpy and scipy's ufuncs let go of the interpreter in their loops. At a million
# customers one evaluation took 95-110 ms whole, 47 ms in blocks, 28 ms in blocks on two
# threads.
_BLOCK = 1 << 17
_THREADS = 2


class _BGNBDObjective:
    """The likelihood of all customers, summed block by block (`_BLOCK`) in a fixed
    order, so the result does not depend on which thread evaluated which block. Give
    it a thread pool (`pool`) to evaluate the blocks in parallel."""

    def __init__(
        self, x: FloatArray, tx: FloatArray, T: FloatArray, w: FloatArray, pool: Any = None
    ) -> None:
        share = w / w.sum()
        self.blocks = [
            _BGNBDBlock(
                x[i : i + _BLOCK], tx[i : i + _BLOCK], T[i : i + _BLOCK], share[i : i + _BLOCK]
            )
            for i in range(0, x.size, _BLOCK)
        ]
        self.pool = pool if len(self.blocks) > 1 else None

    def terms(self, theta: FloatArray) -> tuple[float, FloatArray]:
        if self.pool is None:
            parts = [block.terms(theta) for block in self.blocks]
        else:
            parts = list(self.pool.map(lambda block: block.terms(theta), self.blocks))
        ll = float(sum(part[0] for part in parts))
        grad: FloatArray = np.sum([part[1] for part in parts], axis=0)
        return ll, grad

    def __call__(self, theta: FloatArray) -> tuple[float, FloatArray]:
        ll, grad = self.terms(theta)
        return -ll, -grad


class _BGNBDBlock:
    """One block's part of the mean log-likelihood and of its gradient in
    log-parameters (`w`: each customer's share of all customers' weight).

    Terms that depend only on the frequency are computed once per distinct frequency and
    gathered, which keeps a million-row evaluation to a few vector operations.
    """

    def __init__(self, x: FloatArray, tx: FloatArray, T: FloatArray, w: FloatArray) -> None:
        self.ux, self.ix = np.unique(x, return_inverse=True)
        self.tx, self.T, self.w = tx, T, w
        self.repeat = x > 0
        self.x = x
        # log(b + x − 1) is only used where x > 0; x − 1 ≥ 0 there.
        self.x_minus_1 = np.where(self.repeat, x - 1.0, 0.0)

    def terms(self, theta: FloatArray) -> tuple[float, FloatArray]:
        r, alpha, a, b = np.exp(theta)
        ux, ix, x, w = self.ux, self.ix, self.x, self.w
        log_at, log_atx = np.log(alpha + self.T), np.log(alpha + self.tx)
        a1 = (special.gammaln(r + ux) - special.gammaln(r))[ix] + r * np.log(alpha)
        a2 = (special.betaln(a, b + ux) - special.betaln(a, b))[ix]
        a3 = -(r + x) * log_at
        # The "dropped out after the last purchase" term exists only for repeat buyers;
        # log(e^a3 + e^a4) = a3 + softplus(a4 − a3), kept free of infinities (fast path).
        diff = np.log(a) - np.log(b + self.x_minus_1) - (r + x) * log_atx - a3
        ll = a1 + a2 + a3 + self.repeat * _softplus(diff)
        s4 = self.repeat * special.expit(diff)  # that term's share of the likelihood
        s3 = 1.0 - s4
        d_r = (special.digamma(r + ux) - special.digamma(r))[ix] + np.log(alpha)
        d_r = d_r - s3 * log_at - s4 * log_atx
        d_alpha = r / alpha - (r + x) * (s3 / (alpha + self.T) + s4 / (alpha + self.tx))
        dg_ab = special.digamma(a + b)
        dg_abx = special.digamma(a + b + ux)[ix]
        d_a = dg_ab - dg_abx + s4 / a
        d_b = dg_ab + (special.digamma(b + ux) - special.digamma(b))[ix] - dg_abx
        d_b = d_b - s4 / (b + self.x_minus_1)
        grad = np.array([_dot(w, d_r) * r, _dot(w, d_alpha) * alpha, _dot(w, d_a) * a])
        return _dot(w, ll), np.r_[grad, _dot(w, d_b) * b]


def _dot(weights: FloatArray, values: FloatArray) -> float:
    # Not `weights @ values`: BLAS threads on a busy machine made that 10× slower.
    return float(np.sum(weights * values))


def _softplus(values: FloatArray) -> FloatArray:
    """log(1 + e^v) without overflow."""
    result: FloatArray = np.maximum(values, 0.0) + np.log1p(np.exp(-np.abs(values)))
    return result


def bgnbd_log_likelihood(
    params: BGNBDParams | tuple[float, float, float, float],
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
) -> FloatArray:
    """Log-likelihood of each customer's (x, t_x, T) under BG/NBD (Fader et al. 2005, eq. 6)."""
    r, alpha, a, b = _bg_tuple(params)
    x, tx, t_obs = _f64(frequency), _f64(recency), _f64(T)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.betaln(a, b + x) - special.betaln(a, b)
    a3 = -(r + x) * np.log(alpha + t_obs)
    x_minus_1 = np.where(x > 0, x - 1.0, 0.0)
    a4 = np.where(x > 0, np.log(a) - np.log(b + x_minus_1) - (r + x) * np.log(alpha + tx), -np.inf)
    result: FloatArray = a1 + a2 + np.logaddexp(a3, a4)
    return result


def _bg_tuple(params: BGNBDParams | tuple[float, float, float, float]) -> tuple[float, ...]:
    if isinstance(params, BGNBDParams):
        return params.r, params.alpha, params.a, params.b
    return tuple(float(v) for v in params)


def fit_bgnbd(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    weights: ArrayLike | None = None,
) -> BGNBDParams:
    """Maximum-likelihood BG/NBD parameters.

    `weights` counts identical rows (fit on distinct rows with counts for speed). Time is
    rescaled so that the longest T is 10 while fitting (α scales with time, r, a and b do
    not), which keeps the problem well conditioned whatever the period length.
    Raises InsufficientData below MIN_CUSTOMERS customers or MIN_REPEAT_CUSTOMERS repeat
    buyers, or when the optimiser cannot find a finite optimum.
    """
    x, tx, t_obs = _f64(frequency), _f64(recency), _f64(T)
    w = np.ones_like(x) if weights is None else _f64(weights)
    _check_bgnbd_data(x, tx, t_obs, w)
    scale = 10.0 / float(t_obs.max()) if t_obs.max() > 0 else 1.0
    with ThreadPoolExecutor(max_workers=_THREADS) as pool:
        objective = _BGNBDObjective(x, tx * scale, t_obs * scale, w, pool)
        theta = _minimise(objective, np.zeros(4), [(-_LOG_BOUND, _LOG_BOUND)] * 4, "BG/NBD")
    r, alpha, a, b = np.exp(theta)
    alpha /= scale
    ll = _dot(w, bgnbd_log_likelihood((r, alpha, a, b), x, tx, t_obs))
    if not np.isfinite(ll):
        raise InsufficientData("BG/NBD fit did not reach a finite likelihood")
    return BGNBDParams(float(r), float(alpha), float(a), float(b), ll, round(float(w.sum())))


def _minimise(
    objective: Any, start: FloatArray, bounds: list[tuple[float, float]], name: str
) -> FloatArray:
    result = optimize.minimize(
        objective,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-9},
    )
    theta = np.asarray(result.x, dtype=np.float64)
    if not np.isfinite(theta).all() or not np.isfinite(result.fun):
        raise InsufficientData(f"{name} fit did not converge: {result.message}")
    return theta


def _stable_shape(a: float, b: float) -> tuple[float, float]:
    """Move (a, b) off the removable singularities a = 1 and a + b = 1 of the closed forms."""
    eps = 1e-7
    if abs(a - 1.0) < eps:
        a = 1.0 + eps
    if abs(a + b - 1.0) < eps:
        b = 1.0 - a + eps
    return a, b


def _expected_numerator(
    r: float, alpha: float, a: float, b: float, t: FloatArray, x: FloatArray, T: FloatArray
) -> FloatArray:
    """E[X(t) | alive, x, T], Fader et al. eq. 10 without its P(alive) denominator.

    (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x; a+b+x−1; z)],

    Written through Euler's transformation as 1 − (1−z)^(a−1) ₂F₁(a+b−1−r, a−1; a+b+x−1; z)
    with z = t/(α+T+t): the parameters no longer grow with x, so hundreds of purchases
    neither overflow the series nor lose precision. Where the dropout probability's
    Beta(a, b+x) is a near point mass (both shapes above 1,000, where the series loses
    precision and can overflow) or the series gives no finite value, the expectation is
    taken at the mean dropout probability instead.
    """
    a, b = _stable_shape(a, b)
    c = a + b + x - 1.0
    one_minus_z = (alpha + T) / (alpha + T + t)
    z = t / (alpha + T + t)
    with np.errstate(invalid="ignore", over="ignore"):
        series = special.hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
        closed = c / (a - 1.0) * (1.0 - np.exp((a - 1.0) * np.log(one_minus_z)) * series)
    usable = np.isfinite(closed) & (closed >= 0) & (np.minimum(a, b + x) <= 1e3)
    if usable.all():
        return closed
    dropout = a / (a + b + x)
    plug_in = -np.expm1((r + x) * (np.log(alpha + T) - np.log(alpha + T + dropout * t))) / dropout
    result: FloatArray = np.where(usable, closed, plug_in)
    return result


def _log_dropout_odds(p: BGNBDParams, x: FloatArray, tx: FloatArray, T: FloatArray) -> FloatArray:
    """log of a/(b+x−1) · ((α+T)/(α+t_x))^(r+x); −inf for x = 0 (never seen dropping)."""
    x_minus_1 = np.where(x > 0, x - 1.0, 0.0)
    odds = (
        np.log(p.a)
        - np.log(p.b + x_minus_1)
        + (p.r + x) * (np.log(p.alpha + T) - np.log(p.alpha + tx))
    )
    result: FloatArray = np.where(x > 0, odds, -np.inf)
    return result


def bgnbd_prob_alive(
    p: BGNBDParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    """P(still active | x, t_x, T); exactly 1 for customers with no repeat purchase."""
    x, tx, t_obs = _f64(frequency), _f64(recency), _f64(T)
    result: FloatArray = special.expit(-_log_dropout_odds(p, x, tx, t_obs))
    return result


def _unique_pairs(x: FloatArray, T: FloatArray) -> tuple[FloatArray, FloatArray, IntArray]:
    """Distinct (x, T) pairs and the index of each row's pair."""
    order = np.lexsort((T, x))
    sx, sT = x[order], T[order]
    new = np.r_[True, (sx[1:] != sx[:-1]) | (sT[1:] != sT[:-1])]
    inverse = np.empty(x.size, dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return sx[new], sT[new], inverse


def _in_halves(compute: Callable[[slice], FloatArray], size: int, axis: int = 0) -> FloatArray:
    """`compute` of range(size) as two halves in two threads, joined along `axis`, for an
    elementwise computation (the closed forms' series are ufuncs that let go of the
    interpreter); in one piece below one block (`_BLOCK`)."""
    if size < _BLOCK:
        return compute(slice(0, size))
    half = size // 2
    with ThreadPoolExecutor(max_workers=_THREADS) as pool:
        parts = list(pool.map(compute, (slice(0, half), slice(half, size))))
    joined: FloatArray = np.concatenate(parts, axis=axis)
    return joined


def bgnbd_expected_purchases(
    p: BGNBDParams,
    t: float | ArrayLike,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
) -> FloatArray:
    """E[X(t) | x, t_x, T]: expected purchases in the next t periods (Fader et al. eq. 10).

    With one horizon for everyone the series is evaluated once per distinct (x, T).
    """
    x, tx, t_obs = _f64(frequency), _f64(recency), _f64(T)
    alive = special.expit(-_log_dropout_odds(p, x, tx, t_obs))
    horizon = _f64(t)
    if horizon.ndim == 0 and x.ndim == 1 and x.size > 0:
        ux, uT, inverse = _unique_pairs(x, t_obs)
        numerator = _in_halves(
            lambda part: _expected_numerator(
                p.r, p.alpha, p.a, p.b, horizon + 0 * ux[part], ux[part], uT[part]
            ),
            ux.size,
        )
        result: FloatArray = numerator[inverse] * alive
        return result
    numerator = _expected_numerator(p.r, p.alpha, p.a, p.b, horizon, x, t_obs)
    result = numerator * alive
    return result


def bgnbd_unconditional_purchases(p: BGNBDParams, t: ArrayLike) -> FloatArray:
    """E[X(t)] for a customer who has just made a first purchase (Fader et al. eq. 9)."""
    t_arr = _f64(t)
    zero = np.zeros_like(t_arr)
    return _expected_numerator(p.r, p.alpha, p.a, p.b, t_arr, zero, zero)


def discounted_expected_value(
    bg: BGNBDParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    spend_per_purchase: ArrayLike,
    *,
    horizon_periods: int,
    period_length: float,
    annual_discount_rate: float,
    periods_per_year: float,
) -> FloatArray:
    """Σ_{k=1..H} (E[X(kL)] − E[X((k−1)L)]) · spend / (1+d)^(k/periods_per_year).

    Expected purchases in each future period, valued at the customer's expected spend and
    discounted to today. Only the P(alive) factor depends on recency, so the per-period
    sums are computed once per distinct (x, T).
    """
    x, tx, t_obs = _f64(frequency), _f64(recency), _f64(T)
    spend = _f64(spend_per_purchase)
    if horizon_periods < 0 or period_length <= 0 or periods_per_year <= 0:
        raise ValueError("need horizon_periods ≥ 0, period_length > 0 and periods_per_year > 0")
    if annual_discount_rate <= -1:
        raise ValueError("annual_discount_rate must be above −100%")
    if x.size == 0 or horizon_periods == 0:
        return np.zeros(x.shape)
    ux, uT, inverse = _unique_pairs(x.ravel(), t_obs.ravel())
    k = np.arange(horizon_periods + 1, dtype=np.float64)
    cumulative = _in_halves(
        lambda part: _expected_numerator(
            bg.r, bg.alpha, bg.a, bg.b, (k * period_length)[:, None], ux[None, part], uT[None, part]
        ),
        ux.size,
        axis=1,
    )
    cumulative[0] = 0.0
    discount = (1.0 + annual_discount_rate) ** (-k[1:] / periods_per_year)
    per_pair = discount @ np.diff(cumulative, axis=0)
    alive = special.expit(-_log_dropout_odds(bg, x, tx, t_obs)).ravel()
    result: FloatArray = (per_pair[inverse] * alive).reshape(x.shape) * spend
    return result


# --- Gamma-Gamma -------------------------------------------------------------------------


def gamma_gamma_log_likelihood(
    params: GammaGammaParams | tuple[float, float, float],
    frequency: ArrayLike,
    monetary: ArrayLike,
) -> FloatArray:
    """Log-density of each repeat buyer's mean spend m̄ over x purchases (Fader & Hardie 2013)."""
    if isinstance(params, GammaGammaParams):
        p, q, v = params.p, params.q, params.v
    else:
        p, q, v = (float(value) for value in params)
    x, m = _f64(frequency), _f64(monetary)
    px = p * x
    result: FloatArray = (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(v)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(v + m * x)
    )
    return result


class _GammaGammaObjective:
    """Negative mean log-likelihood and gradient in log-parameters.

    Summed over customers, every term but log(v + m̄x) is a parameter times a sum fixed
    by the data (computed once here), and the gamma functions depend on the frequency
    alone (evaluated once per distinct frequency, weighted by its count). An evaluation
    is then one logarithm and one reciprocal per customer."""

    def __init__(self, x: FloatArray, m: FloatArray) -> None:
        self.ux, counts = np.unique(x, return_counts=True)
        self.counts = counts.astype(np.float64)
        self.x, self.mx = x, m * x
        self.n = x.size
        log_m = np.log(m)
        self.sum_x_log_mx = float(np.sum(x * (log_m + np.log(x))))
        self.sum_log_m = float(np.sum(log_m))

    def __call__(self, theta: FloatArray) -> tuple[float, FloatArray]:
        p, q, v = np.exp(theta)
        n, ux, c = self.n, self.ux, self.counts
        log_vmx = np.log(v + self.mx)
        inv_vmx = 1.0 / (v + self.mx)
        sum_x_log_vmx, sum_log_vmx = float(np.sum(self.x * log_vmx)), float(np.sum(log_vmx))
        sum_x_inv, sum_inv = float(np.sum(self.x * inv_vmx)), float(np.sum(inv_vmx))
        pux = p * ux
        gammas = float(np.sum(c * (special.gammaln(pux + q) - special.gammaln(pux))))
        dg_pxq = special.digamma(pux + q)
        ll = (
            gammas
            - n * special.gammaln(q)
            + n * q * np.log(v)
            + p * self.sum_x_log_mx
            - self.sum_log_m
            - p * sum_x_log_vmx
            - q * sum_log_vmx
        )
        d_p = float(np.sum(c * ux * (dg_pxq - special.digamma(pux)))) + self.sum_x_log_mx
        d_p -= sum_x_log_vmx
        d_q = float(np.sum(c * dg_pxq)) - n * special.digamma(q) + n * np.log(v) - sum_log_vmx
        d_v = n * q / v - p * sum_x_inv - q * sum_inv
        grad = np.array([d_p * p, d_q * q, d_v * v]) / n
        return -float(ll) / n, -grad


def fit_gamma_gamma(frequency: ArrayLike, monetary: ArrayLike) -> GammaGammaParams:
    """Maximum-likelihood Gamma-Gamma parameters from repeat buyers' mean repeat spend.

    Only customers with frequency > 0 and monetary > 0 are used; q is kept above 1 so the
    population mean spend p·v/(q−1) exists. Raises InsufficientData below
    MIN_REPEAT_CUSTOMERS such customers.
    """
    x, m = _f64(frequency), _f64(monetary)
    if x.shape != m.shape:
        raise ValueError("frequency and monetary must have the same length")
    used = (x > 0) & (m > 0) & np.isfinite(m)
    if used.sum() < MIN_REPEAT_CUSTOMERS:
        raise InsufficientData(
            f"Gamma-Gamma needs at least {MIN_REPEAT_CUSTOMERS} repeat buyers with a "
            f"positive mean spend; got {int(used.sum())}"
        )
    x, m = x[used], m[used]
    scale = float(np.median(m))  # spend in units of the median keeps v near 1 while fitting
    objective = _GammaGammaObjective(x, m / scale)
    bounds = [(-_LOG_BOUND, _LOG_BOUND), (float(np.log(_Q_MIN)), _LOG_BOUND)]
    bounds.append((-_LOG_BOUND, _LOG_BOUND))
    theta = _minimise(objective, np.array([0.0, 1.0, 0.0]), bounds, "Gamma-Gamma")
    p, q, v = np.exp(theta)
    v *= scale
    ll = float(gamma_gamma_log_likelihood((p, q, v), x, m).sum())
    if not np.isfinite(ll):
        raise InsufficientData("Gamma-Gamma fit did not reach a finite likelihood")
    return GammaGammaParams(float(p), float(q), float(v), ll, int(x.size))


def gamma_gamma_population_mean(p: GammaGammaParams) -> float:
    """Mean spend per purchase of a customer we know nothing about: p·v/(q−1)."""
    return p.p * p.v / (p.q - 1.0)


def gamma_gamma_expected_spend(
    p: GammaGammaParams, frequency: ArrayLike, monetary: ArrayLike
) -> FloatArray:
    """E[spend per purchase | x, m̄]: a weighted mean of the population mean and m̄.

    Customers with no repeat purchase (or a non-positive mean) get the population mean.
    """
    x, m = _f64(frequency), _f64(monetary)
    known = (x > 0) & (m > 0)
    x_known = np.where(known, x, 0.0)
    m_known = np.where(known, m, 0.0)
    result: FloatArray = p.p * (p.v + m_known * x_known) / (p.p * x_known + p.q - 1.0)
    return result
