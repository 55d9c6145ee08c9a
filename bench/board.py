"""Latency of the opportunity board on a real server (target p95 ≤ 150 ms).

    python bench/generate.py --parties 20000 --interactions 40000 --opportunities 150000 \\
        --database-url sqlite:///var/bench-board.sqlite3
    python bench/board.py --database-url sqlite:///var/bench-board.sqlite3
    (PostgreSQL: postgres://postgres@127.0.0.1:5432/kehu_bench_board)

The same harness as bench/web.py (gunicorn on 127.0.0.1, the admin's and a
salesperson's sessions): the board of the pipeline with the most open deals (admin: all
of them; the salesperson: their own), a column's "load more", the board filtered by a
party name, and the card-move request the drag sends (htmx POST, each request moving
another deal of the second open stage back to the first). p50/p95/p99 from N requests,
the load average beside them, figures in bench/out/. The moves change the database.
"""

import datetime
import http.client
import os
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    TENANT_SLUG,
    USERNAME_PREFIX,
    database_label,
    machine,
    page_bench_arguments,
    write_json,
)
from web import (
    HOST,
    Endpoint,
    Sample,
    Setup,
    measure,
    prepare,
    print_row,
    probe,
    start_server,
    stop_server,
    summarise,
)

DEFAULT_DATABASE = (
    f"sqlite:///{Path(__file__).resolve().parent.parent / 'var' / 'bench-board.sqlite3'}"
)
TARGET_P95_MS = 150.0
CSRF = "benchcsrfsecretbenchcsrfsecret12"  # 32 letters: the cookie and the header


def board_facts() -> dict[str, Any]:
    """The busiest pipeline, its open stages, a card to load more after, deals to move."""
    from django.db.models import Count

    from kehu.core.context import tenant_scope
    from kehu.sales.models import Opportunity, Stage, StageKind
    from kehu.tenancy.models import Tenant

    with tenant_scope(Tenant.objects.get(slug=TENANT_SLUG).pk):
        open_deals = Opportunity.objects.filter(stage__kind=StageKind.OPEN)
        busiest = open_deals.values("pipeline_id").annotate(n=Count("pk")).order_by("-n").first()
        if busiest is None:
            raise SystemExit("no open deals: generate with --opportunities")
        pipeline = busiest["pipeline_id"]
        stages = list(
            Stage.objects.filter(pipeline_id=pipeline, kind=StageKind.OPEN)
            .order_by("position")
            .values_list("pk", flat=True)
        )
        first, second = stages[0], stages[1]
        per_stage = dict(
            open_deals.filter(pipeline_id=pipeline)
            .values_list("stage_id")
            .annotate(n=Count("pk"))
            .values_list("stage_id", "n")
        )
        # The 50th newest card of the first stage: what the first "load more" asks after.
        ids = open_deals.filter(stage_id=first).order_by("-id").values_list("pk", flat=True)
        after = list(ids[49:50]) or list(ids[:1])
        movable = list(
            open_deals.filter(stage_id=second).order_by("id").values_list("pk", flat=True)[:2000]
        )
        party = open_deals.filter(pipeline_id=pipeline).select_related("party").first()
        assert party is not None
    return {
        "pipeline": pipeline,
        "open_deals": busiest["n"],
        "per_stage": per_stage,
        "first": first,
        "second": second,
        "after": after[0],
        "movable": movable,
        "party_name": party.party.name[:2],
    }


def endpoints(facts: dict[str, Any]) -> list[Endpoint]:
    p = facts["pipeline"]
    more = f"/opportunities/board/more/?pipeline={p}&stage={facts['first']}&before={facts['after']}"
    return [
        Endpoint("board", f"/opportunities/board/?pipeline={p}", "admin"),
        Endpoint("board (sales, own)", f"/opportunities/board/?pipeline={p}", "sales"),
        Endpoint(
            f"board ?q={facts['party_name']}",
            f"/opportunities/board/?pipeline={p}&q={quote(facts['party_name'])}",
            "admin",
        ),
        Endpoint("board ?stale=on", f"/opportunities/board/?pipeline={p}&stale=on", "admin"),
        Endpoint("load more (htmx)", more, "admin"),
    ]


