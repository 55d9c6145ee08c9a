"""Bulk order import through the real API: orders per second on a real server.

    python bench/orders_import.py --orders 1000000 \\
        --database-url sqlite:///var/bench-orders.sqlite3
    python bench/orders_import.py --orders 1000000 \\
        --database-url postgres://postgres@127.0.0.1:5432/kehu_bench_orders

The database is dropped and migrated first (its name must contain "bench"), then filled
with a firm of --parties customers (bench/generate.py's generator) and the demo
catalogue. The script starts gunicorn on 127.0.0.1 (DEBUG off, as bench/web.py does),
creates an API token for the firm's admin, builds the request bodies beforehand (so
that building them is not timed), and POSTs them to /api/v1/orders/bulk in batches from
N concurrent clients, each with an Idempotency-Key. It prints orders per second against
the target (≥ 20,000/s), checks that every order arrived, and writes the figures to
bench/out/. Only 127.0.0.1 is contacted.
"""

import argparse
import datetime
import http.client
import json
import os
import random
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ROOT,
    TENANT_SLUG,
    USERNAME_PREFIX,
    database_label,
    machine,
    setup_django,
    write_json,
)
from generate import fresh_database, tune_for_loading
from web import HOST, start_server, stop_server

DEFAULT_SQLITE = f"sqlite:///{ROOT / 'var' / 'bench-orders.sqlite3'}"
TARGET_PER_SECOND = 20_000


