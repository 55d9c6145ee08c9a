"""Customer value models: kehu's BG/NBD + Gamma-Gamma core against the `lifetimes` pipeline.

Generates order rows from a known BG/NBD + Gamma-Gamma process (seeded), then in one run
times, each side in its own process (so that peak memory is that side's alone):

- ours: `summarise_transactions`, `fit_bgnbd`, `fit_gamma_gamma`, and scoring (P(alive),
  expected purchases over a year, expected spend, discounted expected value);
- lifetimes 0.11.3 (its own venv, see bench/README.md): `summary_data_from_transaction_data`,
  `BetaGeoFitter.fit`, `conditional_expected_number_of_purchases_up_to_time`,
  `conditional_probability_alive`, `GammaGammaFitter.fit`,
  `conditional_expected_average_profit`.

Prints a table (seconds, peak RSS, speed ratio, parameter agreement) and writes JSON
under var/. The functions are importable for the end-to-end database benchmark.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from common import peak_rss_mib  # noqa: E402

from kehu.insights import btyd  # noqa: E402

VAR = ROOT / "var" / "bench-insights"
LIFETIMES_PYTHON = ROOT / "var" / "lifetimes-venv" / "bin" / "python"
LIFETIMES_SIDE = Path(__file__).resolve().parent / "insights_lifetimes.py"

# The generating process, per week: λ ~ Gamma(r, α), dropout p ~ Beta(a, b); spend per
# order ~ Gamma(p, ν), ν ~ Gamma(q, γ). First purchases spread over two years; about ten
# orders per customer.
TRUE_BGNBD = {"r": 1.0, "alpha": 5.0, "a": 0.6, "b": 6.0}
TRUE_GAMMA_GAMMA = {"p": 6.0, "q": 4.0, "v": 15.0}
HISTORY_DAYS = 3 * 365
COHORT_DAYS = 2 * 365
HORIZON_WEEKS = 52.0


def generate(customers: int, seed: int = 1) -> dict[str, NDArray[Any]]:
    """Order rows (customer id, day number, amount) and the observation end day."""
    rng = np.random.default_rng(seed)
    first = rng.integers(0, COHORT_DAYS, customers)
    window = (HISTORY_DAYS - 1 - first) / 7.0  # weeks each customer is observed
    rate = rng.gamma(TRUE_BGNBD["r"], 1.0 / TRUE_BGNBD["alpha"], customers)
    dropout = rng.beta(TRUE_BGNBD["a"], TRUE_BGNBD["b"], customers)
    until_dropout = rng.geometric(dropout)  # repeat purchases before becoming inactive
    arrivals = rng.poisson(rate * window)
    repeats = np.minimum(arrivals, until_dropout)
    # The first `repeats` of `arrivals` uniform arrival times in the window, per customer.
    owner = np.repeat(np.arange(customers), arrivals)
    times = rng.random(owner.size) * window[owner]
    order = np.lexsort((times, owner))
    owner, times = owner[order], times[order]
    starts = np.r_[0, np.cumsum(arrivals)[:-1]]
    rank = np.arange(owner.size) - starts[owner]
    kept = rank < repeats[owner]
    owner, times = owner[kept], times[kept]
    ids = np.r_[np.arange(customers), owner]
    days = np.r_[first, first[owner] + np.floor(times * 7.0).astype(np.int64)]
    scale = rng.gamma(TRUE_GAMMA_GAMMA["q"], 1.0 / TRUE_GAMMA_GAMMA["v"], customers)
    amounts = rng.gamma(TRUE_GAMMA_GAMMA["p"], 1.0, ids.size) / scale[ids]
    shuffle = rng.permutation(ids.size)  # orders arrive in no particular order
    return {
        "customer_ids": (ids[shuffle] + 100_000).astype(np.int64),
        "day_numbers": days[shuffle].astype(np.int64),
        "amounts": np.round(amounts[shuffle], 2),
        "observation_end": np.array(HISTORY_DAYS - 1),
    }


def run_ours(data: dict[str, NDArray[Any]]) -> dict[str, Any]:
    """kehu's pipeline, stage by stage: seconds, fitted parameters, score checksums."""
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    summary = btyd.summarise_transactions(
        data["customer_ids"],
        data["day_numbers"],
        data["amounts"],
        observation_end=int(data["observation_end"]),
    )
    seconds["summary"] = time.perf_counter() - start
    start = time.perf_counter()
    bg = btyd.fit_bgnbd(summary.frequency, summary.recency, summary.T)
    seconds["fit_bgnbd"] = time.perf_counter() - start
    start = time.perf_counter()
    gg = btyd.fit_gamma_gamma(summary.frequency, summary.monetary)
    seconds["fit_gamma_gamma"] = time.perf_counter() - start
    start = time.perf_counter()
    x, tx, T = summary.frequency, summary.recency, summary.T
    expected = btyd.bgnbd_expected_purchases(bg, HORIZON_WEEKS, x, tx, T)
    alive = btyd.bgnbd_prob_alive(bg, x, tx, T)
    spend = btyd.gamma_gamma_expected_spend(gg, x, summary.monetary)
    seconds["score"] = time.perf_counter() - start
    start = time.perf_counter()
    value = btyd.discounted_expected_value(
        bg,
        x,
        tx,
        T,
        spend,
        horizon_periods=12,
        period_length=HORIZON_WEEKS / 12,
        annual_discount_rate=0.1,
        periods_per_year=12,
    )
    seconds["clp_value"] = time.perf_counter() - start
    return {
        "seconds": seconds,
        "customers": int(x.size),
        "bgnbd": {"r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b, "ll": bg.log_likelihood},
        "gamma_gamma": {"p": gg.p, "q": gg.q, "v": gg.v},
        "sums": {
            "expected_purchases": float(expected.sum()),
            "prob_alive": float(alive.sum()),
            "expected_spend": float(spend.sum()),
            "clp_value": float(value.sum()),
        },
        "finite": bool(np.isfinite(expected).all() and np.isfinite(value).all()),
    }


def run_side(command: list[str], timeout: float, *, peer: bool = False) -> dict[str, Any]:
    """One side in its own process; its JSON result, or the time it ran out at. A peer
    that fails (lifetimes' fit can stop with a ConvergenceError) is a result too: what
    it said, so that our own side's figures are still reported."""
    start = time.perf_counter()
    try:
        done = subprocess.run(  # noqa: S603 (our own scripts, fixed arguments)
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"timed_out_after": round(time.perf_counter() - start, 1)}
    if done.returncode != 0 and peer:
        said = [line for line in done.stderr.strip().splitlines() if line.strip()]
        return {
            "failed": " ".join(said[-2:])[-500:],
            "after": round(time.perf_counter() - start, 1),
        }
    if done.returncode != 0:
        raise SystemExit(f"{command[0]} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def relative_differences(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, float]:
    diffs: dict[str, float] = {}
    for model in ("bgnbd", "gamma_gamma"):
        for name, value in theirs[model].items():
            diffs[f"{model}.{name}"] = abs(ours[model][name] - value) / abs(value)
    return diffs


def compare(customers: int, seed: int, lifetimes_timeout: float) -> dict[str, Any]:
    VAR.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    data = generate(customers, seed)
    data_file = VAR / f"orders-{customers}-{seed}.npz"
    np.savez(
        data_file,
        customer_ids=data["customer_ids"],
        day_numbers=data["day_numbers"],
        amounts=data["amounts"],
        observation_end=data["observation_end"],
    )
    generated = time.perf_counter() - start
    me = [sys.executable, str(Path(__file__).resolve()), "--side", "ours", "--data", str(data_file)]
    ours = run_side(me, timeout=3600)
    theirs: dict[str, Any] = {"skipped": f"{LIFETIMES_PYTHON} not found (see bench/README.md)"}
    if LIFETIMES_PYTHON.exists():
        lifetimes = [str(LIFETIMES_PYTHON), str(LIFETIMES_SIDE), str(data_file)]
        theirs = run_side(lifetimes, timeout=lifetimes_timeout, peer=True)
    result = {
        "customers": customers,
        "orders": int(data["customer_ids"].size),
        "seed": seed,
        "generate_seconds": round(generated, 2),
        "true_parameters": {"bgnbd": TRUE_BGNBD, "gamma_gamma": TRUE_GAMMA_GAMMA},
        "ours": ours,
        "lifetimes": theirs,
    }
    if "seconds" in theirs:
        result["relative_difference"] = relative_differences(ours, theirs)
        result["speed_ratio"] = sum(theirs["seconds"].values()) / pipeline_seconds(ours)
    data_file.unlink()
    return result


def pipeline_seconds(side: dict[str, Any]) -> float:
    """Summary + fits + scoring: the stages both sides have (CLP value is ours only)."""
    return float(sum(v for k, v in side["seconds"].items() if k != "clp_value"))


def print_table(result: dict[str, Any]) -> None:
    ours, theirs = result["ours"], result["lifetimes"]
    print(f"{result['customers']:,} customers, {result['orders']:,} orders")
    print(f"{'stage':<18}{'kehu s':>10}{'lifetimes s':>14}")
    for stage in ("summary", "fit_bgnbd", "fit_gamma_gamma", "score", "clp_value"):
        mine = ours["seconds"].get(stage)
        other = theirs.get("seconds", {}).get(stage)
        cell = "-" if other is None else f"{other:.2f}"
        print(f"{stage:<18}{mine:>10.2f}{cell:>14}")
    print(
        f"{'peak RSS MiB':<18}{ours['peak_rss_mib']:>10.0f}{theirs.get('peak_rss_mib', 0):>14.0f}"
    )
    if "speed_ratio" in result:
        print(f"speed ratio (lifetimes / kehu, summary+fit+score): {result['speed_ratio']:.1f}x")
        worst = max(result["relative_difference"].items(), key=lambda item: item[1])
        print(f"largest parameter difference: {worst[0]} {worst[1]:.2e} relative")
    else:
        print(f"lifetimes: {theirs}")
    print("kehu parameters:", json.dumps(ours["bgnbd"]), json.dumps(ours["gamma_gamma"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--lifetimes-timeout", type=float, default=900, help="seconds")
    parser.add_argument("--side", choices=["ours"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side == "ours":
        with np.load(args.data) as loaded:
            data = {name: loaded[name] for name in loaded.files}
        result = run_ours(data)
        result["peak_rss_mib"] = peak_rss_mib()
        print(json.dumps(result))
        return
    result = compare(args.customers, args.seed, args.lifetimes_timeout)
    out = VAR / f"insights-model-{args.customers}.json"
    out.write_text(json.dumps(result, indent=2))
    print_table(result)
    print(f"written: {out}")


if __name__ == "__main__":
    main()
