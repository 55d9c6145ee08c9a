"""The `lifetimes` side of bench/insights_model.py, run by var/lifetimes-venv's python.

Reads the orders from the .npz file named on the command line, runs lifetimes' own
pipeline on them and prints one JSON line: seconds per stage, parameters, peak RSS.
"""

import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # in var/lifetimes-venv only
from lifetimes import BetaGeoFitter, GammaGammaFitter  # type: ignore[import-not-found]
from lifetimes.utils import summary_data_from_transaction_data  # type: ignore[import-not-found]

HORIZON_WEEKS = 52.0


def peak_rss_mib() -> float:
    """VmHWM (see bench/common.py): ru_maxrss would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    with np.load(sys.argv[1]) as loaded:
        end_day = int(loaded["observation_end"])
        orders = pd.DataFrame(
            {
                "customer_id": loaded["customer_ids"],
                "date": pd.to_datetime(loaded["day_numbers"], unit="D"),
                "amount": loaded["amounts"],
            }
        )
    seconds: dict[str, float] = {}
    cpu_start = os.times()
    start = time.perf_counter()
    # Daily periods (distinct purchase days) measured in weeks, as kehu's summary.
    summary = summary_data_from_transaction_data(
        orders,
        "customer_id",
        "date",
        monetary_value_col="amount",
        observation_period_end=pd.Timestamp(end_day, unit="D"),
        freq="D",
        freq_multiplier=7,
    )
    seconds["summary"] = time.perf_counter() - start
    start = time.perf_counter()
    bg = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    seconds["fit_bgnbd"] = time.perf_counter() - start
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    start = time.perf_counter()
    gg = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    seconds["fit_gamma_gamma"] = time.perf_counter() - start
    start = time.perf_counter()
    x, tx, T = summary["frequency"], summary["recency"], summary["T"]
    expected = bg.conditional_expected_number_of_purchases_up_to_time(HORIZON_WEEKS, x, tx, T)
    alive = bg.conditional_probability_alive(x, tx, T)
    spend = gg.conditional_expected_average_profit(x, summary["monetary_value"])
    seconds["score"] = time.perf_counter() - start
    cpu_end = os.times()  # all of its threads: the wall clock moves with the machine's load
    cpu_seconds = (cpu_end.user - cpu_start.user) + (cpu_end.system - cpu_start.system)
    params: dict[str, Any] = bg.params_
    result = {
        "seconds": seconds,
        "cpu_seconds": round(cpu_seconds, 2),
        "customers": len(summary),
        "bgnbd": {
            "r": float(params["r"]),
            "alpha": float(params["alpha"]),
            "a": float(params["a"]),
            "b": float(params["b"]),
        },
        "gamma_gamma": {name: float(gg.params_[name]) for name in ("p", "q", "v")},
        "sums": {
            "expected_purchases": float(np.nansum(expected)),
            "prob_alive": float(np.nansum(alive)),
            "expected_spend": float(np.nansum(spend)),
            "nan_expected_purchases": int(np.isnan(np.asarray(expected)).sum()),
        },
        "peak_rss_mib": peak_rss_mib(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