def prepare(database_url: str, parties: int) -> tuple[str, list[int], list[str]]:
    """A fresh firm with parties and the catalogue; (API token, party ids, product codes)."""
    fresh_database(database_url)
    setup_django(database_url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from kehu.core.context import tenant_scope
    from kehu.demo.generator import generate
    from kehu.demo.orders import CATALOGUE
    from kehu.parties.models import Party
    from kehu.sales.services import product_create
    from kehu.tenancy.models import Tenant
    from kehu.tenancy.services import api_token_create

    tune_for_loading(database_url)
    tenant = Tenant.objects.create(name="订单导入基准公司", slug=TENANT_SLUG)
    report = generate(tenant, parties=parties, interactions=0, username_prefix=USERNAME_PREFIX)
    admin = next(user for user in report.staff if user.username.endswith("admin"))
    with tenant_scope(tenant.pk):
        codes = []
        for _category, items in CATALOGUE:
            for code, name, unit, price, cost, _quantity in items:
                product_create(
                    actor=admin,
                    code=code,
                    name=name,
                    unit=unit,
                    unit_price=Decimal(price),
                    unit_cost=Decimal(cost),
                )
                codes.append(code)
        _token, raw = api_token_create(actor=admin, name="orders import bench")
        ids = list(Party.objects.values_list("id", flat=True))
    return raw, ids, codes


def bodies(total: int, batch: int, party_ids: list[int], codes: list[str]) -> list[bytes]:
    """The request bodies: `total` orders in batches, 1–3 lines each, over three years."""
    rng = random.Random(1)
    first = datetime.date.today() - datetime.timedelta(days=3 * 365)
    out = []
    for start in range(0, total, batch):
        orders = []
        for n in range(start, min(start + batch, total)):
            lines = [
                {"product_code": code, "quantity": rng.randint(1, 20)}
                for code in rng.sample(codes, rng.randint(1, 3))
            ]
            day = first + datetime.timedelta(days=rng.randrange(3 * 365))
            orders.append(
                {
                    "party_id": rng.choice(party_ids),
                    "external_id": f"ERP-{n}",
                    "number": f"ERP{n:08d}",
                    "order_date": day.isoformat(),
                    "lines": lines,
                }
            )
        out.append(json.dumps({"orders": orders}).encode())
    return out


def send(port: int, token: str, batches: list[bytes], clients: int) -> tuple[float, list[int]]:
    """POST every batch from `clients` threads; (seconds, HTTP statuses)."""
    statuses: list[int] = []
    lock = threading.Lock()
    queue = list(enumerate(batches))

    def work() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=600)
        while True:
            with lock:
                if not queue:
                    return
                i, body = queue.pop(0)
            headers = {
                "Host": HOST,
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Idempotency-Key": f"bench-batch-{i}",
            }
            conn.request("POST", "/api/v1/orders/bulk", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            with lock:
                statuses.append(response.status)

    threads = [threading.Thread(target=work) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_SQLITE)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000, help="orders per request (≤ 5000)")
    parser.add_argument("--parties", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--port", type=int, default=8237, help="8200–8299")
    args = parser.parse_args()
    url = args.database_url
    if "bench" not in url.rsplit("/", 1)[-1] or url.endswith("/bench.sqlite3"):
        raise SystemExit("use a database of its own, named with 'bench' (not var/bench.sqlite3)")

    token, party_ids, codes = prepare(url, args.parties)
    batches = bodies(args.orders, args.batch, party_ids, codes)
    size = sum(len(b) for b in batches)
    print(
        f"{database_label(url)}: {len(party_ids):,} parties, {len(codes)} products; "
        f"{args.orders:,} orders in {len(batches)} batches ({size / 1024**2:.0f} MiB of JSON)"
    )
    server = start_server(url, args.port, args.workers, args.threads)
    try:
        seconds, statuses = send(args.port, token, batches, args.clients)
    finally:
        stop_server(server)
    from django.db.models import Sum

    from kehu.core.context import tenant_scope
    from kehu.sales.models import BOOKED, DailySales, Order, OrderLine
    from kehu.sales.summary import summary_catch_up
    from kehu.tenancy.models import Tenant

    with tenant_scope(Tenant.objects.get(slug=TENANT_SLUG).pk):
        stored, lines = Order.objects.count(), OrderLine.objects.count()
        # What the task after the import does (no worker runs beside this server).
        began = time.perf_counter()
        caught_up = summary_catch_up()
        catch_up = time.perf_counter() - began
        booked = Order.objects.filter(status__in=BOOKED).aggregate(r=Sum("revenue"))["r"]
        rows = DailySales.objects.filter(dimension="owner", month=False)
        summarised = rows.aggregate(r=Sum("revenue"))["r"]
    # Within a cent: SQLite sums decimals as floats, the two sums in other orders.
    same = abs((summarised or 0) - (booked or 0)) <= Decimal("0.01")
    in_summary = "the same" if same else f"DIFFERENT: {summarised} ≠ {booked}"
    print(
        f"summary caught up: {caught_up:,} orders in {catch_up:.1f} s; revenue in the summary "
        f"{in_summary}; import and catch-up together {args.orders / (seconds + catch_up):,.0f}"
        " orders/s"
    )
    rate = args.orders / seconds
    ok = stored == args.orders and same
    verdict = "pass" if rate >= TARGET_PER_SECOND and ok else "FAIL"
    bad = {s: statuses.count(s) for s in set(statuses) if s != 200}
    print(
        f"{args.orders:,} orders ({lines:,} lines) in {seconds:.1f} s: {rate:,.0f} orders/s "
        f"(target ≥ {TARGET_PER_SECOND:,}: {verdict}); stored {stored:,}; "
        f"errors {bad or 'none'}; load {os.getloadavg()}"
    )
    payload: dict[str, Any] = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "database": database_label(url),
        "orders": args.orders,
        "lines": lines,
        "batch": args.batch,
        "clients": args.clients,
        "server": {"workers": args.workers, "threads": args.threads},
        "seconds": seconds,
        "orders_per_second": rate,
        "summary_catch_up": {
            "orders": caught_up,
            "seconds": catch_up,
            "same": summarised == booked,
        },
        "orders_per_second_with_catch_up": args.orders / (seconds + catch_up),
        "stored": stored,
        "statuses": {str(s): statuses.count(s) for s in set(statuses)},
        "target_per_second": TARGET_PER_SECOND,
        "machine": machine(),
    }
    path = write_json(f"orders-import-{database_label(url)}-{args.orders}.json", payload)
    print(f"figures written to {path}")


if __name__ == "__main__":
    main()
