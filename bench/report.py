"""Markdown tables of web.py results, for docs/benchmarks.md.

    python bench/report.py bench/out/web-sqlite-1000000-*.json
    python bench/report.py --combine RUN.json

--combine puts one run's 1- and 8-client figures side by side, one row per endpoint.
"""

import argparse
import json
from pathlib import Path
from typing import Any


def cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def table(payload: dict[str, Any]) -> str:
    server = payload["server"]
    lines = [
        f"{payload['database']}, {payload['parties']:,} parties, {payload['when']}, "
        f"gunicorn {server['workers']} workers × {server['threads']} threads",
        "",
        "| page / endpoint | clients | requests | p50 ms | p95 ms | p99 ms | req/s | status "
        "| p95 ≤ 100 ms |",
        "|---|--:|--:|--:|--:|--:|--:|---|---|",
    ]
    for row in payload["results"]:
        statuses = ", ".join(f"{k}×{v}" for k, v in row["statuses"].items())
        verdict = "pass" if row["passes"] else "**fail**"
        if not row["clients"]:
            blanks = " | ".join(["—"] * 6)
            lines.append(f"| {row['endpoint']} | {blanks} | {statuses} | not measured |")
            continue
        lines.append(
            f"| {row['endpoint']} | {row['clients']} | {row['requests']} | {cell(row['p50_ms'])} "
            f"| {cell(row['p95_ms'])} | {cell(row['p99_ms'])} | {row['req_per_s']:.1f} "
            f"| {statuses} | {verdict} |"
        )
    return "\n".join(lines)


def combined(payload: dict[str, Any]) -> str:
    rows: dict[str, dict[int, dict[str, Any]]] = {}
    for row in payload["results"]:
        rows.setdefault(row["endpoint"], {})[row["clients"]] = row
    lines = [
        "| page / endpoint | 1 client: p50 / p95 / p99 ms | req/s | p95 ≤ 100 | "
        "8 clients: p50 / p95 / p99 ms | req/s | p95 ≤ 100 |",
        "|---|--:|--:|---|--:|--:|---|",
    ]
    for endpoint, by_clients in rows.items():
        cells = [endpoint]
        for clients in (1, 8):
            row = by_clients.get(clients)
            if row is None:
                cells += ["—", "—", "—"]
                continue
            ms = " / ".join(cell(row[k]) for k in ("p50_ms", "p95_ms", "p99_ms"))
            cells += [ms, f"{row['req_per_s']:.1f}", "pass" if row["passes"] else "**fail**"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--combine", type=Path)
    args = parser.parse_args()
    if args.combine:
        print(combined(json.loads(args.combine.read_text())))
    for path in args.files:
        print(table(json.loads(path.read_text())))
        print()


if __name__ == "__main__":
    main()