def measure_moves(
    port: int, setup: Setup, facts: dict[str, Any], clients: int, requests: int
) -> Sample:
    """The drag's request: POST the new stage of a card with htmx headers, the card back."""
    sample = Sample()
    lock = threading.Lock()
    todo = list(facts["movable"][:requests])

    def work() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        while True:
            with lock:
                if not todo:
                    return
                pk = todo.pop()
            body = urlencode({"stage": facts["first"]})
            headers = {
                "Host": HOST,
                "Cookie": f"{setup.admin_cookie}; csrftoken={CSRF}",
                "X-CSRFToken": CSRF,
                "HX-Request": "true",
                "Content-Type": "application/x-www-form-urlencoded",
            }
            began = time.perf_counter()
            conn.request("POST", f"/opportunities/{pk}/move/", body=body, headers=headers)
            response = conn.getresponse()
            size = len(response.read())
            elapsed = time.perf_counter() - began
            with lock:
                sample.latencies.append(elapsed)
                sample.statuses[response.status] = sample.statuses.get(response.status, 0) + 1
                sample.bytes += size
                sample.errors += response.status != 200

    threads = [threading.Thread(target=work) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sample.wall = time.perf_counter() - began
    return sample


def main() -> None:
    parser = page_bench_arguments(__doc__.splitlines()[0], database=DEFAULT_DATABASE, port=8262)
    args = parser.parse_args()
    url = args.database_url
    if "bench-board" not in url and "bench_board" not in url:
        raise SystemExit("use var/bench-board.sqlite3 or kehu_bench_board")
    setup = prepare(url, TENANT_SLUG, USERNAME_PREFIX)
    facts = board_facts()
    print(
        f"{database_label(url)}: {setup.parties:,} parties, {facts['open_deals']:,} open deals "
        f"in the pipeline (by stage {sorted(facts['per_stage'].values(), reverse=True)}); "
        f"load {os.getloadavg()}"
    )
    server = start_server(url, args.port, args.workers, args.threads)
    results: list[dict[str, Any]] = []
    try:
        for endpoint in endpoints(facts):
            status = probe(args.port, setup, endpoint)
            if status != 200:
                results.append(summarise(endpoint, 0, Sample(statuses={status: 1})))
                print(f"{endpoint.name:<28} not measured: HTTP {status or 'no answer'}")
                continue
            sample = measure(args.port, setup, endpoint, args.clients, args.requests, args.seconds)
            results.append(_row(endpoint, args.clients, sample))
        move = Endpoint("move a card (htmx POST)", "/opportunities/{id}/move/", "admin")
        sample = measure_moves(args.port, setup, facts, args.clients, args.requests)
        results.append(_row(move, args.clients, sample))
    finally:
        stop_server(server)
    payload = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "database": database_label(url),
        "parties": setup.parties,
        "open_deals": facts["open_deals"],
        "requests_per_endpoint": args.requests,
        "load_average_after": os.getloadavg(),
        "machine": machine(),
        "target_p95_ms": TARGET_P95_MS,
        "results": results,
    }
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
    print(f"figures written to {write_json(f'board-{database_label(url)}-{stamp}.json', payload)}")


def _row(endpoint: Endpoint, clients: int, sample: Sample) -> dict[str, Any]:
    row = summarise(endpoint, clients, sample)
    ok = not sample.errors and set(sample.statuses) == {200}
    row["passes"] = ok and row["p95_ms"] is not None and row["p95_ms"] <= TARGET_P95_MS
    print_row(row)
    return row


if __name__ == "__main__":
    random.seed(1)
    main()
